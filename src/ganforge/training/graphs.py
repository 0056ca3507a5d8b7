"""CUDA-graph capture of a phase's whole update: forward, backward, optimiser step (and the after-step hook).

A small GAN step is hundreds of tiny kernels; at batch 64 their launch cost, not arithmetic, bounds throughput.
Capturing the update once and replaying it launches them all at once (PyTorch "whole-network capture",
https://pytorch.org/docs/stable/notes/cuda.html#whole-network-capture). What stays outside the graph, and why:

- the batch is drawn eagerly by ``Trainer.make_batch`` (data order, z, labels from the same RNG calls as an eager
  run) and copied into the graph's static input buffers before each replay;
- randomness inside the loss (dropout on the default CUDA generator, ``Batch.uniform`` on the trainer's CUDA
  generator) advances on every replay because both generators are registered with the graph;
- phases that differentiate through a gradient (WGAN-GP, eager R1) run eagerly: double backward is not captured;
- the optimiser must be capturable (Adam/RMSprop with ``capturable=True`` and a tensor learning rate, so that LR
  schedules — which ``fill_`` the tensor — still act on a captured step); ``training.optim`` builds them so;
- EMA, statistics and NaN checks read the graph's static outputs after each replay, outside the graph.

Any failure during capture falls back to the eager update for that phase, with one warning, and the batch the
capture was attempted on is trained eagerly, so no data is skipped.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import Tensor

from ganforge.losses.objectives import Batch, LossTerms, Phase

WARMUP_STEPS = 3  # eager steps before capture: cuDNN autotuning, optimiser state, lazy initialisation


def _batch_tensors(batch: Batch) -> dict[str, Tensor]:
    out = {k: v for k in ("real", "z", "labels", "fake_labels") if (v := getattr(batch, k)) is not None}
    return {**out, **{f"extras.{k}": v for k, v in batch.extras.items()}}


class GraphedPhase:
    """One phase's update captured into a ``torch.cuda.CUDAGraph`` and replayed with new batches.

    ``graph_factory`` / ``graph_context`` are ``torch.cuda.CUDAGraph`` / ``torch.cuda.graph``; tests replace them
    with an emulation that re-runs the update on the static buffers, to check the bookkeeping on CPU.
    """

    graph_factory: Callable[[GraphedPhase], Any] = staticmethod(lambda owner: torch.cuda.CUDAGraph())
    graph_context: Callable[[Any], contextlib.AbstractContextManager[Any]] = staticmethod(
        lambda g: torch.cuda.graph(g))

    def __init__(self, phase: Phase, update: Callable[[Batch], LossTerms], generator: torch.Generator | None,
                 zero_grad: Callable[[], None]) -> None:
        self.phase = phase
        self.zero_grad = zero_grad  # the phase's optimisers' zero_grad(set_to_none=True)
        self.update = update  # loss → zero_grad → backward → step → after_step; returns the LossTerms
        self.generator = generator
        self.graph: Any = None
        self.static: dict[str, Tensor] = {}
        self.static_batch: Batch | None = None
        self.terms: LossTerms | None = None

    def capture(self, batch: Batch) -> LossTerms:
        """Record ``update`` on static copies of ``batch``'s tensors, then replay once (this step's update)."""
        self.static = {k: v.clone() for k, v in _batch_tensors(batch).items()}
        plain = {k: v for k, v in self.static.items() if not k.startswith("extras.")}
        extras = {k.removeprefix("extras."): v for k, v in self.static.items() if k.startswith("extras.")}
        self.static_batch = Batch(**{**batch.__dict__, **plain, "extras": extras})
        self.zero_grad()  # .grad is allocated inside the graph's memory pool
        graph = self.graph_factory(self)
        if self.generator is not None and self.generator.device.type == "cuda":
            graph.register_generator_state(self.generator)
        with self.graph_context(graph):
            self.terms = self.update(self.static_batch)  # recorded, not run: the replay below runs it
        self.graph = graph
        return self.replay(batch)

    def replay(self, batch: Batch) -> LossTerms:
        for k, v in _batch_tensors(batch).items():
            self.static[k].copy_(v)
        self.graph.replay()
        assert self.terms is not None
        return self.terms


@contextlib.contextmanager
def side_stream(device: torch.device) -> Iterator[None]:
    """Eager warm-up steps before a capture run on a side stream (as PyTorch's capture recipe requires)."""
    if device.type != "cuda":
        yield
        return
    stream = torch.cuda.Stream(device)
    stream.wait_stream(torch.cuda.current_stream(device))
    with torch.cuda.stream(stream):
        yield
    torch.cuda.current_stream(device).wait_stream(stream)


def warn_fallback(phase: str, exc: BaseException) -> None:
    warnings.warn(f"CUDA-graph capture of the {phase} phase failed ({type(exc).__name__}: {str(exc)[:200]}); that "
                  "phase runs eagerly (set train.cuda_graph=false to silence this)", RuntimeWarning, stacklevel=3)
