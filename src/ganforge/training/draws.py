"""What an objective draws a step's batch from: the data source and the trainer's RNG, for the global batch.

Every draw is made for the *global* batch (``train.batch_size``) from RNGs seeded identically on every rank, then
sharded (``training.distributed``): RNG and sampler states never depend on the number of processes. The objective
decides what to draw and in which order (``Objective.make_batch``); the trainer only owns these streams.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ganforge.data.source import Source
from ganforge.training.distributed import SINGLE, DistContext


@dataclass
class Draws:
    source: Source
    rng: torch.Generator  # z, fake labels and randomness inside losses (label noise, GP ε)
    device: torch.device
    batch_size: int  # global
    dist: DistContext = SINGLE
    channels_last: bool = False  # image batches in NHWC to match channels_last models
    fake_labels: str = "uniform"  # conditional G: "uniform" random labels or "real" (the batch's own labels)
    images_seen: int = 0  # real samples drawn (global)

    @property
    def rank(self) -> int:
        return self.dist.rank

    @property
    def world_size(self) -> int:
        return self.dist.world_size

    def sample(self, n: int | None = None) -> dict[str, Tensor]:
        """This rank's shard of the next ``n`` (default: the batch size) data samples, every named field of the
        source (``x``, ``y``, and e.g. a paired ``x_b``); 4-D float fields in channels_last when asked."""
        n = n or self.batch_size
        out = {k: self.dist.shard(v) for k, v in self.source.next(n).items()}
        if self.channels_last:
            out = {k: v.contiguous(memory_format=torch.channels_last) if v.dim() == 4 else v for k, v in out.items()}
        self.images_seen += n
        return out

    def real(self, n: int | None = None) -> tuple[Tensor, Tensor | None]:
        """``sample``'s main field and labels: real samples ``x`` and ``y`` (None when unlabelled)."""
        out = self.sample(n)
        return out["x"], out.get("y")

    def latent(self, net: nn.Module, n: int | None = None) -> Tensor:
        """This rank's shard of ``net.sample_z`` for the global batch."""
        return self.dist.shard(net.sample_z(n or self.batch_size, self.rng, self.device))

    def labels(self, num_classes: int, n: int | None = None) -> Tensor:
        """This rank's shard of uniform random labels ``[0, num_classes)``."""
        n = n or self.batch_size
        return self.dist.shard(torch.randint(num_classes, (n,), generator=self.rng, device=self.device))
