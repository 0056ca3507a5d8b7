"""Helpers shared by the commands that read a trained run: locating it, loading G, checking labels, uint8 output."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ganforge.config import RunConfig
from ganforge.data.base import to_uint8
from ganforge.models.base import DataSpec
from ganforge.options import ConfigError
from ganforge.training.run import RunError, load_run


def run_root(run: Path) -> Path:
    """The run directory of ``run`` (a run directory, or a checkpoint file inside ``RUN/checkpoints/``)."""
    if run.is_dir():
        return run
    folder = run.parent
    return folder.parent if folder.name == "checkpoints" else folder


def load_generator(run: Path, device: torch.device, use_ema: bool = True
                   ) -> tuple[RunConfig, nn.Module, DataSpec, dict[str, Any]]:
    """``load_run`` with a one-line error for a path that is neither a run directory nor a checkpoint."""
    if not run.exists():
        raise RunError(f"run {str(run)!r} not found; pass a run directory (runs/NAME) or a checkpoint .pt file")
    if run.is_dir() and not (run / "checkpoints" / "latest.pt").is_file():
        raise RunError(f"no checkpoint in {str(run / 'checkpoints')!r}; pass a trained run directory (train it with "
                       "`ganforge train`) or a checkpoint .pt file")
    return load_run(run, device=device, use_ema=use_ema)


def generator_kind(state: dict[str, Any], use_ema: bool) -> str:
    return "ema" if use_ema and state["models"].get("G_ema") is not None else "G"


def check_label(G: nn.Module, label: int | None, flag: str = "--label") -> None:
    """One-line errors for a label on an unconditional model or outside ``[0, c_dim)``."""
    if label is None:
        return
    c_dim = int(getattr(G, "c_dim", 0) or 0)
    if c_dim == 0:
        raise ConfigError(f"{flag} {label}: this model is unconditional (trained without labels); drop {flag}")
    if not 0 <= label < c_dim:
        raise ConfigError(f"{flag} {label} is out of range; this model has classes 0..{c_dim - 1}")


def images_uint8(fake: Tensor, G: nn.Module) -> Tensor:
    """Generator output -> uint8 ``[N, C, H, W]`` on the CPU, using G's output range."""
    return to_uint8(fake, getattr(G, "output_range", None)).cpu()


def check_positive(value: int | None, flag: str) -> None:
    if value is not None and value < 1:
        raise ConfigError(f"{flag} must be >= 1, got {value}")
