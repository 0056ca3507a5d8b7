"""Metrics: pure numbers from samples and features — toy-distribution protocols, the feature extractors
(``FEATURES``: Inception, the shipped MNIST classifier), the image metrics of ``ganforge eval`` (``METRICS``, in
``image_metrics``: FID, KID, IS, PR, DC) and the table, series, field, track and translation metrics.

Owns: ``FEATURES`` and ``METRICS`` entries, reference-statistics caching. Knows no run, trainer or data kind.
May import: ``registry``, ``lazy``, ``outputs`` and ``data`` (reference images, the toy targets' definitions).
"""

from ganforge.metrics import classifier, image_metrics, inception  # noqa: F401  (registers the extractors and METRICS)
