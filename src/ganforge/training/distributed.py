"""Data-parallel training with ``torch.distributed`` (launched by ``torchrun``), without a DDP module wrapper.

How a step is split over W processes (ranks), and why:
- ``train.batch_size`` is the *global* batch B. Every rank draws the same global batch from identically seeded RNGs
  (data order, z, fake labels, GP ε, label noise) and keeps only its rows ``[r·B/W, (r+1)·B/W)``. So every rank's
  RNG and sampler state is the same as a single process's: a checkpoint is world-size independent and a run can be
  resumed on any number of processes, and W processes compute the same global step as one process (up to float
  reduction order) for every objective whose loss is a per-sample mean.
- After each ``backward()`` the phase's gradients are averaged over ranks with one flat all-reduce (mean of the
  per-shard mean losses = the global mean loss). This replaces ``DistributedDataParallel``: GAN phases run several
  forwards of D per backward, freeze the other network, and GP/R1 differentiate through ``autograd.grad`` with
  ``create_graph=True``, none of which DDP's reducer supports. The cost is no overlap of communication with the
  backward pass, which is small for GAN-sized models.
- BatchNorm normalises with per-shard batch statistics (as DDP without SyncBatchNorm); running buffers are averaged
  over ranks before anything reads them (checkpoint, samples, evaluation), which for running means is exactly the
  global running mean.
- Losses that couple the samples of a batch (MMD, minibatch std-dev, PacGAN packs across a shard boundary) see only
  their shard; packs never straddle shards because the per-rank batch must be divisible by the pack size.
- Rank 0 alone writes the run directory (config, metrics, TensorBoard, samples, evaluations, checkpoints).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def shard(self, x: Tensor) -> Tensor:
        """This rank's rows of a global batch ``[B, ...]`` (B divisible by the world size)."""
        if not self.enabled:
            return x
        n = x.shape[0] // self.world_size
        return x[self.rank * n : (self.rank + 1) * n]

    def all_reduce_grads(self, module: nn.Module) -> None:
        """Average the gradients of ``module``'s parameters over ranks (one flat all-reduce)."""
        self._average_([p.grad for p in module.parameters() if p.grad is not None])

    def average_buffers(self, *modules: nn.Module | None) -> None:
        """Average floating-point buffers (BatchNorm running statistics) over ranks, in place."""
        self._average_([b for m in modules if m is not None for b in m.buffers() if b.is_floating_point()])

    def _average_(self, tensors: list[Tensor]) -> None:
        """In-place mean over ranks of same-dtype ``tensors``, packed into one buffer for a single all-reduce."""
        if not self.enabled or not tensors:
            return
        flat = _flatten_dense_tensors(tensors)
        dist.all_reduce(flat)
        flat /= self.world_size
        for t, synced in zip(tensors, _unflatten_dense_tensors(flat, tensors), strict=True):
            t.copy_(synced)

    def mean(self, x: Tensor) -> Tensor:
        """The mean of ``x`` over ranks (``x`` itself in a single process)."""
        if not self.enabled:
            return x
        x = x.clone()
        dist.all_reduce(x)
        return x / self.world_size

    def all_true(self, flag: Tensor) -> Tensor:
        """Logical AND of a boolean tensor over ranks (a NaN on any rank stops every rank)."""
        if not self.enabled:
            return flag
        x = flag.to(torch.int32)
        dist.all_reduce(x, op=dist.ReduceOp.MIN)
        return x.bool()

    def any_flag(self, flag: bool, device: torch.device) -> bool:
        """True on every rank if ``flag`` is true on any rank (e.g. a stop signal seen by one process)."""
        if not self.enabled:
            return flag
        x = torch.tensor([int(flag)], device=device)
        dist.all_reduce(x, op=dist.ReduceOp.MAX)
        return bool(x.item())

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()


SINGLE = DistContext()


def from_env() -> DistContext:
    """The context ``torchrun`` describes in the environment (RANK, WORLD_SIZE, LOCAL_RANK); one process otherwise.

    Initialises the default process group once: NCCL when CUDA is available, gloo on CPU.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return SINGLE
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(local_rank)
        dist.init_process_group(backend=backend)
    return DistContext(rank=rank, world_size=world, local_rank=local_rank)


def destroy(synchronize: bool = False) -> None:
    """Leave the process group. ``synchronize`` (after a successful run): first wait until every rank is done, so
    no process tears down its gloo/NCCL connections while a peer still uses them — rank 1 used to exit right after
    the last checkpoint while rank 0 still wrote samples and evaluated, and gloo then occasionally aborted a rank
    with "terminate called without an active exception". Not after a failure: a peer may never reach the barrier."""
    if dist.is_available() and dist.is_initialized():
        if synchronize:
            dist.barrier()
            _all_left_the_barrier()
        dist.destroy_process_group()


def _all_left_the_barrier(timeout_s: float = 300.0) -> None:
    """Wait, through the rendezvous key-value store (TCP, outside gloo), until every rank has *returned* from the
    final barrier. A gloo barrier returns on one rank while the last message to a peer may still be unread; if that
    rank then closed its sockets (destroy, exit) with data pending, the kernel resets the connection and the peer's gloo
    thread throws inside C++: ``terminate`` → SIGABRT of rank 1, seen under load, when the peer was descheduled
    between the two. Once every rank has counted itself out of the barrier here, no gloo operation is in flight."""
    import time

    try:
        store = dist.distributed_c10d._get_default_store()
    except (AttributeError, RuntimeError, ValueError):  # another torch: the barrier alone (the old behaviour)
        return
    world = dist.get_world_size()
    store.add("ganforge/left-final-barrier", 1)
    deadline = time.monotonic() + timeout_s
    while store.add("ganforge/left-final-barrier", 0) < world and time.monotonic() < deadline:
        time.sleep(0.005)
