"""Maximum mean discrepancy: Gaussian kernels, the MMD² estimators, a permutation two-sample test, and the "direct
method" generator objective (generative moment matching, Li et al. 2015; Dziugaite et al. 2015).

Pure tensor maths plus one discriminator-free Objective; no training loop and no learned kernels (that is MMD GAN).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ganforge.losses.objectives import Batch, LossTerms, Objective, generate
from ganforge.registry import OBJECTIVES

EXP_FLOOR = 80.0  # kernel exponents are clamped to >= −EXP_FLOOR (see gaussian_kernel_matrix)


def _as_matrix(x: Tensor) -> Tensor:
    """[N, *shape] -> [N, F]."""
    if x.dim() < 1 or x.shape[0] == 0:
        raise ValueError(f"expected a non-empty sample [N, *shape], got shape {tuple(x.shape)}")
    return x.reshape(x.shape[0], -1)


def _check_pair(x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    x, y = _as_matrix(x), _as_matrix(y)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same number of features, got {x.shape[1]} and {y.shape[1]}")
    return x, y


def _check_bandwidths(bandwidths: Sequence[float] | Tensor | float) -> list[float]:
    """The σ's as a list of Python floats (a single number or a 0-d tensor is one σ); ValueError unless all > 0."""
    if isinstance(bandwidths, Tensor):
        bandwidths = bandwidths.reshape(-1).tolist()
    elif isinstance(bandwidths, (int, float)):
        bandwidths = [bandwidths]
    try:
        sigmas = [float(s) for s in bandwidths]
    except (TypeError, ValueError):
        raise ValueError(f"bandwidths must be a non-empty sequence of finite numbers > 0, got {bandwidths!r}") from None
    if not sigmas or not all(math.isfinite(s) and s > 0 for s in sigmas):
        raise ValueError(f"bandwidths must be a non-empty sequence of finite numbers > 0, got {sigmas}")
    return sigmas


def squared_distances(x: Tensor, y: Tensor) -> Tensor:
    """‖x_i − y_j‖² as ``[N, M]`` for ``x [N, F]``, ``y [M, F]`` via one matmul, clamped at 0.

    ‖x‖² + ‖y‖² − 2x·y loses precision when the points are far from the origin relative to their spread, so both
    sets are first shifted by a common (detached) centre; distances are translation invariant, so values and
    gradients are unchanged.
    """
    centre = torch.cat([x, y]).detach().mean(0, keepdim=True)
    x, y = x - centre, y - centre
    d2 = x.square().sum(1, keepdim=True) + y.square().sum(1).unsqueeze(0) - 2 * x @ y.T
    return d2.clamp(min=0)


def gaussian_kernel_matrix(x: Tensor, y: Tensor, bandwidths: Sequence[float] | Tensor | float) -> Tensor:
    """Σ_σ exp(−‖x_i − y_j‖² / (2σ²)) as ``[N, M]``: a mixture of Gaussian kernels (Li et al. 2015, §3.2).

    ``x [N, F]``, ``y [M, F]`` (higher-rank inputs are flattened); ``bandwidths`` are the σ's, in data units.
    """
    x, y = _check_pair(x, y)
    d2 = squared_distances(x, y)  # [N, M]
    # The exponent is floored at −EXP_FLOOR: on CPU, exp of arguments past the underflow point (≈ −87.3 in float32,
    # ≈ −708 in float64) takes a slow denormal/underflow path (measured 15–50× slower per element), and small σ's
    # (0.01 in the gmmn default) put most pairs there; the floor halves the time of the default gmmn kernel. Each
    # floored entry changes by at most e^−80 ≈ 1.8e−35 and loses a gradient of the same negligible order.
    return sum(  # type: ignore[return-value]
        torch.exp((-d2 / (2 * s * s)).clamp(min=-EXP_FLOOR)) for s in _check_bandwidths(bandwidths)
    )


@torch.no_grad()
def median_bandwidth(x: Tensor, y: Tensor) -> float:
    """Median heuristic: the median of ‖z_i − z_j‖ over pairs i < j of the pooled sample z = [x; y] (Gretton et al.
    2012, §8). Uses the mean of the two middle values for an even count, like ``numpy.median``."""
    x, y = _check_pair(x, y)
    z = torch.cat([x, y]).to(torch.float64)
    if z.shape[0] < 2:
        raise ValueError("median_bandwidth needs at least 2 pooled samples")
    i, j = torch.triu_indices(z.shape[0], z.shape[0], offset=1, device=z.device)
    dist = squared_distances(z, z)[i, j].sqrt().sort().values
    mid = dist.numel() // 2
    median = float(dist[mid]) if dist.numel() % 2 else float(dist[mid - 1] + dist[mid]) / 2
    if median <= 0:
        raise ValueError("median_bandwidth: the median pairwise distance is 0 (most pooled samples coincide)")
    return median


def _mmd2_from_sums(k_xx: Tensor, k_yy: Tensor, k_xy: Tensor, diag_x: Tensor, diag_y: Tensor, m: int, n: int,
                    unbiased: bool) -> Tensor:
    """MMD² from block sums Σk(x, x'), Σk(y, y'), Σk(x, y) and the diagonal sums Σk(x_i, x_i), Σk(y_j, y_j)."""
    if unbiased:
        # Gretton et al. (2012), eq. 3: the U-statistic drops the i = j terms of the within-sample sums.
        return (k_xx - diag_x) / (m * (m - 1)) + (k_yy - diag_y) / (n * (n - 1)) - 2 * k_xy / (m * n)
    # eq. 5: the V-statistic (biased, always >= 0 for a positive-definite kernel).
    return k_xx / (m * m) + k_yy / (n * n) - 2 * k_xy / (m * n)


def mmd2(x: Tensor, y: Tensor, bandwidths: Sequence[float] | Tensor | float, unbiased: bool = True) -> Tensor:
    """Squared MMD between samples ``x [M, *]`` and ``y [N, *]`` (flattened) under a Gaussian-mixture kernel.

    ``unbiased=True``: the U-statistic (Gretton et al. 2012, eq. 3; can be slightly negative, zero in expectation when
    the distributions match; needs M, N >= 2). ``unbiased=False``: the V-statistic (eq. 5; >= 0, biased upwards by
    O(1/N)). Differentiable in both arguments.
    """
    x, y = _check_pair(x, y)
    m, n = x.shape[0], y.shape[0]
    if unbiased and min(m, n) < 2:
        raise ValueError(f"the unbiased MMD² needs at least 2 samples on each side, got {m} and {n}")
    k = gaussian_kernel_matrix(torch.cat([x, y]), torch.cat([x, y]), bandwidths)  # [M + N, M + N], one matmul
    k_xx, k_yy, k_xy = k[:m, :m], k[m:, m:], k[:m, m:]
    return _mmd2_from_sums(k_xx.sum(), k_yy.sum(), k_xy.sum(), k_xx.diagonal().sum(), k_yy.diagonal().sum(), m, n,
                           unbiased)


@torch.no_grad()
def mmd_permutation_test(
    x: Tensor,
    y: Tensor,
    bandwidths: Sequence[float] | Tensor | float,
    n_permutations: int = 200,
    generator: torch.Generator | None = None,
    unbiased: bool = True,
) -> tuple[float, float]:
    """Two-sample test of H0: P_x = P_y with MMD² as the statistic; returns ``(mmd2, p_value)``.

    The null distribution comes from re-splitting the pooled sample at random (``generator`` makes it reproducible).
    p = (1 + #{permuted MMD² >= observed}) / (1 + n_permutations), which is never 0 (Phipson & Smyth 2010).
    The kernel matrix is computed once; each permutation's statistic is a pair of quadratic forms in the group
    indicator vector, so all permutations cost one ``[P, M+N] @ [M+N, M+N]`` matmul.
    """
    if n_permutations < 1:
        raise ValueError(f"n_permutations must be >= 1, got {n_permutations}")
    x, y = _check_pair(x, y)
    m, n = x.shape[0], y.shape[0]
    if unbiased and min(m, n) < 2:
        raise ValueError(f"the unbiased MMD² needs at least 2 samples on each side, got {m} and {n}")
    z = torch.cat([x, y])
    k = gaussian_kernel_matrix(z, z, bandwidths)  # [M + N, M + N]
    rng_device = generator.device if generator is not None else torch.device("cpu")
    perms = [torch.arange(m + n, device=rng_device)]  # row 0: the observed split
    perms += [torch.randperm(m + n, generator=generator, device=rng_device) for _ in range(n_permutations)]
    a = torch.zeros(n_permutations + 1, m + n, dtype=k.dtype, device=rng_device)
    a.scatter_(1, torch.stack(perms)[:, :m], 1.0)  # a[p, i] = 1 when pooled sample i lands in the "x" group
    a = a.to(k.device)
    b = 1 - a
    ak, row_sums = a @ k, k.sum(0, keepdim=True)  # aᵀK for every permutation; bᵀK = 1ᵀK − aᵀK
    bk = row_sums - ak
    diag = k.diagonal()
    stats = _mmd2_from_sums((ak * a).sum(1), (bk * b).sum(1), (ak * b).sum(1), a @ diag, b @ diag, m, n, unbiased)
    observed, null = stats[0], stats[1:]
    p_value = (1 + int((null >= observed).sum())) / (1 + n_permutations)
    return float(observed), p_value


# ---- the direct method: generative moment matching -----------------------------------------------------------------


@OBJECTIVES.register("gmmn")
@dataclass
class GMMNObjective(Objective):
    """Generative moment matching network: G minimises the MMD between a batch of G(z) and a batch of real data.

    There is no discriminator (``uses_discriminator = False``): the kernel two-sample statistic replaces it (the
    lectures' "direct method"). Defaults follow Li et al. (2015): a mixture of Gaussian kernels and the square root
    of the biased MMD² estimate (eq. 1 there), which they found trains better than MMD² itself; the V-statistic is
    >= 0, so its square root is always defined. With ``unbiased=True`` the estimate can dip below 0 and is clamped at
    1e-12 before the square root (its gradient then vanishes for that step).

    Default bandwidths are a half-decade ladder from 0.01 to 10 for low-dimensional data in data units: the small
    σ's resolve modes with std 0.01–0.05 (toy mixtures), the large ones give every generated point a gradient
    toward data spread over a few units (rings/grids at scale 1–4). For images use ``median_heuristic`` or larger
    σ's (Li et al. used 2–80 for 784-d MNIST pixels in [0, 1]). MMD needs large batches (Li et al.: 1000).
    """

    uses_discriminator = False
    g_needs_real = True  # the G phase compares G(z) with a real batch (read by training.phases.build_phases)

    bandwidths: tuple[float, ...] = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)  # σ's of the kernel mixture, data units
    median_heuristic: bool = False  # True: ignore ``bandwidths``; one σ = median pooled distance, recomputed per batch
    unbiased: bool = False  # False: V-statistic (Li et al. 2015); True: U-statistic (Gretton et al. 2012, eq. 3)
    sqrt: bool = True  # minimise sqrt(MMD²) as Li et al. (2015) do; False: MMD² itself

    def __post_init__(self) -> None:
        self.bandwidths = tuple(_check_bandwidths(self.bandwidths))
        for name in ("median_heuristic", "unbiased", "sqrt"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false, got {getattr(self, name)!r}")

    def d_loss(self, G: nn.Module, D: nn.Module, batch: Batch) -> LossTerms:
        raise RuntimeError("the gmmn objective has no discriminator (uses_discriminator is False): there is no D step")

    def g_loss(self, G: nn.Module, D: nn.Module | None, batch: Batch) -> LossTerms:
        fake = generate(G, batch).flatten(1)  # [N, F]
        real = batch.real.detach().flatten(1)  # [N, F]
        sigmas = (median_bandwidth(fake, real),) if self.median_heuristic else self.bandwidths
        value = mmd2(fake, real, sigmas, unbiased=self.unbiased)
        loss = value.clamp(min=1e-12).sqrt() if self.sqrt else value
        return LossTerms(loss, {"loss/g": loss.detach(), "mmd2": value.detach()})
