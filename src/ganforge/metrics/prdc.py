"""Improved precision/recall (Kynkäänniemi et al. 2019) and density/coverage (Naeem et al. 2020).

Definitions follow the reference ``prdc`` package (clovaai/generative-evaluation-prdc, ``compute_prdc``) exactly,
including its strict ``<`` comparisons. With real features R = {r_i} (N), fake features F = {f_j} (M), Euclidean
distance d, and NND_k(x) the distance from x to its k-th nearest neighbour in its own set (excluding itself):

    precision = 1/M Σ_j 1[∃ i: d(f_j, r_i) < NND_k(r_i)]                  (Kynkäänniemi et al. 2019, eq. 1-3)
    recall    = 1/N Σ_i 1[∃ j: d(r_i, f_j) < NND_k(f_j)]
    density   = 1/(kM) Σ_j Σ_i 1[d(f_j, r_i) < NND_k(r_i)]                (Naeem et al. 2020, eq. 3)
    coverage  = 1/N Σ_i 1[min_j d(r_i, f_j) < NND_k(r_i)]                 (Naeem et al. 2020, eq. 4)

Each paper's recommended k is the default: k = 3 for precision/recall, k = 5 for density/coverage. The ``prdc``
package uses one k for all four (``nearest_k``, 5 in its README), so ``also_pr_at`` adds precision/recall at other
ks from the same distances (``ganforge eval`` reports k = 3 and k = 5). Distances are computed in float64 in row
chunks, so memory stays bounded for 50k × 50k comparisons.
"""

from __future__ import annotations

import numpy as np

from ganforge.metrics.fid import ArrayLike, as_float64

K_PR = 3
K_DC = 5
_CHUNK_ELEMENTS = 1 << 24  # float64 distance entries per chunk (128 MiB)


def pairwise_distances(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Euclidean distances ``[len(x), len(y)]`` via ||x||² + ||y||² - 2 x·y (as sklearn), clamped at 0, float64."""
    d2 = (x * x).sum(1)[:, None] + (y * y).sum(1)[None, :] - 2.0 * (x @ y.T)
    np.maximum(d2, 0.0, out=d2)
    return np.sqrt(d2, out=d2)


def _chunk_rows(n_cols: int, chunk_size: int | None) -> int:
    return max(1, chunk_size if chunk_size is not None else _CHUNK_ELEMENTS // max(n_cols, 1))


def nearest_neighbour_radii(
    features: ArrayLike, ks: tuple[int, ...] | int, chunk_size: int | None = None
) -> np.ndarray:
    """Distance of each row to its k-th nearest neighbour in the same set, self excluded: ``[len(ks), N]`` (or [N]).

    As the reference's ``get_kth_value(distances, k + 1)``: the (k+1)-th smallest distance counting the zero
    self-distance.
    """
    x = as_float64(features)
    single = isinstance(ks, int)
    ks_t = (ks,) if isinstance(ks, int) else tuple(ks)
    n = x.shape[0]
    if min(ks_t) < 1 or max(ks_t) >= n:
        raise ValueError(f"nearest-neighbour k must lie in [1, N - 1] = [1, {n - 1}], got {ks_t}")
    radii = np.empty((len(ks_t), n))
    rows = _chunk_rows(n, chunk_size)
    for start in range(0, n, rows):
        stop = min(start + rows, n)
        d = pairwise_distances(x[start:stop], x)
        d[np.arange(stop - start), np.arange(start, stop)] = 0.0  # exact zero self-distance (sklearn does this too)
        part = np.partition(d, ks_t, axis=1)
        radii[:, start:stop] = part[:, list(ks_t)].T
    return radii[0] if single else radii


def prdc(
    real_features: ArrayLike,
    fake_features: ArrayLike,
    k_pr: int = K_PR,
    k_dc: int = K_DC,
    chunk_size: int | None = None,
    also_pr_at: tuple[int, ...] = (),
) -> dict[str, float]:
    """``precision``, ``recall`` (k = ``k_pr``) and ``density``, ``coverage`` (k = ``k_dc``) of fake vs real features,
    plus ``precision_k<k>``, ``recall_k<k>`` for each k in ``also_pr_at`` (e.g. k = 5, the ``prdc`` package's
    default for all four), from the same distance blocks.

    ``chunk_size`` (rows of real features per distance block) only bounds memory; the result does not depend on it.
    """
    real, fake = as_float64(real_features, "real_features"), as_float64(fake_features, "fake_features")
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"feature dimensions differ: {real.shape[1]} vs {fake.shape[1]}")
    pr_ks = (k_pr, *(k for k in dict.fromkeys(also_pr_at) if k != k_pr))  # k_pr first, then the extra ones
    real_radii = nearest_neighbour_radii(real, (*pr_ks, k_dc), chunk_size)  # [len(pr_ks) + 1, N]
    real_radii_pr, real_radii_dc = real_radii[:-1], real_radii[-1]
    fake_radii_pr = nearest_neighbour_radii(fake, pr_ks, chunk_size)  # [len(pr_ks), M]

    n_real, n_fake = real.shape[0], fake.shape[0]
    fake_in_real_manifold = np.zeros((len(pr_ks), n_fake), dtype=bool)  # precision: f_j inside some real k-NN ball
    real_in_fake_manifold = np.zeros((len(pr_ks), n_real), dtype=bool)  # recall: r_i inside some fake k-NN ball
    density_counts = np.zeros(n_fake)  # density: number of real k-NN balls containing f_j
    nearest_fake = np.empty(n_real)  # coverage: distance from r_i to its nearest fake sample
    rows = _chunk_rows(n_fake, chunk_size)
    for start in range(0, n_real, rows):
        stop = min(start + rows, n_real)
        d = pairwise_distances(real[start:stop], fake)  # [rows, M]
        for i in range(len(pr_ks)):
            fake_in_real_manifold[i] |= (d < real_radii_pr[i, start:stop, None]).any(axis=0)
            real_in_fake_manifold[i, start:stop] = (d < fake_radii_pr[i][None, :]).any(axis=1)
        density_counts += (d < real_radii_dc[start:stop, None]).sum(axis=0)
        nearest_fake[start:stop] = d.min(axis=1)

    out = {
        "precision": float(fake_in_real_manifold[0].mean()),
        "recall": float(real_in_fake_manifold[0].mean()),
        "density": float(density_counts.mean() / k_dc),
        "coverage": float((nearest_fake < real_radii_dc).mean()),
    }
    for i, k in enumerate(pr_ks[1:], start=1):
        out[f"precision_k{k}"] = float(fake_in_real_manifold[i].mean())
        out[f"recall_k{k}"] = float(real_in_fake_manifold[i].mean())
    return out
