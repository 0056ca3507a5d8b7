"""Fréchet Inception Distance (Heusel et al. 2017, "GANs Trained by a Two Time-Scale Update Rule Converge to a
Local Nash Equilibrium", eq. 6 / App. A.1).

Both feature sets are summarised by a Gaussian N(mu, Sigma) and the Fréchet (2-Wasserstein) distance between the
two Gaussians is

    FID = ||mu_1 - mu_2||² + Tr(Sigma_1 + Sigma_2 - 2 (Sigma_1 Sigma_2)^{1/2})

computed here in float64 with ``scipy.linalg.sqrtm``, following the reference implementations (TTUR's ``fid.py``
and ``pytorch-fid``'s ``calculate_frechet_distance``) step for step: a product that ``sqrtm`` cannot take the root
of (non-finite result) is retried with ``eps`` added to both diagonals, and a numerically complex root is accepted
(real part kept) only if the imaginary parts of its diagonal are below 1e-3.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from scipy import linalg

ArrayLike = np.ndarray | torch.Tensor


def as_float64(x: ArrayLike, name: str = "features", ndim: int = 2) -> np.ndarray:
    """``x`` (NumPy array or torch tensor on any device) as a float64 NumPy array of ``ndim`` dimensions."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().double().numpy()
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contain NaN or inf")
    return arr


def feature_statistics(features: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``mu [D]`` and covariance ``sigma [D, D]`` (unbiased, N - 1) of ``features [N, D]``, in float64.

    Same as the reference code: ``np.mean(act, axis=0)``, ``np.cov(act, rowvar=False)``.
    """
    feats = as_float64(features)
    if feats.shape[0] < 2:
        raise ValueError(f"need at least 2 feature vectors for a covariance, got {feats.shape[0]}")
    return feats.mean(axis=0), np.cov(feats, rowvar=False)


def _sqrtm(a: np.ndarray) -> np.ndarray:
    # SciPy >= 1.16 deprecates sqrtm(disp=False) and may warn about a singular / badly conditioned product; the
    # result is checked explicitly below (finite, imaginary part), exactly like the reference code.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = linalg.sqrtm(a)
    return out[0] if isinstance(out, tuple) else out


def frechet_distance(mu1: ArrayLike, sigma1: ArrayLike, mu2: ArrayLike, sigma2: ArrayLike, eps: float = 1e-6) -> float:
    """FID between N(mu1, sigma1) and N(mu2, sigma2): ||mu1 - mu2||² + Tr(S1 + S2 - 2 sqrt(S1 S2)) (Heusel et al. 2017).

    ``eps`` is the diagonal offset used when ``sqrt(S1 S2)`` is not finite (singular product, e.g. fewer samples
    than feature dimensions), as in pytorch-fid. Raises ``ValueError`` if the root has a significant imaginary part
    (max |imag| of its diagonal > 1e-3) or the shapes disagree.
    """
    mu1, mu2 = as_float64(mu1, "mu1", 1), as_float64(mu2, "mu2", 1)
    sigma1, sigma2 = as_float64(sigma1, "sigma1", 2), as_float64(sigma2, "sigma2", 2)
    d = mu1.shape[0]
    if mu2.shape != (d,) or sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise ValueError(
            f"shape mismatch: mu1 {mu1.shape}, mu2 {mu2.shape}, sigma1 {sigma1.shape}, sigma2 {sigma2.shape}"
        )

    diff = mu1 - mu2
    covmean = _sqrtm(sigma1.dot(sigma2))
    if not np.isfinite(covmean).all():
        warnings.warn(
            f"FID: product of covariances is singular; adding {eps} to the diagonal of both covariances",
            RuntimeWarning,
            stacklevel=2,
        )
        offset = np.eye(d) * eps
        covmean = _sqrtm((sigma1 + offset).dot(sigma2 + offset))

    # Numerical error can give a slightly complex root of a (theoretically) PSD-similar product; keep the real part
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"FID: sqrt(sigma1 sigma2) has an imaginary component {np.max(np.abs(covmean.imag)):.3g}")
        covmean = covmean.real

    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean))


def fid_from_features(features1: ArrayLike, features2: ArrayLike, eps: float = 1e-6) -> float:
    """FID between two feature sets ``[N1, D]`` and ``[N2, D]`` (statistics computed with ``feature_statistics``)."""
    mu1, sigma1 = feature_statistics(features1)
    mu2, sigma2 = feature_statistics(features2)
    return frechet_distance(mu1, sigma1, mu2, sigma2, eps=eps)
