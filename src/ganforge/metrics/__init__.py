"""Metrics: toy-distribution protocols, feature extractors and image metrics (FID, KID, IS, PR, DC)."""

from ganforge.metrics import classifier, inception  # noqa: F401  (registers "mnist-classifier", "inception-fid")
