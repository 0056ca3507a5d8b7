"""ganforge: train, evaluate and use GANs. Importing the package registers every model, objective and dataset."""

from __future__ import annotations

__version__ = "0.1.0"
