"""What a dataset hands the trainer: an in-memory tensor set (images, vectors) or an analytic distribution (toys).

Loaders return these. Every loaded dataset is a *data kind* with three things the core asks of it — no ``isinstance``
chains anywhere else: ``kind`` (picks the run's sample writers and evaluation, ``ganforge.hooks``), ``spec()`` (the
``DataSpec`` networks are built for) and ``source(output_range, seed, device)`` (the checkpointable batch stream,
``ganforge.data.source``, whose ``next(n)`` returns named tensors: ``x``, ``y`` and any extra ``fields``). A new kind
(tables, series, image pairs) implements these three and plugs in without a core edit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from ganforge.data.formats import MAX_CLASSES

if TYPE_CHECKING:
    from ganforge.data.source import Source
    from ganforge.models.base import DataSpec


@dataclass
class TensorData:
    """A dataset held in memory.

    ``x`` is ``uint8 [N, C, H, W]`` for images (scaled to the generator's range per batch, so 70k MNIST digits take
    55 MB rather than 220 MB) or ``float32 [N, D]`` for vectors. ``y`` is ``int64 [N]`` labels or None.
    """

    x: Tensor
    y: Tensor | None = None
    num_classes: int = 0
    name: str = ""
    fields: dict[str, Tensor] = field(default_factory=dict)  # extra per-sample tensors [N, ...] (e.g. a paired "x_b")

    def __post_init__(self) -> None:
        if self.x.ndim < 2 or self.x.shape[0] == 0:
            raise ValueError(f"dataset {self.name!r} is empty or has no sample dimension: shape {tuple(self.x.shape)}")
        if self.y is not None:
            if self.y.shape != (self.x.shape[0],):
                raise ValueError(
                    f"dataset {self.name!r}: {self.x.shape[0]} samples but labels of shape {tuple(self.y.shape)}"
                )
            self.y = self.y.long()
            if self.num_classes == 0:
                self.num_classes = int(self.y.max()) + 1
            if self.num_classes > MAX_CLASSES:  # a conditional model would allocate one embedding per class
                raise ValueError(f"dataset {self.name!r} has labels up to {self.num_classes - 1}; class labels must "
                                 f"be 0..K-1 with K <= {MAX_CLASSES}: renumber them")
        if self.x.is_floating_point() and not torch.isfinite(self.x).all():
            raise ValueError(f"dataset {self.name!r} contains NaN or inf values; clean the data before training")
        for key, value in self.fields.items():
            if key in ("x", "y") or value.shape[:1] != self.x.shape[:1]:
                raise ValueError(f"dataset {self.name!r}: field {key!r} must be named other than x/y and hold one "
                                 f"row per sample ({self.x.shape[0]}), got shape {tuple(value.shape)}")

    @property
    def is_image(self) -> bool:
        return self.x.dtype == torch.uint8 and self.x.ndim == 4

    @property
    def kind(self) -> str:
        """The data kind that picks the run's sample writers and evaluation (``ganforge.hooks``)."""
        return "image" if self.is_image else "vector"

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.x.shape[1:])

    def spec(self) -> DataSpec:
        from ganforge.models.base import DataSpec

        return DataSpec(shape=self.shape, num_classes=self.num_classes,
                        fields={k: tuple(v.shape[1:]) for k, v in self.fields.items()})

    def source(self, output_range: tuple[float, float] | None, seed: int, device: torch.device) -> Source:
        from ganforge.data.source import TensorSource

        return TensorSource(self, output_range, seed, device)

    def __len__(self) -> int:
        return self.x.shape[0]


def scale_images(x: Tensor, output_range: tuple[float, float] | None) -> Tensor:
    """uint8 [N, C, H, W] -> float32 in ``output_range`` ((-1, 1) for tanh G, (0, 1) for sigmoid G)."""
    lo, hi = output_range or (-1.0, 1.0)
    return x.float().mul_((hi - lo) / 255.0).add_(lo)


def to_uint8(x: Tensor, output_range: tuple[float, float] | None) -> Tensor:
    """Inverse of ``scale_images``: float in ``output_range`` -> uint8 [N, C, H, W], rounded and clamped."""
    lo, hi = output_range or (-1.0, 1.0)
    return ((x.detach().float() - lo) * (255.0 / (hi - lo))).round_().clamp_(0, 255).to(torch.uint8)
