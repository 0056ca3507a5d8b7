"""Super-resolution fidelity metrics on uint8 images: PSNR, SSIM, the Y (luma) channel, a sharpness ratio.

Conventions follow the SR literature the SRGAN paper reports against (Ledig et al. 2017, §3.1): metrics on the
Y channel of YCbCr for colour images, with a border of ``scale`` pixels removed from each side. Every function takes
``uint8 [N, C, H, W]`` tensors (C = 1 or 3) and returns one number per image (``float64 [N]``) so that callers
average, bootstrap or compare per image.

- ``psnr``: ``10·log10(255² / MSE)`` per image (MSE over every pixel and channel).
- ``ssim``: Wang et al. (2004) with the defaults of ``skimage.metrics.structural_similarity`` (7×7 uniform window,
  K1 = 0.01, K2 = 0.03, sample covariances, L = 255), the mean of the SSIM map over the positions where the window
  fits (skimage's cropped mean), averaged over channels.
- ``sharpness``: mean gradient magnitude of an image over that of its reference (1 = as much high-frequency
  energy as the ground truth; bicubic up-sampling gives < 1, a GAN can come close to 1 or exceed it).
"""

from __future__ import annotations

import torch
from torch import Tensor

from ganforge.metrics import image_quality

DATA_RANGE = 255.0
SSIM_WINDOW = 7  # skimage's default win_size
Y_WEIGHTS = (65.481, 128.553, 24.966)  # ITU-R BT.601 luma for RGB in [0, 1]: Y = 16 + (these · rgb)  (MATLAB rgb2ycbcr)


def check_pair(a: Tensor, b: Tensor) -> None:
    """One-line ``ValueError`` unless ``a`` and ``b`` are uint8 ``[N, C, H, W]`` tensors of the same shape."""
    for name, t in (("first", a), ("second", b)):
        if not isinstance(t, Tensor) or t.dtype != torch.uint8 or t.ndim != 4 or t.shape[1] not in (1, 3):
            desc = f"{t.dtype} {list(t.shape)}" if isinstance(t, Tensor) else type(t).__name__
            raise ValueError(f"super-resolution metrics take uint8 images [N, 1 or 3, H, W]; the {name} argument is "
                             f"{desc}: convert with ganforge.data.base.to_uint8")
    if a.shape != b.shape:
        raise ValueError(f"super-resolution metrics compare images of one shape, got {list(a.shape)} and "
                         f"{list(b.shape)}; up-sample the low-res images to the high-res size first")


def to_y(images: Tensor) -> Tensor:
    """The Y channel ``float64 [N, 1, H, W]`` in [16, 235] of RGB uint8 images; grey images are returned as float."""
    x = images.double()
    if x.shape[1] == 1:
        return x
    w = torch.tensor(Y_WEIGHTS, dtype=torch.float64, device=x.device).view(1, 3, 1, 1)
    return 16.0 + (x * w).sum(1, keepdim=True) / 255.0  # Y = 16 + 65.481 r + 128.553 g + 24.966 b, rgb in [0, 1]


def shave(images: Tensor, border: int) -> Tensor:
    """``images`` without ``border`` pixels on each side (the SR convention: border = the scale factor)."""
    if border <= 0:
        return images
    if 2 * border >= min(images.shape[-2:]):
        raise ValueError(f"cannot remove a {border}-pixel border from {images.shape[-2]}x{images.shape[-1]} images; "
                         "use a smaller border")
    return images[..., border:-border, border:-border]


def psnr(a: Tensor, b: Tensor, data_range: float = DATA_RANGE) -> Tensor:
    """Per-image PSNR in dB, ``float64 [N]``: ``10·log10(data_range² / mean((a − b)²))``; identical images → inf."""
    check_pair(a, b)
    return image_quality.psnr(a, b, data_range)


def ssim(a: Tensor, b: Tensor, data_range: float = DATA_RANGE, win_size: int = SSIM_WINDOW) -> Tensor:
    """Per-image mean SSIM, ``float64 [N]`` (channels averaged), as ``skimage.metrics.structural_similarity(a, b,
    data_range=255, channel_axis=0)`` computes it for each image (``image_quality.ssim``, uniform window)."""
    check_pair(a, b)
    return image_quality.ssim(a.double(), b.double(), data_range, window="uniform", win_size=win_size)


def sr_scores(output: Tensor, target: Tensor, border: int) -> dict[str, Tensor]:
    """PSNR and SSIM per image on the Y channel (RGB) or the grey channel, ``border`` pixels shaved (the SRGAN paper's
    protocol); ``{"psnr": [N], "ssim": [N]}``."""
    check_pair(output, target)
    y_out, y_ref = shave(to_y(output), border), shave(to_y(target), border)
    if min(y_out.shape[-2:]) < SSIM_WINDOW:
        raise ValueError(f"images of {output.shape[-2]}x{output.shape[-1]} less a {border}-pixel border are too small "
                         f"for the {SSIM_WINDOW}x{SSIM_WINDOW} SSIM window; use larger crops")
    return {"psnr": image_quality.psnr(y_out, y_ref, DATA_RANGE),
            "ssim": image_quality.ssim(y_out, y_ref, DATA_RANGE, window="uniform", win_size=SSIM_WINDOW)}


def gradient_energy(images: Tensor) -> Tensor:
    """Mean absolute finite difference (horizontal + vertical) per image, ``float64 [N]``, of uint8 images."""
    x = images.double()
    dx = (x[..., :, 1:] - x[..., :, :-1]).abs().flatten(1).mean(1)
    dy = (x[..., 1:, :] - x[..., :-1, :]).abs().flatten(1).mean(1)
    return dx + dy


def sharpness(output: Tensor, target: Tensor) -> float:
    """Gradient energy of ``output`` over that of ``target`` (summed over the set): 1 = as sharp as the reference."""
    check_pair(output, target)
    return float(gradient_energy(output).sum() / gradient_energy(target).sum().clamp_min(1e-12))
