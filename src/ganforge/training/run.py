"""A training run on disk: run directory, resume, periodic logging / samples / evaluation / checkpoints, signals.

Layout (design.md §19): ``config.yaml`` (resolved; loadable as a preset), ``checkpoints/`` (``latest.pt`` + numbered),
``metrics.jsonl``, ``tb/`` (TensorBoard), ``samples/`` (fixed-z grids), ``plots/``, ``eval/``, and ``ganforge.lock``
(pid and host of the process training in it) while a run is going on.

Nothing in the run directory is written until every check has passed (config, resume compatibility, the whole restore,
writability, the lock); --overwrite deletes only ganforge's own files (see ``OWN_NAMES``).
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import os
import re
import signal
import socket
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

import ganforge
from ganforge import config as config_mod
from ganforge.builder import Components, build_components, build_models, build_objective, resolve_device
from ganforge.config import RunConfig, config_from_dict, dump_yaml
from ganforge.data.base import TensorData, to_uint8
from ganforge.data.source import make_source
from ganforge.data.toy import Distribution, Distribution1D, GaussianMixture2D
from ganforge.evaluation import EVAL_SEED_OFFSET, eval_protocol, evaluate_generator, generate_samples
from ganforge.metrics.toy import N_EVAL
from ganforge.models.base import DataSpec
from ganforge.training import checkpoint as ckpt
from ganforge.training import distributed
from ganforge.training.ema import make_ema
from ganforge.training.optim import CAPTURABLE, build_optimizer, build_scheduler
from ganforge.training.phases import build_phases
from ganforge.training.stats import MetricsWriter, read_metrics, truncate_metrics
from ganforge.training.trainer import NonFiniteLossError, Trainer, all_finite
from ganforge.viz import plots

SAMPLE_SEED_OFFSET = 1_000_003  # fixed-z grids use their own RNG: they never touch training state


CHECKPOINT_FORMAT = 2  # bumped when the saved trainer state changes shape (2: LambdaLR schedulers, best metric)


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """``train.precision`` → the autocast dtype: "auto" is bf16 on CUDA GPUs that support it (Ampere and later)
    and float32 elsewhere, so CPU runs stay exact; "bf16" forces it (CPU autocast supports bf16 too)."""
    if precision == "bf16":
        return torch.bfloat16
    if precision == "auto" and device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return None


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
    ".": re.compile(r"config\.yaml|metrics\.jsonl"),
    "checkpoints": re.compile(r"(latest|best|step-\d+)\.pt(\.tmp)?"),
    "samples": re.compile(r"(step-\d+|final)\.png|progress\.gif"),
    "plots": re.compile(r"losses\.png|(scatter|hist|transform)-(step-\d+|final)\.png"),
    "eval": re.compile(r"final\.json"),
    "tb": re.compile(r"events\.out\.tfevents\..*"),
}
TB_MARK = b"time/step_ms"
LOCK_NAME = "ganforge.lock"


def run_files(run_dir: Path) -> tuple[list[Path], list[Path]]:
    """(files ganforge wrote, other files) in the run directory's top level and its ``SUBDIRS``; the lock and other
    top-level files are in neither list (they are never touched)."""
    own: list[Path] = [run_dir / n for n in ("config.yaml", "metrics.jsonl") if (run_dir / n).is_file()]
    foreign: list[Path] = []
    for sub in SUBDIRS:
        folder = run_dir / sub
        for p in sorted(folder.rglob("*")) if folder.is_dir() else []:
            if p.is_dir():
                continue
            mine = p.parent == folder and OWN_NAMES[sub].fullmatch(p.name) is not None
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
    """Create and delete a file in ``folder``: ``os.access`` says yes to root even on a read-only mount, and a folder
    that cannot be written would otherwise fail at the first checkpoint, after the training."""
    probe = folder / f".ganforge-probe-{os.getpid()}"
    try:
        os.close(os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        probe.unlink()
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


# ---- resume: which config keys may change ----------------------------------------------------------------------
# Applied from the resumed step on (logged in metrics.jsonl and on stderr): they change neither the shapes of the saved
# state nor what it means. Every other difference (model, objective, data, train.seed, the optimisers' other settings,
# lr schedules, fake_labels, name) is refused: the checkpoint would continue a different experiment than its config
# says. A key ending in "." covers its section.
RESUME_APPLIED = ("train.steps", "train.checkpoint_every", "train.keep_checkpoints", "train.device",
                  "train.batch_size", "train.d_steps", "train.ema", "train.ema_start", "train.precision",
                  "train.cuda_graph", "train.channels_last", "optim.g.lr", "optim.d.lr", "log.")


def applied_on_resume(key: str) -> bool:
    return any(key == k or (k.endswith(".") and key.startswith(k)) for k in RESUME_APPLIED)


def resume_config(preset: str, run_dir: Path, resume: str, overrides: list[str], seed: int | None) -> RunConfig:
    """The config of ``--resume``: the run's own (saved in its checkpoint) plus this command's ``--set``/``--seed``,
    so continuing a run never needs its original ``--set`` overrides. ``preset`` must still resolve and name the
    same config (its ``name``) as the run, or a typo or the wrong run directory would go unnoticed."""
    given = config_mod.resolve_config(preset, overrides, seed)
    path = find_checkpoint(run_dir, resume)
    data = ckpt.load_checkpoint(path)["config"]
    if not isinstance(data, dict):
        raise ckpt.CheckpointError(f"checkpoint {str(path)!r} holds no config mapping; it is damaged")
    if given.name != data.get("name"):
        raise RunError(f"the run in {str(run_dir)!r} was trained from config {data.get('name')!r}, not "
                       f"{given.name!r}; resume it with `ganforge train {run_dir / 'config.yaml'} --run-dir {run_dir} "
                       "--resume latest`")
    data = copy.deepcopy(data)
    for text in overrides:
        config_mod.apply_override(data, *config_mod.parse_override(text))
    if seed is not None:
        config_mod.apply_override(data, ["train", "seed"], seed)
    return config_from_dict(data)


def hint_preset(preset: str, cfg: RunConfig, run_dir: Path) -> str:
    """The preset argument of the "continue with" hint: the preset itself unless the run renamed it (--set name=)."""
    with contextlib.suppress(Exception):
        if config_mod.load_preset(preset).get("name") == cfg.name:
            return preset
    return str(run_dir / "config.yaml")


def set_base_lr(opt: torch.optim.Optimizer, sched: Any, lr: float) -> None:
    """A new ``optim.*.lr`` on resume: the loaded optimiser and scheduler hold the old base lr; both move to the new
    one, and the schedule continues from the resumed step (lr_t = lr · factor(t))."""
    factor = sched.lr_lambdas[0](sched.last_epoch)
    sched.base_lrs = [float(lr)] * len(opt.param_groups)
    sched._last_lr = [float(lr) * factor] * len(opt.param_groups)
    for group in opt.param_groups:
        group["initial_lr"] = float(lr)
        if isinstance(group["lr"], torch.Tensor):  # capturable optimisers (CUDA graphs) read a tensor in place
            group["lr"].fill_(float(lr) * factor)
        else:
            group["lr"] = float(lr) * factor


def memory_bytes(device: torch.device) -> int:
    if device.type == "cuda":
        return int(torch.cuda.get_device_properties(device).total_memory)
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # no sysconf (Windows): no up-front check
        return 2**63


def find_checkpoint(run_dir: Path, resume: str) -> Path:
    if resume == "latest":
        path = checkpoint_dir(run_dir) / "latest.pt"
        if not path.is_file():
            raise RunError(f"--resume latest: no checkpoint in {str(checkpoint_dir(run_dir))!r}; "
                           "check --run-dir or start without --resume")
        return path
    return Path(resume)


class Run:
    def __init__(self, cfg: RunConfig, run_dir: Path, *, resume: str | None = None, overwrite: bool = False,
                 progress: bool | None = None) -> None:
        self.cfg, self.run_dir = cfg, Path(run_dir)
        self.progress = cfg.log.progress if progress is None else progress
        self.dist = distributed.from_env()  # one process unless launched by torchrun
        self.device = resolve_device(cfg.train.device)
        if self.dist.enabled and self.device.type == "cuda":
            self.device = torch.device("cuda", self.dist.local_rank)  # one GPU per process
        self.stop_signal: int | None = None
        self.overwrite, self.resume = overwrite, resume
        self.lock = RunLock(self.run_dir)
        self.notes: list[str] = []  # one-line remarks for the user (applied config changes, kept files)
        self.config_changes: dict[str, list[Any]] = {}  # applied on resume: {"optim.g.lr": [old, new]}
        self.resume_path: Path | None = None
        # --- everything that can fail is checked before anything in the run directory is touched; train() writes ---
        try:
            distributed.check_batch(cfg.train.batch_size, self.dist.world_size, int(cfg.model.options.get("pack", 1)))
        except ValueError as exc:
            raise RunError(str(exc)) from None
        self.resume_state = self._check_run_dir(resume, overwrite)
        self.dist.barrier()  # every rank has looked at the run directory before rank 0 may clear it
        self.c: Components = build_components(cfg, self.device)
        self._check_memory()
        if self.resume_state is None:
            self._build_trainer()
        else:  # the whole restore (optimisers included) happens here, so a bad resume fails before any write
            try:
                self._check_compatible(self.resume_state)
                self._build_trainer()
                self._restore(self.resume_state)
            except RunError:
                raise
            except (KeyError, IndexError, TypeError, ValueError, AttributeError, RuntimeError) as exc:
                detail = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip()) or type(exc).__name__
                raise RunError(f"checkpoint {str(self.resume_path)!r} is damaged or does not fit this model "
                               f"({type(exc).__name__}: {detail[:300]}); resume from another file in checkpoints/ or "
                               "start a new --run-dir") from None
        if overwrite and self.dist.is_main:
            foreign = run_files(self.run_dir)[1]
            if foreign:
                self.notes.append(f"--overwrite keeps {len(foreign)} file(s) ganforge did not write: "
                                  f"{', '.join(str(p.relative_to(self.run_dir)) for p in foreign[:3])}"
                                  f"{', ...' if len(foreign) > 3 else ''}")

    # ---- set-up ---------------------------------------------------------------------------------------------
    def _check_run_dir(self, resume: str | None, overwrite: bool) -> dict[str, Any] | None:
        if self.run_dir.exists() and not self.run_dir.is_dir():
            raise RunError(f"run directory {str(self.run_dir)!r} is a file, not a directory; choose another --run-dir")
        for parent in self.run_dir.parents:  # "somefile/run": mkdir would fail after the whole set-up
            if parent.exists() and not parent.is_dir():
                raise RunError(f"{str(parent)!r} is a file, so run directory {str(self.run_dir)!r} cannot be created "
                               "under it; choose another --run-dir")
        for sub in SUBDIRS:
            if (self.run_dir / sub).exists() and not (self.run_dir / sub).is_dir():
                raise RunError(f"{str(self.run_dir / sub)!r} is a file where the run keeps a folder; move it away or "
                               "choose another --run-dir")
        if resume is None:
            self._check_fresh(overwrite)
            return None
        if overwrite:
            raise RunError("--resume and --overwrite contradict each other; pass one of them")
        self.resume_path = find_checkpoint(self.run_dir, resume)
        return ckpt.load_checkpoint(self.resume_path, map_location=self.device)

    def _check_fresh(self, overwrite: bool) -> None:
        """A new run may not start over an existing one (checkpoint or not) without --overwrite."""
        if overwrite or not holds_run(self.run_dir):
            return
        if (checkpoint_dir(self.run_dir) / "latest.pt").exists():
            raise RunError(f"run directory {str(self.run_dir)!r} already holds a run; continue it with --resume "
                           "latest, choose another --run-dir, or pass --overwrite to replace it")
        raise RunError(f"run directory {str(self.run_dir)!r} already holds a run (config.yaml/metrics.jsonl) with no "
                       "checkpoint to resume; pass --overwrite to replace it or choose another --run-dir")

    def _check_memory(self) -> None:
        """A batch that cannot fit in memory is refused up front, not by an out-of-memory crash at step 1."""
        b = self.cfg.train.batch_size
        need = 2 * b * 4 * math.prod(self.c.spec.shape)  # a real and a generated float32 batch: the least a step holds
        have = memory_bytes(self.device)
        if need > have:
            raise RunError(f"train.batch_size={b} needs at least {need / 2**30:,.1f} GiB for one real and one "
                           f"generated batch of {list(self.c.spec.shape)} float32 samples, more than the "
                           f"{have / 2**30:,.1f} GiB of {self.device.type} memory here; lower train.batch_size")

    def _check_compatible(self, state: dict[str, Any]) -> None:
        if state.get("format") != CHECKPOINT_FORMAT:
            raise RunError(f"checkpoint format {state.get('format')} was written by another ganforge version (this one "
                           f"reads format {CHECKPOINT_FORMAT}); resume with that version or start a new --run-dir")
        old, new = state["config"], self.cfg.to_dict()
        if not isinstance(old, dict):
            raise RunError(f"checkpoint {str(self.resume_path)!r} holds no config mapping; it is damaged")
        diffs = ckpt.diff_configs(old, new)
        refused = [k for k in diffs if not applied_on_resume(k)]
        if list(state.get("spec", {}).get("shape", [])) != list(self.c.spec.shape):
            refused.append("data shape")
        if refused:
            raise RunError(f"checkpoint was trained with a different config (differs: {', '.join(refused)}); these "
                           "cannot change on resume: resume with the run's config (drop those --set) or start a new "
                           "--run-dir")
        for key in diffs:
            a, b = old, new
            for part in key.split("."):
                a, b = (a or {}).get(part), (b or {}).get(part)
            self.config_changes[key] = [a, b]
        if self.config_changes:
            changes = ", ".join(f"{k} {a} -> {b}" for k, (a, b) in self.config_changes.items())
            step = state["trainer"]["step"]
            self.notes.append(f"resume applies {changes} from step {step} (logged in metrics.jsonl)")

    def _build_trainer(self) -> None:
        cfg, c = self.cfg, self.c
        if cfg.train.channels_last and len(c.spec.shape) == 3:  # image models only
            for m in (c.G, c.D):
                if m is not None:
                    m.to(memory_format=torch.channels_last)
        graphed = cfg.train.cuda_graph and self.device.type == "cuda" and not self.dist.enabled
        if graphed and any(o.name not in CAPTURABLE for o in (cfg.optim.g, cfg.optim.d)):
            warnings.warn(f"train.cuda_graph needs optimizers from {CAPTURABLE}; phases with another optimizer "
                          "will fail capture and run eagerly", RuntimeWarning, stacklevel=2)
        self.opt_g = build_optimizer(c.G.parameters(), cfg.optim.g, self.device, "optim.g", capturable=graphed)
        self.opt_d = (build_optimizer(c.D.parameters(), cfg.optim.d, self.device, "optim.d", capturable=graphed)
                      if c.D else None)
        schedulers = [build_scheduler(self.opt_g, cfg.optim.g)]
        if self.opt_d is not None:
            schedulers.append(build_scheduler(self.opt_d, cfg.optim.d))
        self.schedulers = schedulers
        self.G_ema = make_ema(c.G) if cfg.train.ema > 0 else None
        phases = build_phases(c.objective, c.G, c.D, self.opt_g, self.opt_d, cfg.train.d_steps)
        source = make_source(c.data, getattr(c.G, "output_range", None), cfg.train.seed + 1, self.device)
        self.trainer = Trainer(c.G, c.D, phases, source, batch_size=cfg.train.batch_size, seed=cfg.train.seed + 2,
                               device=self.device, schedulers=schedulers, G_ema=self.G_ema,
                               ema_decay=cfg.train.ema, ema_start=cfg.train.ema_start,
                               fake_labels=cfg.train.fake_labels, dist=self.dist,
                               amp_dtype=autocast_dtype(cfg.train.precision, self.device),
                               channels_last=cfg.train.channels_last, cuda_graph=graphed)

    def _restore(self, state: dict[str, Any]) -> None:
        models = state["models"]
        self.c.G.load_state_dict(models["G"])
        if self.c.D is not None:
            self.c.D.load_state_dict(models["D"])
        if self.G_ema is not None:
            self.G_ema.load_state_dict(models.get("G_ema") or models["G"])
        saved = state["trainer"]["optimizers"]
        missing = sorted({ph.name for ph in self.trainer.phases if ph.name != "D_reg"} - set(saved))
        if missing:  # the trainer would silently restart those optimisers from scratch
            raise RunError(f"checkpoint {str(self.resume_path)!r} has no optimizer state for {', '.join(missing)}; "
                           "it is damaged: resume from another file in checkpoints/ or start a new --run-dir")
        self.trainer.load_state_dict(state["trainer"])
        ckpt.set_rng_state(state["rng_global"])
        for which, opt, sched in (("g", self.opt_g, self.schedulers[0]), ("d", self.opt_d, self.schedulers[-1])):
            if opt is not None and f"optim.{which}.lr" in self.config_changes:
                set_base_lr(opt, sched, getattr(self.cfg.optim, which).lr)

    # ---- checkpoints ----------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        c = self.c
        return {
            "format": CHECKPOINT_FORMAT,
            "versions": {"ganforge": ganforge.__version__, "torch": str(torch.__version__)},
            "config": self.cfg.to_dict(),
            "spec": {"shape": list(c.spec.shape), "num_classes": c.spec.num_classes},
            "models": {"G": c.G.state_dict(), "D": c.D.state_dict() if c.D is not None else None,
                       "G_ema": self.G_ema.state_dict() if self.G_ema is not None else None},
            "trainer": self.trainer.state_dict(),
            "rng_global": ckpt.rng_state(),
        }

    def sync(self) -> None:
        """Collective (every rank calls it): stop on a NaN anywhere, and average BatchNorm running statistics
        over ranks, before anything reads or saves the models. Cheap no-ops in a single process."""
        self.trainer.check_finite()
        self.dist.average_buffers(self.c.G, self.c.D, self.G_ema)

    def save_checkpoint(self) -> Path:
        """Write ``latest.pt`` and ``step-N.pt`` only if the state is finite (a diverged state never overwrites).

        Every rank calls it (it starts with the collective ``sync``); only rank 0 writes."""
        self.sync()
        return self._write_checkpoint()

    def _write_checkpoint(self) -> Path:
        if not all_finite([self.c.G, self.c.D]):
            raise NonFiniteLossError(f"parameters became NaN or inf by step {self.trainer.step}")
        folder = checkpoint_dir(self.run_dir)
        if not self.dist.is_main:
            return folder / "latest.pt"
        state = self.state_dict()
        ckpt.save_atomic(state, folder / "latest.pt")
        ckpt.copy_atomic(folder / "latest.pt", folder / f"step-{self.trainer.step:07d}.pt")
        ckpt.prune(folder, self.cfg.train.keep_checkpoints)
        return folder / "latest.pt"

    def keep_best(self, metrics: dict[str, float]) -> None:
        """Copy the current state to ``checkpoints/best.pt`` when ``log.best`` ("max:NAME" / "min:NAME") improves."""
        if not self.cfg.log.best:
            return
        mode, name = self.cfg.log.best.split(":", 1)
        if name not in metrics:
            raise RunError(f"log.best names metric {name!r}, but the evaluation gives {sorted(metrics)}; "
                           "pick one of those or set log.best=''")
        value, best = metrics[name], self.trainer.best
        if best is None or (value > best if mode == "max" else value < best):
            self.trainer.best = value
            self.trainer.best_step = self.trainer.step
            folder = checkpoint_dir(self.run_dir)
            self._write_checkpoint()  # latest.pt now holds this state (and the new best value): copy it atomically
            ckpt.copy_atomic(folder / "latest.pt", folder / "best.pt")

    # ---- the loop -------------------------------------------------------------------------------------------
    def train(self) -> dict[str, Any]:
        """Prepare the run directory (rank 0, under the lock), train, release the lock whatever happens."""
        try:
            failure: Exception | None = None
            if self.dist.is_main:  # rank 0 alone writes the run directory
                try:
                    self._prepare_run_dir()
                except (RunError, OSError) as exc:
                    failure = exc
            if self.dist.any_flag(failure is not None, self.device):  # every rank stops if rank 0 could not start
                if isinstance(failure, OSError):
                    why = failure.strerror or failure
                    raise RunError(f"could not prepare run directory {str(self.run_dir)!r} ({why}: "
                                   f"{failure.filename}); fix it or choose another --run-dir") from None
                raise failure or RunError("rank 0 could not prepare the run directory (see its error)")
            return self._train()
        except OSError as exc:  # a full disk or a folder made read-only mid-run: the last checkpoint is intact
            raise RunError(f"could not write to run directory {str(self.run_dir)!r} at step {self.trainer.step} "
                           f"({exc.strerror or exc}: {exc.filename}); the last checkpoint is intact: free disk space "
                           "or fix permissions, then continue with --resume latest") from None
        except (torch.cuda.OutOfMemoryError, RuntimeError) as exc:
            if not isinstance(exc, torch.cuda.OutOfMemoryError) and "can't allocate memory" not in str(exc):
                raise
            raise RunError(f"out of memory at step {self.trainer.step} with train.batch_size="
                           f"{self.cfg.train.batch_size}; lower train.batch_size (or the model size)") from None
        finally:
            self.lock.release()

    def _prepare_run_dir(self) -> None:
        """Everything the run writes before step 1, in order: probe, create, lock, then change files."""
        existing = self.run_dir
        while not existing.exists():
            existing = existing.parent
        probe_writable(existing)
        if existing == self.run_dir:
            for sub in SUBDIRS:
                if (self.run_dir / sub).is_dir():
                    probe_writable(self.run_dir / sub)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.lock.acquire()
        if self.resume is None:
            self._check_fresh(self.overwrite)  # again under the lock: another process may have started meanwhile
        ckpt.remove_partial(checkpoint_dir(self.run_dir))  # left by a kill -9 mid-save
        if self.overwrite:
            for p in run_files(self.run_dir)[0]:
                p.unlink()
            for sub in SUBDIRS:  # folders that only held ganforge's files go too
                with contextlib.suppress(OSError):
                    (self.run_dir / sub).rmdir()
        if self.resume is not None:
            truncate_metrics(self.run_dir / "metrics.jsonl", self.trainer.step)
        write_config(self.run_dir, self.cfg)

    def _train(self) -> dict[str, Any]:
        cfg, trainer, main = self.cfg, self.trainer, self.dist.is_main
        writer = MetricsWriter(self.run_dir, cfg.log.tensorboard) if main else None
        if writer is not None and self.config_changes:
            writer.write(trainer.step, {"config_change": self.config_changes})
        old_handlers = self._install_signal_handlers()
        bar = tqdm(total=cfg.train.steps, initial=trainer.step, disable=not (self.progress and main),
                   dynamic_ncols=True, desc=cfg.name)
        t0, step0 = time.perf_counter(), trainer.step
        status = "finished"
        try:
            while trainer.step < cfg.train.steps:
                trainer.train_step()
                bar.update(1)
                step = trainer.step
                if step % cfg.log.every == 0 or step == cfg.train.steps:
                    record = trainer.flush_stats()
                    elapsed = time.perf_counter() - t0
                    record.update({"images_seen": trainer.images_seen, "lr/g": float(self.opt_g.param_groups[0]["lr"]),
                                   "time/step_ms": 1000 * elapsed / max(1, step - step0)})
                    if writer is not None:
                        writer.write(step, record)
                    bar.set_postfix({k.split("/")[-1]: f"{v:.3g}" for k, v in record.items() if k.startswith("loss/")})
                sample_now = cfg.log.sample_every and step % cfg.log.sample_every == 0 and step < cfg.train.steps
                eval_now = cfg.log.eval_every and step % cfg.log.eval_every == 0 and step < cfg.train.steps
                if sample_now or eval_now:
                    self.sync()  # no NaN model is evaluated; under torchrun: global BatchNorm statistics
                if sample_now and main:
                    self.write_samples(step)
                if eval_now and main:
                    metrics = self.evaluate()
                    writer.write(step, {f"eval/{k}": v for k, v in metrics.items()})
                    self.keep_best(metrics)
                if step % cfg.train.checkpoint_every == 0 and step < cfg.train.steps:
                    self.save_checkpoint()
                if self._should_stop(step):
                    status = "interrupted"
                    break
            self.save_checkpoint()
        except NonFiniteLossError as exc:
            latest = checkpoint_dir(self.run_dir) / "latest.pt"
            kept = f"the last good checkpoint {str(latest)!r} is intact" if latest.exists() else "no checkpoint saved"
            raise NonFiniteLossError(f"training diverged: {exc}; {kept}. Lower the learning rates or try another "
                                     "objective/regulariser") from None
        finally:
            bar.close()
            self._restore_signal_handlers(old_handlers)
        summary: dict[str, Any] = {"status": status, "step": trainer.step, "images_seen": trainer.images_seen,
                                   "seconds": round(time.perf_counter() - t0, 2), "run_dir": str(self.run_dir)}
        if self.dist.enabled:
            summary["processes"] = self.dist.world_size
        if writer is None:  # not rank 0: rank 0 writes the samples, evaluation and plots
            return summary
        if status == "finished":
            self.write_samples(trainer.step, final=True)
            metrics = self.evaluate()
            if metrics:
                writer.write(trainer.step, {f"eval/{k}": v for k, v in metrics.items()})
                self.keep_best(metrics)
                write_eval(self.run_dir, "final", metrics, self._eval_protocol())
            summary["metrics"] = metrics
        writer.close()
        plots.loss_curves(read_metrics(self.run_dir / "metrics.jsonl"), self.run_dir / "plots" / "losses.png",
                          cfg.name)
        return summary

    def _should_stop(self, step: int) -> bool:
        """A stop signal ends the run after this step. Under torchrun the ranks agree on it every ``log.every``
        steps (one tiny all-reduce there, none in between), so they all stop at the same step."""
        if not self.dist.enabled:
            return self.stop_signal is not None
        if step % self.cfg.log.every and step != self.cfg.train.steps:
            return False
        return self.dist.any_flag(self.stop_signal is not None, self.device)

    def _install_signal_handlers(self) -> dict[int, Any]:
        def handler(signum: int, frame: Any) -> None:
            self.stop_signal = signum  # finish the current step, checkpoint, exit cleanly

        old = {}
        try:
            for s in (signal.SIGINT, signal.SIGTERM):
                old[s] = signal.signal(s, handler)
        except ValueError:  # not the main thread (e.g. tests in a thread): no handlers
            pass
        return old

    @staticmethod
    def _restore_signal_handlers(old: dict[int, Any]) -> None:
        for s, h in old.items():
            signal.signal(s, h)

    # ---- samples and evaluation (never touch training RNG or state) -----------------------------------------
    def eval_generator(self) -> nn.Module:
        return self.G_ema if self.G_ema is not None else self.c.G

    def _isolated_rng(self) -> contextlib.AbstractContextManager:
        # Sampling and evaluation draw from private generators, but anything they build (e.g. the first load of the
        # mnist-classifier initialises a module) must not move the global RNG the training steps draw from: with it,
        # a run that evaluates would continue differently after a resume than without one.
        return torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else [])

    def write_samples(self, step: int, final: bool = False) -> None:
        with self._isolated_rng():
            write_samples(self.eval_generator(), self.c.data, self.run_dir, step, self.cfg, self.device, final=final)

    def evaluate(self) -> dict[str, float]:
        with self._isolated_rng():
            return evaluate_generator(self.eval_generator(), self.c.data, self.cfg.train.seed, self.device,
                                      n_digits=self.cfg.log.eval_digits)

    def _eval_protocol(self) -> dict[str, Any]:
        return {**eval_protocol(self.c.data, self.cfg.log.eval_digits), "dataset": self.cfg.data.name,
                "generator": "ema" if self.G_ema else "G", "step": self.trainer.step,
                "seed": self.cfg.train.seed + EVAL_SEED_OFFSET}


# ---- helpers shared with the sample / eval commands ----------------------------------------------------------


def write_samples(G: nn.Module, data: TensorData | Distribution, run_dir: Path, step: int, cfg: RunConfig,
                  device: torch.device, final: bool = False) -> None:
    seed = cfg.train.seed + SAMPLE_SEED_OFFSET
    if isinstance(data, GaussianMixture2D):
        fake = generate_samples(G, N_EVAL, seed, device).cpu().numpy()
        rng = torch.Generator().manual_seed(seed)
        real = data.sample(N_EVAL, rng).numpy()
        name = "final" if final else f"step-{step:07d}"
        plots.scatter_2d(real, fake, run_dir / "plots" / f"scatter-{name}.png", f"{cfg.name} step {step}",
                         data.means.numpy())
    elif isinstance(data, Distribution1D):
        fake = generate_samples(G, 20_000, seed, device).cpu().numpy()
        name = "final" if final else f"step-{step:07d}"
        plots.histogram_1d(fake, data.pdf, run_dir / "plots" / f"hist-{name}.png", f"{cfg.name} step {step}")
        if getattr(G, "z_dim", None) == 1:  # a 1-D → 1-D generator is a transform: plot it against F⁻¹
            from ganforge.viz.transform import plot_inverse_transform

            plot_inverse_transform(G, data, run_dir / "plots" / f"transform-{name}.png", f"{cfg.name} step {step}",
                                   seed=seed, device=device)
    elif isinstance(data, TensorData) and data.is_image:
        from ganforge.viz.images import save_gif, save_grid

        n = cfg.log.n_samples
        labels = None
        if getattr(G, "c_dim", 0):  # conditional: one row per class
            per = max(1, n // G.c_dim)
            labels = torch.arange(G.c_dim).repeat_interleave(per)
            n = len(labels)
        fake = generate_samples(G, n, seed, device, labels=labels)
        images = to_uint8(fake, getattr(G, "output_range", None)).cpu()
        nrow = per if labels is not None else None
        save_grid(images, run_dir / "samples" / f"step-{step:07d}.png", nrow=nrow)
        if final:
            save_grid(images, run_dir / "samples" / "final.png", nrow=nrow)
            frames = sorted((run_dir / "samples").glob("step-*.png"))
            if frames:
                from PIL import Image

                save_gif([np.asarray(Image.open(f)) for f in frames], run_dir / "samples" / "progress.gif")


def write_config(run_dir: Path, cfg: RunConfig) -> None:
    header = (f"# resolved config written by ganforge {ganforge.__version__} (torch {torch.__version__}); "
              f"seed {cfg.train.seed}\n# re-run with: ganforge train {run_dir / 'config.yaml'}\n")
    (run_dir / "config.yaml").write_text(header + dump_yaml(cfg.to_dict()))


def write_eval(run_dir: Path, name: str, metrics: dict[str, Any], protocol: dict[str, Any]) -> Path:
    path = run_dir / "eval" / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"metrics": metrics, "protocol": protocol,
              "versions": {"ganforge": ganforge.__version__, "torch": str(torch.__version__)}}
    path.write_text(json.dumps(record, indent=2) + "\n")
    return path


# ---- loading a trained generator ------------------------------------------------------------------------------


def load_run(run: str | Path, checkpoint: str = "latest", device: torch.device | str = "cpu",
             use_ema: bool = True) -> tuple[RunConfig, nn.Module, DataSpec, dict[str, Any]]:
    """(config, generator in eval mode, data spec, checkpoint) from a run directory or a checkpoint file."""
    run = Path(run)
    if run.is_file():
        path = run
    elif run.is_dir():
        path = find_checkpoint(run, checkpoint) if checkpoint == "latest" else Path(checkpoint)
    else:
        raise RunError(f"run {str(run)!r} not found; pass a run directory (runs/NAME) or a checkpoint .pt file")
    state = ckpt.load_checkpoint(path, map_location=device)
    cfg = config_from_dict(state["config"])
    spec = DataSpec(shape=tuple(state["spec"]["shape"]), num_classes=int(state["spec"]["num_classes"]))
    G, _ = build_models(cfg, spec, build_objective(cfg))
    weights = state["models"]["G_ema"] if use_ema and state["models"].get("G_ema") is not None else state["models"]["G"]
    G.load_state_dict(weights)
    return cfg, G.to(device).eval(), spec, state


Callback = Callable[[int], None]
