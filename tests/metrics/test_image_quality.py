"""The shared PSNR / SSIM (metrics/image_quality.py). Both window conventions are checked against scikit-image
through their users: tests/metrics/test_translation.py (Gaussian) and tests/metrics/test_superres.py (uniform)."""

import math

import pytest
import torch

from ganforge.metrics.image_quality import psnr, ssim


def test_identical_images_and_formula() -> None:
    x = torch.rand(3, 2, 16, 16, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 255
    assert torch.isinf(psnr(x, x)).all()
    for window in ("gaussian", "uniform"):
        assert torch.allclose(ssim(x, x, window=window), torch.ones(3, dtype=torch.float64), atol=1e-12)
    y = x + 5.0  # MSE = 25 exactly
    assert psnr(x, y).tolist() == pytest.approx([10 * math.log10(255**2 / 25)] * 3, rel=1e-12)


def test_bad_windows_are_refused() -> None:
    x = torch.zeros(1, 1, 8, 8, dtype=torch.float64)
    with pytest.raises(ValueError, match="unknown SSIM window"):
        ssim(x, x, window="box")
    with pytest.raises(ValueError, match="must be odd"):
        ssim(x, x, window="gaussian")  # 11x11 does not fit in 8x8
