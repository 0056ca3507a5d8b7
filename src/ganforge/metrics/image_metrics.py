"""The image metrics of ``ganforge eval``, one ``METRICS`` entry each: what it computes, the record keys it writes and
what it needs. ``ganforge eval --metrics`` and ``ganforge list metrics`` read this registry and nothing else.

=====  ===============================  ===========================================================================
name   record keys                      computes (from extractor features of fake images vs the cached reference)
=====  ===============================  ===========================================================================
fid    fid                              Fréchet distance of the feature Gaussians (Heusel et al. 2017)
kid    kid, kid_std, kid_subset_size,   unbiased MMD² (cubic kernel) over ``N_SUBSETS`` subset pairs of
       kid_subsets                      ``SUBSET_SIZE`` images, fewer when n is smaller (Bińkowski et al. 2018)
pr     precision, recall,               k-NN manifolds, k = ``k_pr`` (default ``K_PR`` = 3, Kynkäänniemi et al.
       precision_k5, recall_k5          2019), and at the other k of ``PR_REPORTED_KS`` (5: the prdc package's)
dc     density, coverage                k-NN manifolds, k = ``k_dc`` (default ``K_DC`` = 5, Naeem et al. 2020)
is     is, is_std                       Inception Score from the extractor's class probabilities, ``SPLITS`` splits
=====  ===============================  ===========================================================================

``evaluate`` computes the requested ones in this (registration) order, so a record's keys have a fixed order; pr
and dc share one k-NN computation. ``metric_protocol`` gives their settings and ``metric_warnings`` the one-line
caveats (n-dependence of FID, a KID subset smaller than the standard) that go next to the figures.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from torch import Tensor

from ganforge.metrics.fid import feature_statistics, frechet_distance
from ganforge.metrics.inception_score import SPLITS as IS_SPLITS
from ganforge.metrics.inception_score import inception_score
from ganforge.metrics.kid import N_SUBSETS, SUBSET_SIZE, effective_subset_size, kid
from ganforge.metrics.prdc import K_DC, K_PR, prdc
from ganforge.registry import METRICS

PR_REPORTED_KS = (K_PR, K_DC)  # precision/recall are always reported at the paper's k = 3 and the prdc package's 5
FID_PROTOCOL_N = 50_000  # fid50k_full: 50k generated images vs every training image (StyleGAN's metric name)


@dataclass
class MetricInputs:
    """What a metric reads: the real reference (``mu``, ``sigma``, optional ``features``), the fake features
    ``[n, D]``, the seed (KID subsets) and, for IS, a callable giving class probabilities ``[n, K]`` of the fakes."""

    reference: Any  # metrics.reference.ReferenceStats (or anything with mu, sigma, features)
    fake_features: np.ndarray
    seed: int = 0
    probabilities: Callable[[], Tensor | np.ndarray] | None = None
    k_pr: int = K_PR
    k_dc: int = K_DC
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    def prdc(self) -> dict[str, float]:
        """precision/recall (k_pr, and the other ``PR_REPORTED_KS``)/density/coverage, computed once for pr and dc."""
        if "prdc" not in self._cache:
            self._cache["prdc"] = prdc(self.reference.features, self.fake_features, self.k_pr, self.k_dc,
                                       also_pr_at=PR_REPORTED_KS)
        return self._cache["prdc"]


@dataclass(frozen=True)
class Metric:
    """One ``--metrics`` choice."""

    name: str
    keys: tuple[str, ...]  # what it adds to the record's "metrics"
    description: str
    compute: Callable[[MetricInputs], dict[str, float]]
    needs_real_features: bool = False  # the reference must keep its features (n <= MAX_STORED_FEATURES)
    needs_probabilities: bool = False  # the extractor must give class probabilities (mnist-classifier)
    min_images: int = 2  # fake and real images it needs at least


ORDER: list[str] = []  # registration order = the order of keys in a record


def _register(metric: Metric) -> Metric:
    METRICS.register(metric.name)(metric)
    ORDER.append(metric.name)
    return metric


def _fid(inp: MetricInputs) -> dict[str, float]:
    mu, sigma = feature_statistics(inp.fake_features)
    return {"fid": frechet_distance(inp.reference.mu, inp.reference.sigma, mu, sigma)}


def _kid(inp: MetricInputs) -> dict[str, float]:
    mean, std = kid(inp.reference.features, inp.fake_features, seed=inp.seed)
    m = effective_subset_size(len(inp.reference.features), len(inp.fake_features))
    return {"kid": mean, "kid_std": std, "kid_subset_size": m, "kid_subsets": N_SUBSETS}


def _is(inp: MetricInputs) -> dict[str, float]:
    if inp.probabilities is None:
        raise ValueError("metric 'is' needs class probabilities of the fake images")
    probs = inp.probabilities()
    mean, std = inception_score(probs, splits=min(IS_SPLITS, probs.shape[0]))
    return {"is": mean, "is_std": std}


def _prdc_part(keys: tuple[str, ...]) -> Callable[[MetricInputs], dict[str, float]]:
    return lambda inp: {k: inp.prdc()[k] for k in keys}


def _pr(inp: MetricInputs) -> dict[str, float]:
    out = inp.prdc()
    extra = [k for k in PR_REPORTED_KS if k != inp.k_pr]
    return {"precision": out["precision"], "recall": out["recall"],
            **{f"{m}_k{k}": out[f"{m}_k{k}"] for k in extra for m in ("precision", "recall")}}


FID = _register(Metric("fid", ("fid",), "Fréchet distance of the feature Gaussians", _fid))
KID = _register(Metric("kid", ("kid", "kid_std", "kid_subset_size", "kid_subsets"),
                       f"kernel inception distance, {N_SUBSETS} subsets of {SUBSET_SIZE}", _kid,
                       needs_real_features=True))
PR = _register(Metric("pr", ("precision", "recall", f"precision_k{K_DC}", f"recall_k{K_DC}"),
                      f"k-NN precision and recall, k = {K_PR} (--k-pr; also at k = {K_DC}, the prdc package's)", _pr,
                      needs_real_features=True, min_images=max(K_PR, K_DC) + 1))
DC = _register(Metric("dc", ("density", "coverage"), f"k-NN density and coverage, k = {K_DC} (--k-dc)",
                      _prdc_part(("density", "coverage")), needs_real_features=True, min_images=max(K_PR, K_DC) + 1))
IS = _register(Metric("is", ("is", "is_std"), f"Inception Score over {IS_SPLITS} splits", _is,
                      needs_probabilities=True))


def get_metric(name: str) -> Metric:
    """The registered metric; unknown names raise ``KeyError`` with the registry's one-line message."""
    return METRICS.get(name)


def min_images(name: str, k_pr: int = K_PR, k_dc: int = K_DC) -> int:
    """Fake and real images metric ``name`` needs at least: k + 1 for every k its k-NN balls use."""
    metric = get_metric(name)
    if metric.name in ("pr", "dc"):
        return max(k_pr, k_dc, *PR_REPORTED_KS) + 1
    return metric.min_images


def evaluate(names: Iterable[str], reference: Any, fake_features: np.ndarray, seed: int = 0,
             probabilities: Callable[[], Tensor | np.ndarray] | None = None, k_pr: int = K_PR,
             k_dc: int = K_DC) -> dict[str, float]:
    """The values of the metrics ``names`` (registered names), keys in registration order (see the table above)."""
    wanted = {get_metric(n).name for n in names}
    inputs = MetricInputs(reference, fake_features, seed, probabilities, k_pr, k_dc)
    values: dict[str, float] = {}
    for name in ORDER:
        if name in wanted:
            values.update(get_metric(name).compute(inputs))
    return values


def metric_protocol(n_fake: int, n_real: int, seed: int, k_pr: int = K_PR, k_dc: int = K_DC) -> dict[str, Any]:
    """The metrics' settings for a record's ``protocol``."""
    return {"kid": {"subsets": N_SUBSETS, "subset_size": effective_subset_size(n_fake, n_real),
                    "standard_subset_size": SUBSET_SIZE, "seed": seed},
            "prdc": {"k_pr": k_pr, "k_dc": k_dc, "pr_also_at_k": [k for k in PR_REPORTED_KS if k != k_pr]},
            "is_splits": min(IS_SPLITS, n_fake)}


def fid_protocol_name(n_fake: int, n_real: int, split: str, split_size: int) -> str:
    """``fid50k_full`` (StyleGAN's name: 50,000 generated images vs every image of the training split) when the
    figure follows it, else ``custom``."""
    full = split == "train" and n_real == split_size
    return "fid50k_full" if n_fake == FID_PROTOCOL_N and full else "custom"


def metric_warnings(names: Iterable[str], n_fake: int, n_real: int) -> dict[str, str]:
    """One-line caveats for the figures of ``names`` at these sizes, by metric (empty when there are none): FID's
    dependence on n below the published 50k, and KID subsets shrunk below ``SUBSET_SIZE`` or holding a whole set
    (a std over subsets that measures nothing)."""
    wanted = {get_metric(n).name for n in names}
    out: dict[str, str] = {}
    if "fid" in wanted and min(n_fake, n_real) < FID_PROTOCOL_N:
        out["fid"] = (f"FID depends on n (biased upward, more at small n): this one ({n_fake} fake vs {n_real} real) "
                   f"compares only with FIDs at the same n_fake and n_real; published figures use fid50k_full "
                   f"({FID_PROTOCOL_N} fake vs the whole training set: --protocol fid50k_full)")
    m = effective_subset_size(n_fake, n_real)
    if "kid" in wanted and (m < SUBSET_SIZE or m == min(n_fake, n_real)):
        parts = []
        if m < SUBSET_SIZE:
            parts.append(f"KID subsets shrunk to {m} images (standard {SUBSET_SIZE}; n_fake {n_fake}, n_real "
                         f"{n_real}): kid is not comparable with KID at subset size {SUBSET_SIZE}")
        if m == min(n_fake, n_real):
            parts.append(f"{'every' if m < SUBSET_SIZE else 'KID: every'} subset holds all {m} "
                         f"{'fake' if n_fake <= n_real else 'real'} images, so kid_std (the spread over subsets) "
                         + ("is ~0, not an uncertainty" if n_fake == n_real else "understates the uncertainty"))
        out["kid"] = "; ".join(parts) + f"; use --n (and real images) well above {SUBSET_SIZE}"
    return out
