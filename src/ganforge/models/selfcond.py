"""Self-conditioned generator (Liu, Tang, Yang, Torralba & Zhu 2020, "Diverse Image Generation via Self-Conditioned
GANs", CVPR): a class-conditional G trained on cluster ids of the training images (``data.clusters``), which draws
its own cluster from the clusters' empirical frequencies — to the outside an unconditional generator.

``SelfConditioned`` wraps a conditional generator ``G_c(z, c)``. Its latent is ``[z, u]`` with one extra N(0, 1)
coordinate ``u`` that picks the cluster by the inverse CDF of the stored prior π (Liu et al. §3.1: ``c ~ P_π``):

    k(u) = min{k : Φ(u) < Σ_{j ≤ k} π_j}        so P(k) = π_k for u ~ N(0, 1)
    G([z, u]) = G_c(z, k(u))                     [N, z_dim + 1] -> sample [N, *shape]

``c_dim = 0``: ``ganforge sample``, ``eval``, the digit evaluation and the benches judge it as unconditional, and
the cluster is a deterministic function of the latent, like dcgan-code's code read from z. ``latent_labels(z)``
hands the training objective those cluster ids, so the conditional D judges each fake with the cluster it was drawn
for (``losses.objectives``). π is a buffer (saved in the checkpoint), set from the training data's label shares
(``DataSpec.class_prior``) when the networks are built for training.

Differs from the paper: the clusters are fixed before training (k-means on pixels / PCA, not on D's features, and
never re-clustered) and the networks are whatever family wraps them (the MLP family here, not their ResNets).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ganforge.data.base import DataSpec
from ganforge.models.base import Generator


def prior_cdf(spec: DataSpec, K: int) -> Tensor:
    """float64 cumulative cluster shares ``[K]`` from ``spec.class_prior`` (uniform without one: networks rebuilt for
    sampling start so and load the trained buffer from the checkpoint)."""
    prior = torch.tensor(spec.class_prior, dtype=torch.float64) if spec.class_prior else torch.ones(K)
    if prior.shape != (K,) or not bool((prior >= 0).all()) or not prior.sum() > 0:
        raise ValueError(f"class prior of {tuple(prior.shape)} shares does not match {K} clusters")
    return torch.cumsum(prior.double() / prior.sum(), 0)


def cluster_of(u: Tensor, cdf: Tensor, z_dist: str = "normal") -> Tensor:
    """k(u) = min{k : F(u) < cdf_k}, ``int64 [N]``, for the cluster coordinate ``u [N]`` (F = Φ for N(0, 1), the
    uniform CDF on (-1, 1) otherwise), so P(k) = π_k: Liu et al. 2020 §3.1's c ~ P_π drawn from the latent."""
    u = u.double()
    p = 0.5 * (1.0 + torch.erf(u / math.sqrt(2.0))) if z_dist == "normal" else (u + 1.0) / 2.0  # F(u) ∈ [0, 1]
    k = torch.searchsorted(cdf, p.contiguous(), right=True)  # first k with F(u) < cdf_k
    return k.clamp_max(cdf.shape[0] - 1)  # F(u) = 1 exactly (u > 8.3) or cdf's last share rounded below 1


class SelfConditioned(Generator):
    """An unconditional view ``[z, u] -> G_c(z, k(u))`` of the conditional generator ``G`` (``G.c_dim = K``)."""

    def __init__(self, G: Generator, spec: DataSpec) -> None:
        super().__init__()
        K = int(G.c_dim)
        if K < 2:
            raise ValueError(f"a self-conditioned generator wraps a conditional one (c_dim >= 2), got c_dim {K}")
        self.G = G
        self.z_dim, self.z_dist, self.output_range = int(G.z_dim) + 1, G.z_dist, G.output_range
        self.c_dim, self.num_clusters = 0, K
        # float64 cumulative shares [K]: rebuilt networks start uniform and load the trained ones from the checkpoint
        self.register_buffer("cdf", prior_cdf(spec, K))

    def latent_labels(self, z: Tensor) -> Tensor:
        """The cluster ``int64 [N]`` latent ``z [N, z_dim]`` generates: ``k(u)`` of its last coordinate."""
        return cluster_of(z[:, -1], self.cdf, self.z_dist)

    def forward(self, z: Tensor) -> Tensor:
        return self.G(z[:, :-1], self.latent_labels(z))
