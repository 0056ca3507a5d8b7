"""Translation metrics against independent references: SSIM and PSNR against scikit-image, colourfulness against
Hasler & Süsstrunk's formula by hand, Lab conversion against skimage.color, label accuracy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganforge.data.colour import grey_l_star, lab_to_rgb, rgb_to_lab
from ganforge.metrics.translation import colourfulness, l1, label_accuracy, psnr, ssim, ssim_per_image, to_grey


def _pair(seed: int, shape: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, shape, generator=g, dtype=torch.uint8)
    noise = torch.randint(-40, 41, shape, generator=g)
    return x, (x.int() + noise).clamp(0, 255).to(torch.uint8)


def test_ssim_matches_scikit_image() -> None:
    from skimage.metrics import structural_similarity

    x, y = _pair(0, (3, 3, 20, 24))
    ours = ssim_per_image(x, y)
    for i in range(3):
        ref = structural_similarity(x[i].numpy().transpose(1, 2, 0), y[i].numpy().transpose(1, 2, 0),
                                    channel_axis=2, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                    data_range=255)
        assert float(ours[i]) == pytest.approx(ref, abs=1e-6)  # float64 both: same sums up to rounding
    assert ssim(x, x) == pytest.approx(1.0, abs=1e-12)
    with pytest.raises(ValueError, match="at least 11x11"):
        ssim(x[..., :8, :8], y[..., :8, :8])


def test_psnr_and_l1() -> None:
    from skimage.metrics import peak_signal_noise_ratio

    x, y = _pair(1, (2, 1, 16, 16))
    want = np.mean([peak_signal_noise_ratio(x[i].numpy(), y[i].numpy(), data_range=255) for i in range(2)])
    assert psnr(x, y) == pytest.approx(want, abs=1e-9)
    assert psnr(x, x) == pytest.approx(100.0)  # capped
    assert l1(x, y) == pytest.approx(float((x.double() - y.double()).abs().mean() / 255))
    with pytest.raises(ValueError, match="one shape"):
        l1(x, y[:1])
    with pytest.raises(TypeError, match="uint8"):
        psnr(x.float(), y.float())


def test_colourfulness_by_hand() -> None:
    grey = torch.full((1, 3, 4, 4), 90, dtype=torch.uint8)
    assert colourfulness(grey) == 0.0
    img = torch.zeros(1, 3, 1, 2, dtype=torch.uint8)
    img[0, 0, 0, 0] = 200  # one red pixel, one black pixel
    # rg = (200, 0), yb = (100, 0): σ_rg = 100, σ_yb = 50, μ_rg = 100, μ_yb = 50
    want = np.sqrt(100 ** 2 + 50 ** 2) + 0.3 * np.sqrt(100 ** 2 + 50 ** 2)
    assert colourfulness(img) == pytest.approx(want)
    with pytest.raises(ValueError, match="RGB"):
        colourfulness(grey[:, :1])


def test_lab_matches_skimage_and_inverts() -> None:
    from skimage.color import rgb2lab

    x, _ = _pair(2, (2, 3, 5, 6))
    rgb = x.double() / 255
    lab = rgb_to_lab(rgb)
    ref = rgb2lab(rgb.numpy().transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    np.testing.assert_allclose(lab.numpy(), ref, atol=1e-3)  # skimage's matrix/white point agree to ~1e-4
    torch.testing.assert_close(lab_to_rgb(lab), rgb, atol=1e-6, rtol=0)
    grey = grey_l_star(x)
    assert grey.shape == (2, 1, 5, 6)
    assert (grey.double() - torch.from_numpy(ref[:, :1] * 2.55).round()).abs().max() <= 1


def test_label_accuracy_and_grey() -> None:
    probs = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    assert label_accuracy(probs, torch.tensor([0, 1, 1])) == pytest.approx(2 / 3)
    rgb = torch.tensor([[[[10]], [[20]], [[31]]]], dtype=torch.uint8)
    assert int(to_grey(rgb)) == 20
