"""Tests for ganforge/metrics/image_metrics.py: the METRICS registry behind ``ganforge eval --metrics`` and
``ganforge list metrics``, and ``evaluate`` against the metric functions it wraps."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganforge.cli import main
from ganforge.metrics.fid import feature_statistics, frechet_distance
from ganforge.metrics.image_metrics import ORDER, Metric, evaluate, get_metric, metric_protocol
from ganforge.metrics.inception_score import inception_score
from ganforge.metrics.kid import kid
from ganforge.metrics.prdc import prdc
from ganforge.metrics.reference import ReferenceStats
from ganforge.registry import METRICS

KEYS = {"fid": ("fid",), "kid": ("kid", "kid_std", "kid_subset_size", "kid_subsets"),
        "pr": ("precision", "recall", "precision_k5", "recall_k5"), "dc": ("density", "coverage"),
        "is": ("is", "is_std")}


def data() -> tuple[ReferenceStats, np.ndarray]:
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(40, 6)), rng.normal(0.3, 1.2, size=(30, 6))
    return ReferenceStats.from_features(real), fake


def test_every_metric_is_registered_with_its_record_keys() -> None:
    assert METRICS.names() == sorted(KEYS)
    assert ORDER == ["fid", "kid", "pr", "dc", "is"]
    for name, keys in KEYS.items():
        m = METRICS.get(name)
        assert isinstance(m, Metric)
        assert (m.name, m.keys) == (name, keys)
        assert m.description
    assert [n for n in KEYS if get_metric(n).needs_real_features] == ["kid", "pr", "dc"]
    assert [n for n in KEYS if get_metric(n).needs_probabilities] == ["is"]
    with pytest.raises(KeyError, match="unknown metric 'bogus'; choose from: dc, fid, is, kid, pr"):
        get_metric("bogus")


def test_evaluate_equals_the_metric_functions() -> None:
    """Bit-identical to calling fid / kid / prdc / inception_score directly (what `ganforge eval` did before)."""
    reference, fake = data()
    probs = torch.softmax(torch.randn(30, 10, generator=torch.Generator().manual_seed(1)), 1)
    out = evaluate(["is", "dc", "fid", "pr", "kid"], reference, fake, seed=3, probabilities=lambda: probs)
    assert list(out) == [k for n in ORDER for k in KEYS[n]]  # registration order, whatever the request order
    mu, sigma = feature_statistics(fake)
    assert out["fid"] == frechet_distance(reference.mu, reference.sigma, mu, sigma)
    assert (out["kid"], out["kid_std"]) == kid(reference.features, fake, seed=3)
    assert (out["kid_subset_size"], out["kid_subsets"]) == (30, 100)  # clipped to the 30 fakes: said in the record
    assert {k: out[k] for k in ("precision", "recall", "density", "coverage")} == prdc(reference.features, fake)
    k5 = prdc(reference.features, fake, k_pr=5)
    assert (out["precision_k5"], out["recall_k5"]) == (k5["precision"], k5["recall"])  # the prdc package's k
    assert (out["is"], out["is_std"]) == inception_score(probs, splits=10)
    assert list(evaluate(["dc"], reference, fake)) == ["density", "coverage"]


def test_is_without_probabilities_and_protocol() -> None:
    reference, fake = data()
    with pytest.raises(ValueError, match="class probabilities"):
        evaluate(["is"], reference, fake)
    assert metric_protocol(30, 40, 7) == {"kid": {"subsets": 100, "subset_size": 30, "standard_subset_size": 1000,
                                                  "seed": 7},
                                          "prdc": {"k_pr": 3, "k_dc": 5, "pr_also_at_k": [5]}, "is_splits": 10}
    assert metric_protocol(30, 40, 7, k_pr=5)["prdc"] == {"k_pr": 5, "k_dc": 5, "pr_also_at_k": [3]}


def test_list_metrics_reads_the_registry(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "metrics"]) == 0
    assert capsys.readouterr().out.strip() == f"metrics: {', '.join(METRICS.names())}"
