"""Paired low-res / high-res images for super-resolution (SRGAN, Ledig et al. 2017), data kind ``superres``.

Two datasets, both ``x`` = the high-res image ``uint8 [N, C, H, W]`` and field ``lr`` = it down-sampled ×``scale``
(``uint8 [N, C, H/s, W/s]``; the paper's protocol: "obtained by applying a bicubic kernel with down-sampling factor
r = 4" — PIL's anti-aliased bicubic here, or 2×2…s×s block averages with ``downsample: area``):

- ``superres-mnist``: the MNIST digits (28×28 → 7×7), splits "train" (60k) / "test" (10k) of ``mnist``.
- ``superres-photos``: crops of scikit-image's bundled colour photographs, read by path from ``skimage/data`` (no
  fetcher is called). Split **by photograph**: the "test" photographs (default chelsea, rocket) never appear in
  training; training crops are drawn at random positions (``n_crops``, seeded), test crops tile each test photo
  without overlap, so evaluation is deterministic.

The ``superres`` data kind (``ganforge.kinds.superres``) writes comparison grids LR | bicubic | SR | HR on held-out
pairs and evaluates on the held-out split (``standalone_eval``: ``ganforge eval RUN`` writes ``RUN/eval/task.json``):
PSNR/SSIM of the model and of bicubic up-sampling against HR (Y channel, ``scale``-pixel border shaved;
``metrics/superres.py``), a sharpness ratio, and perceptual scores in the feature space of the network the content
loss uses (the shipped MNIST classifier for digits, the FID Inception for photos): a paired feature distance and a
Fréchet distance to the HR images; for digits also the classifier's accuracy on the outputs (is the digit still the
same digit?).
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ganforge.data.base import TensorData
from ganforge.data.images import check_limit, check_split
from ganforge.data.mnist import load_mnist_raw
from ganforge.registry import DATASETS

KIND = "superres"
DOWNSAMPLE = ("bicubic", "area")
# scikit-image's bundled colour photographs (natural scenes; the synthetic/graphic files are left out). The two
# motorcycle views are near duplicates, so they stay on the same (training) side of the split.
PHOTOS = ("astronaut", "chelsea", "coffee", "hubble_deep_field", "ihc", "motorcycle_left", "motorcycle_right",
          "retina", "rocket")
TEST_PHOTOS = ("chelsea", "rocket")
GRID_ROWS = 8  # held-out pairs in the training grids
EVAL_BATCH = 256


# ---- resampling (uint8 in, uint8 out) -------------------------------------------------------------------------


def _pil_resize(images: Tensor, size: tuple[int, int], method: str) -> Tensor:
    from PIL import Image

    filt = {"bicubic": Image.Resampling.BICUBIC, "nearest": Image.Resampling.NEAREST}[method]
    h, w = size
    out = np.empty((images.shape[0], images.shape[1], h, w), np.uint8)
    for i, img in enumerate(images.cpu().numpy()):
        for c in range(img.shape[0]):  # per channel ("L" images): grey and RGB alike, no colour-space round trip
            out[i, c] = np.asarray(Image.fromarray(img[c]).resize((w, h), filt))
    return torch.from_numpy(out)


def check_images(images: Tensor, what: str) -> None:
    """One-line ``ValueError`` unless ``images`` is a uint8 ``[N, 1 or 3, H, W]`` tensor."""
    ok = isinstance(images, Tensor) and images.dtype == torch.uint8 and images.ndim == 4 and images.shape[1] in (1, 3)
    if not ok:
        desc = f"{images.dtype} {list(images.shape)}" if isinstance(images, Tensor) else type(images).__name__
        raise ValueError(f"{what} takes uint8 images [N, 1 or 3, H, W], got {desc}")


def downsample(images: Tensor, scale: int, method: str = "bicubic") -> Tensor:
    """``uint8 [N, C, H, W]`` → ``uint8 [N, C, H/scale, W/scale]``: PIL's anti-aliased bicubic (the kernel widens
    with the factor, like MATLAB's ``imresize``) or ``area`` (the mean of each scale×scale block, rounded)."""
    check_images(images, "downsample")
    if method not in DOWNSAMPLE:
        raise ValueError(f"unknown downsample {method!r}; choose from: {', '.join(DOWNSAMPLE)}")
    h, w = images.shape[-2:]
    if scale < 1 or h % scale or w % scale:
        raise ValueError(f"{h}x{w} images do not divide by the scale {scale}; crop them to a multiple of {scale}")
    if method == "area":
        return torch.nn.functional.avg_pool2d(images.float(), scale).round_().clamp_(0, 255).to(torch.uint8)
    return _pil_resize(images, (h // scale, w // scale), "bicubic")


def bicubic_upsample(images: Tensor, scale: int) -> Tensor:
    """The baseline: ``uint8 [N, C, h, w]`` → ``uint8 [N, C, h·scale, w·scale]`` with PIL's bicubic filter."""
    check_images(images, "bicubic_upsample")
    return _pil_resize(images, (images.shape[-2] * scale, images.shape[-1] * scale), "bicubic")


# ---- the data kind ---------------------------------------------------------------------------------------------


@dataclass
class SuperResData(TensorData):
    """HR images ``x`` with their LR versions in ``fields["lr"]``; ``kind`` = ``superres``."""

    scale: int = 4
    feature_net: str = "mnist-classifier"  # the pretrained network of the content loss and perceptual scores
    options: dict[str, Any] = field(default_factory=dict)  # how it was made (for the eval protocol)

    def __post_init__(self) -> None:
        super().__post_init__()
        lr = self.fields.get("lr")
        if lr is None or lr.shape[1] != self.x.shape[1] or tuple(lr.shape[-2:]) != tuple(
                s // self.scale for s in self.x.shape[-2:]):
            raise ValueError(f"dataset {self.name!r}: field 'lr' must hold the images down-sampled x{self.scale}")

    @property
    def kind(self) -> str:
        return KIND


def pair(hr: Tensor, y: Tensor | None, scale: int, method: str, name: str, feature_net: str,
         options: dict[str, Any]) -> SuperResData:
    return SuperResData(hr, y, num_classes=10 if y is not None else 0, name=name,
                        fields={"lr": downsample(hr, scale, method)}, scale=scale, feature_net=feature_net,
                        options=options)


def check_scale(scale: int) -> None:
    if scale not in (2, 4, 8):
        raise ValueError(f"scale must be 2, 4 or 8 (a power of two: one PixelShuffle x2 per octave), got {scale}")


@DATASETS.register("superres-mnist")
@dataclass
class SuperResMNIST:
    """MNIST digits ``uint8 [N, 1, 28, 28]`` and their ×``scale`` down-sampled versions (7×7 at scale 4).

    Splits "train" (60k), "test" (10k); ``limit`` keeps the first N. Labels are kept (the evaluation checks that the
    classifier still reads the same digit in the output); the SR models do not use them.
    """

    scale: int = 4
    downsample: str = "bicubic"  # bicubic | area
    limit: int = 0

    def __post_init__(self) -> None:
        check_limit(self.limit)
        if self.scale not in (2, 4):
            raise ValueError(f"superres-mnist: scale must be 2 or 4 (28 px divides by those), got {self.scale}")
        if self.downsample not in DOWNSAMPLE:
            raise ValueError(f"unknown downsample {self.downsample!r}; choose from: {', '.join(DOWNSAMPLE)}")

    def load(self, split: str = "train") -> SuperResData:
        check_split("superres-mnist", split, ("train", "test"))
        x, y = load_mnist_raw(split)
        if self.limit:
            x, y = x[: self.limit].clone(), y[: self.limit].clone()
        return pair(x, y, self.scale, self.downsample, "superres-mnist", "mnist-classifier",
                    {"dataset": "superres-mnist", "split": split, "scale": self.scale, "downsample": self.downsample,
                     "limit": self.limit})


def skimage_data_dir() -> Path:
    """``skimage/data`` of the installed scikit-image (found without importing its fetchers)."""
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("superres-photos needs scikit-image's bundled photographs; pip install scikit-image")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


@functools.lru_cache(maxsize=16)
def read_photo(name: str) -> np.ndarray:
    """One bundled photograph as ``uint8 [3, H, W]`` RGB (alpha dropped)."""
    from PIL import Image

    folder = skimage_data_dir()
    files = [p for p in (folder / f"{name}.png", folder / f"{name}.jpg") if p.is_file()]
    if not files:
        raise FileNotFoundError(f"photograph {name!r} not found in {str(folder)!r}; choose from: {', '.join(PHOTOS)}")
    with Image.open(files[0]) as im:
        return np.ascontiguousarray(np.asarray(im.convert("RGB"), dtype=np.uint8).transpose(2, 0, 1))


@DATASETS.register("superres-photos")
@dataclass
class SuperResPhotos:
    """Crops of scikit-image's colour photographs, ``uint8 [N, 3, crop, crop]`` HR with ×``scale`` LR versions.

    "train": ``n_crops`` crops at random positions (seeded) of the photographs not in ``test_photos``; "test": every
    non-overlapping crop of the ``test_photos`` (row-major, photo by photo), first ``limit`` when > 0.
    """

    crop: int = 32  # HR crop size (the paper: 96); LR = crop / scale
    scale: int = 4
    n_crops: int = 4096
    test_photos: tuple[str, ...] = TEST_PHOTOS
    downsample: str = "bicubic"
    seed: int = 0
    limit: int = 0

    def __post_init__(self) -> None:
        check_limit(self.limit)
        check_scale(self.scale)
        if self.downsample not in DOWNSAMPLE:
            raise ValueError(f"unknown downsample {self.downsample!r}; choose from: {', '.join(DOWNSAMPLE)}")
        if self.crop < 4 * self.scale or self.crop % self.scale:
            raise ValueError(f"crop {self.crop} must be a multiple of the scale {self.scale} and >= {4 * self.scale}")
        if self.n_crops < 1:
            raise ValueError(f"n_crops must be >= 1, got {self.n_crops}")
        unknown = [p for p in self.test_photos if p not in PHOTOS]
        if unknown or not self.test_photos or len(set(self.test_photos)) == len(PHOTOS):
            raise ValueError(f"test_photos {list(self.test_photos)}: name 1..{len(PHOTOS) - 1} of: {', '.join(PHOTOS)}")

    def load(self, split: str = "train") -> SuperResData:
        check_split("superres-photos", split, ("train", "test"))
        names = [p for p in PHOTOS if (p in self.test_photos) == (split == "test")]
        photos = [torch.from_numpy(read_photo(p)) for p in names]
        for name, ph in zip(names, photos, strict=True):
            if min(ph.shape[-2:]) < self.crop:
                raise ValueError(f"photograph {name!r} ({ph.shape[-2]}x{ph.shape[-1]}) is smaller than crop "
                                 f"{self.crop}; lower data.options.crop")
        c = self.crop
        if split == "train":
            rng = torch.Generator().manual_seed(self.seed)
            which = torch.randint(len(photos), (self.n_crops,), generator=rng)  # photo of each crop, uniformly
            crops = []
            for k in which.tolist():
                ph = photos[k]
                top = int(torch.randint(ph.shape[1] - c + 1, (1,), generator=rng))
                left = int(torch.randint(ph.shape[2] - c + 1, (1,), generator=rng))
                crops.append(ph[:, top : top + c, left : left + c])
        else:
            crops = [ph[:, t : t + c, s : s + c] for ph in photos
                     for t in range(0, ph.shape[1] - c + 1, c) for s in range(0, ph.shape[2] - c + 1, c)]
        hr = torch.stack(crops).contiguous()
        if self.limit:
            hr = hr[: self.limit].clone()
        return pair(hr, None, self.scale, self.downsample, "superres-photos", "inception",
                    {"dataset": "superres-photos", "split": split, "photos": names, "crop": c, "scale": self.scale,
                     "n_crops": self.n_crops if split == "train" else len(crops), "downsample": self.downsample,
                     "seed": self.seed, "limit": self.limit})
