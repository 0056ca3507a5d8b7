"""Tests for ganforge/metrics/inception_score.py (Salimans et al. 2016)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganforge.metrics.inception_score import inception_score

# ---- The reference implementation (openai/improved-gan, inception_score/model.py), re-written with NumPy ---------


def ref_inception_score(preds: np.ndarray, splits: int = 10) -> tuple[float, float]:
    scores = []
    for i in range(splits):
        part = preds[(i * preds.shape[0] // splits) : ((i + 1) * preds.shape[0] // splits), :]
        kl = part * (np.log(part) - np.log(np.expand_dims(np.mean(part, 0), 0)))
        kl = np.mean(np.sum(kl, 1))
        scores.append(np.exp(kl))
    return float(np.mean(scores)), float(np.std(scores))


def softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# ---- Tests -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "splits", "temperature"), [(100, 10, 1.0), (103, 10, 0.3), (57, 4, 2.0)])
def test_matches_reference(n, splits, temperature):
    probs = softmax(np.random.default_rng(n).normal(size=(n, 12)) / temperature)
    mean, std = inception_score(probs, splits)
    ref_mean, ref_std = ref_inception_score(probs, splits)
    assert mean == pytest.approx(ref_mean, rel=1e-6)
    assert std == pytest.approx(ref_std, rel=1e-6)
    assert inception_score(torch.from_numpy(probs).float(), splits)[0] == pytest.approx(ref_mean, rel=1e-5)


def test_uniform_confident_predictions_score_num_classes():
    k = 7
    probs = np.eye(k)[np.arange(10 * 3 * k) % k]  # one-hot, every class equally often in each of the 10 splits
    mean, std = inception_score(probs)
    assert mean == pytest.approx(k, rel=1e-12)
    assert std == pytest.approx(0.0, abs=1e-12)


def test_collapsed_or_unsure_predictions_score_one():
    assert inception_score(np.eye(5)[np.zeros(50, dtype=int)])[0] == pytest.approx(1.0)  # one class only
    assert inception_score(np.full((50, 5), 0.2))[0] == pytest.approx(1.0)  # no confidence


def test_errors():
    with pytest.raises(ValueError, match="logits"):
        inception_score(np.random.default_rng(0).normal(size=(20, 3)))
    with pytest.raises(ValueError, match="at least splits"):
        inception_score(np.full((5, 2), 0.5))
