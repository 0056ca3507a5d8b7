"""ganforge: train, evaluate and use GANs — a CLI (``ganforge train|sample|eval|...``) and a Python API.

The API (``ganforge.api``) is re-exported lazily (PEP 562 module ``__getattr__``): ``import ganforge`` and
``ganforge --version`` import no torch; the first use of ``ganforge.train`` / ``load`` / ``evaluate`` / ``CTGAN`` /
``TadGAN`` / ``Model`` / ``Run`` imports it.

Layers, bottom to top (each may import the ones below; the exceptions are listed, with reasons, in
tests/test_layering.py): registry, lazy, outputs, options -> config -> data -> metrics, viz -> models -> losses ->
sampling -> builder -> training -> kinds -> report -> commands -> api -> cli.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_API = ("train", "load", "evaluate", "resolve", "Model", "Run", "CTGAN", "TadGAN")
__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    if name in _API:
        from ganforge import api

        return getattr(api, name)
    raise AttributeError(f"module 'ganforge' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])
