"""A training run: build the components and the trainer, resume, then the loop — periodic logging, samples,
evaluation and checkpoints — with clean handling of signals, NaNs and full disks.

The run directory itself (files, lock, records, ``load_run``) is ``training.rundir``; the resume policy is
``training.resume``; what a run writes besides checkpoints and metrics (sample grids, plots, in-training evaluation)
are the hooks of its data kind (``ganforge.kinds``, looked up in ``RUN_HOOKS``). Nothing here knows which GAN it
trains: networks, optimiser groups, phases and batches come from the objective (``losses.objectives``).

Nothing in the run directory is written until every check has passed (config, resume compatibility, the whole restore,
writability, the lock).
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ganforge import checkpoint as ckpt
from ganforge.builder import Components, build_components, build_family, check_batch, resolve_device
from ganforge.config import RunConfig, resolve_epochs
from ganforge.data.source import make_source
from ganforge.kinds import hooks_for
from ganforge.models.base import Sampler
from ganforge.outputs import OutputError, existing_ancestor
from ganforge.training import distributed
from ganforge.training.draws import Draws
from ganforge.training.ema import make_ema
from ganforge.training.optim import CAPTURABLE, build_optimizer, build_scheduler
from ganforge.training.resume import applied_on_resume, set_base_lr
from ganforge.training.rundir import (
    SUBDIRS,
    RunError,
    RunLock,
    checkpoint_dir,
    find_checkpoint,
    holds_run,
    probe_writable,
    refuse_links,
    run_files,
    write_config,
    write_eval,
)
from ganforge.training.stats import MetricsWriter, truncate_metrics
from ganforge.training.threads import choose_threads
from ganforge.training.trainer import NonFiniteLossError, Trainer, all_finite

CHECKPOINT_FORMAT = ckpt.CHECKPOINT_FORMAT  # the layout ``ganforge.checkpoint.Checkpoint`` owns


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """``train.precision`` → the autocast dtype: "auto" is bf16 on CUDA GPUs that support it (Ampere and later)
    and float32 elsewhere, so CPU runs stay exact; "bf16" forces it (CPU autocast supports bf16 too)."""
    if precision == "bf16":
        return torch.bfloat16
    if precision == "auto" and device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return None


def memory_bytes(device: torch.device) -> int:
    if device.type == "cuda":
        return int(torch.cuda.get_device_properties(device).total_memory)
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # no sysconf (Windows): no up-front check
        return 2**63


class Run:
    def __init__(self, cfg: RunConfig, run_dir: Path, *, resume: str | None = None, overwrite: bool = False,
                 progress: bool | None = None, report: Callable[[Path], Any] | None = None) -> None:
        """``report(run_dir)`` is called last on rank 0 of a finished or interrupted run: `ganforge train` and
        ``ganforge.train`` pass ``ganforge.report.write_run_report`` (report.html); training knows no report."""
        self.cfg, self.run_dir, self.report = cfg, Path(run_dir), report
        self.progress = cfg.log.progress if progress is None else progress
        self.dist = distributed.from_env()  # one process unless launched by torchrun
        self.device = resolve_device(cfg.train.device)
        if self.dist.enabled and self.device.type == "cuda":
            self.device = torch.device("cuda", self.dist.local_rank)  # one GPU per process
        self.stop_signal: int | None = None
        self.t_created = time.perf_counter()  # the summary's total_seconds: set-up, training, evaluation, report
        self.tb: Any = None  # the run's TensorBoard SummaryWriter while training (log.tensorboard), for sample grids
        self.overwrite, self.resume = overwrite, resume
        self.lock = RunLock(self.run_dir)
        self.notes: list[str] = []  # one-line remarks for the user (applied config changes, kept files)
        self.config_changes: dict[str, list[Any]] = {}  # applied on resume: {"optim.g.lr": [old, new]}
        self.resume_path: Path | None = None
        # --- everything that can fail is checked before anything in the run directory is touched; train() writes ---
        family = build_family(cfg)  # the model options' one-line ConfigError comes first
        try:
            check_batch(cfg.train.batch_size, self.dist.world_size, family)
        except ValueError as exc:
            raise RunError(str(exc)) from None
        self.resume_state = self._check_run_dir(resume, overwrite)
        self.dist.barrier()  # every rank has looked at the run directory before rank 0 may clear it
        self.components: Components = build_components(cfg, self.device)
        self._resolve_epochs()
        self._check_memory()
        if self.resume_state is None:
            self._build_trainer()
        else:  # the whole restore (optimisers included) happens here, so a bad resume fails before any write
            self._build_and_restore(self.resume_state)
        if overwrite and self.dist.is_main:
            self._note_foreign_files()

    def _resolve_epochs(self) -> None:
        """``train.epochs`` -> ``train.steps``, now that the number of training items is known."""
        cfg, data = self.cfg, self.components.data
        if resolve_epochs(cfg, data) is None:
            return
        self.notes.append(f"train.epochs resolved to train.steps={cfg.train.steps} ({len(data)} training items, "
                          f"batch {cfg.train.batch_size})")
        if self.resume_state is not None and isinstance(self.resume_state.trainer, dict):
            ckpt.check_resume_step(self.resume_state, cfg.train.steps, self.resume_path)

    def _build_and_restore(self, state: ckpt.Checkpoint) -> None:
        """The trainer, then the saved state into it: anything that does not fit is one ``RunError``."""
        try:
            self._check_compatible(state)
            self._build_trainer()
            self._restore(state)
        except RunError:
            raise
        except (KeyError, IndexError, TypeError, ValueError, AttributeError, RuntimeError) as exc:
            detail = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip()) or type(exc).__name__
            raise RunError(f"checkpoint {str(self.resume_path)!r} is damaged or does not fit this model "
                           f"({type(exc).__name__}: {detail[:300]}); resume from another file in checkpoints/ or "
                           "start a new --run-dir") from None

    def _note_foreign_files(self) -> None:
        foreign = run_files(self.run_dir)[1]
        if foreign:
            self.notes.append(f"--overwrite keeps {len(foreign)} file(s) ganforge did not write: "
                              f"{', '.join(str(p.relative_to(self.run_dir)) for p in foreign[:3])}"
                              f"{', ...' if len(foreign) > 3 else ''}")

    # ---- set-up ---------------------------------------------------------------------------------------------
    def _check_run_dir(self, resume: str | None, overwrite: bool) -> ckpt.Checkpoint | None:
        if self.run_dir.exists() and not self.run_dir.is_dir():
            raise RunError(f"run directory {str(self.run_dir)!r} is a file, not a directory; choose another --run-dir")
        for parent in self.run_dir.parents:  # "somefile/run": mkdir would fail after the whole set-up
            if parent.exists() and not parent.is_dir():
                raise RunError(f"{str(parent)!r} is a file, so run directory {str(self.run_dir)!r} cannot be created "
                               "under it; choose another --run-dir")
        refuse_links(self.run_dir)
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
        state = ckpt.Checkpoint.load(self.resume_path, map_location=self.device)  # checked by ckpt.validate_state
        # a missing trainer state is reported as damage by the restore; train.epochs is checked once it is steps
        if isinstance(state.trainer, dict) and self.cfg.train.steps is not None:
            ckpt.check_resume_step(state, self.cfg.train.steps, self.resume_path)
        return state

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
        shape = self.components.spec.shape
        need = 2 * b * 4 * math.prod(shape)  # a real and a generated float32 batch: the least a step holds
        have = memory_bytes(self.device)
        if need > have:
            raise RunError(f"train.batch_size={b} needs at least {need / 2**30:,.1f} GiB for one real and one "
                           f"generated batch of {list(shape)} float32 samples, more than the "
                           f"{have / 2**30:,.1f} GiB of {self.device.type} memory here; lower train.batch_size")

    def _check_compatible(self, state: ckpt.Checkpoint) -> None:
        try:
            state.check_format()
        except ckpt.CheckpointError as exc:
            raise RunError(str(exc)) from None
        old, new = state.config, self.cfg.to_dict()
        if not isinstance(old, dict):
            raise RunError(f"checkpoint {str(self.resume_path)!r} holds no config mapping; it is damaged")
        diffs = ckpt.diff_configs(old, new)
        refused = [k for k in diffs if not applied_on_resume(k)]
        if state.shape != list(self.components.spec.shape):
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
            step = state.step
            self.notes.append(f"resume applies {changes} from step {step} (logged in metrics.jsonl)")

    def _build_trainer(self) -> None:
        """Optimisers per group, schedulers, EMA copies, the objective's phases and the trainer."""
        cfg, c = self.cfg, self.components
        objective = c.objective
        if cfg.train.channels_last and len(c.spec.shape) == 3:  # image models only
            for m in c.nets.values():
                m.to(memory_format=torch.channels_last)
        self.groups = objective.groups()
        graphed = cfg.train.cuda_graph and self.device.type == "cuda" and not self.dist.enabled
        if graphed and any(cfg.optim[g].name not in CAPTURABLE for g in self.groups):
            warnings.warn(f"train.cuda_graph needs optimizers from {CAPTURABLE}; phases with another optimizer "
                          "will fail capture and run eagerly", RuntimeWarning, stacklevel=2)
        self.optimizers = {
            group: build_optimizer([p for name in names for p in c.nets[name].parameters()], cfg.optim[group],
                                   self.device, f"optim.{group}", capturable=graphed)
            for group, names in self.groups.items()}
        self.schedulers = {group: build_scheduler(opt, cfg.optim[group]) for group, opt in self.optimizers.items()}
        self.ema = ({name: make_ema(c.nets[name]) for name in objective.ema_networks()} if cfg.train.ema > 0
                    else {})
        source = make_source(c.data, c.family.output_range(c.nets), cfg.train.seed + 1, self.device)
        rng = torch.Generator(device=self.device)
        rng.manual_seed(cfg.train.seed + 2)
        draws = Draws(source, rng, self.device, cfg.train.batch_size, dist=self.dist,
                      channels_last=cfg.train.channels_last, fake_labels=cfg.train.fake_labels)
        self.trainer = Trainer(c.nets, objective, objective.phases(c.nets, cfg.train.d_steps), self.groups,
                               self.optimizers, draws, device=self.device, schedulers=self.schedulers, ema=self.ema,
                               ema_decay=cfg.train.ema, ema_start=cfg.train.ema_start,
                               ema_buffers=cfg.train.ema_buffers, dist=self.dist,
                               amp_dtype=autocast_dtype(cfg.train.precision, self.device), cuda_graph=graphed)

    # the two-player names, kept for code and tests that train a G/D pair
    @property
    def opt_g(self) -> torch.optim.Optimizer:
        return self.optimizers["g"]

    @property
    def opt_d(self) -> torch.optim.Optimizer | None:
        return self.optimizers.get("d")

    @property
    def G_ema(self) -> nn.Module | None:
        return self.ema.get("G")

    def _restore(self, state: ckpt.Checkpoint) -> None:
        for name, net in self.components.nets.items():
            net.load_state_dict(state.weights(name))
        for name, ema in self.ema.items():  # a run that turned EMA on at resume starts it from the network
            ema.load_state_dict(state.weights(name, use_ema=True))
        saved = state["trainer"]["optimizers"]
        missing = sorted(set(self.optimizers) - set(saved))
        if missing:  # the trainer would silently restart those optimisers from scratch
            raise RunError(f"checkpoint {str(self.resume_path)!r} has no optimizer state for group(s) "
                           f"{', '.join(missing)}; it is damaged: resume from another file in checkpoints/ or start "
                           "a new --run-dir")
        self.trainer.load_state_dict(state["trainer"])
        ckpt.set_rng_state(state["rng_global"])
        for group, opt in self.optimizers.items():
            if f"optim.{group}.lr" in self.config_changes:
                set_base_lr(opt, self.schedulers[group], self.cfg.optim[group].lr)

    # ---- checkpoints ----------------------------------------------------------------------------------------
    def checkpoint(self) -> ckpt.Checkpoint:
        """The whole training state (``ganforge.checkpoint.Checkpoint`` owns its layout)."""
        c = self.components
        return ckpt.Checkpoint.of_run(
            config=self.cfg.to_dict(), spec=c.spec, kind=c.data.kind,
            models={name: net.state_dict() for name, net in c.nets.items()},
            ema={name: ema.state_dict() for name, ema in self.ema.items()}, trainer=self.trainer.state_dict())

    def state_dict(self) -> dict[str, Any]:
        return self.checkpoint().state

    def sync(self) -> None:
        """Collective (every rank calls it): stop on a NaN anywhere, and average BatchNorm running statistics
        over ranks, before anything reads or saves the models. Cheap no-ops in a single process."""
        self.trainer.check_finite()
        self.dist.average_buffers(*self.components.nets.values(), *self.ema.values())

    def save_checkpoint(self) -> Path:
        """Write ``latest.pt`` and ``step-N.pt`` only if the state is finite (a diverged state never overwrites).

        Every rank calls it (it starts with the collective ``sync``); only rank 0 writes."""
        self.sync()
        return self._write_checkpoint()

    def _write_checkpoint(self) -> Path:
        if not all_finite(list(self.components.nets.values())):
            raise NonFiniteLossError(f"parameters became NaN or inf by step {self.trainer.step}")
        folder = checkpoint_dir(self.run_dir)
        if not self.dist.is_main:
            return folder / "latest.pt"
        self.checkpoint().save(folder / "latest.pt")
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
    def threads(self) -> tuple[int, str]:
        """(torch CPU threads for this run, why): ``train.threads`` (training/threads.py)."""
        n_params = sum(p.numel() for net in self.components.nets.values() for p in net.parameters())
        return choose_threads(self.cfg.train.threads, n_params, self.device)

    def train(self) -> dict[str, Any]:
        """Prepare the run directory (rank 0, under the lock), train, release the lock whatever happens."""
        previous_threads = torch.get_num_threads()
        self.num_threads, self.threads_reason = self.threads()
        torch.set_num_threads(self.num_threads)  # restored below: in-process callers (tests, benches) keep theirs
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
        except OutputError as exc:  # a plot, sample grid or record could not be written (ganforge.outputs)
            raise RunError(f"{exc} (at step {self.trainer.step}); the last checkpoint is intact: continue with "
                           "--resume latest once fixed") from None
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
            torch.set_num_threads(previous_threads)

    def _prepare_run_dir(self) -> None:
        """Everything the run writes before step 1, in order: probe, create, lock, then change files."""
        existing = existing_ancestor(self.run_dir)
        probe_writable(existing)
        if existing == self.run_dir:
            for sub in SUBDIRS:
                if (self.run_dir / sub).is_dir():
                    probe_writable(self.run_dir / sub)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.lock.acquire()
        if self.resume is None:
            self._check_fresh(self.overwrite)  # again under the lock: another process may have started meanwhile
        refuse_links(self.run_dir)  # again under the lock, before anything is deleted or written
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
        """The loop, then on rank 0 (when it finished) the final samples and evaluation, the plots and the report."""
        writer = MetricsWriter(self.run_dir, self.cfg.log.tensorboard) if self.dist.is_main else None
        self.tb = writer.tb if writer is not None else None
        if writer is not None and self.config_changes:
            writer.write(self.trainer.step, {"config_change": self.config_changes})
        status, t0 = self._loop(writer)
        summary: dict[str, Any] = {"status": status, "step": self.trainer.step,
                                   "images_seen": self.trainer.images_seen,
                                   "seconds": round(time.perf_counter() - t0, 2), "run_dir": str(self.run_dir),
                                   "threads": self.num_threads}
        if self.dist.enabled:
            summary["processes"] = self.dist.world_size
        if writer is None:  # not rank 0: rank 0 writes the samples, evaluation and plots
            return summary
        if status == "finished":
            summary["metrics"] = self._final_evaluation(writer)
        writer.close()
        self.status("plots and report.html…" if self.report is not None else "plots…")
        self.hooks.finish(self.run_dir, self.cfg)
        if self.report is not None:
            self.report(self.run_dir)
        summary["total_seconds"] = round(time.perf_counter() - self.t_created, 2)  # "seconds": the training loop
        return summary

    def _loop(self, writer: MetricsWriter | None) -> tuple[str, float]:
        """Train to ``train.steps`` (or a stop signal), then checkpoint: ("finished" | "interrupted", loop start)."""
        cfg, trainer = self.cfg, self.trainer
        old_handlers = self._install_signal_handlers()
        bar = tqdm(total=cfg.train.steps, initial=trainer.step, disable=not (self.progress and self.dist.is_main),
                   dynamic_ncols=True, desc=cfg.name)
        t0, step0 = time.perf_counter(), trainer.step
        status = "finished"
        try:
            while trainer.step < cfg.train.steps:
                trainer.train_step()
                bar.update(1)
                self._after_step(trainer.step, writer, bar, t0, step0)
                if self._should_stop(trainer.step):
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
        return status, t0

    def _after_step(self, step: int, writer: MetricsWriter | None, bar: Any, t0: float, step0: int) -> None:
        """What ``log.*`` and ``train.checkpoint_every`` ask after ``step`` (the last step's are ``_train``'s)."""
        cfg, main = self.cfg, self.dist.is_main
        if step % cfg.log.every == 0 or step == cfg.train.steps:
            self._log_step(step, writer, bar, t0, step0)
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

    def _log_step(self, step: int, writer: MetricsWriter | None, bar: Any, t0: float, step0: int) -> None:
        """The losses and statistics since the last log line, with images seen, learning rates and step time."""
        trainer = self.trainer
        record = trainer.flush_stats()
        elapsed = time.perf_counter() - t0
        record.update({"images_seen": trainer.images_seen, **self._lrs(),
                       "time/step_ms": 1000 * elapsed / max(1, step - step0)})
        if writer is not None:
            writer.write(step, record)
        bar.set_postfix({k.split("/")[-1]: f"{v:.3g}" for k, v in record.items() if k.startswith("loss/")})

    def _final_evaluation(self, writer: MetricsWriter) -> dict[str, float]:
        """The last step's samples and evaluation, recorded in eval/final.json with the checkpoint it scored."""
        step = self.trainer.step
        self.status("final samples and evaluation…")  # silent for up to a minute otherwise
        self.write_samples(step, final=True)
        metrics = self.evaluate()
        if metrics:
            writer.write(step, {f"eval/{k}": v for k, v in metrics.items()})
            self.keep_best(metrics)
            write_eval(self.run_dir, "final", metrics, self._eval_protocol(),  # the state it evaluated
                       checkpoint=checkpoint_dir(self.run_dir) / "latest.pt")
        return metrics

    def status(self, text: str) -> None:
        """One line on stderr for a phase after the progress bar (only when the bar is shown)."""
        if self.progress and self.dist.is_main:
            tqdm.write(f"{self.cfg.name}: {text}", file=sys.stderr)

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

    def _lrs(self) -> dict[str, float]:
        return {f"lr/{group}": float(opt.param_groups[0]["lr"]) for group, opt in self.optimizers.items()}

    # ---- samples and evaluation (never touch training RNG or state) -----------------------------------------
    @property
    def hooks(self) -> Any:
        """The sample writers and evaluation of this run's data kind (``ganforge.kinds``)."""
        return hooks_for(self.components.data.kind)

    def eval_generator(self) -> nn.Module:
        """The family's ``Sampler`` over the EMA copies (or the networks themselves) of its sampling networks."""
        c = self.components
        nets = {name: self.ema.get(name, c.nets[name]) for name in c.family.sampling_networks}
        sampler = Sampler(c.family, nets)
        sampler.training = next(iter(nets.values())).training  # the wrapper's flag only: restored after sampling
        return sampler

    def _isolated_rng(self) -> contextlib.AbstractContextManager:
        # Sampling and evaluation draw from private generators, but anything they build (e.g. the first load of the
        # mnist-classifier initialises a module) must not move the global RNG the training steps draw from: with it,
        # a run that evaluates would continue differently after a resume than without one.
        return torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else [])

    def write_samples(self, step: int, final: bool = False) -> None:
        with self._isolated_rng():
            self.hooks.samples(self.eval_generator(), self.components.data, self.run_dir, step, self.cfg, self.device,
                               final=final)
        grid = self.run_dir / "samples" / f"step-{step:07d}.png"  # the kind's grid of this step, when it writes one
        if self.tb is not None and grid.is_file():  # TensorBoard's IMAGES tab shows it next to the scalars
            from PIL import Image

            with Image.open(grid) as im:
                self.tb.add_image("samples", np.asarray(im.convert("RGB")), step, dataformats="HWC")

    def evaluate(self) -> dict[str, float]:
        with self._isolated_rng():
            return self.hooks.evaluate(self.eval_generator(), self.components.data, self.cfg, self.device)

    def _eval_protocol(self) -> dict[str, Any]:
        generator = "ema" if self.G_ema is not None else "G"
        return self.hooks.protocol(self.components.data, self.cfg, generator, self.trainer.step)
