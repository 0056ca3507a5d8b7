"""PSNR / SSIM / Y channel / sharpness (metrics/superres.py) against scikit-image and the formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from ganforge.metrics.superres import gradient_energy, psnr, sharpness, shave, sr_scores, ssim, to_y


def _images(seed: int, shape: tuple[int, ...]) -> torch.Tensor:
    return torch.randint(0, 256, shape, generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)


@pytest.mark.parametrize("channels", [1, 3])
def test_ssim_matches_skimage(channels: int) -> None:
    a = _images(0, (3, channels, 20, 17))
    b = (a.int() + _images(1, a.shape).int() // 8 - 16).clamp(0, 255).to(torch.uint8)  # correlated with a
    ours = ssim(a, b)
    for i in range(a.shape[0]):
        ref = structural_similarity(a[i].numpy(), b[i].numpy(), data_range=255, channel_axis=0)
        # float64 throughout; skimage filters the whole image then crops, we pool only valid windows: same sums
        assert ours[i].item() == pytest.approx(ref, abs=1e-10)
    assert ssim(a, a).tolist() == pytest.approx([1.0] * 3, abs=1e-12)


def test_psnr_is_the_formula() -> None:
    a = _images(2, (2, 3, 8, 8))
    b = _images(3, (2, 3, 8, 8))
    for i in range(2):
        mse = float(((a[i].double() - b[i].double()) ** 2).mean())
        assert psnr(a, b)[i].item() == pytest.approx(10 * math.log10(255**2 / mse), rel=1e-12)
    c = a.clone()
    c[0, 0, 0, 0] ^= 1  # one pixel off by one: MSE = 1 / 192
    assert psnr(a, c)[0].item() == pytest.approx(10 * math.log10(255**2 * 192), rel=1e-12)
    assert math.isinf(psnr(a, a)[0].item())


def test_y_channel_and_shaved_scores() -> None:
    white = torch.full((1, 3, 12, 12), 255, dtype=torch.uint8)
    assert to_y(white).unique().tolist() == pytest.approx([235.0])  # BT.601: 16 + 219
    assert to_y(torch.zeros(1, 3, 2, 2, dtype=torch.uint8)).unique().tolist() == [16.0]
    grey = _images(4, (2, 1, 12, 12))
    assert torch.equal(to_y(grey), grey.double())
    noisy = (grey.int() + 3).clamp(max=255).to(torch.uint8)
    scores = sr_scores(noisy, grey, border=2)
    expect_psnr = psnr(shave(noisy, 2), shave(grey, 2))
    torch.testing.assert_close(scores["psnr"], expect_psnr)
    torch.testing.assert_close(scores["ssim"], ssim(shave(noisy, 2), shave(grey, 2)))


def test_sharpness_ratio() -> None:
    x = _images(5, (2, 1, 8, 8))
    assert sharpness(x, x) == pytest.approx(1.0)
    flat = torch.full_like(x, 100)
    assert sharpness(flat, x) == 0.0
    rows = torch.tensor([[[[0, 10, 0], [0, 10, 0]]]], dtype=torch.uint8)
    assert gradient_energy(rows).item() == pytest.approx(10.0)  # mean |Δx| = 10, mean |Δy| = 0


def test_bad_inputs_are_one_line_errors() -> None:
    a = _images(6, (1, 1, 8, 8))
    with pytest.raises(ValueError, match=r"uint8 images .* first argument is torch.float32"):
        psnr(a.float(), a)
    with pytest.raises(ValueError, match="up-sample the low-res images"):
        ssim(a, _images(7, (1, 1, 4, 4)))
    with pytest.raises(ValueError, match="SSIM window 9"):
        ssim(a, a, win_size=9)
    with pytest.raises(ValueError, match="border"):
        shave(a, 4)
    with pytest.raises(ValueError, match="too small"):
        sr_scores(a, a, border=1)
    assert np.isfinite(ssim(a, a).numpy()).all()
