"""Metrics: toy-distribution protocols, feature extractors and image metrics (FID, KID, IS, PR, DC)."""
