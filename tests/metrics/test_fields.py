"""Field metrics against hand computations and scipy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from ganforge.metrics.fields import cell_moment_errors, extreme_metrics, field_metrics, radial_spectrum


def test_radial_spectrum_of_a_plane_wave() -> None:
    _y, x = np.mgrid[0:16, 0:16]
    wave = np.cos(2 * np.pi * 3 * x / 16)[None]  # wave number 3 along x
    p = radial_spectrum(wave)
    assert np.argmax(p) == 3
    # |FFT|² of cos: two peaks of (N/2)² = 128² at (0, ±3); ring 3 holds the cells with rint(radius) = 3
    ky, kx = np.fft.fftfreq(16) * 16, np.fft.fftfreq(16) * 16
    ring = np.rint(np.hypot(ky[:, None], kx[None, :])) == 3
    assert p[3] == pytest.approx(2 * 128.0**2 / ring.sum())
    assert p[1] == pytest.approx(0.0, abs=1e-9)


def test_moments_extremes_and_identity() -> None:
    rng = np.random.default_rng(0)
    real = rng.normal(size=(50, 1, 6, 7))
    fake = real * 2 + 1
    valid = np.ones((50, 6, 7), bool)
    m = cell_moment_errors(real, fake, valid)
    assert m["cell_mean_rmse"] == pytest.approx(np.sqrt(np.mean((real.mean(0) - fake.mean(0)) ** 2)))
    assert m["cell_std_rmse"] == pytest.approx(np.sqrt(np.mean((real.std(0) - fake.std(0)) ** 2)))
    e = extreme_metrics(real, fake, valid)
    assert e["max_w1"] == pytest.approx(stats.wasserstein_distance(real.max((1, 2, 3)), fake.max((1, 2, 3))))
    same = field_metrics(real, real.copy(), valid)
    assert same["cell_mean_rmse"] == 0
    assert same["spectrum_log10_distance"] == 0
    assert same["max_w1"] == 0
    assert same["exceed_q99"] == pytest.approx(0.01, abs=0.01)
    valid[:, 0, 0] = False  # a masked cell is ignored: changing it changes nothing
    fake2 = fake.copy()
    fake2[:, :, 0, 0] = 1e6
    assert field_metrics(real, fake2, valid) == field_metrics(real, fake, valid)
