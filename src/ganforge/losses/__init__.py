"""Losses (pure functions of logits), penalties and the objectives that compose them. Every module of this package
is imported here, so a new objective is one new file (no list to edit)."""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")  # registration happens at import
