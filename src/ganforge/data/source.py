"""Batch streams with checkpointable positions: in-memory tensors (device-side shuffling) and analytic distributions.

A source's ``state_dict`` holds everything needed to continue the exact same stream after a resume: its RNG state,
and for in-memory data the current epoch's permutation and the position inside it.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ganforge.data.base import TensorData, scale_images
from ganforge.data.toy import Distribution


class Source:
    def next(self, n: int) -> tuple[Tensor, Tensor | None]:
        """``n`` real samples ``[n, *shape]`` in the generator's range, and labels ``[n]`` (or None)."""
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def load_state_dict(self, state: dict[str, Any]) -> None:
        raise NotImplementedError


class TensorSource(Source):
    """Samples without replacement from data held on the device; a new device-side permutation every epoch.

    A batch never straddles two epochs' orders in a way that repeats a sample: when fewer than ``n`` samples remain,
    the rest of this epoch is dropped and a new permutation starts (drop_last semantics).
    """

    def __init__(self, data: TensorData, output_range: tuple[float, float] | None, seed: int,
                 device: torch.device) -> None:
        self.device = device
        self.x = data.x.to(device)  # put on the device once (uint8 images stay uint8 until batched)
        self.y = data.y.to(device) if data.y is not None else None
        self.is_image = data.is_image
        self.output_range = output_range
        self.rng = torch.Generator(device=device)
        self.rng.manual_seed(seed)
        self.epoch, self.pos = 0, 0
        self.perm = torch.randperm(len(self.x), generator=self.rng, device=device)

    def next(self, n: int) -> tuple[Tensor, Tensor | None]:
        if n > len(self.x):
            raise ValueError(
                f"batch size {n} is larger than the dataset ({len(self.x)} samples); lower train.batch_size"
            )
        if self.pos + n > len(self.x):
            self.epoch += 1
            self.pos = 0
            self.perm = torch.randperm(len(self.x), generator=self.rng, device=self.device)
        idx = self.perm[self.pos : self.pos + n]
        self.pos += n
        x = self.x[idx]
        x = scale_images(x, self.output_range) if self.is_image else x.float()
        return x, (self.y[idx] if self.y is not None else None)

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.get_state(), "epoch": self.epoch, "pos": self.pos, "perm": self.perm.cpu()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.set_state(state["rng"])
        self.epoch, self.pos = int(state["epoch"]), int(state["pos"])
        self.perm = state["perm"].to(self.device)


class DistributionSource(Source):
    """Fresh samples from an analytic distribution at every step (an infinite dataset)."""

    def __init__(self, dist: Distribution, seed: int, device: torch.device) -> None:
        self.dist, self.device = dist, device
        self.rng = torch.Generator(device=device)
        self.rng.manual_seed(seed)

    def next(self, n: int) -> tuple[Tensor, Tensor | None]:
        return self.dist.sample(n, self.rng, self.device), None

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.set_state(state["rng"])


def make_source(data: TensorData | Distribution, output_range: tuple[float, float] | None, seed: int,
                device: torch.device) -> Source:
    if isinstance(data, Distribution):
        return DistributionSource(data, seed, device)
    return TensorSource(data, output_range, seed, device)
