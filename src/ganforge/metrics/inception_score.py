"""Inception Score (Salimans et al. 2016, "Improved Techniques for Training GANs", §4).

    IS = exp( E_x KL( p(y|x) || p(y) ) ),   p(y) = E_x p(y|x)

computed from class probabilities p(y|x) as in the authors' released code (openai/improved-gan,
``inception_score/model.py``): the N samples are cut into ``splits`` consecutive parts
``[i N // splits, (i + 1) N // splits)``, p(y) is the mean over each part, and the score is reported as the mean and
standard deviation (ddof=0) of the per-part scores. Terms with p(y|x) = 0 contribute 0 (0 log 0 = 0).
"""

from __future__ import annotations

import numpy as np
from scipy.special import xlogy

from ganforge.metrics.fid import ArrayLike, as_float64

SPLITS = 10


def inception_score(probs: ArrayLike, splits: int = SPLITS) -> tuple[float, float]:
    """``(mean, std)`` of the Inception Score of softmax probabilities ``probs [N, K]`` over ``splits`` parts.

    The maximum is K (every part confident and all K classes equally frequent); the minimum is 1.
    """
    p = as_float64(probs, "probs")
    n = p.shape[0]
    if splits < 1 or n < splits:
        raise ValueError(f"need at least splits={splits} >= 1 samples, got {n}")
    if (p < 0).any() or not np.allclose(p.sum(axis=1), 1.0, atol=1e-3):
        raise ValueError("probs must be non-negative rows summing to 1 (softmax outputs, not logits)")
    scores = np.empty(splits)
    for i in range(splits):
        part = p[i * n // splits : (i + 1) * n // splits]
        p_y = part.mean(axis=0, keepdims=True)  # marginal class distribution of this part
        # KL(p(y|x) || p(y)) = Σ_y p(y|x) (log p(y|x) - log p(y)); where p(y|x) > 0 we also have p(y) > 0
        kl = xlogy(part, part) - xlogy(part, p_y)
        scores[i] = np.exp(kl.sum(axis=1).mean())
    return float(scores.mean()), float(scores.std())
