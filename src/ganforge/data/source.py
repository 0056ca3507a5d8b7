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
    def next(self, n: int) -> dict[str, Tensor]:
        """The next ``n`` samples as named tensors: ``x`` ``[n, *shape]`` in the generator's range, ``y`` ``[n]``
        labels when the data has them, and any extra fields of the dataset (``[n, ...]``, images scaled like x)."""
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
        self.fields = {k: v.to(device) for k, v in data.fields.items()}
        self.is_image = data.is_image
        self.output_range = output_range
        self.rng = torch.Generator(device=device)
        self.rng.manual_seed(seed)
        self.epoch, self.pos = 0, 0
        self.perm = torch.randperm(len(self.x), generator=self.rng, device=device)

    def next(self, n: int) -> dict[str, Tensor]:
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
        out = {"x": self.x[idx]}
        if self.y is not None:
            out["y"] = self.y[idx]
        out.update({k: v[idx] for k, v in self.fields.items()})
        for k, v in out.items():  # uint8 image fields -> the generator's range; other floats stay as they are
            if k != "y":
                out[k] = scale_images(v, self.output_range) if v.dtype == torch.uint8 and v.ndim == 4 else v.float()
        return out

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

    def next(self, n: int) -> dict[str, Tensor]:
        return {"x": self.dist.sample(n, self.rng, self.device)}

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.set_state(state["rng"])


def make_source(data: TensorData | Distribution, output_range: tuple[float, float] | None, seed: int,
                device: torch.device) -> Source:
    """The data kind's own stream (``data.source``): the core never asks which kind it is."""
    return data.source(output_range, seed, device)
