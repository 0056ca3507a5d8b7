"""A small explicit registry: one instance per extension point (models, objectives, datasets, ...).

Registration happens at import time, next to the definition (``@MODELS.register("dcgan")``). Nothing else here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps a human name (kebab-case) to an object; unknown names raise a one-line error listing the choices."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def deco(obj: T) -> T:
            if name in self._entries:
                raise ValueError(f"duplicate {self.kind} name {name!r}")
            self._entries[name] = obj
            return obj

        return deco

    def get(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            raise KeyError(f"unknown {self.kind} {name!r}; choose from: {', '.join(sorted(self._entries))}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._entries))

    def names(self) -> list[str]:
        return sorted(self._entries)


MODELS: Registry = Registry("model")
OBJECTIVES: Registry = Registry("objective")
DATASETS: Registry = Registry("dataset")
METRICS: Registry = Registry("metric")
FEATURES: Registry = Registry("feature extractor")
RUN_HOOKS: Registry = Registry("data kind")  # data kind -> samples / evaluation / plots of a run (ganforge.kinds)


_IMPORTED: set[str] = set()


def import_package_modules(package: str, path: list[str]) -> None:
    """Import every module of ``package`` (its ``__path__``), once: registration happens at import, so a new
    dataset, data kind, family or objective is one new file and no list to edit."""
    import importlib
    import pkgutil

    if package in _IMPORTED:
        return
    for module in pkgutil.iter_modules(path):
        importlib.import_module(f"{package}.{module.name}")
    _IMPORTED.add(package)

