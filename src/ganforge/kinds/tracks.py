"""Data kind "tracks" (``data.storms``): storm tracks generated per Saffir-Simpson category.

Samples: a map of generated vs real tracks per category; evaluation (in training and ``ganforge eval RUN``): the
track metrics (``metrics.tracks``) against the training storms, with the held-out storms as the noise floor; export:
``ganforge sample`` writes the long CSV/Parquet frame (one row per storm and step).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ganforge.data.storms import CHANNELS, N_CATEGORIES, TrackData, decode
from ganforge.kinds.base import DataKind
from ganforge.kinds.table import write_table
from ganforge.lazy import pandas as pd
from ganforge.outputs import save_figure
from ganforge.registry import RUN_HOOKS
from ganforge.sampling import generate_samples


@torch.no_grad()
def generate_tracks(G: nn.Module, data: TrackData, labels: Tensor, seed: int, device: torch.device
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Tracks and lifetimes for ``labels [n]`` from z of ``seed`` (the n samples of ``ganforge sample --seed``)."""
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
class TrackKind(DataKind):
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
        from ganforge.preflight import check_disk, check_memory, check_out_file, check_suffix
        from ganforge.sampling import check_label

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
