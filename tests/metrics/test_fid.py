"""Tests for ganforge/metrics/fid.py (FID, Heusel et al. 2017) and ganforge/metrics/reference.py (cached stats)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch

from ganforge.metrics import fid as fid_module
from ganforge.metrics import reference as ref_module
from ganforge.metrics.fid import feature_statistics, fid_from_features, frechet_distance
from ganforge.metrics.image_metrics import evaluate
from ganforge.metrics.reference import (
    FORMAT,
    FeatureExtractor,
    ReferenceStats,
    cache_dir,
    extractor_provenance,
    load_reference,
    reference_path,
    reference_statistics,
    save_reference,
)

# ---- NumPy reference, written independently of the module ------------------------------------------------------


def np_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mu = x.sum(axis=0) / len(x)
    c = x - mu
    return mu, c.T @ c / (len(x) - 1)


def np_psd_sqrt(s: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(s)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def np_fid(mu1, s1, mu2, s2) -> float:
    # Tr sqrt(S1 S2) = Tr sqrt(S1^1/2 S2 S1^1/2): the latter is symmetric PSD, so use eigh instead of sqrtm
    r = np_psd_sqrt(s1)
    tr_covmean = np.sqrt(np.clip(np.linalg.eigvalsh(r @ s2 @ r), 0, None)).sum()
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * tr_covmean)


def features(n: int, d: int, seed: int, shift: float = 0.0, scale: float = 1.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(d, d)) / np.sqrt(d)
    return rng.normal(size=(n, d)) @ mix * scale + shift


# ---- FID --------------------------------------------------------------------------------------------------------


def test_feature_statistics_match_reference():
    x = features(50, 6, 0)
    mu, sigma = feature_statistics(torch.from_numpy(x).float())
    ref_mu, ref_sigma = np_stats(x.astype(np.float32).astype(np.float64))
    assert mu.dtype == np.float64
    assert sigma.shape == (6, 6)
    np.testing.assert_allclose(mu, ref_mu, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(sigma, ref_sigma, rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize(("shift", "scale"), [(0.0, 1.0), (0.3, 1.5), (2.0, 0.5)])
def test_fid_matches_reference(shift, scale):
    x, y = features(300, 16, 1), features(250, 16, 2, shift, scale)
    ref = np_fid(*np_stats(x), *np_stats(y))
    assert fid_from_features(x, y) == pytest.approx(ref, rel=1e-6)
    assert fid_from_features(torch.from_numpy(x), torch.from_numpy(y)) == pytest.approx(ref, rel=1e-6)


def test_fid_one_dimensional_closed_form():
    # FID of two 1-D Gaussians = (m1 - m2)^2 + (s1 - s2)^2
    got = frechet_distance(np.array([1.0]), np.array([[4.0]]), np.array([-0.5]), np.array([[0.25]]))
    assert got == pytest.approx(1.5**2 + (2.0 - 0.5) ** 2, rel=1e-12)


def test_fid_of_identical_sets_is_zero():
    x = features(200, 32, 3)
    assert abs(fid_from_features(x, x.copy())) < 1e-6
    mu, sigma = feature_statistics(x)
    assert abs(frechet_distance(mu, sigma, mu, sigma)) < 1e-6


def test_fid_singular_product_retries_with_offset(monkeypatch):
    x, y = features(40, 8, 4), features(40, 8, 5, 0.5)
    (mu1, s1), (mu2, s2) = np_stats(x), np_stats(y)
    real_sqrtm = fid_module._sqrtm
    calls = []

    def first_call_fails(a):
        calls.append(a)
        return np.full_like(a, np.nan) if len(calls) == 1 else real_sqrtm(a)

    monkeypatch.setattr(fid_module, "_sqrtm", first_call_fails)
    with pytest.warns(RuntimeWarning, match="adding 0.001 to the diagonal"):
        got = frechet_distance(mu1, s1, mu2, s2, eps=1e-3, method="sqrtm")
    off = np.eye(8) * 1e-3
    np.testing.assert_allclose(calls[1], (s1 + off) @ (s2 + off))
    tr = np.trace(real_sqrtm((s1 + off) @ (s2 + off))).real
    assert got == pytest.approx(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * tr, rel=1e-9)


def test_fid_imaginary_component(monkeypatch):
    mu, sigma = np.zeros(3), np.eye(3)
    monkeypatch.setattr(fid_module, "_sqrtm", lambda a: np.eye(3) + 1e-5j)  # tiny imaginary part: real part kept
    assert frechet_distance(mu, sigma, mu, sigma, method="sqrtm") == pytest.approx(0.0, abs=1e-12)
    monkeypatch.setattr(fid_module, "_sqrtm", lambda a: np.eye(3) + 0.1j)
    with pytest.raises(ValueError, match="imaginary component"):
        frechet_distance(mu, sigma, mu, sigma, method="sqrtm")


def test_fid_input_errors():
    with pytest.raises(ValueError, match="shape mismatch"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(2), np.eye(2))
    with pytest.raises(ValueError, match="at least 2"):
        feature_statistics(np.zeros((1, 4)))
    with pytest.raises(ValueError, match="NaN"):
        feature_statistics(np.full((3, 2), np.nan))


def test_real_scipy_sqrtm_never_warns_on_regular_input():
    x, y = features(100, 8, 6), features(100, 8, 7, 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fid_from_features(x, y, method="sqrtm")
        fid_from_features(x, y)


# ---- the eigenvalue route vs scipy.linalg.sqrtm (the reference) --------------------------------------------------


def sqrtm_fid(mu1, s1, mu2, s2) -> float:
    """pytorch-fid's formula with ``scipy.linalg.sqrtm``, written here independently of the module."""
    from scipy import linalg

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        covmean = linalg.sqrtm(s1 @ s2)
    covmean = covmean[0] if isinstance(covmean, tuple) else covmean
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean.real))


def test_the_default_route_takes_no_matrix_square_root(monkeypatch):
    """2048-d FID via sqrtm took ~300 s per call on one CPU core; the eigenvalue route takes seconds."""
    def refuse(a):
        raise AssertionError("sqrtm called")

    monkeypatch.setattr(fid_module, "_sqrtm", refuse)
    monkeypatch.setattr(fid_module.linalg, "sqrtm", refuse)
    x, y = features(100, 8, 1), features(100, 8, 2, 0.5)
    assert fid_from_features(x, y) == pytest.approx(np_fid(*np_stats(x), *np_stats(y)), rel=1e-10)


@pytest.mark.parametrize(("d", "n1", "n2"), [(16, 300, 250), (64, 1000, 800), (64, 70, 80), (256, 2000, 2000)])
def test_eigh_route_agrees_with_sqrtm_on_random_covariances(d, n1, n2):
    x, y = features(n1, d, d), features(n2, d, d + 1, 0.2, 1.3)
    stats = (*feature_statistics(x), *feature_statistics(y))
    ref = sqrtm_fid(*stats)
    assert frechet_distance(*stats) == pytest.approx(ref, rel=1e-10)
    assert frechet_distance(*stats, method="sqrtm") == pytest.approx(ref, rel=1e-13)


@pytest.mark.parametrize("condition", [1e4, 1e6, 1e8])
def test_eigh_route_agrees_with_sqrtm_on_near_singular_covariances(condition):
    """Covariances whose eigenvalues span ``condition`` (the tail of real feature spectra): the clipped eigenvalues
    change nothing there, and both routes agree to ~1e-10 (sqrtm itself loses digits as the condition grows)."""
    rng = np.random.default_rng(int(np.log10(condition)))
    d = 64

    def cov(top):
        q, _ = np.linalg.qr(rng.normal(size=(d, d)))
        s = (q * np.logspace(np.log10(top), np.log10(top / condition), d)) @ q.T
        return (s + s.T) / 2

    s1, s2 = cov(1.0), cov(3.0)
    mu1, mu2 = rng.normal(size=d) * 0.1, np.zeros(d)
    got, ref = frechet_distance(mu1, s1, mu2, s2), sqrtm_fid(mu1, s1, mu2, s2)
    assert got == pytest.approx(ref, rel=1e-9 if condition > 1e6 else 1e-10)


def test_singular_covariances_need_no_offset():
    """Fewer samples than dimensions: S1 S2 is singular. The eigenvalue route needs no eps offset (no warning, no
    complex root) and matches a 50-digit computation of sum sqrt(eig(S1 S2)) to sqrt(eps) ~ 1e-8 (sqrt turns the
    1e-16 rounding of the zero eigenvalues into 1e-8; sqrtm of the singular product does no better)."""
    mpmath = pytest.importorskip("mpmath")
    x, y = features(8, 12, 20), features(10, 12, 21, 0.3)
    (mu1, s1), (mu2, s2) = feature_statistics(x), feature_statistics(y)
    assert np.linalg.matrix_rank(s1) < 12
    with mpmath.workdps(50):
        product = mpmath.matrix(s1.tolist()) * mpmath.matrix(s2.tolist())
        eig = mpmath.eig(product, left=False, right=False)
        trace = sum(mpmath.sqrt(max(mpmath.re(e), 0)) for e in eig)
        exact = float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * trace)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no eps retry, no complex root
        got = frechet_distance(mu1, s1, mu2, s2)
    assert got == pytest.approx(exact, rel=1e-7)


def test_trace_sqrt_product_clips_rounding_negatives():
    """Exact zero eigenvalues come out of eigh as +-1e-16: the negative ones would give NaN, clipped they give 0 (the
    positive ones add ~1e-8 each: sqrt(eps) accuracy for a rank-deficient covariance)."""
    v = np.random.default_rng(0).normal(size=(6, 2))
    s1 = v @ v.T  # rank 2
    got = fid_module.trace_sqrt_product(s1, s1)  # Tr sqrt(S S) = Tr S for PSD S
    assert np.isfinite(got)
    assert got == pytest.approx(np.trace(s1), rel=1e-7)
    with pytest.raises(ValueError, match="method"):
        frechet_distance(np.zeros(2), np.eye(2), np.zeros(2), np.eye(2), method="svd")


# ---- Reference statistics cache -------------------------------------------------------------------------------


class FakeExtractor:
    """Follows the FeatureExtractor interface: features = per-channel pixel means plus a projection."""

    name = "fake-extractor"
    feature_dim = 4
    resize = "none"
    num_classes = None
    input_shape = None

    def __init__(self, file_hash: str = "ab" * 32) -> None:
        self.file_hash = file_hash
        self.calls = 0

    def __call__(self, images_uint8: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        x = images_uint8.float().flatten(1)
        return torch.stack([x.mean(1), x.std(1), x[:, 0], x[:, -1]], dim=1)


def images_fn(n: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return lambda: torch.randint(0, 256, (n, 1, 4, 4), generator=g, dtype=torch.uint8)


def test_cache_dir_and_path(monkeypatch, tmp_path):
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "env"))
    assert cache_dir() == tmp_path / "env"
    assert cache_dir(tmp_path / "x") == tmp_path / "x"
    monkeypatch.delenv("GANFORGE_CACHE")
    assert str(cache_dir()).endswith(".cache/ganforge")
    path = reference_path("cifar10", "train", "inception-fid", 50000, tmp_path)
    assert path == tmp_path / "reference" / "cifar10_train_inception-fid_n50000.npz"
    assert reference_path("a/b", "te st", "e", 1, tmp_path).parent == tmp_path / "reference"


def test_reference_statistics_computes_caches_and_reuses(monkeypatch, tmp_path):
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path))
    ext = FakeExtractor()
    assert isinstance(ext, FeatureExtractor)
    stats = reference_statistics(ext, "toy", "test", 30, images_fn(30))
    assert ext.calls == 1
    assert stats.path == reference_path("toy", "test", ext.name, 30)
    feats = ext(images_fn(30)())
    ref_mu, ref_sigma = np_stats(feats.numpy().astype(np.float64))
    np.testing.assert_allclose(stats.mu, ref_mu, rtol=1e-6)
    np.testing.assert_allclose(stats.sigma, ref_sigma, rtol=1e-6)
    np.testing.assert_array_equal(stats.features, feats.numpy())
    assert stats.meta["extractor_sha256"] == ext.file_hash
    assert stats.meta["format"] == FORMAT

    ext.calls = 0
    again = reference_statistics(ext, "toy", "test", 30, images_fn(30))
    assert ext.calls == 0  # served from the cache
    np.testing.assert_array_equal(again.sigma, stats.sigma)
    np.testing.assert_array_equal(again.features, stats.features)
    assert list(tmp_path.glob("reference/*.tmp")) == []  # atomic write left nothing behind

    other = FakeExtractor(file_hash="cd" * 32)  # a different network under the same name: stale entry, recompute
    reference_statistics(other, "toy", "test", 30, images_fn(30))
    assert other.calls == 1
    assert load_reference(stats.path).meta["extractor_sha256"] == other.file_hash

    reference_statistics(other, "toy", "test", 30, images_fn(30), refresh=True)
    assert other.calls == 2


def test_reference_features_dropped_above_limit_and_bad_files(monkeypatch, tmp_path):
    monkeypatch.setattr(ref_module, "MAX_STORED_FEATURES", 10)
    ext = FakeExtractor()
    stats = reference_statistics(ext, "toy", "train", 12, images_fn(12), root=tmp_path)
    assert stats.features is None
    assert load_reference(stats.path).features is None
    with pytest.raises(ValueError, match="returned 11 images"):
        reference_statistics(ext, "toy", "train", 5, images_fn(11), root=tmp_path)

    stats.path.write_bytes(b"not an npz")  # a corrupt entry is recomputed, not trusted
    with pytest.raises(ValueError, match="not a readable"):
        load_reference(stats.path)
    ext.calls = 0
    reference_statistics(ext, "toy", "train", 12, images_fn(12), root=tmp_path)
    assert ext.calls == 1


def test_save_load_roundtrip_and_compare(tmp_path):
    real, fake = features(40, 4, 8), features(30, 4, 9, 0.5)
    stats = ReferenceStats.from_features(real, {"format": FORMAT, "note": "x"})
    path = save_reference(stats, tmp_path / "sub" / "ref.npz")
    loaded = load_reference(path)
    assert loaded.meta == {"format": FORMAT, "note": "x", "arrays_sha256": ref_module.arrays_sha256(
        loaded.mu, loaded.sigma, loaded.features)}
    np.testing.assert_array_equal(loaded.features, real.astype(np.float32))
    with np.load(path, allow_pickle=False) as data:
        assert json.loads(str(data["meta"]))["note"] == "x"

    out = evaluate(["fid", "kid", "pr", "dc"], loaded, fake)
    assert list(out) == ["fid", "kid", "kid_std", "kid_subset_size", "kid_subsets", "precision", "recall",
                         "precision_k5", "recall_k5", "density", "coverage"]
    assert out["fid"] == pytest.approx(np_fid(*np_stats(real.astype(np.float32).astype(np.float64)), *np_stats(fake)))
    no_feats = ReferenceStats(loaded.mu, loaded.sigma, None)
    assert set(evaluate(["fid"], no_feats, fake)) == {"fid"}

    bad = ReferenceStats(loaded.mu, loaded.sigma, None, {"format": "other/1"})
    with pytest.raises(ValueError, match="format"):
        load_reference(save_reference(bad, tmp_path / "bad.npz"))


def test_extractor_provenance():
    prov = extractor_provenance(FakeExtractor())
    assert prov == {"extractor": "fake-extractor", "extractor_sha256": "ab" * 32, "feature_dim": 4, "resize": "none"}
