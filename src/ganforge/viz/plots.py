"""Matplotlib figures written to PNG (Agg backend, no display): toy scatter/KDE, 1-D histograms, loss curves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from scipy import stats

from ganforge.outputs import save_figure


def scatter_2d(
    real: np.ndarray, fake: np.ndarray, path: Path, title: str = "", means: np.ndarray | None = None
) -> None:
    """Real vs generated points [N, 2], with a Gaussian KDE of the generator's density as contours."""
    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    ax.scatter(real[:, 0], real[:, 1], s=2, c="tab:blue", alpha=0.4, label="real")
    ax.scatter(fake[:, 0], fake[:, 1], s=2, c="tab:orange", alpha=0.4, label="generated")
    lo = np.minimum(real.min(0), fake.min(0)) - 0.25
    hi = np.maximum(real.max(0), fake.max(0)) + 0.25
    finite = np.isfinite(fake).all(1)
    if finite.sum() > 10 and np.ptp(fake[finite], 0).min() > 1e-9:
        try:
            kde = stats.gaussian_kde(fake[finite].T)
            gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], 120), np.linspace(lo[1], hi[1], 120))
            density = kde(np.vstack([gx.ravel(), gy.ravel()])).reshape(gx.shape)
            ax.contour(gx, gy, density, levels=8, colors="tab:red", linewidths=0.6, alpha=0.7)
        except np.linalg.LinAlgError:
            pass  # singular covariance (a fully collapsed generator): scatter only
    if means is not None:
        ax.scatter(means[:, 0], means[:, 1], marker="x", c="k", s=20, label="modes")
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_aspect("equal")
    ax.legend(loc="upper right", fontsize=7, markerscale=3)
    ax.set_title(title, fontsize=9)
    _save(fig, path)


def histogram_1d(fake: np.ndarray, pdf: Any, path: Path, title: str = "") -> None:
    """Histogram of generated values against the target pdf."""
    fake = fake.ravel()
    fake = fake[np.isfinite(fake)]
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    lo, hi = np.percentile(fake, [0.5, 99.5]) if len(fake) else (-1, 1)
    grid = np.linspace(lo - 0.5, hi + 0.5, 400)
    ax.hist(fake, bins=80, range=(grid[0], grid[-1]), density=True, alpha=0.5, color="tab:orange", label="generated")
    ax.plot(grid, pdf(grid), c="tab:blue", label="target pdf")
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=9)
    _save(fig, path)


def loss_curves(records: list[dict[str, Any]], path: Path, title: str = "") -> None:
    """Every ``loss/*``, ``score/*``, ``wasserstein/*`` series in metrics.jsonl against the step."""
    keys = sorted({k for r in records for k in r if k.split("/")[0] in ("loss", "score", "wasserstein", "reg")})
    groups = [g for g in ("loss", "score", "wasserstein", "reg") if any(k == g or k.startswith(g + "/") for k in keys)]
    if not groups:
        return
    fig, axes = plt.subplots(len(groups), 1, figsize=(7, 2.6 * len(groups)), dpi=100, sharex=True, squeeze=False)
    for ax, group in zip(axes[:, 0], groups, strict=True):
        for k in (k for k in keys if k == group or k.startswith(group + "/")):
            pts = [(r["step"], r[k]) for r in records if k in r]
            ax.plot([p[0] for p in pts], [p[1] for p in pts], label=k, lw=1)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("step")
    axes[0, 0].set_title(title, fontsize=9)
    _save(fig, path)


def _save(fig: Any, path: Path) -> None:
    fig.tight_layout()
    try:
        save_figure(fig, path)  # atomic: a kill or a full disk never leaves half a PNG
    finally:
        plt.close(fig)
