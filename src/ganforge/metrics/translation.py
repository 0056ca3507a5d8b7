"""Metrics of image-to-image translation, on uint8 images ``[N, C, H, W]`` (0..255):

- ``l1``: mean |x − y| in [0, 1] pixel units (pix2pix Table 1 reports per-pixel errors of this kind);
- ``psnr``: 10·log10(255² / MSE) per image, averaged (capped at 100 dB for identical images);
- ``ssim``: SSIM (Wang et al. 2004, eq. 13) with an 11×11 Gaussian window, σ = 1.5, K1 = 0.01, K2 = 0.03, over the
  valid region, averaged over channels and images: the same numbers as ``skimage.metrics.structural_similarity(...,
  gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255)``;
- ``colourfulness``: Hasler & Süsstrunk (2003), M = σ_rgyb + 0.3·μ_rgyb with rg = R − G, yb = ½(R + G) − B;
- ``label_accuracy``: how often a classifier of the target domain finds the source image's label in the translation
  (label preservation: a CycleGAN that turns a 3 into a 5 is caught);
- ``DigitClassifier``/``train_digit_classifier``: the shipped mnist-classifier's architecture and recipe trained on
  a labelled colour domain (MNIST-M), for →MNIST-M label preservation and FID on that domain's features.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganforge.metrics import image_quality

SSIM_WIN = image_quality.GAUSSIAN_SIZE
PSNR_CAP = 100.0


def _check_pair(x: Tensor, y: Tensor) -> None:
    if x.dtype != torch.uint8 or y.dtype != torch.uint8:
        raise TypeError(f"expected uint8 images, got {x.dtype} and {y.dtype}")
    if x.shape != y.shape or x.ndim != 4:
        raise ValueError(f"expected two uint8 image sets [N, C, H, W] of one shape, got {list(x.shape)} and "
                         f"{list(y.shape)}")


def l1(x: Tensor, y: Tensor) -> float:
    """Mean absolute error in [0, 1] pixel units."""
    _check_pair(x, y)
    return float((x.double() - y.double()).abs().mean() / 255.0)


def psnr(x: Tensor, y: Tensor) -> float:
    """Mean over images of 10·log10(255² / MSE), in dB (an identical image counts as ``PSNR_CAP``)."""
    _check_pair(x, y)
    return float(image_quality.psnr(x, y).clamp(max=PSNR_CAP).mean())


def ssim_per_image(x: Tensor, y: Tensor) -> Tensor:
    """SSIM of each image ``[N]`` (float64), the mean of the SSIM map over the valid region and the channels
    (``image_quality.ssim`` with the Gaussian window)."""
    _check_pair(x, y)
    if min(x.shape[-2:]) < SSIM_WIN:
        raise ValueError(f"SSIM needs images of at least {SSIM_WIN}x{SSIM_WIN}, got {tuple(x.shape[-2:])}")
    return image_quality.ssim(x.double(), y.double(), 255.0, window="gaussian", win_size=SSIM_WIN)


def ssim(x: Tensor, y: Tensor) -> float:
    """Mean SSIM over images (see ``ssim_per_image``)."""
    return float(ssim_per_image(x, y).mean())


def colourfulness(x: Tensor) -> float:
    """Hasler & Süsstrunk (2003) colourfulness of RGB uint8 images ``[N, 3, H, W]``, averaged over images (grey
    images score 0; their paper's scale: 15 "slightly", 33 "moderately", 59 "quite", 82 "highly colourful")."""
    if x.dtype != torch.uint8 or x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"colourfulness needs uint8 RGB images [N, 3, H, W], got {x.dtype} {list(x.shape)}")
    r, g, b = x.double().unbind(1)
    rg, yb = (r - g).flatten(1), (0.5 * (r + g) - b).flatten(1)
    sigma = torch.sqrt(rg.var(1, unbiased=False) + yb.var(1, unbiased=False))
    mu = torch.sqrt(rg.mean(1) ** 2 + yb.mean(1) ** 2)
    return float((sigma + 0.3 * mu).mean())


def to_grey(x: Tensor) -> Tensor:
    """uint8 ``[N, 3, H, W]`` → ``[N, 1, H, W]`` (channel mean, rounded); 1-channel images are returned as they are."""
    return x if x.shape[1] == 1 else x.double().mean(1, keepdim=True).round().clamp(0, 255).to(torch.uint8)


@torch.no_grad()
def predict(model: nn.Module, images: Tensor, batch_size: int = 1000) -> tuple[Tensor, Tensor]:
    """(class probabilities ``[N, K]``, penultimate features ``[N, D]``) of uint8 images, float32 on the CPU."""
    model.eval()
    device = next(model.parameters()).device
    probs, feats = [], []
    for i in range(0, len(images), batch_size):
        x = images[i:i + batch_size].to(device).float() / 255.0
        f = model.features(x)
        probs.append(model.head(f).softmax(1).float().cpu())
        feats.append(f.float().cpu())
    return torch.cat(probs), torch.cat(feats)


def label_accuracy(probs: Tensor, labels: Tensor) -> float:
    """Fraction of images whose most probable class is ``labels`` (label preservation), in [0, 1]."""
    return float((probs.argmax(1) == labels.to(probs.device)).double().mean())


def digit_classifier(channels: int) -> nn.Module:
    """The shipped mnist-classifier's architecture (``MnistClassifier``) with a ``channels``-channel first conv."""
    from ganforge.metrics.classifier import MnistClassifier

    model = MnistClassifier()
    if channels != 1:
        model.convs[0][0] = nn.Conv2d(channels, 16, 3, padding=1, bias=False)
    return model


def train_digit_classifier(images: Tensor, labels: Tensor, epochs: int = 2, batch_size: int = 128, lr: float = 3e-3,
                           seed: int = 0) -> nn.Module:
    """A digit classifier for a labelled domain, trained as the shipped one (Adam, cross-entropy, BN, dropout 0.3,
    cosine lr) on uint8 images ``[N, C, 28, 28]``; returned frozen, in eval mode, on the CPU."""
    g = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = digit_classifier(images.shape[1])
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        steps = epochs * (len(images) // batch_size)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 0.5 * (1 + math.cos(math.pi * t / max(1, steps))))
        model.train()
        for _ in range(epochs):
            perm = torch.randperm(len(images), generator=g)
            for i in range(0, len(images) - batch_size + 1, batch_size):
                idx = perm[i:i + batch_size]
                loss = F.cross_entropy(model(images[idx].float() / 255.0), labels[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
    model.requires_grad_(False)
    return model.eval()
