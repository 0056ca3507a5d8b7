"""Metrics for the toy targets: the VEEGAN/PacGAN mode protocol in 2-D, KS and Wasserstein-1 in 1-D.

2-D protocol (Srivastava et al. 2017, §5.1; Lin et al. 2018, §5.1 and their released code): 2,500 generated samples;
each is assigned to its nearest mode and is *high quality* if within 3 standard deviations of it; a mode is *covered*
if at least one high-quality sample is assigned to it; the *reverse KL* is KL(p_gen ‖ uniform) over the histogram of
high-quality samples per mode (0 for a perfectly balanced generator, log K if one mode takes everything).
``modes_20`` is the stricter count: a mode is covered only with at least ``STRICT_MIN_SAMPLES`` = 20 high-quality
samples (of the 2,500), so a handful of stray points near a mode the generator has dropped no longer counts as
coverage (a uniform generator puts 312 samples on each ring mode and 100 on each grid mode).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy import stats
from torch import Tensor

from ganforge.data.toy import Distribution, Distribution1D, GaussianMixture2D

N_EVAL = 2500  # samples per evaluation, as in the PacGAN code
STRICT_MIN_SAMPLES = 20  # high-quality samples a mode needs to count in ``modes_20``


def mode_metrics(samples: Tensor, means: Tensor, std: float, threshold: float = 3.0) -> dict[str, float]:
    """Modes covered, % high-quality samples and reverse KL for ``samples [N, 2]`` against ``means [K, 2]``.

    ``modes`` counts modes with at least one high-quality sample (the VEEGAN / PacGAN rule), ``modes_20`` those with
    at least ``STRICT_MIN_SAMPLES`` (20).
    """
    samples = samples.detach().double().cpu()
    means = means.double().cpu()
    dist = torch.cdist(samples, means)  # [N, K]
    nearest_dist, nearest = dist.min(1)
    hq = nearest_dist <= threshold * std
    counts = torch.bincount(nearest[hq], minlength=len(means)).double()  # [K] high-quality samples per mode
    covered = int((counts > 0).sum())
    if counts.sum() > 0:
        p = counts / counts.sum()
        nz = p > 0
        reverse_kl = float((p[nz] * (p[nz] * len(means)).log()).sum())
    else:
        reverse_kl = math.log(len(means))  # no high-quality sample: report the worst value, not NaN
    return {"modes": float(covered), "hq_percent": 100.0 * float(hq.double().mean()), "reverse_kl": reverse_kl,
            "modes_20": float((counts >= STRICT_MIN_SAMPLES).sum())}


def one_d_metrics(samples: Tensor, target: Distribution1D) -> dict[str, float]:
    """Kolmogorov–Smirnov statistic against the analytic cdf and Wasserstein-1 distance to the target."""
    x = np.sort(samples.detach().double().cpu().numpy().ravel())
    ks = float(stats.kstest(x, target.cdf).statistic)
    # W1 = ∫ |F_n(t) − F(t)| dt: compare the sample quantiles with the target's quantiles at the same levels
    u = (np.arange(len(x)) + 0.5) / len(x)
    w1 = float(np.mean(np.abs(x - target.ppf(u))))
    return {"ks": ks, "w1": w1}


def evaluate_toy(samples: Tensor, target: Distribution) -> dict[str, float]:
    """The metrics that fit ``target`` (2-D mixtures: mode protocol; 1-D: KS and W1)."""
    if not torch.isfinite(samples).all():
        raise ValueError("generated samples contain NaN or inf; the generator has diverged")
    if isinstance(target, GaussianMixture2D):
        return mode_metrics(samples, target.means, target.std)
    if isinstance(target, Distribution1D):
        return one_d_metrics(samples, target)
    raise TypeError(f"no toy metrics for {type(target).__name__}")
