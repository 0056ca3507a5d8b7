"""The trainer: runs phases, keeps the generator EMA, counts steps, and holds the resumable state.

Nothing in this file knows which GAN it trains (minGPT's rule): the maths is in objectives, the schedule in phases,
and run-directory chores (logging, samples, checkpoints) in ``training.run``.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import torch
from torch import Tensor, nn
from torch.optim import Optimizer

from ganforge.losses.objectives import Batch, LossTerms, Nets, Objective, Phase
from ganforge.training import graphs
from ganforge.training.distributed import SINGLE, DistContext
from ganforge.training.draws import Draws
from ganforge.training.ema import update_ema
from ganforge.training.optim import float_base_lrs, load_optimizer_state
from ganforge.training.stats import Accumulator


class NonFiniteLossError(RuntimeError):
    """A loss became NaN or inf; the parameters after it are not trustworthy and are never checkpointed."""


class Trainer:
    """Runs an objective's phases over named networks with one optimiser per group; keeps EMA copies and counters.

    ``nets``       {"G": ..., "D": ..., "E": ...} (the objective's ``networks()``)
    ``groups``     {"g": ("G",), "d": ("D",)}: which networks each optimiser group updates
    ``optimizers`` / ``schedulers``  one per group; ``ema``  {"G": G_ema, ...} for the objective's ``ema_networks()``
    ``draws``      the data source and RNG the objective draws each batch from (``training.draws``)
    """

    def __init__(self, nets: Nets, objective: Objective, phases: list[Phase], groups: dict[str, tuple[str, ...]],
                 optimizers: dict[str, Optimizer], draws: Draws, *, device: torch.device,
                 schedulers: dict[str, Any] | None = None, ema: dict[str, nn.Module] | None = None,
                 ema_decay: float = 0.0, ema_start: int = 0, ema_buffers: str = "copy", dist: DistContext = SINGLE,
                 amp_dtype: torch.dtype | None = None, cuda_graph: bool = False) -> None:
        self.nets, self.objective, self.phases, self.groups = nets, objective, phases, groups
        self.optimizers, self.draws, self.device = optimizers, draws, device
        self.schedulers = schedulers or {}
        self.ema, self.ema_decay, self.ema_start = ema or {}, ema_decay, ema_start
        self.ema_buffers = ema_buffers
        self.dist = dist  # the global batch is sharded over ranks (training.distributed); gradients are averaged
        self.amp_dtype = amp_dtype  # torch.bfloat16: forward passes under autocast; None: plain float32
        # CUDA graphs (training.graphs; the caller enables them only on CUDA in a single process, with capturable
        # optimisers): captured phases by name, phases whose capture failed, first capture step
        self.cuda_graph = cuda_graph
        self._graphs: dict[str, graphs.GraphedPhase] = {}
        self._eager_only: set[str] = set()
        self._graph_from: int | None = None
        self.rng = draws.rng  # one RNG for everything the step draws itself (z, fake labels, randomness in losses)
        self.step = 0  # completed training steps (one pass over the phases; one G update for a GAN)
        self.best: float | None = None  # best evaluation value so far (log.best) and its step
        self.best_step = 0
        self.stats = Accumulator()
        self._finite = {p.name: torch.ones((), dtype=torch.bool, device=device) for p in phases}
        unknown = sorted({g for p in phases for g in p.groups} - set(optimizers))
        if unknown:
            raise ValueError(f"phases use optimiser groups {unknown} that have no optimiser")

    @property
    def images_seen(self) -> int:
        return self.draws.images_seen

    # ---- one step -------------------------------------------------------------------------------------------
    def train_step(self) -> None:
        for phase in self.phases:
            if self.step % phase.every:
                continue
            self._train_only(phase)
            for _ in range(phase.repeats):
                terms = self._update(phase, self.objective.make_batch(self.draws, self.nets, phase, self.step))
                # NaN/inf check stays on the device; it is read at the next flush (no per-step sync)
                self._finite[phase.name] &= _finite(terms)
                self.stats.add(terms.logs)
        decay = self.objective.ema_decay(self.ema_decay, self.step, self.draws.batch_size)
        for name, ema in self.ema.items():
            update_ema(ema, self.nets[name], decay if self.step >= self.ema_start else 0.0,
                       self.ema_buffers)
        for sched in self.schedulers.values():
            sched.step()
        self.step += 1

    def _eager_update(self, phase: Phase, batch: Batch) -> LossTerms:
        """loss → backward → (all-reduce) → optimiser step(s) → after-step hook. Also what a CUDA graph records."""
        # bf16 autocast covers the forward passes (and GP/R1's inner gradient); logits and losses come back
        # float32 (objectives.discriminate), and backward runs outside autocast, as torch.amp recommends. The
        # autocast weight cache must be off while a CUDA graph is captured.
        with torch.autocast(self.device.type, dtype=self.amp_dtype or torch.bfloat16,
                            enabled=self.amp_dtype is not None, cache_enabled=not self.cuda_graph):
            terms = phase.loss_fn(batch)
        self.zero_grad(phase)
        if terms.totals is None:
            terms.total.backward()
        else:  # simultaneous: each group's loss w.r.t. its own parameters, all from the same forward and weights
            last = len(phase.groups) - 1
            for i, group in enumerate(phase.groups):
                torch.autograd.backward(terms.totals[group], inputs=self._params(group), retain_graph=i < last)
        for group in phase.groups:
            for name in self.groups[group]:
                self.dist.all_reduce_grads(self.nets[name])  # no-op in a single process
        for group in phase.groups:
            self.optimizers[group].step()
        if phase.after_step is not None:
            phase.after_step()
        return terms

    def zero_grad(self, phase: Phase) -> None:
        for group in phase.groups:
            self.optimizers[group].zero_grad(set_to_none=True)

    def _params(self, group: str) -> list[Tensor]:
        return [p for name in self.groups[group] for p in self.nets[name].parameters()]

    def _update(self, phase: Phase, batch: Batch) -> LossTerms:
        """The eager update, or its CUDA-graph replay (captured after ``graphs.WARMUP_STEPS`` eager steps)."""
        if not self.cuda_graph or phase.double_backward or phase.name in self._eager_only:
            return self._eager_update(phase, batch)
        if phase.name in self._graphs:
            return self._graphs[phase.name].replay(batch)
        if self._graph_from is None:
            self._graph_from = self.step + graphs.WARMUP_STEPS
        if self.step < self._graph_from:
            with graphs.side_stream(self.device):
                return self._eager_update(phase, batch)
        graphed = graphs.GraphedPhase(phase, partial(self._eager_update, phase), self.rng,
                                      zero_grad=partial(self.zero_grad, phase))
        try:
            terms = graphed.capture(batch)
        except Exception as exc:
            graphs.warn_fallback(phase.name, exc)
            self._eager_only.add(phase.name)
            return self._eager_update(phase, batch)
        self._graphs[phase.name] = graphed
        return terms

    def make_batch(self, phase: Phase) -> Batch:
        """The objective's batch for ``phase`` at the current step (what ``train_step`` feeds it)."""
        return self.objective.make_batch(self.draws, self.nets, phase, self.step)

    def _train_only(self, phase: Phase) -> None:
        """Only the networks ``phase`` trains collect gradients (stylegan2-ada's trick): a G step leaves none on D."""
        trained = {name for group in phase.groups for name in self.groups[group]}
        for name, m in self.nets.items():
            m.requires_grad_(name in trained)

    def check_finite(self) -> None:
        """Raise if any loss since the last check was NaN/inf. One host sync; call at log/checkpoint time."""
        names = list(self._finite)
        ok = self.dist.all_true(torch.stack([self._finite[k] for k in names])).tolist()  # a NaN on any rank
        bad = [name for name, good in zip(names, ok, strict=True) if not good]
        if bad:
            raise NonFiniteLossError(f"the {'/'.join(bad)} loss became NaN or inf by step {self.step}")

    def flush_stats(self) -> dict[str, float]:
        self.check_finite()
        return self.stats.flush(reduce=self.dist.mean)

    # ---- state ----------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "images_seen": self.draws.images_seen,
            "best": self.best,
            "best_step": self.best_step,
            "rng": self.rng.get_state(),
            "source": self.draws.source.state_dict(),
            "optimizers": {g: opt.state_dict() for g, opt in self.optimizers.items()},
            "schedulers": {g: s.state_dict() for g, s in self.schedulers.items()},
            "objective": self.objective.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step, self.draws.images_seen = int(state["step"]), int(state["images_seen"])
        self.best, self.best_step = state.get("best"), int(state.get("best_step", 0))
        self.rng.set_state(state["rng"])
        self.draws.source.load_state_dict(state["source"])
        for g, opt in self.optimizers.items():
            load_optimizer_state(opt, state["optimizers"][g])
        for g, s in self.schedulers.items():
            s.load_state_dict(state["schedulers"][g])
            float_base_lrs(s)
        self.objective.load_state_dict(state.get("objective", {}))


def _finite(terms: LossTerms) -> Tensor:
    totals = [terms.total] if terms.totals is None else list(terms.totals.values())
    return torch.stack([torch.isfinite(t.detach()).all() for t in totals]).all()


def all_finite(modules: list[nn.Module | None]) -> bool:
    """True if every parameter of every module is finite (checked before a checkpoint is written)."""
    tensors: list[Tensor] = [p for m in modules if m is not None for p in m.parameters()]
    return bool(torch.stack([torch.isfinite(t).all() for t in tensors]).all()) if tensors else True
