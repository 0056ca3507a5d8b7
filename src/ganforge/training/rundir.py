"""The run directory on disk: its own files, the lock, checkpoints to resume from, config and record writers, and
loading a trained run back (``load_run``, shared by sample / eval / interpolate).

Layout (design.md §19): ``config.yaml`` (resolved; loadable as a preset), ``checkpoints/`` (``latest.pt`` + numbered),
``metrics.jsonl``, ``tb/`` (TensorBoard), ``samples/`` (fixed-z grids), ``plots/``, ``eval/``, and ``ganforge.lock``
(pid and host of the process training in it) while a run is going on. --overwrite deletes only ganforge's own files
(``OWN_NAMES``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
from pathlib import Path
from typing import Any

import numpy as np
import torch

import ganforge
from ganforge import checkpoint as ckpt
from ganforge.builder import build_family, build_models, build_objective
from ganforge.config import RunConfig, config_from_dict, dump_yaml
from ganforge.data.base import DataSpec
from ganforge.models.base import Sampler
from ganforge.outputs import atomic_file, sha256_file, write_owned, write_probe, write_text


class RunError(RuntimeError):
    """A problem with the run directory or a resume request; the message says how to fix it."""


def checkpoint_dir(run_dir: Path) -> Path:
    return run_dir / "checkpoints"


# ---- the run directory's own files -----------------------------------------------------------------------------
# --overwrite deletes only files ganforge writes, recognised by name (so runs written by older versions are cleared
# too); anything else in these folders is the user's and is kept. TensorBoard event names carry host/pid/time, so
# an events file counts as ganforge's only if it holds the `time/step_ms` scalar every ganforge run logs.
SUBDIRS = ("checkpoints", "samples", "plots", "eval", "tb")
OWN_NAMES = {
    ".": re.compile(r"config\.yaml|metrics\.jsonl|report\.html"),
    "checkpoints": re.compile(ckpt.CHECKPOINT_NAME + "|" + ckpt.TMP_PATTERN.pattern),
    "samples": re.compile(r"(step-\d+|final)\.png|progress\.gif"),
    "plots": re.compile(r"losses\.png|(scatter|hist|transform)-(step-\d+|final)\.png"),
    "eval": re.compile(r"final\.json"),
    "tb": re.compile(r"events\.out\.tfevents\..*"),
}
TB_MARK = b"time/step_ms"
LOCK_NAME = "ganforge.lock"


def run_links(run_dir: Path) -> list[Path]:
    """Symbolic links where the run writes: ``config.yaml``, ``metrics.jsonl`` (appended to), the lock and the
    ``SUBDIRS`` themselves. Training writes into, appends to and (with --overwrite) deletes files there, so a link
    would let it write into, or empty, a folder outside the run (``runs/X/samples -> ~/photos``): ``Run`` refuses
    such a run directory, naming the links. (Links deeper down are the user's: never followed, never deleted.)"""
    names = ("config.yaml", "metrics.jsonl", LOCK_NAME, *SUBDIRS)
    return [run_dir / n for n in names if (run_dir / n).is_symlink()]


def refuse_links(run_dir: Path) -> None:
    """One-line ``RunError`` naming the links ``run_links`` finds."""
    links = run_links(run_dir)
    if links:
        shown = ", ".join(f"{str(p)!r} -> {os.readlink(p)!r}" for p in links[:3])
        raise RunError(f"run directory {str(run_dir)!r} has symbolic links where ganforge writes ({shown}); ganforge "
                       "never writes or deletes through a link: replace the link by a real folder/file or choose "
                       "another --run-dir")


def run_files(run_dir: Path) -> tuple[list[Path], list[Path]]:
    """(files ganforge wrote, other files) in the run directory's top level and its ``SUBDIRS``; the lock and other
    top-level files are in neither list (they are never touched). Links are never followed nor counted as
    ganforge's (``run_links`` refuses them before this is used to delete)."""
    own: list[Path] = [run_dir / n for n in ("config.yaml", "metrics.jsonl", "report.html")
                       if (run_dir / n).is_file() and not (run_dir / n).is_symlink()]
    foreign: list[Path] = []
    for sub in SUBDIRS:
        folder = run_dir / sub
        if folder.is_symlink() or not folder.is_dir():
            continue
        found = []
        for top, dirs, files in os.walk(folder, followlinks=False):
            found += [Path(top) / n for n in files] + [Path(top) / n for n in dirs if (Path(top) / n).is_symlink()]
        for p in sorted(found):
            mine = p.parent == folder and not p.is_symlink() and OWN_NAMES[sub].fullmatch(p.name) is not None
            if mine and sub == "tb":
                with open(p, "rb") as fh:  # the first scalars are near the start; event files can be large
                    mine = TB_MARK in fh.read(1 << 20)
            (own if mine else foreign).append(p)
    return own, foreign


def holds_run(run_dir: Path) -> bool:
    """A run directory already used by ganforge (config.yaml / metrics.jsonl / a checkpoint), with or without a
    checkpoint to resume from."""
    ckpts = checkpoint_dir(run_dir)
    return any((run_dir / n).is_file() for n in ("config.yaml", "metrics.jsonl")) or (
        ckpts.is_dir() and any(OWN_NAMES["checkpoints"].fullmatch(p.name) for p in ckpts.iterdir()))


def probe_writable(folder: Path) -> None:
    """One-line ``RunError`` unless ``folder`` can be written: a folder that cannot would otherwise fail at the first
    checkpoint, after the training."""
    try:
        write_probe(folder)
    except OSError as exc:
        raise RunError(f"cannot write to {str(folder)!r} ({exc.strerror or exc}); make it writable or choose "
                       "another --run-dir") from None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


class RunLock:
    """``run_dir/ganforge.lock`` holding the owner's pid and host: one training process per run directory.

    A lock whose process is gone (same host, pid not alive: kill -9, power loss) is stale and taken over; a lock from
    another host cannot be checked and is refused with its owner named."""

    def __init__(self, run_dir: Path) -> None:
        self.path, self.held = run_dir / LOCK_NAME, False

    def acquire(self) -> None:
        for _ in range(2):  # the second try follows the removal of a stale lock
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                owner = self._live_owner()
                if owner is None:
                    self.path.unlink(missing_ok=True)
                    continue
                raise RunError(f"run directory {str(self.path.parent)!r} is in use by {owner} (lock file "
                               f"{str(self.path)!r}); wait for it to finish, or delete the lock file if that process "
                               "is gone") from None
            with os.fdopen(fd, "w") as fh:
                json.dump({"pid": os.getpid(), "host": socket.gethostname()}, fh)
            self.held = True
            return
        raise RunError(f"could not take the lock {str(self.path)!r}; another process keeps taking it")

    def _live_owner(self) -> str | None:
        """Who holds the lock, or None if its process is gone."""
        try:
            info = json.loads(self.path.read_text())
            pid, host = int(info["pid"]), str(info["host"])
        except FileNotFoundError:
            return None  # released meanwhile
        except (OSError, ValueError, KeyError, TypeError):
            return "an unknown process (unreadable lock)"
        if host == socket.gethostname() and not pid_alive(pid):
            return None
        return f"ganforge process pid {pid} on host {host}"

    def release(self) -> None:
        if self.held:
            self.held = False
            with contextlib.suppress(OSError):
                if json.loads(self.path.read_text()).get("pid") == os.getpid():
                    self.path.unlink()


def find_checkpoint(run_dir: Path, resume: str) -> Path:
    if resume == "latest":
        path = checkpoint_dir(run_dir) / "latest.pt"
        if not path.is_file():
            raise RunError(f"--resume latest: no checkpoint in {str(checkpoint_dir(run_dir))!r}; "
                           "check --run-dir or start without --resume")
        return path
    return Path(resume)


def write_config(run_dir: Path, cfg: RunConfig) -> None:
    header = (f"# resolved config written by ganforge {ganforge.__version__} (torch {torch.__version__}); "
              f"seed {cfg.train.seed}\n# re-run with: ganforge train {run_dir / 'config.yaml'}\n")
    write_text(run_dir / "config.yaml", header + dump_yaml(cfg.to_dict()), "--run-dir")


def atomic_output(out: Path, flag: str = "--out") -> contextlib.AbstractContextManager[Path]:
    """``ganforge.outputs.atomic_file``: a unique temporary path next to ``out`` (same suffix), fsynced and renamed to
    ``out`` when the block succeeds; on failure nothing is left and an existing ``out`` is kept. A link at ``out`` is
    replaced, never written through; an ``OSError`` is a one-line ``OutputError`` naming ``flag``."""
    return atomic_file(out, flag)


def write_record(path: Path, record: dict[str, Any], flag: str = "--run-dir", user_named: bool = False) -> Path:
    """A JSON record written atomically (``atomic_output``): a crash never leaves half a record behind. The one
    writer of ``eval/*.json`` (training's ``write_eval`` and ``ganforge eval``). ``user_named``: a file the user
    chose (``eval --out``), written with ``outputs.write_owned`` (never over a file ganforge did not write);
    otherwise one of ganforge's names in the run's own ``eval/`` folder (a link there is refused)."""
    writer = write_owned(path, flag) if user_named else atomic_file(path, flag, own_folder=True)
    with writer as tmp:
        tmp.write_text(json.dumps(record, indent=2) + "\n")
    return path


def eval_record(metrics: dict[str, Any], protocol: dict[str, Any], source_sha256: str | None = None,
                batch_size: int | None = None) -> dict[str, Any]:
    """An evaluation record: the metrics with their protocol and the versions that computed them (scipy included:
    FID's linear algebra). ``source_sha256`` (the sha256 of the checkpoint .pt, or of the .npz / PNG folder of
    samples, that was evaluated) and ``batch_size`` (generation and feature extraction) go into the protocol when
    given."""
    import scipy

    extra = {k: v for k, v in (("source_sha256", source_sha256), ("batch_size", batch_size)) if v is not None}
    return {"metrics": metrics, "protocol": {**protocol, **extra},
            "versions": {"ganforge": ganforge.__version__, "torch": str(torch.__version__), "numpy": np.__version__,
                         "scipy": scipy.__version__}}


def write_eval(run_dir: Path, name: str, metrics: dict[str, Any], protocol: dict[str, Any],
               checkpoint: Path | None = None) -> Path:
    """``eval/NAME.json``: ``eval_record(metrics, protocol)``, with the sha256 of the ``checkpoint`` evaluated."""
    digest = file_sha256(checkpoint) if checkpoint is not None and checkpoint.is_file() else None
    return write_record(run_dir / "eval" / f"{name}.json", eval_record(metrics, protocol, source_sha256=digest))


file_sha256 = sha256_file  # sha256 of a file's bytes (ganforge.outputs), under the name the commands import


# ---- loading a trained generator ------------------------------------------------------------------------------


def load_run(run: str | Path, checkpoint: str = "latest", device: torch.device | str = "cpu", use_ema: bool = True,
             truncation: float | None = None) -> tuple[RunConfig, Sampler, DataSpec, ckpt.Checkpoint]:
    """(config, the family's ``Sampler`` in eval mode, data spec, checkpoint) from a run directory or a checkpoint
    file. The sampler holds the family's sampling networks (their EMA copies with ``use_ema`` when saved) and
    generates through the family's ``generate`` (the sampling contract), optionally with ``truncation``."""
    run = Path(run)
    if run.is_file():
        path = run
    elif run.is_dir():
        path = find_checkpoint(run, checkpoint) if checkpoint == "latest" else Path(checkpoint)
    else:
        raise RunError(f"run {str(run)!r} not found; pass a run directory (runs/NAME) or a checkpoint .pt file")
    state = ckpt.Checkpoint.load(path, map_location=device)
    cfg = config_from_dict(state.config)
    spec = state.spec
    family = build_family(cfg)
    nets = build_models(cfg, spec, build_objective(cfg), family)
    sampling = {}
    for name in family.sampling_networks:
        nets[name].load_state_dict(state.weights(name, use_ema))
        sampling[name] = nets[name]
    return cfg, Sampler(family, sampling, truncation).to(device).eval(), spec, state
