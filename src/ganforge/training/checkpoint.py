"""Checkpoints that hold the whole training state, written atomically and loaded with ``weights_only=True``.

A kill mid-write never corrupts the last good checkpoint: ``outputs.atomic_file`` writes a unique temporary then
``os.replace``s it; ``remove_partial`` deletes what a kill left.
"""

from __future__ import annotations

import random
import re
import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganforge.outputs import OutputError, atomic_file


class CheckpointError(RuntimeError):
    """A checkpoint that is missing, unreadable or belongs to another model."""


def save_atomic(state: dict[str, Any], path: Path) -> None:
    """``torch.save`` through ``outputs.atomic_file`` (a unique ``.NAME.XXXX.partial.pt`` temporary, fsync, rename):
    ``path`` is either the old file or the new one, never half, and two writers never share a temporary.

    ``torch.save`` writes to an open handle, so the zip archive's inner folder is ``archive/`` whatever the temporary
    is called (given a path it is named after the file): the bytes do not depend on the random temporary name."""
    try:
        with atomic_file(path, "--run-dir") as tmp, open(tmp, "wb") as fh:
            torch.save(state, fh)
    except OutputError as exc:
        raise _write_failed(path, exc) from None
    except RuntimeError as exc:  # torch's zip writer reports a full disk as a RuntimeError (the temporary is gone)
        raise _write_failed(path, exc) from None


def copy_atomic(src: Path, dst: Path) -> None:
    """Copy ``src`` to ``dst`` through ``outputs.atomic_file`` (numbered and best checkpoints are copies of
    latest.pt)."""
    try:
        with atomic_file(dst, "--run-dir") as tmp:
            shutil.copyfile(src, tmp)
    except OutputError as exc:
        raise _write_failed(dst, exc) from None


def _write_failed(path: Path, exc: BaseException) -> CheckpointError:
    """Say what is intact and what to do (``atomic_file`` already removed the partial temporary)."""
    why = (getattr(exc, "reason", None) or first_line(exc))
    kept = f"the previous {path.name} is intact" if path.exists() else f"no {path.name} was written"
    return CheckpointError(f"could not write checkpoint {str(path)!r} ({why}); {kept}. Free disk space or fix the "
                           "folder's permissions, then continue with --resume latest")


CHECKPOINT_NAME = r"(latest|best|step-\d+)\.pt"  # the checkpoint files ganforge writes (and --overwrite deletes)
# temporaries a killed save leaves: ``atomic_file``'s ``.latest.XXXXXXXX.partial.pt`` (mkstemp's random part is
# letters, digits and ``_``), and the fixed ``latest.pt.tmp`` of ganforge versions before it
TMP_PATTERN = re.compile(r"\.(latest|best|step-\d+)\.[A-Za-z0-9_]+\.partial\.pt|" + CHECKPOINT_NAME + r"\.tmp")


def remove_partial(folder: Path) -> list[Path]:
    """Delete the temporaries a killed save left behind (only ganforge's own names, ``TMP_PATTERN``; never a link's
    target: a link is removed as a link); returns them."""
    found = sorted(p for p in folder.iterdir() if TMP_PATTERN.fullmatch(p.name)) if folder.is_dir() else []
    for p in found:
        p.unlink(missing_ok=True)
    return found


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    if not path.is_file():
        raise CheckpointError(f"checkpoint {str(path)!r} not found; pass an existing .pt file or --resume latest")
    try:
        # torch warns about legacy (non-zip) pickles before failing on them: the one-line error below says it all
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # a damaged file can raise anything (KeyError, EOFError, BadZipFile, ...)
        raise CheckpointError(
            f"checkpoint {str(path)!r} is corrupt or not a ganforge checkpoint ({first_line(exc)}); "
            "resume from another file in checkpoints/ or start a new run"
        ) from None
    if not isinstance(state, dict) or "models" not in state or "config" not in state:
        raise CheckpointError(f"checkpoint {str(path)!r} is not a ganforge checkpoint (no models/config entries)")
    return state


def first_line(exc: BaseException) -> str:
    """The first non-empty line of an exception's message (whole: a cut cause hides the fix), else its type."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def numbered_checkpoints(folder: Path) -> list[Path]:
    """``step-000123.pt`` files sorted by step."""
    found = [(int(m.group(1)), p) for p in folder.glob("step-*.pt") if (m := re.fullmatch(r"step-(\d+)\.pt", p.name))]
    return [p for _, p in sorted(found)]


def prune(folder: Path, keep: int) -> None:
    for p in numbered_checkpoints(folder)[: max(0, len(numbered_checkpoints(folder)) - keep)]:
        p.unlink(missing_ok=True)


# ---- RNG state (python, numpy, torch CPU, CUDA) as tensors/primitives so weights_only loading accepts it -------


def rng_state() -> dict[str, Any]:
    np_state = np.random.get_state()  # noqa: NPY002  (the legacy global RNG is what users' code seeds)
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": (np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *[_plain(v) for v in np_state[2:]]),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(_tuplify(state["python"]))
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), *rest))  # noqa: NPY002
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _tuplify(v: Any) -> Any:
    return tuple(_tuplify(x) for x in v) if isinstance(v, (list, tuple)) else v


def diff_configs(a: Any, b: Any, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two nested dicts."""
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for k in sorted(set(a) | set(b)):
            out += diff_configs(a.get(k), b.get(k), f"{prefix}.{k}" if prefix else str(k))
        return out
    norm = lambda v: list(v) if isinstance(v, tuple) else v  # noqa: E731
    return [] if norm(a) == norm(b) else [prefix]
