"""Data kind ``pyramid``: an image dataset whose runs also draw each Laplacian-pyramid stage of their samples
(LAPGAN, Denton et al. 2015) and, for 32×32 digits, are judged by the MNIST classifier (``ganforge.kinds.pyramid``).

``data.name=pyramid`` wraps another image dataset (``data.options.dataset``, default ``mnist32``: MNIST padded to
32×32) without changing its images.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ganforge.data.base import TensorData
from ganforge.registry import DATASETS

KIND = "pyramid"
GRID_ROWS = 8
DIGITS32 = (1, 32, 32)


@dataclass
class PyramidData(TensorData):
    """An image ``TensorData`` whose ``kind`` is ``pyramid``."""

    @property
    def kind(self) -> str:
        return KIND


@DATASETS.register("pyramid")
@dataclass
class Pyramid:
    """Another image dataset (``dataset`` with ``dataset_options``), unchanged, as data kind ``pyramid``."""

    dataset: str = "mnist32"
    dataset_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.dataset == "pyramid" or self.dataset not in DATASETS:
            raise ValueError(f"pyramid wraps an image dataset; unknown dataset {self.dataset!r} (e.g. mnist32)")

    def load(self, split: str = "train") -> PyramidData:
        try:
            inner = DATASETS.get(self.dataset)(**self.dataset_options)
        except TypeError as exc:
            raise ValueError(f"data.options.dataset_options do not fit dataset {self.dataset!r}: {exc}") from None
        data = inner.load(split)
        if not data.is_image:
            raise ValueError(f"pyramid wraps image datasets; {self.dataset!r} holds {tuple(data.shape)} vectors")
        return PyramidData(data.x, data.y, num_classes=data.num_classes, name=data.name, fields=dict(data.fields))
