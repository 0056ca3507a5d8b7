"""Fréchet Inception Distance (Heusel et al. 2017, "GANs Trained by a Two Time-Scale Update Rule Converge to a
Local Nash Equilibrium", eq. 6 / App. A.1).

Both feature sets are summarised by a Gaussian N(mu, Sigma) and the Fréchet (2-Wasserstein) distance between the
two Gaussians is

    FID = ||mu_1 - mu_2||² + Tr(Sigma_1 + Sigma_2 - 2 (Sigma_1 Sigma_2)^{1/2})

computed here in float64. The only expensive term is Tr (Sigma_1 Sigma_2)^{1/2}; ``frechet_distance`` takes it from
eigenvalues of a symmetric matrix (``method="eigh"``, the default; derivation in ``trace_sqrt_product``), which for
2048-d Inception features takes seconds where ``scipy.linalg.sqrtm`` of the non-symmetric product took minutes on
one CPU core, and agrees with it to ~1e-12 relative. ``method="sqrtm"`` is the reference implementations' route
(TTUR's ``fid.py``, ``pytorch-fid``'s ``calculate_frechet_distance``) step for step: a product that ``sqrtm`` cannot
take the root of (non-finite result) is retried with ``eps`` added to both diagonals, and a numerically complex root
is accepted (real part kept) only if the imaginary parts of its diagonal are below 1e-3; the tests hold the default
route to it.
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


def psd_sqrt(a: np.ndarray) -> np.ndarray:
    """Symmetric square root of a symmetric positive semi-definite ``a`` via ``eigh``: V diag(sqrt(w)) V^T, with the
    tiny negative eigenvalues that rounding gives a PSD matrix clipped to 0."""
    w, v = np.linalg.eigh(a)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """Tr (sigma1 sigma2)^{1/2} for symmetric PSD covariances, from the eigenvalues of a symmetric matrix.

    Derivation. Let S = sigma1^{1/2} (symmetric PSD, ``psd_sqrt``) and M = S sigma2 S. M is symmetric and PSD
    (x^T M x = (Sx)^T sigma2 (Sx) >= 0). For square A, B the products AB and BA have the same eigenvalues, so with
    A = S and B = S sigma2: eig(sigma1 sigma2) = eig(S (S sigma2)) = eig((S sigma2) S) = eig(M) = {lambda_i >= 0}.
    When S is invertible, sigma1 sigma2 = S M S^{-1} is similar to M, hence diagonalisable with those eigenvalues,
    and its principal square root (what ``sqrtm`` returns) is S M^{1/2} S^{-1}, whose eigenvalues are
    sqrt(lambda_i); the trace is the sum of the eigenvalues, so

        Tr (sigma1 sigma2)^{1/2} = sum_i sqrt(lambda_i(S sigma2 S)).

    A singular sigma1 (fewer samples than dimensions) is the limit of invertible ones and both sides are continuous
    there, so the formula holds too, where ``sqrtm`` of the singular product needs pytorch-fid's ``eps`` offset.
    Rounding leaves the eigenvalues of a PSD matrix that should be 0 at about +-1e-16 times its largest one; the
    negative ones would make sqrt NaN, so they are clipped to 0 (for sigma1's eigenvalues and for M's). The positive
    ones stay: a threshold would also drop genuine small eigenvalues of near-singular covariances. So, as for
    ``sqrtm``, a singular covariance (fewer samples than dimensions) is resolved only to ~sqrt(eps) ~ 1e-8 relative:
    sqrt turns the 1e-16 noise of an exact zero into 1e-8. Full-rank covariances (n > d, the FID protocol) agree
    with ``sqrtm`` to ~1e-11.
    """
    root1 = psd_sqrt(sigma1)
    m = root1 @ sigma2 @ root1
    m = (m + m.T) / 2.0  # symmetric up to rounding: make it exactly so for eigvalsh
    return float(np.sqrt(np.clip(np.linalg.eigvalsh(m), 0.0, None)).sum())


def _trace_sqrtm_product(sigma1: np.ndarray, sigma2: np.ndarray, eps: float) -> float:
    """Tr sqrtm(sigma1 sigma2) the pytorch-fid way (``method="sqrtm"``): eps offset if not finite, real part kept."""
    d = sigma1.shape[0]
    covmean = _sqrtm(sigma1.dot(sigma2))
    if not np.isfinite(covmean).all():
        warnings.warn(
            f"FID: product of covariances is singular; adding {eps} to the diagonal of both covariances",
            RuntimeWarning,
            stacklevel=3,
        )
        offset = np.eye(d) * eps
        covmean = _sqrtm((sigma1 + offset).dot(sigma2 + offset))

    # Numerical error can give a slightly complex root of a (theoretically) PSD-similar product; keep the real part
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"FID: sqrt(sigma1 sigma2) has an imaginary component {np.max(np.abs(covmean.imag)):.3g}")
        covmean = covmean.real
    return float(np.trace(covmean))


METHODS = ("eigh", "sqrtm")


def frechet_distance(mu1: ArrayLike, sigma1: ArrayLike, mu2: ArrayLike, sigma2: ArrayLike, eps: float = 1e-6,
                     method: str = "eigh") -> float:
    """FID between N(mu1, sigma1) and N(mu2, sigma2): ||mu1 - mu2||² + Tr(S1 + S2 - 2 sqrt(S1 S2)) (Heusel et al. 2017).

    ``method="eigh"`` (default) takes Tr sqrt(S1 S2) from eigenvalues of the symmetric S1^{1/2} S2 S1^{1/2}
    (``trace_sqrt_product``): exact for PSD covariances, singular ones included, and fast. ``method="sqrtm"`` is
    pytorch-fid's ``scipy.linalg.sqrtm`` route; ``eps`` is its diagonal offset used when ``sqrt(S1 S2)`` is not
    finite, and it raises ``ValueError`` if the root has a significant imaginary part (max |imag| of its diagonal
    > 1e-3). Both raise ``ValueError`` if the shapes disagree.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    mu1, mu2 = as_float64(mu1, "mu1", 1), as_float64(mu2, "mu2", 1)
    sigma1, sigma2 = as_float64(sigma1, "sigma1", 2), as_float64(sigma2, "sigma2", 2)
    d = mu1.shape[0]
    if mu2.shape != (d,) or sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise ValueError(
            f"shape mismatch: mu1 {mu1.shape}, mu2 {mu2.shape}, sigma1 {sigma1.shape}, sigma2 {sigma2.shape}"
        )

    diff = mu1 - mu2
    exact = method == "eigh"
    tr_covmean = trace_sqrt_product(sigma1, sigma2) if exact else _trace_sqrtm_product(sigma1, sigma2, eps)
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2.0 * tr_covmean)


def fid_from_features(features1: ArrayLike, features2: ArrayLike, eps: float = 1e-6, method: str = "eigh") -> float:
    """FID between two feature sets ``[N1, D]`` and ``[N2, D]`` (statistics computed with ``feature_statistics``)."""
    mu1, sigma1 = feature_statistics(features1)
    mu2, sigma2 = feature_statistics(features2)
    return frechet_distance(mu1, sigma1, mu2, sigma2, eps=eps, method=method)
