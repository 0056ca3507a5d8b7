"""The image metrics of ``ganforge eval``, one ``METRICS`` entry each: what it computes, the record keys it writes and
what it needs. ``ganforge eval --metrics`` and ``ganforge list metrics`` read this registry and nothing else.

=====  =====================  ===============================================================================
name   record keys            computes (from extractor features of fake images vs the cached real reference)
=====  =====================  ===============================================================================
fid    fid                    Fréchet distance of the feature Gaussians (Heusel et al. 2017)
kid    kid, kid_std           unbiased MMD² (cubic kernel) over ``N_SUBSETS`` subset pairs (Bińkowski et al. 2018)
pr     precision, recall      k-NN manifolds, k = ``K_PR`` (Kynkäänniemi et al. 2019)
dc     density, coverage      k-NN manifolds, k = ``K_DC`` (Naeem et al. 2020)
is     is, is_std             Inception Score from the extractor's class probabilities, ``SPLITS`` splits
=====  =====================  ===============================================================================

``evaluate`` computes the requested ones in this (registration) order, so a record's keys have a fixed order; pr
and dc share one k-NN computation.
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
from ganforge.metrics.kid import N_SUBSETS, SUBSET_SIZE, kid
from ganforge.metrics.prdc import K_DC, K_PR, prdc
from ganforge.registry import METRICS


@dataclass
class MetricInputs:
    """What a metric reads: the real reference (``mu``, ``sigma``, optional ``features``), the fake features
    ``[n, D]``, the seed (KID subsets) and, for IS, a callable giving class probabilities ``[n, K]`` of the fakes."""

    reference: Any  # metrics.reference.ReferenceStats (or anything with mu, sigma, features)
    fake_features: np.ndarray
    seed: int = 0
    probabilities: Callable[[], Tensor | np.ndarray] | None = None
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    def prdc(self) -> dict[str, float]:
        """precision/recall/density/coverage, computed once for pr and dc."""
        if "prdc" not in self._cache:
            self._cache["prdc"] = prdc(self.reference.features, self.fake_features)
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
    return {"kid": mean, "kid_std": std}


def _is(inp: MetricInputs) -> dict[str, float]:
    if inp.probabilities is None:
        raise ValueError("metric 'is' needs class probabilities of the fake images")
    probs = inp.probabilities()
    mean, std = inception_score(probs, splits=min(IS_SPLITS, probs.shape[0]))
    return {"is": mean, "is_std": std}


def _prdc_part(keys: tuple[str, ...]) -> Callable[[MetricInputs], dict[str, float]]:
    return lambda inp: {k: inp.prdc()[k] for k in keys}


FID = _register(Metric("fid", ("fid",), "Fréchet distance of the feature Gaussians", _fid))
KID = _register(Metric("kid", ("kid", "kid_std"), f"kernel inception distance, {N_SUBSETS} subsets", _kid,
                       needs_real_features=True))
PR = _register(Metric("pr", ("precision", "recall"), f"k-NN precision and recall, k = {K_PR}",
                      _prdc_part(("precision", "recall")), needs_real_features=True, min_images=max(K_PR, K_DC) + 1))
DC = _register(Metric("dc", ("density", "coverage"), f"k-NN density and coverage, k = {K_DC}",
                      _prdc_part(("density", "coverage")), needs_real_features=True, min_images=max(K_PR, K_DC) + 1))
IS = _register(Metric("is", ("is", "is_std"), f"Inception Score over {IS_SPLITS} splits", _is,
                      needs_probabilities=True))


def get_metric(name: str) -> Metric:
    """The registered metric; unknown names raise ``KeyError`` with the registry's one-line message."""
    return METRICS.get(name)


def evaluate(names: Iterable[str], reference: Any, fake_features: np.ndarray, seed: int = 0,
             probabilities: Callable[[], Tensor | np.ndarray] | None = None) -> dict[str, float]:
    """The values of the metrics ``names`` (registered names), keys in registration order (see the table above)."""
    wanted = {get_metric(n).name for n in names}
    inputs = MetricInputs(reference, fake_features, seed, probabilities)
    values: dict[str, float] = {}
    for name in ORDER:
        if name in wanted:
            values.update(get_metric(name).compute(inputs))
    return values


def metric_protocol(n_fake: int, n_real: int, seed: int) -> dict[str, Any]:
    """The metrics' settings for a record's ``protocol``."""
    return {"kid": {"subsets": N_SUBSETS, "subset_size": min(SUBSET_SIZE, n_fake, n_real), "seed": seed},
            "prdc": {"k_pr": K_PR, "k_dc": K_DC}, "is_splits": min(IS_SPLITS, n_fake)}
