"""Tests for ganforge/metrics/prdc.py against the reference ``prdc`` package's definitions, re-written here."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from ganforge.metrics.prdc import nearest_neighbour_radii, prdc

# ---- The reference implementation (clovaai/generative-evaluation-prdc, compute_prdc), with scipy distances -------


def ref_kth_value(unsorted: np.ndarray, k: int) -> np.ndarray:
    indices = np.argpartition(unsorted, k, axis=-1)[..., :k]
    return np.take_along_axis(unsorted, indices, axis=-1).max(axis=-1)


def ref_compute_prdc(real: np.ndarray, fake: np.ndarray, nearest_k: int) -> dict[str, float]:
    real_nnd = ref_kth_value(cdist(real, real), nearest_k + 1)
    fake_nnd = ref_kth_value(cdist(fake, fake), nearest_k + 1)
    d = cdist(real, fake)
    return {
        "precision": float((d < real_nnd[:, None]).any(axis=0).mean()),
        "recall": float((d < fake_nnd[None, :]).any(axis=1).mean()),
        "density": float((1.0 / nearest_k) * (d < real_nnd[:, None]).sum(axis=0).mean()),
        "coverage": float((d.min(axis=1) < real_nnd).mean()),
    }


def line(*xs: float) -> np.ndarray:
    return np.array(xs, dtype=np.float64)[:, None]


# ---- Tests -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("shift", "chunk_size"), [(0.0, None), (0.7, None), (0.7, 7)])
def test_prdc_matches_reference(shift, chunk_size):
    rng = np.random.default_rng(0)
    real = rng.normal(size=(120, 8))
    fake = rng.normal(size=(90, 8)) * 1.2 + shift
    got = prdc(real, fake, chunk_size=chunk_size)
    pr, dc = ref_compute_prdc(real, fake, 3), ref_compute_prdc(real, fake, 5)
    expected = {
        "precision": pr["precision"],
        "recall": pr["recall"],
        "density": dc["density"],
        "coverage": dc["coverage"],
    }
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=1e-6, abs=1e-12), key
    assert 0 < got["precision"] < 1  # a non-trivial case
    assert 0 < got["recall"] < 1


def test_same_k_matches_single_reference_call():
    rng = np.random.default_rng(1)
    real, fake = rng.normal(size=(50, 4)), rng.normal(size=(40, 4)) + 0.3
    assert prdc(real, fake, k_pr=4, k_dc=4) == pytest.approx(ref_compute_prdc(real, fake, 4), rel=1e-6)


def test_nearest_neighbour_radii_on_a_line():
    x = line(0, 1, 2, 3, 5, 9)
    np.testing.assert_allclose(nearest_neighbour_radii(x, 1), [1, 1, 1, 1, 2, 4])
    np.testing.assert_allclose(nearest_neighbour_radii(x, (1, 3)), [[1, 1, 1, 1, 2, 4], [3, 2, 2, 2, 4, 7]])
    with pytest.raises(ValueError, match="k must lie"):
        nearest_neighbour_radii(x, 6)


def test_identical_sets():
    x = np.random.default_rng(2).normal(size=(30, 3))
    out = prdc(x, x.copy())
    assert out["precision"] == out["recall"] == out["coverage"] == 1.0
    assert out["density"] == pytest.approx(ref_compute_prdc(x, x, 5)["density"])


def test_disjoint_sets_score_zero():
    x = np.random.default_rng(3).normal(size=(20, 2))
    assert prdc(x, x + 100.0) == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_mode_dropping_halves_recall_and_coverage():
    rng = np.random.default_rng(4)
    mode_a, mode_b = rng.normal(size=(10, 2)) * 0.1, rng.normal(size=(10, 2)) * 0.1 + 50.0
    real = np.concatenate([mode_a, mode_b])
    out = prdc(real, mode_a.copy())  # the generator reproduces mode A only
    assert out["precision"] == 1.0
    assert out["recall"] == 0.5
    assert out["coverage"] == 0.5


def test_density_and_coverage_by_hand():
    # real 0..5 on a line: every 1-NN radius is 1. fake {0.5, 0.6}: each lies strictly inside the balls of reals 0 and
    # 1 (distances 0.5/0.4 < 1) -> density = (2 + 2) / 2 / k = 2; reals 0 and 1 have a fake within their radius ->
    # coverage = 2/6; fake 1-NN radii are 0.1 and no real is that close -> recall 0; both fakes in a real ball ->
    # precision 1.
    out = prdc(line(0, 1, 2, 3, 4, 5), line(0.5, 0.6), k_pr=1, k_dc=1)
    assert out == pytest.approx({"precision": 1.0, "recall": 0.0, "density": 2.0, "coverage": 2 / 6})


def test_ball_boundary_is_excluded():
    # real 0..3: radius 1; the fake at 4 is exactly on the boundary of real 3's ball -> not inside (strict <)
    out = prdc(line(0, 1, 2, 3), line(4, 10), k_pr=1, k_dc=1)
    assert (out["precision"], out["density"], out["coverage"]) == (0.0, 0.0, 0.0)


def test_prdc_errors():
    with pytest.raises(ValueError, match="dimensions differ"):
        prdc(np.zeros((10, 2)), np.zeros((10, 3)))
    with pytest.raises(ValueError, match="k must lie"):
        prdc(np.random.default_rng(0).normal(size=(5, 2)), np.zeros((10, 2)))  # 5 reals cannot give a 5-NN


def test_precision_recall_at_other_ks_come_from_the_same_distances():
    """``also_pr_at`` (what `ganforge eval` uses to report k = 3 and the prdc package's k = 5) equals the reference
    ``compute_prdc`` at each k, and leaves the four headline values as they were."""
    rng = np.random.default_rng(2)
    real, fake = rng.normal(size=(60, 5)), rng.normal(size=(50, 5)) + 0.4
    out = prdc(real, fake, also_pr_at=(3, 5, 7), chunk_size=13)
    assert set(out) == {"precision", "recall", "density", "coverage", "precision_k5", "recall_k5", "precision_k7",
                        "recall_k7"}
    assert {k: out[k] for k in ("precision", "recall", "density", "coverage")} == prdc(real, fake)
    for k in (5, 7):
        ref = ref_compute_prdc(real, fake, k)
        assert out[f"precision_k{k}"] == pytest.approx(ref["precision"], abs=1e-12)
        assert out[f"recall_k{k}"] == pytest.approx(ref["recall"], abs=1e-12)
