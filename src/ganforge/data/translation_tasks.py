"""Built-in translation tasks on real data that installs offline, each with a held-out test split and its metrics:

  edges2mnist      (paired)   a deterministic Sobel edge map of each MNIST digit → the digit; test = MNIST's test
                              digits. Metrics: L1/PSNR/SSIM, digit accuracy of the outputs (mnist-classifier) and FID
                              on the mnist-classifier's features.
  mnist2mnistm     (unpaired) MNIST digits ↔ MNIST-M digits (Ganin & Lempitsky 2015: |photo patch − digit| per
                              channel) with patches cut from scikit-image's bundled colour photographs; A from MNIST
                              training digits 0..29,999, B from 30,000..59,999 (no digit is in both: no pair exists);
                              A is grey replicated to RGB so both domains have 3 channels (CycleGAN's identity loss).
                              Metrics: label preservation A→B (an MNIST-M classifier trained the mnist-classifier way
                              on labelled B, ``metrics.translation``), B→A (the shipped mnist-classifier), both
                              cycles, FID in each target domain on its classifier's features, and colourfulness
                              of G(a) against real MNIST-M (the classifiers are colour-robust: see the docs).
  colorize-photos  (paired)   L* (grey) → colour crops of the bundled colour photographs (scikit-image's 9, plus
                              scikit-learn's 2 when installed), split by photograph (``split=photo``: chelsea and
                              rocket are never seen in training) or by region (``split=region``: the right quarter
                              of every photograph is held out: one set of scenes, unseen pixels), or of any folder
                              of photos the user points at (``folder``; split by file). Metrics: PSNR/SSIM against
                              the true colours next to the trivial colourisations (grey input, Lab(L, 0, 0), the
                              training mean ab), colourfulness (Hasler & Süsstrunk 2003) of ours and of the truth.
Photographs are read by path from the installed scikit-image's ``skimage/data`` (its fetchers are never called) and
scikit-learn's ``sklearn/datasets/images``.
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ganforge.data import formats
from ganforge.data.mnist import load_mnist_raw
from ganforge.data.paired import TranslationData, check_train_split
from ganforge.registry import DATASETS

# real colour photographs bundled with scikit-image (synthetic ones: color.png, phantom.png, chessboard are left out)
PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "hubble_deep_field.jpg", "ihc.png", "motorcycle_left.png",
          "motorcycle_right.png", "retina.jpg", "rocket.jpg")
TEST_PHOTOS = ("chelsea.png", "rocket.jpg")  # colorize-photos' held-out photographs (the stereo pair stays in train)
SKLEARN_PHOTOS = ("china.jpg", "flower.jpg")  # scikit-learn's load_sample_images files, read by path when installed
SPLITS = ("photo", "region")
MNIST_HALF = 30_000  # mnist2mnistm: A = training digits [0, 30k), B = [30k, 60k)
EDGE_THRESHOLD = 0.25  # edges2mnist: Sobel magnitude above 25 % of the image's maximum is an edge


def skimage_data_dir() -> Path:
    """``skimage/data`` of the installed scikit-image (located without importing skimage's fetchers)."""
    spec = importlib.util.find_spec("skimage")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("scikit-image is not installed; its bundled photographs are the data of this task: "
                                "pip install scikit-image")
    folder = Path(spec.origin).parent / "data"
    if not (folder / PHOTOS[0]).is_file():
        raise FileNotFoundError(f"scikit-image's bundled photographs are missing from {folder}; reinstall scikit-image")
    return folder


@functools.lru_cache(maxsize=16)
def photo(name: str) -> np.ndarray:
    """One bundled photograph as uint8 ``[H, W, 3]``."""

    with formats.open_image(skimage_data_dir() / name) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8)


def sklearn_photos() -> list[np.ndarray]:
    """scikit-learn's two bundled colour photographs (``sklearn/datasets/images``) as uint8 ``[H, W, 3]``, read by
    path; none when scikit-learn is not installed (they only widen colorize-photos' training colours)."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or spec.origin is None:
        return []
    folder = Path(spec.origin).parent / "datasets" / "images"
    out = []
    for name in SKLEARN_PHOTOS:
        if (folder / name).is_file():
            with formats.open_image(folder / name) as im:
                out.append(np.asarray(im.convert("RGB"), dtype=np.uint8))
    return out


def region_split(image: np.ndarray, size: int, share: float) -> tuple[np.ndarray, np.ndarray]:
    """(left part, right part) of a photo ``[H, W, 3]``: the right ``share`` of its columns (at least ``size``) is
    held out, the rest trains; crops are cut inside one part, so no held-out pixel is ever seen in training."""
    w = image.shape[1]
    cut = w - max(size, round(w * share))
    if cut < size:
        raise ValueError(f"a {w} px wide photo cannot give two regions of {size} px crops; raise "
                         "data.options.short_side or lower data.options.size")
    return image[:, :cut], image[:, cut:]


def _scaled(image: np.ndarray, short_side: int) -> np.ndarray:
    from PIL import Image

    h, w = image.shape[:2]
    s = short_side / min(h, w)
    return np.asarray(Image.fromarray(image).resize((max(1, round(w * s)), max(1, round(h * s))),
                                                    Image.Resampling.LANCZOS))


def random_crops(images: list[np.ndarray], n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` crops ``size``×``size`` (uint8 ``[n, 3, size, size]``), each from a photo drawn uniformly."""
    out = np.empty((n, 3, size, size), np.uint8)
    for i in range(n):
        im = images[rng.integers(len(images))]
        y, x = rng.integers(im.shape[0] - size + 1), rng.integers(im.shape[1] - size + 1)
        out[i] = im[y:y + size, x:x + size].transpose(2, 0, 1)
    return out


# ---- edges2mnist ----------------------------------------------------------------------------------------------------


def sobel_edges(digits: Tensor) -> Tensor:
    """uint8 ``[N, 1, H, W]`` → binary edge maps (0 / 255): Sobel gradient magnitude above ``EDGE_THRESHOLD`` of the
    image's maximum (deterministic; like the edges of pix2pix's edges2shoes, a stroke becomes its outline)."""
    kx = torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    k = torch.stack([kx, kx.T])[:, None]  # [2, 1, 3, 3]
    g = F.conv2d(F.pad(digits.float() / 255.0, (1, 1, 1, 1), mode="replicate"), k)
    mag = g.square().sum(1, keepdim=True).sqrt()  # [N, 1, H, W]
    peak = mag.flatten(1).amax(1).clamp(min=1e-8).view(-1, 1, 1, 1)
    return ((mag > EDGE_THRESHOLD * peak) * 255).to(torch.uint8)


@DATASETS.register("edges2mnist")
@dataclass
class Edges2MNIST:
    """Edge maps of MNIST digits → the digits (paired); test = the first ``test_limit`` official test digits."""

    limit: int = 0  # training pairs (0 = all 60,000)
    test_limit: int = 2000

    def __post_init__(self) -> None:
        if self.limit < 0 or self.test_limit < 1:
            raise ValueError(f"limit must be >= 0 and test_limit >= 1, got {self.limit}, {self.test_limit}")

    def load(self, split: str = "train") -> TranslationData:
        check_train_split("edges2mnist", split)
        x, _ = load_mnist_raw("train")
        tx, ty = load_mnist_raw("test")
        x, tx, ty = x[: self.limit or None], tx[: self.test_limit], ty[: self.test_limit]
        return TranslationData(sobel_edges(x), x, sobel_edges(tx), tx, paired=True, name="edges2mnist",
                               task="edges2mnist", labels={"test_b": ty, "test_a": ty})


# ---- mnist2mnistm -----------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _patch_photos() -> tuple[np.ndarray, ...]:
    return tuple(photo(name) for name in PHOTOS)


def mnistm(digits: Tensor, seed: int) -> Tensor:
    """MNIST-M (Ganin & Lempitsky 2015, §4.1): |patch − digit| per channel, a random 28×28 patch of a colour photo
    per digit. uint8 ``[N, 1, 28, 28]`` → ``[N, 3, 28, 28]``; the same ``seed`` gives the same patches."""
    patches = random_crops(list(_patch_photos()), len(digits), digits.shape[-1], np.random.default_rng(seed))
    return torch.from_numpy(np.abs(patches.astype(np.int16) - digits.numpy().astype(np.int16)).astype(np.uint8))


def grey_rgb(digits: Tensor) -> Tensor:
    return digits.expand(-1, 3, -1, -1).contiguous()


@DATASETS.register("mnist2mnistm")
@dataclass
class MNIST2MNISTM:
    """MNIST (A, grey as RGB) ↔ MNIST-M (B), unpaired; the test split from MNIST's test digits (half each)."""

    limit: int = 0  # training images per domain (0 = all 30,000)
    test_limit: int = 1000  # test images per domain
    seed: int = 0  # the photo patches of B

    def __post_init__(self) -> None:
        if not 0 <= self.limit <= MNIST_HALF or not 1 <= self.test_limit <= 5000:
            raise ValueError(f"limit must be in 0..{MNIST_HALF} and test_limit in 1..5000, got {self.limit}, "
                             f"{self.test_limit}")

    def load(self, split: str = "train") -> TranslationData:
        check_train_split("mnist2mnistm", split)
        return mnist2mnistm_data(self.limit or MNIST_HALF, self.test_limit, self.seed)


def mnist2mnistm_data(n: int, n_test: int, seed: int) -> TranslationData:
    x, y = load_mnist_raw("train")
    tx, ty = load_mnist_raw("test")
    a, b = x[:n], x[MNIST_HALF:MNIST_HALF + n]
    ta, tb = tx[:n_test], tx[5000:5000 + n_test]
    labels = {"a": y[:n], "b": y[MNIST_HALF:MNIST_HALF + n], "test_a": ty[:n_test], "test_b": ty[5000:5000 + n_test]}
    return TranslationData(grey_rgb(a), mnistm(b, seed), grey_rgb(ta), mnistm(tb, seed + 1), paired=False,
                           name="mnist2mnistm", task="mnist2mnistm", labels=labels)


# ---- colorize-photos --------------------------------------------------------------------------------------------


def colour_pairs(rgb: np.ndarray) -> tuple[Tensor, Tensor]:
    """(grey = L* as uint8 ``[N, 1, H, W]``, colour ``[N, 3, H, W]``) of RGB crops."""
    from ganforge.data.colour import grey_l_star

    b = torch.from_numpy(np.ascontiguousarray(rgb))
    return grey_l_star(b), b


@DATASETS.register("colorize-photos")
@dataclass
class ColorizePhotos:
    """Grey → colour crops of real photographs; split by photograph (bundled) or by file (``folder``)."""

    size: int = 32  # crop size
    short_side: int = 128  # photos are first scaled so that their shorter side has this many pixels
    crops_per_photo: int = 400  # training crops per photograph
    test_crops_per_photo: int = 100
    folder: str = ""  # your photos instead of the bundled ones: every 5th file (sorted) is held out
    split: str = "photo"  # photo: held-out photographs | region: the right quarter of every photograph held out
    test_share: float = 0.25  # split=region: the held-out share of each photo's columns
    seed: int = 0

    def __post_init__(self) -> None:
        if self.split not in SPLITS:
            raise ValueError(f"unknown split {self.split!r}; choose from: {', '.join(SPLITS)}")
        if not 0.0 < self.test_share < 1.0:
            raise ValueError(f"test_share must be in (0, 1), got {self.test_share}")
        if self.size < 16 or self.short_side < self.size:
            raise ValueError(f"size must be >= 16 and short_side >= size, got {self.size}, {self.short_side}")
        if self.crops_per_photo < 1 or self.test_crops_per_photo < 1:
            raise ValueError("crops_per_photo and test_crops_per_photo must be >= 1")

    def _photos(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        if not self.folder:
            train = [photo(n) for n in PHOTOS if n not in TEST_PHOTOS] + sklearn_photos()
            return train, [photo(n) for n in TEST_PHOTOS]
        root = Path(self.folder).expanduser()
        if not root.is_dir():
            raise FileNotFoundError(f"photo folder '{root}' not found; check data.options.folder")
        files = sorted(p for p in root.iterdir() if p.suffix.lower() in formats.IMAGE_EXTENSIONS
                       and not p.name.startswith("."))
        if len(files) < 2:
            raise ValueError(f"photo folder '{root}' holds {len(files)} image(s); colorize-photos splits by file and "
                             "needs at least 2 (every 5th is held out for testing)")
        images = []
        for f in files:
            with formats.open_image(f) as im:
                images.append(np.asarray(im.convert("RGB"), dtype=np.uint8))
        test = set(range(4, len(files), 5)) or {len(files) - 1}
        return [im for i, im in enumerate(images) if i not in test], [im for i, im in enumerate(images) if i in test]

    def load(self, split: str = "train") -> TranslationData:
        check_train_split("colorize-photos", split)
        train, test = self._photos()
        train = [_scaled(im, self.short_side) for im in train]
        test = [_scaled(im, self.short_side) for im in test]
        if self.split == "region":  # every photograph in both splits, by disjoint column ranges
            parts = [region_split(im, self.size, self.test_share) for im in train + test]
            train, test = [p[0] for p in parts], [p[1] for p in parts]
        rng = np.random.default_rng(self.seed)
        a, b = colour_pairs(random_crops(train, self.crops_per_photo * len(train), self.size, rng))
        ta, tb = colour_pairs(random_crops(test, self.test_crops_per_photo * len(test), self.size, rng))
        return TranslationData(a, b, ta, tb, paired=True, name="colorize-photos", task="colorize")
