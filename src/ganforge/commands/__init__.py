"""The CLI commands that do more than a few lines: ``sample``, ``eval``, ``interpolate``, ``translate``,
``train-classifier``, ...

Each module has ``NAME`` (the sub-command), ``add_parser(subparsers)`` and ``run(args) -> int``; ``ganforge.cli``
discovers them (a new command is one new file here) and turns the expected errors into one-line messages.

Owns: argument checks, what each command reads and writes. May import every layer below it (``kinds``, ``training``,
``builder``, ``metrics``, ``data``, ``report``, ...), never ``api`` or ``cli``, which sit above.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType


def command_modules() -> dict[str, ModuleType]:
    """``{sub-command name: module}`` for every module of this package that defines ``NAME``, sorted by name."""
    found = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "NAME") and hasattr(module, "add_parser") and hasattr(module, "run"):
            found[module.NAME] = module
    return dict(sorted(found.items()))
