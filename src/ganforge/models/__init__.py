"""Model families: each module registers a config dataclass whose ``build(spec)`` returns its named networks
(``{"G": ..., "D": ...}``; ``networks`` lists the names). Every module of this package is imported here, so a new
family is one new file (no list to edit).

Owns: ``MODELS`` entries, the generator / discriminator contract (``models.base``), networks that return logits.
May import: ``registry``, ``data`` (``DataSpec``, image resampling) and ``metrics`` (constants a family declares).
"""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")  # registration happens at import
