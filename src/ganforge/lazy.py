"""Heavy optional modules imported on first use, so that a CLI call or a training run that never touches a table
does not pay for (or start the threads of) pandas and pyarrow: ``from ganforge.lazy import pandas as pd``."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class LazyModule:
    """Stands for module ``name``; the first attribute access imports it (``pd.DataFrame`` works as usual)."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attr: str) -> Any:
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return getattr(self._module, attr)


pandas: Any = LazyModule("pandas")
