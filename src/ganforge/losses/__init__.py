"""Losses (pure functions of logits), penalties and the objectives that compose them. Every module of this package
is imported here, so a new objective is one new file (no list to edit).

Owns: ``OBJECTIVES`` entries (each a set of phases over named networks). Knows no data kind, run or file layout.
May import: ``registry``, ``models`` (the network contract), ``metrics`` (feature networks of perceptual losses) and
``checkpoint`` (SRGAN's ``init_from`` reads another run's); ``training`` only for annotations.
"""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")  # registration happens at import
