"""Multi-domain image data for StarGAN v2 (Choi et al. 2020): one class = one domain, and a batch stream that also
draws reference images, as the paper's training loop does (x, y from the source loader; x_ref, x_ref2 of a domain ỹ
from the reference loader).

Datasets (``data.name``):
    mnist-domains   the 70k MNIST digits with the ten digit classes as domains: a digit is translated to another
                    digit; what the style code carries is the handwriting (stroke width, slant, size).
    image-domains   a folder with one sub-folder per domain (the AFHQ ``cat/ dog/ wild/`` and CelebA-HQ ``female/
                    male/`` layout), read by the image-folder reader (``formats.read_image_folder``: sub-folders
                    become labels 0..K−1 by sorted name).

Not built: a cross-dataset set (MNIST digits vs Animal-MNIST silhouettes). StarGAN v2's domains share a layout that
the generator keeps (pose, face shape) while the style changes; a digit and an animal silhouette share none, so
"translate this 3 into a cat" has no content to preserve and would measure nothing the digit domains do not.

The data kind ``domains`` (sample grids and the paper's evaluation) is ``ganforge.kinds.domains``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ganforge.data import formats
from ganforge.data.base import TensorData, TensorSource, scale_images
from ganforge.data.images import FILE_SPLITS, check_limit, check_split
from ganforge.data.mnist import load_mnist_raw
from ganforge.registry import DATASETS

REFERENCE_SEED_OFFSET = 7919  # the reference stream's RNG: seeded apart from the source stream's


# ---- the data kind and its stream -----------------------------------------------------------------------------------


@dataclass
class DomainData(TensorData):
    """``TensorData`` whose labels are domains; ``digit_domains``: the domains are MNIST's digit classes (so the
    shipped classifier can judge domain accuracy); ``test_split``: the dataset has a separate held-out split."""

    domain_names: tuple[str, ...] = ()
    digit_domains: bool = False
    test_split: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.y is None or self.num_classes < 2:
            raise ValueError(f"dataset {self.name!r} needs >= 2 domains (one sub-folder of images per domain); it has "
                             f"{self.num_classes if self.y is not None else 0}")
        empty = [k for k in range(self.num_classes) if not bool((self.y == k).any())]
        if empty:
            raise ValueError(f"dataset {self.name!r} has no images of domain {empty[0]}; every domain 0..K−1 needs "
                             "images (lower the limit or add images)")

    @property
    def kind(self) -> str:
        return "domains"

    def source(self, output_range: tuple[float, float] | None, seed: int, device: torch.device) -> DomainSource:
        return DomainSource(self, output_range, seed, device)


class DomainSource(TensorSource):
    """Source images ``x``, ``y`` (shuffled epochs, as ``TensorSource``) plus two references of a domain ỹ:
    ``y_ref [n]`` and ``x_ref``, ``x_ref2 [n, C, H, W]``, both of domain ``y_ref`` (the official code's reference
    loader: ỹ follows the data's domain frequencies; x_ref from a shuffled epoch, x_ref2 uniform within ỹ)."""

    def __init__(self, data: DomainData, output_range: tuple[float, float] | None, seed: int,
                 device: torch.device) -> None:
        super().__init__(data, output_range, seed, device)
        assert self.y is not None
        self.ref_rng = torch.Generator(device=device)
        self.ref_rng.manual_seed(seed + REFERENCE_SEED_OFFSET)
        self.ref_pos = 0
        self.ref_perm = torch.randperm(len(self.x), generator=self.ref_rng, device=device)
        order = torch.argsort(self.y, stable=True)  # indices grouped by domain
        counts = torch.bincount(self.y, minlength=data.num_classes)
        self.by_domain, self.counts = order, counts
        self.offsets = torch.cumsum(counts, 0) - counts

    def next(self, n: int) -> dict[str, Tensor]:
        out = super().next(n)
        if self.ref_pos + n > len(self.x):
            self.ref_pos = 0
            self.ref_perm = torch.randperm(len(self.x), generator=self.ref_rng, device=self.device)
        idx = self.ref_perm[self.ref_pos : self.ref_pos + n]
        self.ref_pos += n
        y_ref = self.y[idx]
        u = torch.rand(n, generator=self.ref_rng, device=self.device)
        idx2 = self.by_domain[self.offsets[y_ref] + (u * self.counts[y_ref]).long().clamp_max(self.counts[y_ref] - 1)]
        out["y_ref"] = y_ref
        out["x_ref"] = scale_images(self.x[idx], self.output_range)
        out["x_ref2"] = scale_images(self.x[idx2], self.output_range)
        return out

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "ref_rng": self.ref_rng.get_state(), "ref_pos": self.ref_pos,
                "ref_perm": self.ref_perm.cpu()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.ref_rng.set_state(state["ref_rng"])
        self.ref_pos = int(state["ref_pos"])
        self.ref_perm = state["ref_perm"].to(self.device)


# ---- datasets -------------------------------------------------------------------------------------------------------


@DATASETS.register("mnist-domains")
@dataclass
class MNISTDomains:
    """MNIST with the ten digits as domains, ``uint8 [N, 1, 28, 28]``: "train" (60,000) or "test" (10,000)."""

    limit: int = 0  # 0 = all; else the first `limit` digits of the split

    def __post_init__(self) -> None:
        check_limit(self.limit)

    def load(self, split: str = "train") -> DomainData:
        check_split("mnist-domains", split, ("train", "test"))
        x, y = load_mnist_raw(split)
        if self.limit:
            x, y = x[: self.limit].clone(), y[: self.limit].clone()
        return DomainData(x, y, num_classes=10, name="mnist-domains", domain_names=tuple(str(d) for d in range(10)),
                          digit_domains=True, test_split=True)


@DATASETS.register("image-domains")
@dataclass
class ImageDomains:
    """A folder with one sub-folder of images per domain (``path/cat/*.png``, ``path/dog/*.png``; AFHQ, CelebA-HQ).

    Domains are the sub-folders in sorted order. ``size`` resizes every image to size × size. Both splits read the
    same folder (point ``data.options.path`` at ``train/`` or ``val/`` of AFHQ)."""

    path: str = ""
    size: int | None = None
    channels: int = 0  # 0 = 1 if every image is grayscale else 3; 1 or 3 converts every image
    limit: int = 0

    def __post_init__(self) -> None:
        check_limit(self.limit)
        if self.channels not in (0, 1, 3):
            raise ValueError(f"channels must be 0 (infer), 1 or 3, got {self.channels}")
        if self.size is not None and self.size < 4:
            raise ValueError(f"size must be >= 4 pixels or None, got {self.size}")

    def load(self, split: str = "train") -> DomainData:
        check_split("image-domains", split, FILE_SPLITS)
        if not self.path:
            raise ValueError("dataset 'image-domains' needs data.options.path = a folder with one sub-folder of "
                             "images per domain")
        root = Path(self.path).expanduser()
        if not root.is_dir():
            raise FileNotFoundError(f"domain folder '{root}' not found or not a folder; check data.options.path")
        x, y, names = formats.read_image_folder(root, self.size, self.channels, 0)
        if y is None or len(names) < 2:
            raise ValueError(f"domain folder '{root}' needs >= 2 sub-folders of images (one per domain), found "
                             f"{len(names)}; move the images into per-domain sub-folders")
        if self.limit:  # the first `limit` images of every domain, so no domain disappears
            keep = np.concatenate([np.flatnonzero(y == k)[: self.limit] for k in range(len(names))])
            x, y = x[keep], y[keep]
        return DomainData(torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(y), num_classes=len(names),
                          name="image-domains", domain_names=tuple(names))
