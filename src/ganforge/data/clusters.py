"""Pseudo-labels without labels: k-means clusters of the training images (Liu et al. 2020, "Diverse Image
Generation via Self-Conditioned GANs", CVPR, §3.1 — they cluster D's features and re-cluster during training; here
the pixels, or a PCA of them, are clustered once before training).

Only images go in: nothing here can read a dataset's labels, so a model trained on the cluster ids is an
unconditional generator (``data.options.clusters`` on the MNIST source; ``models.selfcond`` draws its cluster).

k-means (Lloyd 1982) with k-means++ seeding (Arthur & Vassilvitskii 2007): minimise Σ_i ‖f_i − μ_{k(i)}‖² over the
centroids μ_1..μ_K and assignments k(i). Deterministic from ``seed`` (a private ``torch.Generator``); float64
throughout, so the result does not hinge on float32 summation order.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

SPACES = ("pixels", "pca")


def feature_map(fit_on: Tensor, space: str, dim: int) -> Callable[[Tensor], Tensor]:
    """uint8 images ``[N, C, H, W]`` -> float64 features ``[N, F]``: pixels in [0, 1] (``F = C·H·W``), or their
    projection on the top ``dim`` principal components of ``fit_on``'s pixels (eigenvectors of the pixel
    covariance, ``F = dim``)."""
    if space not in SPACES:
        raise ValueError(f"unknown cluster space {space!r}; choose from: {', '.join(SPACES)}")

    def pixels(x: Tensor) -> Tensor:
        return x.flatten(1).double() / 255.0  # [N, C·H·W]

    if space == "pixels":
        return pixels
    f = pixels(fit_on)
    if not 1 <= dim <= f.shape[1]:
        raise ValueError(f"cluster_dim must be in [1, {f.shape[1]}] (pixels per image), got {dim}")
    mean = f.mean(0)
    f = f - mean
    cov = f.T @ f / max(1, f.shape[0] - 1)  # [P, P]
    _, vecs = torch.linalg.eigh(cov)  # ascending eigenvalues
    top = vecs[:, -dim:].flip(1)  # [P, dim], largest first
    top = top * torch.where(top.sum(0) < 0, -1.0, 1.0)  # one sign per eigenvector, so no solver picks another

    def pca(x: Tensor) -> Tensor:
        return (pixels(x) - mean) @ top  # [N, dim]

    return pca


def squared_distances(f: Tensor, c: Tensor, f_sq: Tensor | None = None) -> Tensor:
    """``[N, m]`` squared distances ‖f_i − c_j‖² = ‖f_i‖² − 2 f_i·c_j + ‖c_j‖² of rows ``f [N, F]`` to ``c [m, F]``;
    ``f_sq`` = ‖f_i‖² ``[N]`` when the caller already has it."""
    f_sq = (f * f).sum(1) if f_sq is None else f_sq
    return f_sq[:, None] - 2.0 * f @ c.T + (c * c).sum(1)[None]


def kmeans(f: Tensor, k: int, seed: int, iters: int = 50) -> tuple[Tensor, Tensor]:
    """(centroids ``[k, F]``, assignments ``int64 [N]``) of ``f [N, F]``: k-means++ seeding, then Lloyd steps
    until no assignment changes (at most ``iters``). An emptied cluster is re-seeded at the point farthest from
    its centroid."""
    n = f.shape[0]
    if not 2 <= k <= n:
        raise ValueError(f"clusters must be in [2, {n}] (the number of images), got {k}")
    rng = torch.Generator().manual_seed(seed)
    sq = (f * f).sum(1)  # [N] ‖f_i‖²

    def dist2(c: Tensor) -> Tensor:  # [N, m], rounding below 0 clipped
        return squared_distances(f, c, sq).clamp_min(0.0)

    # k-means++: the first centre uniform, each next one with probability ∝ D(f)² to the nearest chosen centre
    centres = [int(torch.randint(n, (1,), generator=rng))]
    d2 = dist2(f[centres[0]][None])[:, 0]
    for _ in range(1, k):
        nxt = int(torch.multinomial(d2 / d2.sum(), 1, generator=rng)) if d2.sum() > 0 else int(d2.argmax())
        centres.append(nxt)
        d2 = torch.minimum(d2, dist2(f[nxt][None])[:, 0])
    c = f[centres].clone()  # [k, F]
    assign = dist2(c).argmin(1)
    for _ in range(iters):
        counts = torch.bincount(assign, minlength=k)  # [k]
        sums = torch.zeros_like(c).index_add_(0, assign, f)
        c = sums / counts.clamp_min(1)[:, None].double()
        d = dist2(c)
        for j in torch.nonzero(counts == 0).flatten().tolist():  # empty cluster: take the worst-fitted point
            far = int(d.gather(1, assign[:, None])[:, 0].argmax())
            c[j] = f[far]
            d = dist2(c)
        new = d.argmin(1)
        if torch.equal(new, assign):
            break
        assign = new
    return c, assign


def assign_clusters(f: Tensor, centroids: Tensor) -> Tensor:
    """Nearest centroid ``int64 [N]`` of each row of ``f [N, F]``."""
    return squared_distances(f, centroids).argmin(1)


def pseudo_labels(fit_on: Tensor, k: int, seed: int, space: str = "pca", dim: int = 50,
                  images: Tensor | None = None) -> Tensor:
    """Cluster ids ``int64 [N]`` of ``images`` (default: ``fit_on`` itself) under k-means fitted on the uint8
    images ``fit_on [M, C, H, W]`` (features and centroids from ``fit_on`` only); ids are renumbered by
    decreasing cluster size (ties: lower old id first). Reads images only: no labels go in."""
    features = feature_map(fit_on, space, dim)
    centroids, assign = kmeans(features(fit_on), k, seed)
    order = sorted(range(k), key=lambda j: (-int((assign == j).sum()), j))
    return assign_clusters(features(fit_on if images is None else images), centroids[order])
