"""Checkpoints that hold the whole training state, written atomically and loaded with ``weights_only=True``.

``Checkpoint`` owns the layout: it is the one place that builds (``Checkpoint.of_run``), writes (``save``), validates
(``load``: types, ranges, data kind vs the run's data; ``check_format`` on resume) and reads (``config``, ``spec``,
``kind``, ``step``, ``weights``) a checkpoint. Nothing else indexes the saved dict.

A kill mid-write never corrupts the last good checkpoint: ``outputs.atomic_file`` writes a unique temporary then
``os.replace``s it; ``remove_partial`` deletes what a kill left.

It sits just above ``data`` (it imports ``outputs`` and ``data``, for the spec and the data kinds): the run
(``training``) writes and resumes checkpoints, the commands read them, and an objective may read another run's
(SRGAN's ``init_from``).
"""

from __future__ import annotations

import random
import re
import shutil
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganforge.outputs import OutputError, atomic_file

# bumped when the saved state changes shape (2: LambdaLR schedulers, best metric; 3: networks, optimiser groups,
# schedulers and EMA copies keyed by name, objective state)
CHECKPOINT_FORMAT = 3


class CheckpointError(RuntimeError):
    """A checkpoint that is missing, unreadable or belongs to another model."""


class Checkpoint(Mapping[str, Any]):
    """One saved training state and the only reader of its layout::

        {"format": 3, "versions": {...}, "config": RunConfig.to_dict(),
         "spec": {"shape": [...], "num_classes": K, "kind": "image", "fields": {name: shape}},
         "models": {name: state_dict, "<name>_ema": state_dict}, "trainer": Trainer.state_dict(),
         "rng_global": rng_state()}

    ``Checkpoint.load`` validates everything the loaders read before the networks do (``validate_state``). It is
    also a read-only ``Mapping`` over the saved dict, for readers not yet moved to its properties."""

    def __init__(self, state: dict[str, Any], path: Path | None = None) -> None:
        self.state, self.path = state, path

    # ---- build, write, load --------------------------------------------------------------------------------
    @classmethod
    def of_run(cls, *, config: dict[str, Any], spec: Any, kind: str, models: dict[str, Any],
               ema: dict[str, Any], trainer: dict[str, Any]) -> Checkpoint:
        """A run's state: ``spec`` a ``DataSpec``; ``models``/``ema`` the state dicts of the networks and their EMA
        copies by network name; ``trainer`` ``Trainer.state_dict()``. The global RNG state is taken now."""
        import ganforge

        weights = dict(models)
        weights.update({f"{name}_ema": sd for name, sd in ema.items()})
        return cls({
            "format": CHECKPOINT_FORMAT,
            "versions": {"ganforge": ganforge.__version__, "torch": str(torch.__version__)},
            "config": config,
            "spec": {"shape": list(spec.shape), "num_classes": spec.num_classes, "kind": kind,
                     "fields": {k: list(v) for k, v in spec.fields.items()}},
            "models": weights,  # every network by name, and "<name>_ema" for its EMA copy
            "trainer": trainer,
            "rng_global": rng_state(),
        })

    @classmethod
    def load(cls, path: Path, map_location: str | torch.device = "cpu") -> Checkpoint:
        """Read and validate ``path`` (one-line ``CheckpointError`` for a missing, corrupt or tampered file)."""
        return cls(load_checkpoint(path, map_location), Path(path))

    def save(self, path: Path) -> None:
        """Write atomically (``save_atomic``): ``path`` is the old file or the new one, never half."""
        save_atomic(self.state, path)

    def check_format(self) -> None:
        """Resuming needs this version's layout (loading weights for sampling does not: names and shapes are checked
        when they load)."""
        found = self.state.get("format")
        if found != CHECKPOINT_FORMAT:
            raise CheckpointError(f"checkpoint format {found} was written by another ganforge version (this one "
                                  f"reads format {CHECKPOINT_FORMAT}); resume with that version or start a new "
                                  "--run-dir")

    # ---- what the readers ask --------------------------------------------------------------------------------
    @property
    def config(self) -> dict[str, Any]:
        """The run's config as a mapping, with today's keys (``config.upgrade_saved``: an older run's renamed keys,
        e.g. ``log.eval_samples`` -> ``log.eval_samples``)."""
        from ganforge.config import upgrade_saved

        return upgrade_saved(self.state["config"])

    @property
    def models(self) -> dict[str, Any]:
        return self.state["models"]

    @property
    def trainer(self) -> dict[str, Any] | None:
        """``Trainer.state_dict()``; None in a weights-only file."""
        return self.state.get("trainer")

    @property
    def step(self) -> int:
        """The training step it was saved at (0 for a weights-only file)."""
        return int((self.trainer or {}).get("step", 0))

    @property
    def kind(self) -> str:
        """The data kind of the run (picks ``sample``'s writers and ``eval``'s metrics)."""
        return str(self.state.get("spec", {}).get("kind", "default"))

    @property
    def shape(self) -> list[int]:
        """The saved sample shape (``[]`` when the file has no spec)."""
        return list(self.state.get("spec", {}).get("shape", []))

    @property
    def spec(self) -> Any:
        """The ``DataSpec`` the networks are rebuilt from; a file without one is refused in one line."""
        from ganforge.data.base import DataSpec

        spec = self.state.get("spec")
        if spec is None:
            raise _mismatch(Path(str(self.path)), "it has no data spec to rebuild the networks from")
        return DataSpec(shape=tuple(spec["shape"]), num_classes=int(spec["num_classes"]),
                        fields={k: tuple(v) for k, v in spec.get("fields", {}).items()})

    def has_ema(self, name: str = "G") -> bool:
        return self.models.get(f"{name}_ema") is not None

    def weights(self, name: str, use_ema: bool = False) -> dict[str, Any]:
        """Network ``name``'s state dict: its EMA copy when ``use_ema`` and one was saved, else the network's."""
        return self.models[f"{name}_ema" if use_ema and self.has_ema(name) else name]

    def generator_kind(self, use_ema: bool) -> str:
        """"ema" when G's EMA copy is what ``use_ema`` samples from, else "G" (records and file names)."""
        return "ema" if use_ema and self.has_ema("G") else "G"

    # ---- read-only Mapping over the saved dict ----------------------------------------------------------------
    def __getitem__(self, key: str) -> Any:
        return self.state[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.state)

    def __len__(self) -> int:
        return len(self.state)


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
    """The validated saved dict of ``path`` (``Checkpoint.load`` wraps it)."""
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
    validate_state(state, path)
    return state


# ---- what a loaded checkpoint must hold (every loader: resume, load_run, sample/eval/translate, SRGAN init) ----------

MAX_STEP = 2**53  # steps and counters beyond this are not exact as float64 (lr schedules compute with float(step))


def _damaged(path: Path, what: str) -> CheckpointError:
    return CheckpointError(f"checkpoint {str(path)!r} is damaged: {what}; resume from another file in checkpoints/ "
                           "or start a new run")


def _counter(value: Any, key: str, path: Path, low: int = 0, high: int = MAX_STEP) -> int:
    """A saved counter: a Python int (or a 0-d integer tensor) in [low, high)."""
    if isinstance(value, torch.Tensor) and value.ndim == 0 and not value.is_floating_point():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise _damaged(path, f"{key} is {type(value).__name__} {value!r:.60}, not a whole number")
    if not low <= value < high:
        raise _damaged(path, f"{key} = {value} is outside [{low}, {high:,})")
    return value


def validate_state(state: dict[str, Any], path: Path) -> None:
    """Types and ranges of what the loaders read before the networks do, so a tampered or foreign checkpoint is one
    ``CheckpointError`` instead of an AttributeError deep in a data kind's writer, or a negative / 10^30 step that
    trains nothing and rewrites latest.pt. Loading the weights themselves checks their names and shapes."""
    if not isinstance(state["config"], dict):
        raise _damaged(path, "its config is not a mapping")
    models = state["models"]
    if not isinstance(models, dict) or not all(isinstance(m, dict) or m is None for m in models.values()):
        raise _damaged(path, "its models entry is not a mapping of network weights")
    if "spec" in state:  # weights-only files (an SRGAN stage's init) have none; load_run reports its absence
        _check_spec(state["spec"], state["config"], path)
    trainer = state.get("trainer")
    if trainer is None:
        return  # the loaders that need the trainer state (resume) say so themselves
    if not isinstance(trainer, dict):
        raise _damaged(path, "its trainer entry is not a mapping")
    step = _counter(trainer.get("step"), "trainer.step", path)
    _counter(trainer.get("images_seen", 0), "trainer.images_seen", path, 0, 2**63)
    _counter(trainer.get("best_step", 0), "trainer.best_step", path, 0, step + 1)
    best = trainer.get("best")
    if best is not None and (not isinstance(best, (int, float)) or isinstance(best, bool)):
        raise _damaged(path, f"trainer.best is {type(best).__name__}, not a number")
    for key in ("optimizers", "schedulers"):
        if not isinstance(trainer.get(key, {}), dict):
            raise _damaged(path, f"trainer.{key} is not a mapping")
    for group, sched in trainer.get("schedulers", {}).items():  # the lr schedule's own step counter
        if isinstance(sched, dict) and "last_epoch" in sched:
            _counter(sched["last_epoch"], f"trainer.schedulers.{group}.last_epoch", path)


def _mismatch(path: Path, what: str) -> CheckpointError:
    return CheckpointError(f"checkpoint {str(path)!r} does not match its config ({what}); it was edited or damaged: "
                           "use another checkpoint from RUN/checkpoints/ or retrain")


def _check_spec(spec: Any, config: dict[str, Any], path: Path) -> None:
    """The data spec the networks are rebuilt from, and the data kind that picks the sample writers."""
    if not isinstance(spec, dict):
        raise _mismatch(path, f"spec is {type(spec).__name__}, not a mapping of shape, classes and kind")
    shape = spec.get("shape")
    if (not isinstance(shape, (list, tuple)) or not 1 <= len(shape) <= 8
            or not all(isinstance(d, int) and not isinstance(d, bool) and 1 <= d < 2**31 for d in shape)):
        raise _mismatch(path, f"spec.shape {shape!r:.80} is not a list of 1 to 8 positive sizes")
    num_classes = spec.get("num_classes")
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or not 0 <= num_classes < 2**31:
        raise _mismatch(path, f"spec.num_classes is {type(num_classes).__name__} {num_classes!r:.40}, not a whole "
                              "number >= 0")
    fields = spec.get("fields", {})
    if not isinstance(fields, dict) or not all(isinstance(k, str) and isinstance(v, (list, tuple))
                                               for k, v in fields.items()):
        raise _mismatch(path, "spec.fields is not a mapping of names to shapes")
    _check_kind(spec.get("kind", "default"), config, path)


def _check_kind(kind: Any, config: dict[str, Any], path: Path) -> None:
    """The saved data kind picks ``sample``'s writers and ``eval``'s metrics; it must be the kind of the run's own
    data (``config.data.name``) where that kind is fixed by the dataset's class, and never a kind that belongs to
    other datasets only (a ring8 checkpoint claiming "field" made the field writer fail with AttributeError)."""
    if not isinstance(kind, str) or not kind.isidentifier():
        raise _mismatch(path, f"spec.kind {kind!r:.60} is not a data kind name")
    from ganforge.data import register_all
    from ganforge.registry import DATASETS

    register_all()
    data = config.get("data")
    name = data.get("name") if isinstance(data, dict) else None
    owners = {n: dataset_kind(DATASETS.get(n)) for n in DATASETS.names()}
    expected = owners.get(name) if isinstance(name, str) else None
    if expected is not None and kind != expected:
        raise _mismatch(path, f"spec.kind is {kind!r} but its data {name!r} is of kind {expected!r}")
    if expected is None and kind in set(owners.values()) and kind not in ("default", "image", "vector"):
        users = sorted(n for n, k in owners.items() if k == kind)
        raise _mismatch(path, f"spec.kind is {kind!r}, the kind of {', '.join(users[:3])}, but its data is "
                              f"{name!r}")


def dataset_kind(dataset_cls: Any) -> str | None:
    """The data kind a registered dataset loads when its class fixes it: a ``kind`` string on the dataset class
    (toy distributions are their own data) or on the class its ``load`` returns; None when it depends on the data
    (``TensorData`` is "image" or "vector"; wrappers such as pyramid compute it)."""
    import inspect
    import typing

    kind = inspect.getattr_static(dataset_cls, "kind", None)
    if isinstance(kind, str):
        return kind
    try:
        loaded = typing.get_type_hints(dataset_cls.load).get("return")
    except Exception:  # an unresolvable annotation: the kind is not known statically
        return None
    kind = inspect.getattr_static(loaded, "kind", None) if isinstance(loaded, type) else None
    return kind if isinstance(kind, str) else None


def check_resume_step(state: dict[str, Any], steps: int, path: Path) -> None:
    """``train.steps`` below the checkpoint's step would train nothing and rewrite latest.pt: refused."""
    step = int(state["trainer"]["step"])
    if steps < step:
        raise CheckpointError(f"train.steps={steps} is below step {step} of checkpoint {str(path)!r}, so resuming "
                              f"would train nothing; pass --set train.steps=N with N > {step} to continue")


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
