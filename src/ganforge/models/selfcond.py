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
        prior = torch.tensor(spec.class_prior, dtype=torch.float64) if spec.class_prior else torch.ones(K)
        if prior.shape != (K,) or not bool((prior >= 0).all()) or not prior.sum() > 0:
            raise ValueError(f"class prior of {tuple(prior.shape)} shares does not match {K} clusters")
        # float64 cumulative shares [K]: rebuilt networks start uniform and load the trained ones from the checkpoint
        self.register_buffer("cdf", torch.cumsum(prior.double() / prior.sum(), 0))

    def latent_labels(self, z: Tensor) -> Tensor:
        """The cluster ``int64 [N]`` latent ``z [N, z_dim]`` generates: ``k(u)`` of its last coordinate."""
        if self.z_dist == "normal":
            p = 0.5 * (1.0 + torch.erf(z[:, -1].double() / math.sqrt(2.0)))  # Φ(u) ∈ [0, 1]
        else:  # U(-1, 1)
            p = (z[:, -1].double() + 1.0) / 2.0
        k = torch.searchsorted(self.cdf, p.contiguous(), right=True)  # first k with Φ(u) < cdf_k
        return k.clamp_max(self.num_clusters - 1)  # Φ(u) = 1 exactly (u > 8.3) or cdf's last share rounded below 1

    def forward(self, z: Tensor) -> Tensor:
        return self.G(z[:, :-1], self.latent_labels(z))
