"""Embedded toy distributions (no files): 1-D targets and the 2-D ring-of-8 / grid-of-25 Gaussian mixtures.

The 2-D mixtures follow the VEEGAN / PacGAN protocol (Srivastava et al. 2017; Lin et al. 2018): equal-weight
Gaussians, and quality measured by the distance of each sample to its nearest mode (``ganforge.metrics.toy``).
Each distribution samples fresh points with an explicit ``torch.Generator``, so the data stream is resumable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy import special, stats
from torch import Tensor

from ganforge.data.base import Dataset, DataSpec, Source
from ganforge.registry import DATASETS


class Distribution(Dataset):
    """A target distribution the trainer samples from directly. ``dim`` = 1 or 2."""

    name: str = ""
    dim: int = 2
    kind: str = "points"  # the data kind that picks the run's sample writers and evaluation (ganforge.kinds)

    def sample(self, n: int, generator: torch.Generator | None = None, device: torch.device | str = "cpu") -> Tensor:
        """``[n, dim]`` float32 samples."""
        raise NotImplementedError

    def spec(self) -> DataSpec:
        return DataSpec(shape=(self.dim,), num_classes=0)

    def source(self, output_range: tuple[float, float] | None, seed: int, device: torch.device) -> Source:
        return DistributionSource(self, seed, device)

    def load(self, split: str = "train") -> Distribution:
        """Datasets are loaded by split; an analytic distribution is its own data for every split."""
        if split not in ("train", "test"):
            raise ValueError(f"unknown split {split!r} for {self.name}; choose from: train, test")
        return self


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



class GaussianMixture2D(Distribution):
    """Equal-weight isotropic Gaussians at ``means [K, 2]`` with standard deviation ``std``."""

    dim = 2
    kind = "mixture2d"
    means: Tensor
    std: float

    def sample(self, n: int, generator: torch.Generator | None = None, device: torch.device | str = "cpu") -> Tensor:
        means = self.means.to(device)
        k = torch.randint(len(means), (n,), generator=generator, device=device)
        return means[k] + self.std * torch.randn(n, 2, generator=generator, device=device)


@DATASETS.register("ring8")
@dataclass
class Ring8(GaussianMixture2D):
    """8 Gaussians with means evenly spaced on a circle (PacGAN: radius 1, std 0.01)."""

    modes: int = 8
    radius: float = 1.0
    std: float = 0.01

    def __post_init__(self) -> None:
        if self.modes < 1 or self.radius <= 0 or self.std <= 0:
            raise ValueError("ring8 needs modes >= 1, radius > 0 and std > 0")
        self.name = "ring8"
        angle = torch.arange(self.modes, dtype=torch.float64) * (2 * math.pi / self.modes)
        self.means = (self.radius * torch.stack([angle.cos(), angle.sin()], 1)).float()


@DATASETS.register("grid25")
@dataclass
class Grid25(GaussianMixture2D):
    """Gaussians on a square grid, means {−4, −2, 0, 2, 4}² (PacGAN: std 0.05)."""

    side: int = 5
    spacing: float = 2.0
    std: float = 0.05

    def __post_init__(self) -> None:
        if self.side < 1 or self.spacing <= 0 or self.std <= 0:
            raise ValueError("grid25 needs side >= 1, spacing > 0 and std > 0")
        self.name = "grid25"
        coords = (torch.arange(self.side, dtype=torch.float32) - (self.side - 1) / 2) * self.spacing
        self.means = torch.cartesian_prod(coords, coords)


class Distribution1D(Distribution):
    """A 1-D target with an analytic pdf / cdf / inverse cdf (scipy.stats frozen distribution)."""

    dim = 1
    kind = "density1d"

    def scipy_dist(self) -> stats.rv_continuous | None:
        """The frozen scipy distribution, or None for mixtures (which implement pdf/cdf themselves)."""
        return None

    def pdf(self, x: np.ndarray) -> np.ndarray:
        return self.scipy_dist().pdf(x)

    def cdf(self, x: np.ndarray) -> np.ndarray:
        return self.scipy_dist().cdf(x)

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """Inverse cdf: the transform that maps U(0, 1) to the target (the inverse-transform method)."""
        return self.scipy_dist().ppf(u)

    def sample(self, n: int, generator: torch.Generator | None = None, device: torch.device | str = "cpu") -> Tensor:
        # inverse-transform sampling from our own uniform stream keeps the data RNG a torch.Generator
        u = torch.rand(n, 1, generator=generator, device=device, dtype=torch.float64).clamp_(1e-12, 1 - 1e-12)
        return torch.from_numpy(self.ppf(u.cpu().numpy())).float().to(device)


@DATASETS.register("gaussian-mixture-1d")
@dataclass
class GaussianMixture1D(Distribution1D):
    """Mixture of 1-D Gaussians (default: ½ N(−2, 0.5²) + ½ N(2, 0.5²))."""

    means: tuple[float, ...] = (-2.0, 2.0)
    stds: tuple[float, ...] = (0.5, 0.5)
    weights: tuple[float, ...] = (0.5, 0.5)

    def __post_init__(self) -> None:
        self.name = "gaussian-mixture-1d"
        if not (len(self.means) == len(self.stds) == len(self.weights)) or not self.means:
            raise ValueError("gaussian-mixture-1d needs means, stds and weights of the same non-zero length")
        if min(self.stds) <= 0 or min(self.weights) < 0 or sum(self.weights) <= 0:
            raise ValueError("gaussian-mixture-1d needs stds > 0 and non-negative weights with a positive sum")
        w = np.asarray(self.weights, dtype=np.float64)
        self._w = w / w.sum()

    def pdf(self, x: np.ndarray) -> np.ndarray:
        return sum(w * stats.norm(m, s).pdf(x) for w, m, s in zip(self._w, self.means, self.stds, strict=True))

    def cdf(self, x: np.ndarray) -> np.ndarray:
        # Φ via special.ndtr: ~50× faster than building stats.norm objects in the 60-step bisection of ``ppf``
        return sum(w * special.ndtr((x - m) / s) for w, m, s in zip(self._w, self.means, self.stds, strict=True))

    def ppf(self, u: np.ndarray) -> np.ndarray:
        # no closed form for a mixture: bisection on the monotone cdf, to ~1e-12 in 60 halvings
        lo = np.full_like(u, min(m - 12 * s for m, s in zip(self.means, self.stds, strict=True)))
        hi = np.full_like(u, max(m + 12 * s for m, s in zip(self.means, self.stds, strict=True)))
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            below = self.cdf(mid) < u
            lo = np.where(below, mid, lo)
            hi = np.where(below, hi, mid)
        return 0.5 * (lo + hi)


@DATASETS.register("exponential-1d")
@dataclass
class Exponential1D(Distribution1D):
    """Exponential with rate λ (mean 1/λ)."""

    rate: float = 1.0

    def __post_init__(self) -> None:
        self.name = "exponential-1d"
        if self.rate <= 0:
            raise ValueError("exponential-1d needs rate > 0")

    def scipy_dist(self) -> stats.rv_continuous:
        return stats.expon(scale=1.0 / self.rate)


@DATASETS.register("uniform-1d")
@dataclass
class Uniform1D(Distribution1D):
    """Uniform on [low, high]."""

    low: float = -1.0
    high: float = 1.0

    def __post_init__(self) -> None:
        self.name = "uniform-1d"
        if self.high <= self.low:
            raise ValueError("uniform-1d needs high > low")

    def scipy_dist(self) -> stats.rv_continuous:
        return stats.uniform(loc=self.low, scale=self.high - self.low)


@DATASETS.register("gaussian-1d")
@dataclass
class Gaussian1D(Distribution1D):
    """A single Gaussian N(mean, std²): the simplest target (Goodfellow et al. 2014, Figure 1)."""

    mean: float = 4.0
    std: float = 0.5

    def __post_init__(self) -> None:
        self.name = "gaussian-1d"
        if self.std <= 0:
            raise ValueError("gaussian-1d needs std > 0")

    def scipy_dist(self) -> stats.rv_continuous:
        return stats.norm(self.mean, self.std)
