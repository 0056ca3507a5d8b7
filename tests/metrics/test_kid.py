"""Tests for ganforge/metrics/kid.py: KID (Bińkowski et al. 2018) against NumPy references written here."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganforge.metrics.kid import kid, mmd2_unbiased, polynomial_kernel

# ---- NumPy references, written independently of the module ------------------------------------------------------


def np_mmd2_loops(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD² by explicit sums over index pairs (Bińkowski et al. 2018, eq. 2; cross term over all m² pairs)."""
    m, d = x.shape

    def k(a, b):
        return (float(np.dot(a, b)) / d + 1.0) ** 3

    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    return xx + yy - 2 * xy


def np_kid_cleanfid_style(x: np.ndarray, y: np.ndarray, n_subsets: int, m: int, seed: int) -> tuple[float, float]:
    """clean-fid's algebra (kernel_distance), with the subset draws documented by ``kid``."""
    rng = np.random.default_rng(seed)
    d = x.shape[1]
    values = []
    for _ in range(n_subsets):
        a_idx = rng.choice(len(x), m, replace=False)
        b_idx = rng.choice(len(y), m, replace=False)
        xs, ys = x[a_idx], y[b_idx]
        a = (xs @ xs.T / d + 1) ** 3 + (ys @ ys.T / d + 1) ** 3
        b = (xs @ ys.T / d + 1) ** 3
        values.append(((a.sum() - np.diag(a).sum()) / (m - 1) - b.sum() * 2 / m) / m)
    return float(np.mean(values)), float(np.std(values))


def gaussian(n: int, d: int, seed: int, shift: float = 0.0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, d)) + shift


# ---- Tests -------------------------------------------------------------------------------------------------------


def test_polynomial_kernel():
    x, y = gaussian(3, 5, 0), gaussian(4, 5, 1)
    expected = np.array([[(xi @ yj / 5 + 1) ** 3 for yj in y] for xi in x])
    np.testing.assert_allclose(polynomial_kernel(x, y), expected, rtol=1e-12)


@pytest.mark.parametrize("shift", [0.0, 0.5])
def test_mmd2_unbiased_matches_loops(shift):
    x, y = gaussian(15, 6, 2), gaussian(15, 6, 3, shift)
    assert mmd2_unbiased(x, y) == pytest.approx(np_mmd2_loops(x, y), rel=1e-6)
    assert mmd2_unbiased(torch.from_numpy(x), torch.from_numpy(y)) == pytest.approx(np_mmd2_loops(x, y), rel=1e-6)


def test_kid_matches_reference_subsets():
    x, y = gaussian(60, 8, 4), gaussian(45, 8, 5, 0.3)
    got = kid(x, y, n_subsets=7, subset_size=25, seed=11)
    ref = np_kid_cleanfid_style(x, y, 7, 25, seed=11)
    assert got[0] == pytest.approx(ref[0], rel=1e-6)
    assert got[1] == pytest.approx(ref[1], rel=1e-6)
    assert kid(x, y, n_subsets=7, subset_size=25, seed=11) == got  # deterministic for a seed


def test_subset_size_clipped_to_n():
    # subset_size >= both set sizes: every "subset" is the whole set, so all subsets give the full-sample estimate
    x, y = gaussian(30, 4, 6), gaussian(30, 4, 7, 0.2)
    mean, std = kid(x, y, n_subsets=4, subset_size=1000)
    assert mean == pytest.approx(mmd2_unbiased(x, y), rel=1e-9)
    assert std == pytest.approx(0.0, abs=1e-12)


def test_kid_same_distribution_near_zero():
    x, y = gaussian(300, 16, 8), gaussian(300, 16, 9)
    same_mean, same_std = kid(x, y, n_subsets=10, subset_size=150)
    shifted_mean, _ = kid(x, gaussian(300, 16, 10, 0.5), n_subsets=10, subset_size=150)
    assert abs(same_mean) < 3 * same_std + 1e-3  # unbiased: centred on 0
    assert abs(same_mean) < 0.05 * shifted_mean


def test_kid_errors():
    with pytest.raises(ValueError, match="dimensions differ"):
        kid(gaussian(10, 3, 0), gaussian(10, 4, 1))
    with pytest.raises(ValueError, match="at least 2"):
        kid(gaussian(1, 3, 0), gaussian(10, 3, 1))
    with pytest.raises(ValueError, match="same shape"):
        mmd2_unbiased(gaussian(5, 3, 0), gaussian(6, 3, 1))


def test_a_shrunk_subset_is_reported_not_hidden():
    """At n <= 1000 the subsets shrink to n and every subset is the whole set, so kid_std is ~1e-15: the record
    says so (kid_subset_size, kid_subsets) and so does a one-line warning."""
    from ganforge.metrics.image_metrics import evaluate, metric_protocol, metric_warnings
    from ganforge.metrics.kid import SUBSET_SIZE, effective_subset_size
    from ganforge.metrics.reference import ReferenceStats

    assert effective_subset_size(40, 50) == 40
    assert effective_subset_size(5000, 3000) == SUBSET_SIZE == 1000
    x, y = gaussian(40, 4, 1), gaussian(40, 4, 2, 0.2)
    out = evaluate(["kid"], ReferenceStats.from_features(x), y)
    assert (out["kid_subset_size"], out["kid_subsets"]) == (40, 100)
    assert out["kid_std"] < 1e-12  # the artefact the record now names
    assert metric_protocol(40, 40, 0)["kid"]["subset_size"] == 40
    warning = metric_warnings(["kid"], 40, 40)["kid"]
    assert "\n" not in warning
    assert "shrunk to 40 images (standard 1000" in warning
    assert "kid_std" in warning
    assert "every subset holds all 1000" in metric_warnings(["kid"], 1000, 1000)["kid"]  # n = 1000: std ~0 too
    assert "kid" not in metric_warnings(["kid"], 5000, 10000)
    assert metric_warnings(["fid"], 5000, 10000)["fid"].startswith("FID depends on n")
    assert metric_warnings(["fid", "kid"], 50_000, 60_000) == {}
