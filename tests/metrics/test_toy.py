"""The PacGAN mode protocol and the 1-D metrics against references written here with numpy/scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from ganforge.metrics.toy import evaluate_toy, mode_metrics, one_d_metrics
from ganforge.registry import DATASETS


def reference_mode_metrics(x: np.ndarray, means: np.ndarray, std: float) -> dict[str, float]:
    """Loop version of the PacGAN evaluation code (nearest mode within 3 std)."""
    k = len(means)
    counts = np.zeros(k)
    hq = 0
    for p in x:
        d = np.sqrt(((means - p) ** 2).sum(1))
        j = int(np.argmin(d))
        if d[j] <= 3 * std:
            hq += 1
            counts[j] += 1
    probs = counts / max(counts.sum(), 1)
    kl = sum(q * math.log(q * k) for q in probs if q > 0) if counts.sum() else math.log(k)
    return {"modes": float((counts > 0).sum()), "hq_percent": 100 * hq / len(x), "reverse_kl": kl,
            "modes_20": float((counts >= 20).sum())}


def test_mode_metrics_match_the_reference_on_a_partly_collapsed_sample() -> None:
    ring = DATASETS.get("ring8")()
    rng = np.random.default_rng(0)
    means = ring.means.numpy()
    # 5 of 8 modes, unequal weights, plus 20 % junk between modes
    idx = rng.choice([0, 1, 1, 2, 5, 7], size=2000)
    good = means[idx] + 0.012 * rng.standard_normal((2000, 2))
    junk = rng.uniform(-1, 1, size=(500, 2))
    x = np.concatenate([good, junk]).astype(np.float32)
    ours = mode_metrics(torch.from_numpy(x), ring.means, ring.std)
    ref = reference_mode_metrics(x.astype(np.float64), means.astype(np.float64), ring.std)
    assert ours["modes"] == ref["modes"]
    assert ours["hq_percent"] == pytest.approx(ref["hq_percent"], abs=1e-9)
    assert ours["reverse_kl"] == pytest.approx(ref["reverse_kl"], abs=1e-9)
    assert ours["modes_20"] == ref["modes_20"]


def test_perfect_and_fully_collapsed_generators() -> None:
    ring = DATASETS.get("ring8")()
    real = ring.sample(2500, torch.Generator().manual_seed(1))
    perfect = mode_metrics(real, ring.means, ring.std)
    assert perfect["modes"] == 8
    assert perfect["hq_percent"] > 98.0  # 3-sigma disc in 2-D holds 1 − e^{−4.5} = 98.9 %
    assert perfect["reverse_kl"] < 0.01
    one = mode_metrics(ring.means[:1].repeat(100, 1), ring.means, ring.std)
    assert one == {"modes": 1.0, "hq_percent": 100.0, "reverse_kl": pytest.approx(math.log(8)), "modes_20": 1.0}
    none = mode_metrics(torch.zeros(10, 2), ring.means, ring.std)
    assert none["modes"] == 0
    assert none["reverse_kl"] == pytest.approx(math.log(8))
    assert none["modes_20"] == 0


def test_strict_coverage_needs_20_high_quality_samples_per_mode() -> None:
    """A hand-built sample set on the ring (std 0.01, 3-std radius 0.03): per mode, high-quality samples placed at
    distance 0.02 (inside) and low-quality ones at 0.05 (outside, still nearest to that mode)."""
    ring = DATASETS.get("ring8")()
    means = ring.means.double()
    radial = means / means.norm(dim=1, keepdim=True)  # unit vector from the centre through each mode
    plan = {0: (25, 0), 1: (20, 0), 2: (19, 0), 3: (1, 0), 4: (0, 40), 5: (19, 30), 6: (100, 5), 7: (0, 0)}
    pts = []
    for k, (good, bad) in plan.items():
        pts += [means[k] + 0.02 * radial[k]] * good + [means[k] + 0.05 * radial[k]] * bad
    x = torch.stack(pts).float()
    out = mode_metrics(x, ring.means, ring.std)
    assert out["modes"] == 6.0  # the VEEGAN / PacGAN rule: one high-quality sample is enough (modes 0, 1, 2, 3, 5, 6)
    assert out["modes_20"] == 3.0  # >= 20: modes 0 (25), 1 (20, the boundary counts) and 6 (100); not 19, 1, 0
    good_total = sum(g for g, _ in plan.values())
    assert out["hq_percent"] == pytest.approx(100 * good_total / len(x))
    ref = reference_mode_metrics(x.double().numpy(), means.numpy(), ring.std)
    assert out == pytest.approx(ref, abs=1e-9)


def test_one_d_metrics_against_scipy() -> None:
    target = DATASETS.get("exponential-1d")()
    x = torch.from_numpy(np.random.default_rng(0).exponential(1.3, size=3000)).float()[:, None]
    ours = one_d_metrics(x, target)
    assert ours["ks"] == pytest.approx(stats.kstest(x.numpy().ravel().astype(np.float64), target.cdf).statistic,
                                       abs=1e-12)
    # W1 against a huge sample from the target, with scipy's two-sample implementation
    ref_sample = stats.expon().rvs(size=400_000, random_state=1)
    assert ours["w1"] == pytest.approx(stats.wasserstein_distance(x.numpy().ravel(), ref_sample), abs=0.01)
    assert ours["w1"] > 0.15  # a scale of 1.3 vs 1.0 is visibly wrong (exact W1 = 0.3)


def test_evaluate_toy_rejects_nan() -> None:
    with pytest.raises(ValueError, match="NaN or inf"):
        evaluate_toy(torch.tensor([[float("nan"), 0.0]]), DATASETS.get("ring8")())
