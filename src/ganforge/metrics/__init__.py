"""Metrics: toy-distribution protocols, feature extractors and image metrics (FID, KID, IS, PR, DC)."""

from ganforge.metrics import classifier, evaluate, inception  # noqa: F401  (registers the extractors and METRICS)
