"""The ``DataKind`` contract: what a run writes besides checkpoints and metrics, per data kind.

A data kind (``data.kind`` of a loaded dataset: "image", "table", "series", ...) answers six questions, each a method
or attribute of its ``DataKind`` subclass (one module of ``ganforge.kinds`` per kind, registered in ``RUN_HOOKS``):

- what its samples are: ``samples`` writes this step's grid / plot / preview under the run directory;
- how it evaluates in training and with which protocol: ``evaluate`` (numbers) and ``protocol`` (how they were
  computed, stored beside them in ``eval/*.json``);
- how it exports samples: ``export_samples`` (``ganforge sample``) with the flags it takes in ``sample_flags``;
- its plots: ``finish`` (after the run; the loss curves by default);
- its standalone evaluation: ``standalone_eval`` (``ganforge eval RUN`` calls ``evaluate`` instead of the
  FID/KID image protocol);
- its report section: ``report_section`` (HTML for ``ganforge report``).

The trainer and the run loop (``ganforge.training``) import no plotting or metric code: ``Run`` asks
``hooks_for(data.kind)`` (``ganforge.kinds``). A new data kind is one module here (its ``DataKind`` subclass) and one
in ``ganforge.data`` (its loader), and needs no edit to the run loop.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

from ganforge.config import RunConfig
from ganforge.registry import RUN_HOOKS
from ganforge.sampling import EVAL_SEED_OFFSET

SAMPLE_SEED_OFFSET = 1_000_003  # fixed-z grids use their own RNG: they never touch training state


class RunLoader(Protocol):
    """What a report section may ask of a run directory (``ganforge.api`` is one): the layer above hands it in, so
    this package never imports the API."""

    def load(self, run: Path) -> Any: ...

    def resolve(self, config: Path) -> Any: ...


class DataKind:
    """The contract, with the defaults of a kind that has no metrics of its own ("vector", and any kind nobody
    registered): no samples, no in-training metrics (FID/KID/PR: ``ganforge eval``), the loss curves at the end."""

    # True: ``ganforge eval RUN`` calls ``evaluate`` (with the run's Sampler and train-split data; load any held-out
    # split from ``cfg`` inside) instead of the FID/KID image protocol. For kinds whose metrics are their own.
    standalone_eval: bool = False
    # the `ganforge sample` options (label, per_class, truncation, format) ``export_samples`` uses; None: the
    # standard image/vector writer, which uses them all. Any other one given is refused, not ignored.
    sample_flags: tuple[str, ...] | None = None

    def samples(self, G: nn.Module, data: Any, run_dir: Path, step: int, cfg: RunConfig, device: torch.device,
                final: bool = False) -> None:
        """Write this step's samples (grid, scatter, histogram) under ``run_dir``."""

    def evaluate(self, G: nn.Module, data: Any, cfg: RunConfig, device: torch.device) -> dict[str, float]:
        """This kind's in-training metrics of G (its Sampler) on ``data``; empty when it has none."""
        return {}

    def protocol(self, data: Any, cfg: RunConfig, generator: str, step: int) -> dict[str, Any]:
        """How ``evaluate`` was computed, stored next to its numbers in ``eval/*.json``."""
        return {**self.eval_protocol(data, cfg), "dataset": cfg.data.name, "generator": generator, "step": step,
                "seed": cfg.train.seed + EVAL_SEED_OFFSET}

    def eval_protocol(self, data: Any, cfg: RunConfig) -> dict[str, Any]:
        """The kind's part of ``protocol`` (the run adds dataset, step, generator and seed)."""
        return {"metrics": "none", "n_fake": 0}

    def export_samples(self, G: nn.Module, cfg: RunConfig, run_dir: Path, args: Any,
                       device: torch.device) -> Path | None:
        """``ganforge sample`` for this kind: write ``args.n`` samples of seed ``args.seed`` to ``args.out`` (or a
        default under ``run_dir``) in the kind's own format (CSV/Parquet tables in original units, fields in
        physical units, ...) and return the path; None = the standard image/vector writer handles it."""
        return None

    def finish(self, run_dir: Path, cfg: RunConfig) -> None:
        """After the run: plots of the whole run (loss curves)."""
        from ganforge.training.stats import read_metrics
        from ganforge.viz import plots

        plots.loss_curves(read_metrics(run_dir / "metrics.jsonl"), run_dir / "plots" / "losses.png", cfg.name)

    def report_section(self, run_dir: Path, runs: RunLoader) -> str:
        """This kind's own HTML section of ``ganforge report`` (computed from the run with ``runs`` when its files
        are not enough); empty: none."""
        return ""


RUN_HOOKS.register("default")(DataKind)  # kinds nobody registered ("vector"): no metrics, the loss curves


def name(step: int, final: bool) -> str:
    """The file stem of a step's samples: ``final`` or ``step-0001234``."""
    return "final" if final else f"step-{step:07d}"
