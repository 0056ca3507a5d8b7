"""Kernel Inception Distance (Bińkowski et al. 2018, "Demystifying MMD GANs", §3 and App. D).

KID is the squared Maximum Mean Discrepancy between two feature sets under the cubic polynomial kernel

    k(x, y) = (x·y / d + 1)^3                                   (d = feature dimension)

estimated without bias on random subsets and averaged. Per subset pair X, Y of m vectors each (eq. 2 of the paper,
``_mmd2_and_variance(..., mmd_est='unbiased')`` in the authors' ``compute_scores.py``):

    MMD²_u = Σ_{i≠j} k(x_i, x_j) / (m(m-1)) + Σ_{i≠j} k(y_i, y_j) / (m(m-1)) - 2 Σ_{i,j} k(x_i, y_j) / m²

(the cross term averages all m² pairs, as in the reference code, torch-fidelity and clean-fid). The reported KID is
the mean over ``n_subsets`` subset pairs, each drawn without replacement, with the standard deviation over subsets.
"""

from __future__ import annotations

import numpy as np

from ganforge.metrics.fid import ArrayLike, as_float64

N_SUBSETS = 100
SUBSET_SIZE = 1000


def polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Cubic polynomial kernel matrix ``(x @ y.T / d + 1) ** 3`` (float64), d = number of feature columns."""
    k = x @ y.T
    k /= x.shape[1]
    k += 1.0
    return k * k * k  # much faster than ** 3 (a float power)


def mmd2_unbiased(x: ArrayLike, y: ArrayLike) -> float:
    """Unbiased MMD² (cubic polynomial kernel) between equally sized sets ``x [m, d]`` and ``y [m, d]``, m >= 2."""
    x, y = as_float64(x, "x"), as_float64(y, "y")
    m = x.shape[0]
    if y.shape != x.shape or m < 2:
        raise ValueError(f"need two feature sets of the same shape [m >= 2, d], got {x.shape} and {y.shape}")
    k_xx, k_yy, k_xy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    off_diag = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return float(off_diag - 2.0 * k_xy.sum() / (m * m))


def effective_subset_size(n1: int, n2: int, subset_size: int = SUBSET_SIZE) -> int:
    """The subset size ``kid`` uses: ``subset_size`` clipped to the smaller set. Below ``SUBSET_SIZE`` the value is
    not comparable with KID at the standard 1000, and once it reaches the size of a set every subset holds that whole
    set, so the std over subsets shrinks (to ~1e-15 when both sets have that size) and is no uncertainty at all."""
    return min(subset_size, n1, n2)


def kid(
    features1: ArrayLike,
    features2: ArrayLike,
    n_subsets: int = N_SUBSETS,
    subset_size: int = SUBSET_SIZE,
    seed: int | np.random.Generator | None = 0,
) -> tuple[float, float]:
    """KID ``(mean, std)`` of unbiased MMD² over ``n_subsets`` random subset pairs (Bińkowski et al. 2018).

    ``subset_size`` is clipped to ``min(N1, N2)``. Subset ``s`` takes ``rng.choice(N1, m, replace=False)`` rows of
    ``features1`` then ``rng.choice(N2, m, replace=False)`` rows of ``features2``, with
    ``rng = np.random.default_rng(seed)`` (deterministic for a given seed). ``std`` is the population standard
    deviation (ddof=0) over subsets, as torch-fidelity reports it. KID is conventionally reported × 1000.
    """
    x, y = as_float64(features1, "features1"), as_float64(features2, "features2")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"feature dimensions differ: {x.shape[1]} vs {y.shape[1]}")
    if n_subsets < 1:
        raise ValueError(f"n_subsets must be >= 1, got {n_subsets}")
    m = effective_subset_size(x.shape[0], y.shape[0], subset_size)
    if m < 2:
        raise ValueError(f"KID needs subsets of at least 2 vectors; got sets of {x.shape[0]} and {y.shape[0]}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    values = np.empty(n_subsets)
    for s in range(n_subsets):
        xs = x[rng.choice(x.shape[0], m, replace=False)]
        ys = y[rng.choice(y.shape[0], m, replace=False)]
        values[s] = mmd2_unbiased(xs, ys)
    return float(values.mean()), float(values.std())
