"""What a run writes besides checkpoints and metrics, per data kind: sample grids / plots and in-training evaluation.

The trainer and the run loop (``ganforge.training``) import no plotting or metric code: ``Run`` looks up
``RUN_HOOKS[data.kind]`` (registered here, imported by ``ganforge.builder``). A new data kind (tables, time series,
translation pairs) registers its own ``RunHooks`` subclass and needs no edit to the run loop.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ganforge.config import RunConfig
from ganforge.registry import RUN_HOOKS

# Data modules register their own hooks (``from ganforge.hooks import RunHooks``) when ``ganforge.data`` imports
# them, so this module imports nothing from ``ganforge.data`` / evaluation at load time: those imports are local.

SAMPLE_SEED_OFFSET = 1_000_003  # fixed-z grids use their own RNG: they never touch training state


class RunHooks:
    """Default hooks: dataset metrics (``evaluate_generator``) and the loss curves; no samples."""

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
        from ganforge.evaluation import evaluate_generator

        return evaluate_generator(G, data, cfg.train.seed, device, n_digits=cfg.log.eval_digits)

    def protocol(self, data: Any, cfg: RunConfig, generator: str, step: int) -> dict[str, Any]:
        """How ``evaluate`` was computed, stored next to its numbers in ``eval/*.json``."""
        from ganforge.evaluation import EVAL_SEED_OFFSET, eval_protocol

        return {**eval_protocol(data, cfg.log.eval_digits), "dataset": cfg.data.name, "generator": generator,
                "step": step, "seed": cfg.train.seed + EVAL_SEED_OFFSET}

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


def _name(step: int, final: bool) -> str:
    return "final" if final else f"step-{step:07d}"


@RUN_HOOKS.register("mixture2d")
class Mixture2DHooks(RunHooks):
    """2-D mixtures (ring, grid): real vs generated scatter with a KDE of G."""

    def samples(self, G: nn.Module, data: Any, run_dir: Path, step: int, cfg: RunConfig, device: torch.device,
                final: bool = False) -> None:
        from ganforge.evaluation import generate_samples
        from ganforge.metrics.toy import N_EVAL
        from ganforge.viz import plots

        seed = cfg.train.seed + SAMPLE_SEED_OFFSET
        fake = generate_samples(G, N_EVAL, seed, device).cpu().numpy()
        real = data.sample(N_EVAL, torch.Generator().manual_seed(seed)).numpy()
        plots.scatter_2d(real, fake, run_dir / "plots" / f"scatter-{_name(step, final)}.png",
                         f"{cfg.name} step {step}", data.means.numpy())


@RUN_HOOKS.register("density1d")
class Density1DHooks(RunHooks):
    """1-D targets: histogram of G against the pdf; a 1-D → 1-D G is also plotted as a transform against F⁻¹."""

    def samples(self, G: nn.Module, data: Any, run_dir: Path, step: int, cfg: RunConfig, device: torch.device,
                final: bool = False) -> None:
        from ganforge.evaluation import generate_samples
        from ganforge.viz import plots

        seed = cfg.train.seed + SAMPLE_SEED_OFFSET
        fake = generate_samples(G, 20_000, seed, device).cpu().numpy()
        name, title = _name(step, final), f"{cfg.name} step {step}"
        plots.histogram_1d(fake, data.pdf, run_dir / "plots" / f"hist-{name}.png", title)
        if getattr(G, "z_dim", None) == 1:
            from ganforge.viz.transform import plot_inverse_transform

            plot_inverse_transform(G, data, run_dir / "plots" / f"transform-{name}.png", title, seed=seed,
                                   device=device)


@RUN_HOOKS.register("image")
class ImageHooks(RunHooks):
    """Images: a fixed-z grid (one row per class for conditional G), final.png and progress.gif at the end."""

    def samples(self, G: nn.Module, data: Any, run_dir: Path, step: int, cfg: RunConfig, device: torch.device,
                final: bool = False) -> None:
        from ganforge.data.base import to_uint8
        from ganforge.evaluation import generate_samples
        from ganforge.viz.images import save_gif, save_grid

        n, labels, nrow = cfg.log.n_samples, None, None
        if getattr(G, "c_dim", 0):  # conditional: one row per class
            nrow = max(1, n // G.c_dim)
            labels = torch.arange(G.c_dim).repeat_interleave(nrow)
            n = len(labels)
        fake = generate_samples(G, n, cfg.train.seed + SAMPLE_SEED_OFFSET, device, labels=labels)
        images = to_uint8(fake, getattr(G, "output_range", None)).cpu()
        save_grid(images, run_dir / "samples" / f"step-{step:07d}.png", nrow=nrow)
        if final:
            save_grid(images, run_dir / "samples" / "final.png", nrow=nrow)
            frames = sorted((run_dir / "samples").glob("step-*.png"))
            if frames:
                from PIL import Image

                save_gif([np.asarray(Image.open(f)) for f in frames], run_dir / "samples" / "progress.gif")


RUN_HOOKS.register("default")(RunHooks)  # kinds nobody registered ("vector", "points"): evaluation and loss curves


def hooks_for(kind: str) -> RunHooks:
    """The hooks of a data kind (the defaults for kinds nobody registered)."""
    import ganforge.data

    ganforge.data.register_all()  # the data modules register their kinds' hooks
    return RUN_HOOKS.get(kind if kind in RUN_HOOKS else "default")()


def write_samples(G: nn.Module, data: Any, run_dir: Path, step: int, cfg: RunConfig, device: torch.device,
                  final: bool = False) -> None:
    """The sample writer of ``data``'s kind (also used by benches that write grids outside a run)."""
    hooks_for(data.kind).samples(G, data, run_dir, step, cfg, device, final=final)
