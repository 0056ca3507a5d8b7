"""Offline image sets for the style-based generators (StyleGAN2 / ADA): Animal-MNIST silhouettes and the LFW faces
of scikit-image, both as ``uint8 [N, 1, 32, 32]`` (StyleGAN2's synthesis network doubles 4 → 8 → 16 → 32).

``animal-mnist``: the ``animal-mnist`` wheel's ``Animal_MNIST/animal_data_version_3.gz`` (a gzip pickle of one
``uint8 [10000, 28, 28]`` array: white silhouettes on black) and ``animal_label_version_3.gz`` (``int64 [10000]``,
classes 0..9 with 1,000 each, stored class by class). The class order matches the alphabetical animal names in
``ANIMALS`` (checked by eye: row k of a per-class grid shows ``ANIMALS[k]``). Read as files with a numpy-only
restricted unpickler (the wheel's own loader imports TensorFlow); padded by 2 px to 32×32 like ``mnist32``. The
samples are reordered class-interleaved (image i of class 0, of class 1, ..., then image i + 1), so ``limit`` keeps
a class-balanced subset.

``lfw``: scikit-image's ``data/lfw_subset.npy`` (``float64 [200, 25, 25]`` in [0, 1]). Only its first 100 images are
faces; the other 100 are random non-face crops of the same photos (skimage's docstring: "100 faces, 100 non-faces"),
so ``subset: faces`` (default) keeps the 100 faces, a genuine limited-data set; ``subset: all`` keeps all 200 with
labels 0 = face, 1 = non-face. 25×25 → 32×32 by ``fit: resize`` (bilinear, the default: the face fills the frame as in
the aligned FFHQ crops) or ``fit: pad`` (3 px black above/left, 4 px below/right; the face is unchanged).
"""

from __future__ import annotations

import gzip
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ganforge.data.base import TensorData
from ganforge.data.formats import _ArrayUnpickler
from ganforge.data.images import check_limit, check_split
from ganforge.registry import DATASETS

SIZE = 32
ANIMALS = ("bear", "bird", "cat", "cow", "dog", "elephant", "giraffe", "horse", "sheep", "zebra")
ANIMAL_HINT = "install it with: pip install --no-deps animal-mnist"
SKIMAGE_HINT = "install scikit-image (it ships data/lfw_subset.npy)"
LFW_FACES = 100  # lfw_subset.npy: images 0..99 are faces, 100..199 non-faces
FITS = ("resize", "pad")
SUBSETS = ("faces", "all")


def package_file(package: str, relative: str, hint: str) -> Path:
    """A data file inside an installed package, found without importing the package's code."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"package {package!r} is not installed; {hint}")
    for folder in spec.submodule_search_locations:
        path = Path(folder) / relative
        if path.is_file():
            return path
    raise FileNotFoundError(f"{relative} is missing from the {package!r} install; reinstall it ({hint})")


def read_array_pickle(path: Path) -> np.ndarray:
    """One numpy array from a gzip pickle, unpickled with the numpy-only ``_ArrayUnpickler`` (nothing else loads)."""
    try:
        with gzip.open(path, "rb") as fh:
            value = _ArrayUnpickler(fh, encoding="latin1").load()
    except Exception as exc:  # a corrupt file can raise nearly anything; report it in one line
        raise ValueError(f"'{path}' is not a gzip pickle of a numpy array ({type(exc).__name__}: {exc}); "
                         "reinstall the package") from None
    if not isinstance(value, np.ndarray):
        raise ValueError(f"'{path}' holds a {type(value).__name__}, not a numpy array; reinstall the package")
    return value


def pad_to(x: torch.Tensor, size: int) -> torch.Tensor:
    """Zero-pad ``[N, C, h, w]`` to ``[N, C, size, size]`` (the extra pixel, if odd, below/right)."""
    dh, dw = size - x.shape[-2], size - x.shape[-1]
    return F.pad(x, (dw // 2, dw - dw // 2, dh // 2, dh - dh // 2))


def interleave_classes(y: np.ndarray) -> np.ndarray:
    """Indices ordering samples class-interleaved: the first of each class, then the second of each, ..."""
    rank = np.zeros_like(y)
    for k in np.unique(y):
        idx = np.flatnonzero(y == k)
        rank[idx] = np.arange(idx.size)
    return np.lexsort((y, rank))  # by rank within class, then by class


@DATASETS.register("animal-mnist")
@dataclass
class AnimalMNIST:
    """10,000 animal silhouettes (10 classes × 1,000), ``uint8 [N, 1, 32, 32]``; split "train" (= all; the wheel has no
    test split). ``limit`` keeps the first N of the class-interleaved order (balanced classes)."""

    limit: int = 0

    def __post_init__(self) -> None:
        check_limit(self.limit)

    def load(self, split: str = "train") -> TensorData:
        check_split("animal-mnist", split, ("train", "all"))
        x = read_array_pickle(package_file("animal_mnist", "data/Animal_MNIST/animal_data_version_3.gz", ANIMAL_HINT))
        y = read_array_pickle(package_file("animal_mnist", "data/Animal_MNIST/animal_label_version_3.gz",
                                           ANIMAL_HINT))
        if x.dtype != np.uint8 or x.ndim != 3 or x.shape[1:] != (28, 28):
            raise ValueError(f"animal-mnist data is {x.dtype} {x.shape}; expected uint8 [N, 28, 28]: reinstall it")
        if y.shape != (x.shape[0],) or y.min() < 0 or y.max() >= len(ANIMALS):
            raise ValueError(f"animal-mnist labels have shape {y.shape} / range {y.min()}..{y.max()}; expected "
                             f"{x.shape[0]} labels in 0..9: reinstall it")
        order = interleave_classes(y)
        if self.limit:
            order = order[: self.limit]
        images = pad_to(torch.from_numpy(x[order].copy())[:, None], SIZE)  # [N, 1, 32, 32]
        return TensorData(images, torch.from_numpy(y[order].astype(np.int64)), num_classes=len(ANIMALS),
                          name="animal-mnist")


@DATASETS.register("lfw")
@dataclass
class LFWSubset:
    """scikit-image's LFW subset: the 100 faces (``subset: faces``) or all 200 crops labelled face / non-face
    (``subset: all``), 25×25 grey → ``uint8 [N, 1, 32, 32]`` by bilinear ``resize`` or zero ``pad``."""

    subset: str = "faces"
    fit: str = "resize"
    limit: int = 0

    def __post_init__(self) -> None:
        check_limit(self.limit)
        if self.subset not in SUBSETS:
            raise ValueError(f"unknown lfw subset {self.subset!r}; choose from: {', '.join(SUBSETS)}")
        if self.fit not in FITS:
            raise ValueError(f"unknown lfw fit {self.fit!r}; choose from: {', '.join(FITS)}")

    def load(self, split: str = "train") -> TensorData:
        check_split("lfw", split, ("train", "all"))
        path = package_file("skimage", "data/lfw_subset.npy", SKIMAGE_HINT)
        try:
            a = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise ValueError(f"'{path}' is not a readable .npy array ({exc}); reinstall scikit-image") from None
        if a.ndim != 3 or a.shape[0] < LFW_FACES or not np.isfinite(a).all() or a.min() < 0 or a.max() > 1:
            raise ValueError(f"'{path}' holds {a.dtype} {a.shape}; expected finite [200, 25, 25] values in [0, 1]")
        y = (np.arange(a.shape[0]) >= LFW_FACES).astype(np.int64)  # 0 = face, 1 = non-face
        if self.subset == "faces":
            a, y = a[:LFW_FACES], None
        x = torch.from_numpy(a.astype(np.float32))[:, None]  # [N, 1, 25, 25] in [0, 1]
        if self.fit == "resize":
            x = F.interpolate(x, size=(SIZE, SIZE), mode="bilinear", align_corners=False).clamp(0, 1)
        else:
            x = pad_to(x, SIZE)
        images = torch.round(x * 255).to(torch.uint8)
        labels = torch.from_numpy(y) if y is not None else None
        if self.limit:
            images = images[: self.limit].clone()
            labels = labels[: self.limit].clone() if labels is not None else None
        return TensorData(images, labels, num_classes=2 if labels is not None else 0, name="lfw")
