"""Full-reference image quality shared by the translation and super-resolution metrics: PSNR and SSIM.

SSIM (Wang et al. 2004, eq. 13) is computed one way with two window conventions, so that each family reports what its
literature reports (``metrics/translation.py``: pix2pix-style Gaussian SSIM; ``metrics/superres.py``: the SR papers'
skimage default on the Y channel):

- ``window="gaussian"``: 11×11 Gaussian, σ = 1.5, population covariances — ``skimage.metrics.structural_similarity(
  ..., gaussian_weights=True, sigma=1.5, use_sample_covariance=False)``;
- ``window="uniform"``: ``win_size``×``win_size`` box (7 by default), sample covariances (× n/(n − 1)) — skimage's
  defaults.

Both average the SSIM map over the positions where the window fits (skimage's cropped mean) and over channels. Inputs
are float64 tensors ``[N, C, H, W]`` in ``[0, data_range]``; outputs are one value per image (``float64 [N]``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

K1, K2 = 0.01, 0.03  # Wang et al. (2004): C1 = (K1·L)², C2 = (K2·L)²
GAUSSIAN_SIZE, GAUSSIAN_SIGMA = 11, 1.5
UNIFORM_SIZE = 7  # skimage's default win_size


def psnr(x: Tensor, y: Tensor, data_range: float = 255.0) -> Tensor:
    """Per-image PSNR in dB, ``float64 [N]``: 10·log10(L² / mean((x − y)²)); identical images give inf."""
    mse = (x.double() - y.double()).square().flatten(1).mean(1)
    return 10.0 * torch.log10(data_range**2 / mse)


def _gaussian_kernel(size: int, sigma: float, device: torch.device) -> Tensor:
    r = torch.arange(size, dtype=torch.float64, device=device) - size // 2
    g = torch.exp(-r.square() / (2 * sigma**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :])[None, None]  # [1, 1, size, size], sums to 1


def ssim(x: Tensor, y: Tensor, data_range: float = 255.0, window: str = "gaussian", win_size: int | None = None
         ) -> Tensor:
    """Per-image mean SSIM, ``float64 [N]`` (channels averaged), with the ``window`` convention above."""
    if window not in ("gaussian", "uniform"):
        raise ValueError(f"unknown SSIM window {window!r}; choose gaussian or uniform")
    size = win_size or (GAUSSIAN_SIZE if window == "gaussian" else UNIFORM_SIZE)
    if size < 3 or size % 2 == 0 or size > min(x.shape[-2:]):
        raise ValueError(f"SSIM window {size} must be odd, >= 3 and fit in the {x.shape[-2]}x{x.shape[-1]} images; "
                         "use larger images or a smaller window")
    n, c, h, w = x.shape
    a, b = x.double().reshape(n * c, 1, h, w), y.double().reshape(n * c, 1, h, w)
    if window == "gaussian":
        kernel = _gaussian_kernel(size, GAUSSIAN_SIGMA, x.device)

        def mean(t: Tensor) -> Tensor:
            return F.conv2d(t, kernel)

        cov_norm = 1.0
    else:
        def mean(t: Tensor) -> Tensor:
            return F.avg_pool2d(t, size, stride=1)

        cov_norm = size * size / (size * size - 1)  # sample covariance
    mu_a, mu_b = mean(a), mean(b)
    var_a = cov_norm * (mean(a * a) - mu_a**2)
    var_b = cov_norm * (mean(b * b) - mu_b**2)
    cov = cov_norm * (mean(a * b) - mu_a * mu_b)
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return s.reshape(n, c, -1).mean((1, 2))
