"""What a dataset hands the trainer: ``DataSpec`` (what networks are built for), the ``Source`` stream contract, and
the in-memory tensor set (images, vectors) with its stream ``TensorSource``.

Loaders return data objects. Every loaded dataset is of a *data kind* with three things the core asks of it — no
``isinstance`` chains anywhere else: ``kind`` (names its ``DataKind`` in ``ganforge.kinds``: sample writers,
evaluation, export), ``spec()`` (the ``DataSpec`` networks are built for) and ``source(output_range, seed, device)``
(the checkpointable batch stream, whose ``next(n)`` returns named tensors: ``x``, ``y`` and any extra ``fields``).
A new kind (tables, series, image pairs) implements these three here in ``data/`` and its ``DataKind`` in ``kinds/``.

A source's ``state_dict`` holds everything needed to continue the exact same stream after a resume: its RNG state,
and for in-memory data the current epoch's permutation and the position inside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from ganforge.data.formats import MAX_CLASSES


@dataclass(frozen=True)
class DataSpec:
    """What a model family needs to know about the data to build G and D."""

    shape: tuple[int, ...]  # one sample of the main field x: (D,) for vectors, (C, H, W) for images
    num_classes: int = 0  # labels y available (0 = unlabelled)
    fields: dict[str, tuple[int, ...]] = field(default_factory=dict)  # shapes of extra named fields (e.g. "x_b")
    # share of each label 0..K-1 in the training data (empty: unknown, e.g. rebuilt from a checkpoint): what a
    # self-conditioned G draws its cluster from (models.selfcond)
    class_prior: tuple[float, ...] = ()


class Dataset:
    """What every loaded data set declares (``DATASETS.get(name)(**options).load(split)`` returns one).

    Each kind sets ``kind`` (names its ``DataKind`` in ``ganforge.kinds``) and implements ``spec()`` and
    ``source(output_range, seed, device)``. The rest is declared here with the default most kinds keep, so no caller
    probes a data set with ``getattr(data, ..., default)``.
    """

    kind: str = "default"
    is_image: bool = False  # uint8 images [N, C, H, W]: the image metrics and reference statistics apply

    def spec(self) -> DataSpec:
        raise NotImplementedError

    def source(self, output_range: tuple[float, float] | None, seed: int, device: torch.device) -> Source:
        raise NotImplementedError

    def check_batch(self, batch_size: int) -> None:
        """One-line ``ValueError`` for a batch this data cannot serve (a table: more than its rows); none here."""

    def steps_for_epochs(self, epochs: int, batch_size: int) -> int | None:
        """``train.epochs`` as steps when the data counts an epoch its own way (tables: ctgan's ``rows //
        batch_size``); None: ``ceil(epochs · N / batch_size)`` (``config.resolve_epochs``)."""
        return None


class Source:
    """A checkpointable batch stream (the trainer's only view of the data)."""

    def next(self, n: int) -> dict[str, Tensor]:
        """The next ``n`` samples as named tensors: ``x`` ``[n, *shape]`` in the generator's range, ``y`` ``[n]``
        labels when the data has them, and any extra fields of the dataset (``[n, ...]``, images scaled like x)."""
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def load_state_dict(self, state: dict[str, Any]) -> None:
        raise NotImplementedError

    def conditions(self, n: int) -> dict[str, Tensor] | None:
        """Conditioning vectors for ``n`` new samples drawn from the training data without real rows (a table's
        training-by-sampling: ``cond``, ``mask``, ...); None for a stream that has none (every other kind)."""
        return None


@dataclass
class TensorData(Dataset):
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
        """The data kind that picks the run's sample writers and evaluation (``ganforge.kinds``)."""
        return "image" if self.is_image else "vector"

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.x.shape[1:])

    def spec(self) -> DataSpec:
        prior = ()
        if self.y is not None and self.num_classes:
            prior = tuple((torch.bincount(self.y, minlength=self.num_classes).double() / len(self.y)).tolist())
        return DataSpec(shape=self.shape, num_classes=self.num_classes,
                        fields={k: tuple(v.shape[1:]) for k, v in self.fields.items()}, class_prior=prior)

    def source(self, output_range: tuple[float, float] | None, seed: int, device: torch.device) -> Source:
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


class TensorSource(Source):
    """Samples without replacement from data held on the device; a new device-side permutation every epoch.

    A batch never straddles two epochs' orders in a way that repeats a sample: when fewer than ``n`` samples remain,
    the rest of this epoch is dropped and a new permutation starts (drop_last semantics).
    """

    def __init__(self, data: TensorData, output_range: tuple[float, float] | None, seed: int,
                 device: torch.device) -> None:
        self.device = device
        self.x = data.x.to(device)  # put on the device once (uint8 images stay uint8 until batched)
        self.y = data.y.to(device) if data.y is not None else None
        self.fields = {k: v.to(device) for k, v in data.fields.items()}
        self.is_image = data.is_image
        self.output_range = output_range
        self.rng = torch.Generator(device=device)
        self.rng.manual_seed(seed)
        self.epoch, self.pos = 0, 0
        self.perm = torch.randperm(len(self.x), generator=self.rng, device=device)

    def next(self, n: int) -> dict[str, Tensor]:
        if n > len(self.x):
            raise ValueError(
                f"batch size {n} is larger than the dataset ({len(self.x)} samples); lower train.batch_size"
            )
        if self.pos + n > len(self.x):
            self.epoch += 1
            self.pos = 0
            self.perm = torch.randperm(len(self.x), generator=self.rng, device=self.device)
        idx = self.perm[self.pos : self.pos + n]
        self.pos += n
        out = {"x": self.x[idx]}
        if self.y is not None:
            out["y"] = self.y[idx]
        out.update({k: v[idx] for k, v in self.fields.items()})
        for k, v in out.items():  # uint8 image fields -> the generator's range; other floats stay as they are
            if k != "y":
                out[k] = scale_images(v, self.output_range) if v.dtype == torch.uint8 and v.ndim == 4 else v.float()
        return out

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.get_state(), "epoch": self.epoch, "pos": self.pos, "perm": self.perm.cpu()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.set_state(state["rng"])
        self.epoch, self.pos = int(state["epoch"]), int(state["pos"])
        self.perm = state["perm"].to(self.device)
