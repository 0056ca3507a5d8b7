"""The trainer: runs phases, keeps the generator EMA, counts steps, and holds the resumable state.

Nothing in this file knows which GAN it trains (minGPT's rule): the maths is in objectives, the schedule in phases,
and run-directory chores (logging, samples, checkpoints) in ``training.run``.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import torch
from torch import Tensor, nn

from ganforge.data.source import Source
from ganforge.losses.objectives import Batch, LossTerms
from ganforge.training import graphs
from ganforge.training.distributed import SINGLE, DistContext
from ganforge.training.ema import update_ema
from ganforge.training.optim import float_base_lrs, load_optimizer_state
from ganforge.training.phases import Phase
from ganforge.training.stats import Accumulator


class NonFiniteLossError(RuntimeError):
    """A loss became NaN or inf; the parameters after it are not trustworthy and are never checkpointed."""


class Trainer:
    def __init__(self, G: nn.Module, D: nn.Module | None, phases: list[Phase], source: Source, *,
                 batch_size: int, seed: int, device: torch.device, schedulers: list[Any] | None = None,
                 G_ema: nn.Module | None = None, ema_decay: float = 0.0, ema_start: int = 0,
                 fake_labels: str = "uniform", dist: DistContext = SINGLE, amp_dtype: torch.dtype | None = None,
                 channels_last: bool = False, cuda_graph: bool = False) -> None:
        self.G, self.D, self.phases, self.source = G, D, phases, source
        self.batch_size, self.device = batch_size, device
        self.schedulers = schedulers or []
        self.G_ema, self.ema_decay, self.ema_start = G_ema, ema_decay, ema_start
        self.fake_labels = fake_labels
        self.dist = dist  # batch_size is the global batch; each rank trains on its shard (training.distributed)
        self.amp_dtype = amp_dtype  # torch.bfloat16: forward passes under autocast; None: plain float32
        self.channels_last = channels_last  # image batches in NHWC to match channels_last models
        # CUDA graphs (training.graphs; the caller enables them only on CUDA in a single process, with capturable
        # optimisers): captured phases by name, phases whose capture failed, first capture step
        self.cuda_graph = cuda_graph
        self._graphs: dict[str, graphs.GraphedPhase] = {}
        self._eager_only: set[str] = set()
        self._graph_from: int | None = None
        # one RNG for everything the step draws itself (z, fake labels, randomness inside losses)
        self.rng = torch.Generator(device=device)
        self.rng.manual_seed(seed)
        self.step = 0  # completed generator updates
        self.images_seen = 0  # real samples drawn
        self.best: float | None = None  # best evaluation value so far (log.best) and its step
        self.best_step = 0
        self.stats = Accumulator()
        self._finite = {p.name: torch.ones((), dtype=torch.bool, device=device) for p in phases}

    # ---- one step -------------------------------------------------------------------------------------------
    def train_step(self) -> None:
        for phase in self.phases:
            if self.step % phase.every:
                continue
            self._train_only(phase.module)
            for _ in range(phase.repeats):
                terms = self._update(phase, self.make_batch(phase.needs_real))
                # NaN/inf check stays on the device; it is read at the next flush (no per-step sync)
                self._finite[phase.name] &= torch.isfinite(terms.total.detach())
                self.stats.add(terms.logs)
        if self.G_ema is not None:
            update_ema(self.G_ema, self.G, self.ema_decay if self.step >= self.ema_start else 0.0)
        for sched in self.schedulers:
            sched.step()
        self.step += 1

    def _eager_update(self, phase: Phase, batch: Batch) -> LossTerms:
        """loss → backward → (all-reduce) → optimiser step → after-step hook. Also what a CUDA graph records."""
        # bf16 autocast covers the forward passes (and GP/R1's inner gradient); logits and losses come back
        # float32 (objectives.discriminate), and backward runs outside autocast, as torch.amp recommends. The
        # autocast weight cache must be off while a CUDA graph is captured.
        with torch.autocast(self.device.type, dtype=self.amp_dtype or torch.bfloat16,
                            enabled=self.amp_dtype is not None, cache_enabled=not self.cuda_graph):
            terms = phase.loss_fn(batch)
        phase.optimizer.zero_grad(set_to_none=True)
        terms.total.backward()
        self.dist.all_reduce_grads(phase.module)  # no-op in a single process
        phase.optimizer.step()
        if phase.after_step is not None:
            phase.after_step()
        return terms

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
        graphed = graphs.GraphedPhase(phase, partial(self._eager_update, phase), self.rng)
        try:
            terms = graphed.capture(batch)
        except Exception as exc:
            graphs.warn_fallback(phase.name, exc)
            self._eager_only.add(phase.name)
            return self._eager_update(phase, batch)
        self._graphs[phase.name] = graphed
        return terms

    def make_batch(self, needs_real: bool = True) -> Batch:
        """The global batch's draws (same on every rank, so RNG states stay world-size independent), then this
        rank's shard of them."""
        n, shard = self.batch_size, self.dist.shard
        real, labels = (None, None)
        if needs_real:
            real, labels = self.source.next(n)
            real, labels = shard(real), (shard(labels) if labels is not None else None)
            if self.channels_last and real.dim() == 4:
                real = real.contiguous(memory_format=torch.channels_last)
            self.images_seen += n
        z = shard(self.G.sample_z(n, self.rng, self.device))
        fake_labels = None
        c_dim = getattr(self.G, "c_dim", 0)
        if c_dim:
            if self.fake_labels == "real" and labels is not None:
                fake_labels = labels
            else:
                fake_labels = shard(torch.randint(c_dim, (n,), generator=self.rng, device=self.device))
        return Batch(real=real, z=z, labels=labels, fake_labels=fake_labels, generator=self.rng,
                     rank=self.dist.rank, world_size=self.dist.world_size)

    def _train_only(self, module: nn.Module) -> None:
        """Only ``module`` collects gradients (stylegan2-ada's trick): a G step leaves no gradients on D."""
        for m in (self.G, self.D):
            if m is not None:
                m.requires_grad_(m is module)

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
        state: dict[str, Any] = {
            "step": self.step,
            "images_seen": self.images_seen,
            "best": self.best,
            "best_step": self.best_step,
            "rng": self.rng.get_state(),
            "source": self.source.state_dict(),
            "optimizers": {p.name: p.optimizer.state_dict() for p in self.phases if p.name != "D_reg"},
            "schedulers": [s.state_dict() for s in self.schedulers],
        }
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step, self.images_seen = int(state["step"]), int(state["images_seen"])
        self.best, self.best_step = state.get("best"), int(state.get("best_step", 0))
        self.rng.set_state(state["rng"])
        self.source.load_state_dict(state["source"])
        for p in self.phases:
            if p.name in state["optimizers"]:
                load_optimizer_state(p.optimizer, state["optimizers"][p.name])
        for s, s_state in zip(self.schedulers, state["schedulers"], strict=True):
            s.load_state_dict(s_state)
            float_base_lrs(s)


def all_finite(modules: list[nn.Module | None]) -> bool:
    """True if every parameter of every module is finite (checked before a checkpoint is written)."""
    tensors: list[Tensor] = [p for m in modules if m is not None for p in m.parameters()]
    return bool(torch.stack([torch.isfinite(t).all() for t in tensors]).all()) if tensors else True
