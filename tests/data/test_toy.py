"""Embedded toy targets: the PacGAN ring/grid geometry, 1-D pdf/cdf/ppf consistency, reproducible sampling."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats

from ganforge.registry import DATASETS


def test_ring8_means_and_std_match_pacgan() -> None:
    ring = DATASETS.get("ring8")()
    angles = np.arange(8) * 2 * math.pi / 8
    np.testing.assert_allclose(ring.means.numpy(), np.stack([np.cos(angles), np.sin(angles)], 1), atol=1e-7)
    assert ring.std == 0.01
    x = ring.sample(40_000, torch.Generator().manual_seed(0))
    nearest = torch.cdist(x.double(), ring.means.double()).min(1)
    assert nearest.values.std().item() == pytest.approx(0.01 * math.sqrt(2 - math.pi / 2), rel=0.03)  # Rayleigh
    counts = torch.bincount(nearest.indices, minlength=8).numpy()
    assert stats.chisquare(counts).pvalue > 1e-3  # equal weights


def test_grid25_means() -> None:
    grid = DATASETS.get("grid25")()
    expected = sorted((a, b) for a in (-4, -2, 0, 2, 4) for b in (-4, -2, 0, 2, 4))
    assert sorted(map(tuple, grid.means.tolist())) == expected
    assert grid.std == 0.05


def test_sampling_is_reproducible_with_a_generator() -> None:
    ring = DATASETS.get("ring8")()
    a = ring.sample(10, torch.Generator().manual_seed(3))
    b = ring.sample(10, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


@pytest.mark.parametrize("name", ["gaussian-mixture-1d", "exponential-1d", "uniform-1d", "gaussian-1d"])
def test_1d_pdf_cdf_ppf_are_consistent(name: str) -> None:
    d = DATASETS.get(name)()
    u = np.linspace(0.01, 0.99, 25)
    x = d.ppf(u)
    np.testing.assert_allclose(d.cdf(x), u, atol=1e-9)
    lo, hi = d.ppf(np.array([1e-9]))[0], d.ppf(np.array([1 - 1e-9]))[0]
    mass, _ = integrate.quad(lambda t: float(d.pdf(np.array([t]))[0]), lo, hi, limit=200, points=[0.0])
    assert mass == pytest.approx(1.0, abs=1e-6)
    samples = d.sample(20_000, torch.Generator().manual_seed(0)).numpy().ravel()
    assert stats.kstest(samples, d.cdf).pvalue > 1e-3


def test_mixture_pdf_is_the_weighted_sum() -> None:
    d = DATASETS.get("gaussian-mixture-1d")(means=(-1.0, 3.0), stds=(0.5, 1.0), weights=(1.0, 3.0))
    x = np.linspace(-3, 6, 7)
    np.testing.assert_allclose(d.pdf(x), 0.25 * stats.norm(-1, 0.5).pdf(x) + 0.75 * stats.norm(3, 1).pdf(x))


@pytest.mark.parametrize(("name", "options", "pattern"), [
    ("ring8", {"std": 0.0}, "std > 0"),
    ("grid25", {"spacing": -1.0}, "spacing > 0"),
    ("gaussian-mixture-1d", {"means": (0.0,), "stds": (1.0, 1.0), "weights": (1.0,)}, "same non-zero length"),
    ("exponential-1d", {"rate": 0.0}, "rate > 0"),
    ("uniform-1d", {"low": 1.0, "high": 0.0}, "high > low"),
])
def test_bad_options(name: str, options: dict, pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        DATASETS.get(name)(**options)


def test_unknown_split() -> None:
    with pytest.raises(ValueError, match="unknown split 'val'"):
        DATASETS.get("ring8")().load("val")
