"""Loss statistics without per-step host syncs, and the sinks they are written to (JSONL, TensorBoard).

``Accumulator.add`` only adds device tensors; ``flush`` reads all of them with one ``.tolist()`` (one CPU-GPU sync
every ``log.every`` steps instead of one per scalar per step).
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ganforge.outputs import write_text


class Accumulator:
    def __init__(self) -> None:
        self.sums: dict[str, Tensor] = {}
        self.counts: dict[str, int] = {}

    def add(self, logs: dict[str, Tensor]) -> None:
        for k, v in logs.items():
            v = v.detach().float()
            self.sums[k] = self.sums[k] + v if k in self.sums else v.clone()
            self.counts[k] = self.counts.get(k, 0) + 1

    def flush(self, reduce: Callable[[Tensor], Tensor] | None = None) -> dict[str, float]:
        """Means since the last flush; the one host sync of a logging interval. ``reduce`` (e.g. the mean over
        data-parallel ranks) is applied to the stacked sums first; every rank must hold the same keys."""
        if not self.sums:
            return {}
        keys = list(self.sums)
        stacked = torch.stack([self.sums[k] for k in keys])
        values = (reduce(stacked) if reduce is not None else stacked).tolist()
        out = {k: v / self.counts[k] for k, v in zip(keys, values, strict=True)}
        self.sums, self.counts = {}, {}
        return out


class MetricsWriter:
    """Appends one JSON object per logged step to ``metrics.jsonl`` (flushed) and mirrors scalars to TensorBoard.

    The one file ganforge appends to rather than replaces (``outputs.atomic_file``): opened with ``O_NOFOLLOW``, so a
    link at ``metrics.jsonl`` is an error (``Run`` refuses it up front, naming it), never written through."""

    def __init__(self, run_dir: Path, tensorboard: bool) -> None:
        self.path = run_dir / "metrics.jsonl"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o666)
        self.fh = os.fdopen(fd, "a")  # closed in close()
        self.tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(run_dir / "tb"))
            except ImportError:
                warnings.warn("tensorboard is not installed; TensorBoard events are off (pip install tensorboard)",
                              stacklevel=2)

    def write(self, step: int, record: dict[str, Any]) -> None:
        self.fh.write(json.dumps({"step": step, **record}) + "\n")
        self.fh.flush()
        if self.tb is not None:
            for k, v in record.items():
                if isinstance(v, (int, float)) and k != "step":
                    self.tb.add_scalar(k, v, step)

    def close(self) -> None:
        self.fh.close()
        if self.tb is not None:
            self.tb.close()


def truncate_metrics(path: Path, last_step: int) -> None:
    """Drop lines logged after ``last_step`` (a resumed run re-logs them), keeping the file consistent."""
    if not path.is_file():
        return
    kept = []
    for line in path.read_text().splitlines():
        try:
            if json.loads(line).get("step", 0) <= last_step:
                kept.append(line)
        except json.JSONDecodeError:
            continue  # a line cut by a kill mid-write
    write_text(path, "".join(line + "\n" for line in kept), "--run-dir")  # atomic: a kill keeps the old file


def read_metrics(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out
