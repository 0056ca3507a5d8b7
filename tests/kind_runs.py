"""Tiny trained runs of every data kind, made through the Python API (``ganforge.train``): a few steps of a shrunk
network each, so a test can look at what a finished run leaves (report.html, eval/final.json) in seconds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

import ganforge

KINDS = ("mixture2d", "image", "table", "series", "field", "tracks", "paired")
COMMON = {"log.tensorboard": False, "log.sample_every": 2, "train.checkpoint_every": 4, "log.every": 1}


def small_table(n: int = 120, seed: int = 0) -> Any:
    """A mixed table: a Gaussian, a skewed integer column, a 3-category string column and a 0/1 target."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return pd.DataFrame({"x": x, "count": rng.poisson(20, n) + 1, "colour": rng.choice(["red", "green", "blue"], n),
                         "y": (x + rng.normal(scale=0.5, size=n) > 0).astype(int)})


def spiky_series(n: int = 300, at: int = 200) -> Any:
    """A sine (period ~25) with a +4 spike over 6 points at ``at``; timestamps 1000, 1010, ..."""
    import pandas as pd

    t = np.arange(n)
    v = np.sin(t / 4.0)
    v[at : at + 6] += 4
    return pd.DataFrame({"timestamp": 1000 + 10 * t, "value": v})


TADGAN_TINY = {"model.options": {"z_dim": 3, "e_hidden": 4, "g_hidden": 4, "cx_channels": 4, "cx_layers": 2,
                                 "cz_hidden": 5}, "train.d_steps": 1}
CTGAN_TINY = {"model.options": {"z_dim": 8, "g_hidden": [16], "d_hidden": [16], "pac": 2}, "train.batch_size": 20}


def tiny_run(kind: str, root: Path) -> Path:
    """Train a 4-step run of data kind ``kind`` in ``root/kind`` and return its run directory."""
    root.mkdir(parents=True, exist_ok=True)
    run_dir = root / kind
    sets: dict[str, Any] = {**COMMON, "train.steps": 4}
    if kind == "mixture2d":
        preset = "ring8"
        sets.update({"model.options": {"z_dim": 2, "g_hidden": [16], "d_hidden": [16]}, "train.batch_size": 32})
    elif kind == "image":
        preset = "gan-mlp-mnist"
        sets.update({"data.options": {"limit": 64}, "log.eval_samples": 64, "train.batch_size": 16,
                     "model.options": {"z_dim": 4, "g_hidden": [16], "d_hidden": [16]}})
    elif kind == "table":
        preset = "ctgan-health-insurance"
        csv = root / "table.csv"
        small_table().to_csv(csv, index=False)
        sets.update({**CTGAN_TINY, "data.name": "table", "data.options": {"path": str(csv), "target": "y"}})
    elif kind == "series":
        preset = "tadgan-ucr135"
        csv = root / "series.csv"
        spiky_series().to_csv(csv, index=False)
        sets.update({**TADGAN_TINY, "train.batch_size": 4, "data.name": "series-csv",
                     "data.options": {"path": str(csv), "window": 16}})
    elif kind == "field":
        preset = "cgan-fields-a1b"
        rng = np.random.default_rng(0)
        fields = (rng.normal(size=(16, 1, 9, 11)) * 3 + 280).astype(np.float32)
        npz = root / "fields.npz"
        np.savez(npz, fields=fields, cond=rng.normal(size=(16, 2)).astype(np.float32))
        sets.update({"model.options": {"z_dim": 4, "channels": 4, "layers": 2}, "data.name": "field-npz",
                     "data.options": {"path": str(npz)}, "train.batch_size": 4, "train.d_steps": 1})
    elif kind == "tracks":
        preset = "storm-tracks"
        sets.update({"model.options": {"z_dim": 4, "embed_dim": 2, "hidden": 8}, "train.batch_size": 16,
                     "train.d_steps": 1})
    elif kind == "paired":
        preset = "pix2pix-edges2mnist"
        rng = np.random.default_rng(0)
        a = rng.integers(0, 60, (24, 16, 16), dtype=np.uint8)
        a[:, 4:12, 4:12] += 150
        npz = root / "pairs.npz"
        np.savez(npz, a=a, b=255 - a)
        sets.update({"model.options": {"ngf": 4, "ndf": 4, "depth": 3, "d_layers": 1}, "data.name": "paired-npz",
                     "data.options": {"path": str(npz)}, "train.batch_size": 4})
    else:
        raise ValueError(f"unknown kind {kind!r}")
    ganforge.train(preset, run_dir, quiet=True, **sets)
    return run_dir
