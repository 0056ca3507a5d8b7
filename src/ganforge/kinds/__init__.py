"""Data kinds: per kind of data (toy, image, pyramid, paired/unpaired translation, super-resolution, domains, table,
series, field, tracks), one module holding its ``DataKind`` (``kinds.base``): sample grids and plots, in-training
evaluation and its protocol, sample export, the standalone ``ganforge eval`` and the report section.

Owns: the ``RUN_HOOKS`` entries (kind name -> ``DataKind`` class) and every kind's metric / plot / export helpers.
May import: ``registry``, ``config``, ``options``, ``outputs``, ``lazy``, ``data``, ``models``, ``metrics``,
``losses`` (feature networks), ``viz``, ``sampling``, ``builder`` (held-out splits), ``training.stats`` (the metrics
file), ``preflight`` (sample export's up-front file checks). Not ``commands``, ``api``, ``report`` or ``cli``, which
use it. ``training.run`` reaches it only through ``hooks_for`` at run time (the layering test lists that arrow).

``register_all()`` imports every module of this package (``hooks_for`` calls it), so a new kind is one new file here
(no list to edit) plus its loader in ``ganforge.data``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganforge.registry import RUN_HOOKS, import_package_modules

if TYPE_CHECKING:
    import torch
    from torch import nn

    from ganforge.config import RunConfig
    from ganforge.kinds.base import DataKind


def register_all() -> None:
    """Import every kind module (each registers its ``DataKind`` in ``RUN_HOOKS`` at import); once."""
    import_package_modules(__name__, __path__)


def hooks_for(kind: str) -> DataKind:
    """The ``DataKind`` of a kind name (``data.kind``, or ``spec["kind"]`` of a checkpoint); the defaults
    (``kinds.base.DataKind``: no samples, no metrics) for kinds nobody registered ("vector")."""
    register_all()
    return RUN_HOOKS.get(kind if kind in RUN_HOOKS else "default")()


def write_samples(G: nn.Module, data: Any, run_dir: Path, step: int, cfg: RunConfig, device: torch.device,
                  final: bool = False) -> None:
    """The sample writer of ``data``'s kind (also used by benches that write grids outside a run)."""
    hooks_for(data.kind).samples(G, data, run_dir, step, cfg, device, final=final)
