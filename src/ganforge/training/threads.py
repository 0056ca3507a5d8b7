"""How many CPU threads torch uses for a run (``train.threads``), chosen so that a shared machine is not made slower.

Measured on a 2-core machine under load: ``ganforge train ring8`` ran ~142 ms/step with torch's default threads and
9 ms/step with one (15×): a 17k-parameter MLP has too little work per op to pay for waking threads, and threads that
compete with other jobs for the same cores stall each other. ``auto`` therefore uses
- the thread count the user fixed with ``OMP_NUM_THREADS``, if set (it is the user's explicit choice);
- one thread for models under ``SMALL_MODEL`` parameters (per-op threading overhead outweighs the work);
- otherwise the cores that are free: usable cores minus the 1-minute load average (other runnable jobs), at least 1.
On a GPU the host threads only feed the device: the setting is left alone there unless given explicitly.
"""

from __future__ import annotations

import os

import torch

SMALL_MODEL = 1_000_000  # parameters


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def choose_threads(setting: int | str, n_params: int, device: torch.device) -> tuple[int, str]:
    """(threads, why) for ``train.threads`` = an int or "auto"."""
    if isinstance(setting, int):
        return setting, "train.threads"
    if "OMP_NUM_THREADS" in os.environ:
        return torch.get_num_threads(), "auto: OMP_NUM_THREADS is set"
    if device.type == "cuda":
        return torch.get_num_threads(), "auto: GPU run, host threads unchanged"
    if n_params < SMALL_MODEL:
        return 1, f"auto: small model ({n_params:,} < {SMALL_MODEL:,} parameters)"
    cores = usable_cores()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    free = max(1, min(cores, round(cores - load)))
    return free, f"auto: {free} of {cores} cores free (1-min load {load:.1f})"
