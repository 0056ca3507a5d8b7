"""Tests for ganforge/losses/mmd.py: MMD² (biased V- and unbiased U-statistic) against a numpy reference, the bias of
each estimator in expectation, the permutation two-sample test, the median heuristic, and the "gmmn" objective
(values, phases, options, and one short optimisation run that must shrink the MMD).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.testing import assert_close

from ganforge.data.base import DataSpec
from ganforge.losses import mmd as M
from ganforge.losses.objectives import Batch
from ganforge.models.mlp import MLPConfig
from ganforge.options import ConfigError, build_options
from ganforge.registry import OBJECTIVES

DT = torch.float64


@pytest.fixture(autouse=True)
def _one_thread():
    """These tensors are tiny: intra-op threads only add synchronisation, which on a busy 2-core machine costs up to
    100× (measured: one 128-point MMD² took 140 ms with 2 threads, 1.4 ms with 1). Restored after each test."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def np_mmd2(x: np.ndarray, y: np.ndarray, sigmas: list[float], unbiased: bool) -> float:
    """Reference: k(a, b) = Σ_σ exp(−‖a − b‖² / (2σ²)) from explicit differences (no ‖a‖² + ‖b‖² − 2a·b trick).

    biased (Gretton et al. 2012, eq. 5):   mean K_xx + mean K_yy − 2 mean K_xy
    unbiased (eq. 3): Σ_{i≠j} K_xx / (m(m−1)) + Σ_{i≠j} K_yy / (n(n−1)) − 2 mean K_xy
    """
    x, y = x.reshape(len(x), -1), y.reshape(len(y), -1)

    def k(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        d2 = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
        return sum(np.exp(-d2 / (2 * s**2)) for s in sigmas)

    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    m, n = len(x), len(y)
    if unbiased:
        return float((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
                     - 2 * kxy.mean())
    return float(kxx.mean() + kyy.mean() - 2 * kxy.mean())


def _samples(m: int, n: int, f: int, shift: float, seed: int, dtype: torch.dtype = DT) -> tuple:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(m, f, generator=g, dtype=dtype), torch.randn(n, f, generator=g, dtype=dtype) + shift


# ---- MMD² against numpy ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("unbiased", [False, True])
@pytest.mark.parametrize("sigmas", [[1.0], [0.5, 1.0, 2.0]])
def test_mmd2_matches_numpy_float64(unbiased: bool, sigmas: list[float]) -> None:
    x, y = _samples(7, 9, 3, shift=0.7, seed=0)
    ref = np_mmd2(x.numpy(), y.numpy(), sigmas, unbiased)
    got = M.mmd2(x, y, sigmas, unbiased=unbiased).item()
    assert abs(ref) > 1e-3  # far enough from 0 for a relative comparison to mean something
    assert got == pytest.approx(ref, rel=1e-6)


def test_mmd2_flattens_samples_and_accepts_tensor_or_scalar_bandwidths() -> None:
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(5, 2, 3, generator=g, dtype=DT), torch.randn(6, 2, 3, generator=g, dtype=DT) + 0.5
    ref = np_mmd2(x.numpy(), y.numpy(), [2.0, 4.0], unbiased=True)
    assert M.mmd2(x, y, torch.tensor([2.0, 4.0])).item() == pytest.approx(ref, rel=1e-6)
    assert M.mmd2(x, y, 2.0).item() == pytest.approx(np_mmd2(x.numpy(), y.numpy(), [2.0], True), rel=1e-6)


def test_squared_distances_stay_accurate_far_from_origin_in_float32() -> None:
    """‖a‖² + ‖b‖² − 2a·b cancels catastrophically at offset 1e4 in float32 (error ~ 1e8·6e-8); centring fixes it."""
    x, y = _samples(6, 5, 2, shift=0.5, seed=2, dtype=torch.float32)
    x, y = x + 1e4, y + 1e4
    ref = ((x.double()[:, None] - y.double()[None]) ** 2).sum(-1)
    assert_close(M.squared_distances(x, y).double(), ref, rtol=0, atol=1e-2)


def test_mmd2_gradient_matches_finite_differences() -> None:
    x, y = _samples(4, 5, 2, shift=0.3, seed=3)
    x.requires_grad_(True)
    y.requires_grad_(True)
    for unbiased in (False, True):
        assert torch.autograd.gradcheck(lambda a, b, u=unbiased: M.mmd2(a, b, [0.7, 1.5], unbiased=u), (x, y))


def test_mmd2_errors() -> None:
    x, y = _samples(4, 5, 2, shift=0.0, seed=0)
    with pytest.raises(ValueError, match="features"):
        M.mmd2(x, y[:, :1], [1.0])
    with pytest.raises(ValueError, match="at least 2"):
        M.mmd2(x[:1], y, [1.0], unbiased=True)
    for bad in ([], [0.0], [-1.0], [float("nan")]):
        with pytest.raises(ValueError, match="bandwidths"):
            M.mmd2(x, y, bad)


def test_unbiased_is_zero_and_biased_is_offset_in_expectation() -> None:
    """Same distribution P = N(0, I₂), m = n = 30, one Gaussian kernel with σ = 1, R = 300 independent draws.

    U-statistic: E[MMD²_u] = 0 exactly. V-statistic: MMD²_b − MMD²_u = (k(x,x) − K̄_xx)/m + (k(y,y) − K̄_yy)/n, whose
    expectation is (1 − E k(x, x'))(1/m + 1/n), with E k(x, x') = (1 + 2/σ²)^(−d/2) = 1/3 since x − x' ~ N(0, 2I).
    The R draws are i.i.d., so each sample mean is within 4 standard errors of its expectation with probability
    > 0.9999 (CLT); the seeds are fixed, so the test is deterministic anyway. The biased mean's offset
    (2/3)(2/30) ≈ 0.044 is many standard errors from 0, which shows the check has the power to see such a bias.
    """
    g = torch.Generator().manual_seed(1234)
    m = n = 30
    R = 300
    u, v = torch.empty(R, dtype=DT), torch.empty(R, dtype=DT)
    for r in range(R):
        x, y = torch.randn(m, 2, generator=g, dtype=DT), torch.randn(n, 2, generator=g, dtype=DT)
        u[r], v[r] = M.mmd2(x, y, [1.0], unbiased=True), M.mmd2(x, y, [1.0], unbiased=False)
    se_u, se_v = u.std() / math.sqrt(R), v.std() / math.sqrt(R)
    expected_bias = (1 - 1 / 3) * (1 / m + 1 / n)
    assert abs(u.mean().item()) < 4 * se_u.item()
    assert abs(v.mean().item() - expected_bias) < 4 * se_v.item()
    assert v.mean().item() > 10 * se_v.item()


# ---- permutation test -----------------------------------------------------------------------------------------------


def test_permutation_test_equals_naive_loop() -> None:
    """The vectorised null (quadratic forms in group indicators) equals re-computing MMD² for every re-split."""
    x, y = _samples(8, 10, 2, shift=0.4, seed=5)
    P = 40
    for unbiased in (True, False):
        stat, p = M.mmd_permutation_test(x, y, [1.0, 2.0], P, generator=torch.Generator().manual_seed(9),
                                         unbiased=unbiased)
        assert stat == pytest.approx(M.mmd2(x, y, [1.0, 2.0], unbiased=unbiased).item(), rel=1e-12)
        z, g = torch.cat([x, y]), torch.Generator().manual_seed(9)
        null = []
        for _ in range(P):  # same draws as the function: one randperm of M + N per permutation
            perm = torch.randperm(18, generator=g)
            null.append(M.mmd2(z[perm[:8]], z[perm[8:]], [1.0, 2.0], unbiased=unbiased).item())
        assert p == pytest.approx((1 + sum(s >= stat - 1e-12 for s in null)) / (1 + P))
        assert 0.02 < p < 1  # not degenerate for this mild shift with 18 points, so the count itself is checked


def test_permutation_test_small_p_for_different_distributions() -> None:
    x, y = _samples(60, 60, 2, shift=0.8, seed=6)
    stat, p = M.mmd_permutation_test(x, y, [1.0], 200, generator=torch.Generator().manual_seed(0))
    assert stat > 0
    assert p == pytest.approx(1 / 201)  # no re-split reaches the observed statistic: the smallest possible p


def test_permutation_test_p_values_roughly_uniform_under_h0() -> None:
    """20 same-distribution data sets: p-values should look U(0, 1): mean near ½ (SE 0.29/√20 ≈ 0.065, allow ±3 SE)
    and few below 0.05 (Binomial(20, 0.05): P(≥ 5) ≈ 0.003)."""
    ps = []
    for seed in range(20):
        x, y = _samples(40, 40, 2, shift=0.0, seed=100 + seed)
        ps.append(M.mmd_permutation_test(x, y, [1.0], 100, generator=torch.Generator().manual_seed(seed))[1])
    assert abs(np.mean(ps) - 0.5) < 0.2
    assert sum(p < 0.05 for p in ps) <= 4
    assert max(ps) > 0.5


def test_permutation_test_reproducible_and_validates() -> None:
    x, y = _samples(10, 10, 2, shift=0.2, seed=7)
    a = M.mmd_permutation_test(x, y, [1.0], 50, generator=torch.Generator().manual_seed(3))
    b = M.mmd_permutation_test(x, y, [1.0], 50, generator=torch.Generator().manual_seed(3))
    assert a == b
    with pytest.raises(ValueError, match="n_permutations"):
        M.mmd_permutation_test(x, y, [1.0], 0)


# ---- median heuristic -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("m", "n"), [(2, 3), (3, 3)])  # 5 points → 10 pairs (even), 6 points → 15 pairs (odd)
def test_median_bandwidth_is_numpy_median_of_pooled_pairwise_distances(m: int, n: int) -> None:
    """Definition: median over unordered pairs i < j of ‖z_i − z_j‖₂, z = [x; y] pooled (self-pairs excluded; for
    an even number of pairs the mean of the two middle values, as numpy.median)."""
    x, y = _samples(m, n, 3, shift=1.0, seed=8)
    z = np.concatenate([x.numpy(), y.numpy()])
    d = np.sqrt(((z[:, None, :] - z[None, :, :]) ** 2).sum(-1))
    ref = np.median(d[np.triu_indices(len(z), k=1)])
    assert M.median_bandwidth(x, y) == pytest.approx(ref, rel=1e-12)
    assert M.median_bandwidth(x.float(), y.float()) == pytest.approx(ref, rel=1e-6)


def test_median_bandwidth_rejects_coincident_points() -> None:
    x = torch.zeros(3, 2)
    with pytest.raises(ValueError, match="median"):
        M.median_bandwidth(x, torch.zeros(2, 2))


# ---- the gmmn objective ---------------------------------------------------------------------------------------------


def test_gmmn_registered_and_phases() -> None:
    cls = OBJECTIVES.get("gmmn")
    assert cls is M.GMMNObjective
    obj = cls()
    assert obj.uses_discriminator is False
    assert obj.g_needs_real is True
    assert obj.reg_every == 0
    G = torch.nn.Linear(2, 2)
    phases = obj.phases({"G": G}, d_steps=5)
    assert [(p.name, p.needs_real) for p in phases] == [("G", True)]
    with pytest.raises(RuntimeError, match="no discriminator"):
        obj.d_loss(G, None, Batch(real=torch.zeros(2, 2), z=torch.zeros(2, 2)))


@pytest.mark.parametrize(
    "options",
    [{}, {"sqrt": False}, {"unbiased": True}, {"unbiased": True, "sqrt": False}, {"median_heuristic": True},
     {"bandwidths": (0.5, 2.0)}],
)
def test_gmmn_g_loss_value(options: dict) -> None:
    G = torch.nn.Linear(2, 2).double()
    g = torch.Generator().manual_seed(0)
    real, z = torch.randn(16, 2, generator=g, dtype=DT) + 1.0, torch.randn(16, 2, generator=g, dtype=DT)
    obj = M.GMMNObjective(**options)
    with torch.no_grad():
        fake = G(z).numpy()
    if obj.median_heuristic:
        pooled = np.concatenate([fake, real.numpy()])
        d = np.sqrt(((pooled[:, None] - pooled[None]) ** 2).sum(-1))
        sigmas = [float(np.median(d[np.triu_indices(len(pooled), k=1)]))]
    else:
        sigmas = list(obj.bandwidths)
    value = np_mmd2(fake, real.numpy(), sigmas, obj.unbiased)
    expected = math.sqrt(max(value, 1e-12)) if obj.sqrt else value
    terms = obj.g_loss(G, None, Batch(real=real, z=z))
    assert terms.total.item() == pytest.approx(expected, rel=1e-6)
    assert terms.logs["mmd2"].item() == pytest.approx(value, rel=1e-6)
    terms.total.backward()
    assert G.weight.grad is not None


@pytest.mark.parametrize(
    ("options", "match"),
    [({"bandwidths": ()}, "bandwidths"), ({"bandwidths": (0.0, 1.0)}, "bandwidths"),
     ({"bandwidths": (-1.0,)}, "bandwidths"), ({"median_heuristic": "yes"}, "median_heuristic")],
)
def test_gmmn_invalid_options(options: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match) as info:
        M.GMMNObjective(**options)
    assert "\n" not in str(info.value)
    with pytest.raises(ConfigError, match=match):
        build_options(M.GMMNObjective, options, "objective")


def test_gmmn_config_lists_become_tuples() -> None:
    obj = build_options(M.GMMNObjective, {"bandwidths": [1, 2.5]}, "objective")
    assert obj.bandwidths == (1.0, 2.5)


def test_gmmn_training_shrinks_mmd() -> None:
    """150 Adam(lr 0.02) steps of a 2→32→2 MLP generator on a two-blob 2-D target (modes at (±2, 1), std 0.3),
    batch 64, default gmmn options (sqrt of the biased MMD², 7 bandwidths 0.01–10).

    The held-out unbiased MMD² (500 vs 500 fresh samples, same kernel) must fall below a tenth of its value at
    initialisation, where G's output is a blob near the origin (measured: 2.18 → 0.066, a ratio of 0.03). The loop
    takes about 1 s on one busy CPU core; constructing the first optimiser of a process additionally imports
    torch._dynamo (1–3 s here), a one-off cost shared with every other test that builds an optimiser.
    """
    torch.manual_seed(0)
    G = MLPConfig(z_dim=2, g_hidden=(32,), d_hidden=(8,)).build(DataSpec((2,)))["G"]
    g = torch.Generator().manual_seed(0)

    def target(n: int) -> torch.Tensor:
        sign = torch.randint(0, 2, (n, 1), generator=g) * 2.0 - 1.0
        return torch.cat([2.0 * sign, torch.ones(n, 1)], 1) + 0.3 * torch.randn(n, 2, generator=g)

    obj = M.GMMNObjective()
    held_real, held_z = target(500), torch.randn(500, 2, generator=g)

    def held_out_mmd2() -> float:
        with torch.no_grad():
            return M.mmd2(G(held_z), held_real, obj.bandwidths, unbiased=True).item()

    before = held_out_mmd2()
    opt = torch.optim.Adam(G.parameters(), lr=2e-2)
    for _ in range(150):
        loss = obj.g_loss(G, None, Batch(real=target(64), z=torch.randn(64, 2, generator=g))).total
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    after = held_out_mmd2()
    assert before > 1.0  # the untrained G really is far from the target
    assert after < 0.1 * before, (before, after)
