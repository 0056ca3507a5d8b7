"""Paired low-res / high-res images for super-resolution (SRGAN, Ledig et al. 2017), data kind ``superres``.

Two datasets, both ``x`` = the high-res image ``uint8 [N, C, H, W]`` and field ``lr`` = it down-sampled ×``scale``
(``uint8 [N, C, H/s, W/s]``; the paper's protocol: "obtained by applying a bicubic kernel with down-sampling factor
r = 4" — PIL's anti-aliased bicubic here, or 2×2…s×s block averages with ``downsample: area``):

- ``superres-mnist``: the MNIST digits (28×28 → 7×7), splits "train" (60k) / "test" (10k) of ``mnist``.
- ``superres-photos``: crops of scikit-image's bundled colour photographs, read by path from ``skimage/data`` (no
  fetcher is called). Split **by photograph**: the "test" photographs (default chelsea, rocket) never appear in
  training; training crops are drawn at random positions (``n_crops``, seeded), test crops tile each test photo
  without overlap, so evaluation is deterministic.

The ``superres`` run hooks write comparison grids LR | bicubic | SR | HR on held-out pairs and evaluate on the held-out
split (``standalone_eval``: ``ganforge eval RUN`` writes ``RUN/eval/task.json``): PSNR/SSIM of the model and of
bicubic up-sampling against HR (Y channel, ``scale``-pixel border shaved; ``metrics/superres.py``), a sharpness ratio,
and perceptual scores in the feature space of the network the content loss uses (the shipped MNIST classifier for
digits, the FID Inception for photos): a paired feature distance and a Fréchet distance to the HR images; for digits
also the classifier's accuracy on the outputs (is the digit still the same digit?).
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ganforge.config import RunConfig
from ganforge.data.base import TensorData, scale_images, to_uint8
from ganforge.data.images import check_limit, check_split
from ganforge.data.mnist import load_mnist_raw
from ganforge.hooks import RunHooks
from ganforge.registry import DATASETS, RUN_HOOKS

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


# ---- evaluation ------------------------------------------------------------------------------------------------


def super_resolve(G: nn.Module, lr: Tensor, device: torch.device, batch_size: int = EVAL_BATCH) -> Tensor:
    """SR outputs ``uint8 [N, C, H, W]`` of a trained family (a ``Sampler``, or a bare SR generator) from uint8 LR
    images, in eval mode and batches; the model's mode is restored."""
    out_range = getattr(G, "output_range", None)
    was = G.training
    G.eval()
    outs = []
    try:
        with torch.no_grad():
            for i in range(0, lr.shape[0], batch_size):
                x = scale_images(lr[i : i + batch_size].to(device), out_range)
                sr = G(x.new_zeros(x.shape[0], 0), None, inputs=x) if hasattr(G, "family") else G(x)
                outs.append(to_uint8(sr.float(), out_range).cpu())
    finally:
        G.train(was)
    return torch.cat(outs)


@functools.lru_cache(maxsize=4)
def _held_out(name: str, options: tuple) -> SuperResData:
    dataset_cls = DATASETS.get(name)
    return dataset_cls(**dict(options)).load("test")


def held_out(cfg: RunConfig) -> SuperResData:
    """The run's held-out split (cached per dataset and options)."""
    opts = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in cfg.data.options.items()))
    return _held_out(cfg.data.name, opts)


def perceptual_scores(outputs: dict[str, Tensor], hr: Tensor, labels: Tensor | None, feature_net: str,
                      device: torch.device) -> dict[str, float]:
    """``{method}_feature_dist`` (mean squared distance of the content network's features to HR's, per image) and
    ``{method}_fid`` (Fréchet distance of the feature network's global features to HR's: the MNIST classifier's 128-d
    penultimate layer, or Inception pool3); digits also ``{method}_accuracy`` (classifier reads the true label)."""
    from ganforge.losses.srgan import content_features
    from ganforge.metrics.fid import fid_from_features

    out: dict[str, float] = {}
    if feature_net == "mnist-classifier":
        from ganforge.metrics.classifier import classify, features, load_mnist_classifier

        model = load_mnist_classifier(device=device)
        ref = features(model, hr).double().numpy()
        for name, images in outputs.items():
            out[f"{name}_fid"] = fid_from_features(features(model, images).double().numpy(), ref)
            if labels is not None:
                out[f"{name}_accuracy"] = 100.0 * float((classify(model, images).argmax(1) == labels).double().mean())
    else:
        from ganforge.metrics.inception import InceptionFeatures

        net = InceptionFeatures(device=device, progress=False)
        ref = net(hr).double().numpy()
        for name, images in outputs.items():
            out[f"{name}_fid"] = fid_from_features(net(images).double().numpy(), ref)
    for name, images in outputs.items():
        dists = []
        for i in range(0, hr.shape[0], EVAL_BATCH):
            a = content_features(feature_net, "auto", _signed(images[i : i + EVAL_BATCH], device))
            b = content_features(feature_net, "auto", _signed(hr[i : i + EVAL_BATCH], device))
            dists.append((a - b).square().flatten(1).mean(1).cpu().double())
        out[f"{name}_feature_dist"] = float(torch.cat(dists).mean())
    return out


def _signed(images: Tensor, device: torch.device) -> Tensor:
    return scale_images(images.to(device), (-1.0, 1.0))


def evaluate_sr(G: nn.Module, data: SuperResData, device: torch.device, n: int | None = None,
                perceptual: bool = True) -> dict[str, float]:
    """Held-out metrics of the model (``sr_*``) next to bicubic up-sampling (``bicubic_*``): PSNR and SSIM (Y channel,
    ``scale``-px border shaved), sharpness (gradient energy / HR's), and the perceptual scores (``perceptual``)."""
    from ganforge.metrics.superres import sharpness, sr_scores

    n = len(data) if n is None else min(n, len(data))
    hr, lr = data.x[:n], data.fields["lr"][:n]
    outputs = {"sr": super_resolve(G, lr, device), "bicubic": bicubic_upsample(lr, data.scale)}
    metrics: dict[str, float] = {}
    for name, images in outputs.items():
        scores = sr_scores(images, hr, border=data.scale)
        metrics[f"{name}_psnr"] = float(scores["psnr"].clamp(max=100.0).mean())  # identical images: 100 dB, not inf
        metrics[f"{name}_ssim"] = float(scores["ssim"].mean())
        metrics[f"{name}_sharpness"] = sharpness(images, hr)
    if perceptual:
        labels = data.y[:n] if data.y is not None else None
        metrics.update(perceptual_scores(outputs, hr, labels, data.feature_net, device))
    return metrics


@RUN_HOOKS.register(KIND)
class SuperResHooks(RunHooks):
    """Grids LR | bicubic | SR | HR of held-out pairs; evaluation on the held-out split (also ``ganforge eval``)."""

    standalone_eval = True

    def samples(self, G: nn.Module, data: Any, run_dir: Path, step: int, cfg: RunConfig, device: torch.device,
                final: bool = False) -> None:
        from ganforge.viz.images import comparison_grid, save_image

        test = held_out(cfg)
        hr, lr = test.x[:GRID_ROWS], test.fields["lr"][:GRID_ROWS]
        grid = comparison_grid([lr, bicubic_upsample(lr, test.scale), super_resolve(G, lr, device), hr])
        save_image(grid, run_dir / "samples" / f"step-{step:07d}.png", scale=2)
        if final:
            save_image(grid, run_dir / "samples" / "final.png", scale=2)

    def evaluate(self, G: nn.Module, data: Any, cfg: RunConfig, device: torch.device) -> dict[str, float]:
        return evaluate_sr(G, held_out(cfg), device, n=cfg.log.eval_digits)

    def protocol(self, data: Any, cfg: RunConfig, generator: str, step: int) -> dict[str, Any]:
        test = held_out(cfg)
        return {"metrics": "superres", "dataset": cfg.data.name, "held_out": test.options,
                "n": min(len(test), cfg.log.eval_digits), "generator": generator, "step": step,
                "psnr_ssim": f"Y channel (BT.601) of uint8 outputs, {test.scale}-px border shaved; SSIM as skimage "
                             "(7x7 uniform window, sample covariance, L=255); PSNR per image, averaged",
                "bicubic": "PIL bicubic up-sampling of the same LR images",
                "sharpness": "mean |finite difference| of the outputs / of HR (1 = as sharp as HR)",
                "feature_net": test.feature_net,
                "fid": "Frechet distance of " + ("mnist-classifier 128-d features" if test.feature_net ==
                                                 "mnist-classifier" else "Inception pool3 features (small n: biased)")
                       + " of the outputs vs the HR images",
                "feature_dist": "per-image mean squared distance of the content-loss feature layer to HR's"}

    def export_samples(self, G: nn.Module, cfg: RunConfig, run_dir: Path, args: Any,
                       device: torch.device) -> Path | None:
        raise ValueError("a super-resolution run upscales images rather than sampling them; use `ganforge translate "
                         "RUN --input PATH --out DIR`")
