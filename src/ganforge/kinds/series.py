"""Data kind "series" (``data.timeseries``): TadGAN anomaly detection on the run's test series.

Evaluation (in training and ``ganforge eval RUN``): F1 / precision / recall of the detected intervals on the test
split (``eval/final.json``); samples: at the end of training a plot of signal, reconstruction, score and detected vs
labelled anomalies. ``ganforge detect`` uses ``detect_series`` / ``detect_options`` / ``plot_detection`` from here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganforge.config import RunConfig
from ganforge.data.timeseries import SeriesData
from ganforge.kinds.base import DataKind
from ganforge.outputs import save_figure
from ganforge.registry import RUN_HOOKS


def detect_series(sampler: torch.nn.Module, series: SeriesData, options: Any = None) -> Any:
    """TadGAN detection on ``series`` with a trained run's networks (``Sampler.nets``: E, G, Cx):
    ``metrics.anomaly.Detection`` (scores, reconstruction, intervals)."""
    from ganforge.metrics.anomaly import detect_windows
    from ganforge.models.tadgan import reconstruct

    nets = dict(sampler.nets.items())
    missing = [n for n in ("E", "G", "Cx") if n not in nets]
    if missing:
        raise ValueError(f"this run has no {'/'.join(missing)} network(s); anomaly detection needs a TadGAN run "
                         "(model.name=tadgan)")
    y_hat, critic = reconstruct(nets, series.x)
    return detect_windows(series.x[..., 0].double().numpy(), y_hat, critic, options)


def detect_options(cfg: RunConfig, **overrides: Any) -> Any:
    """``metrics.anomaly.DetectOptions`` of a run: the model family's ``rec_error_type`` / ``comb`` / ``lambda_rec``
    when it declares them (``ModelFamily.detection_defaults``; TadGAN: Orion's UCR defaults dtw, sum, 0.5), then
    ``overrides`` (CLI flags given)."""
    from ganforge.builder import build_family
    from ganforge.metrics.anomaly import DetectOptions

    family = build_family(cfg)
    declared = family.detection_defaults()
    return DetectOptions(**{**declared, **{k: v for k, v in overrides.items() if v is not None}})


@RUN_HOOKS.register("series")
class SeriesKind(DataKind):
    """Series: F1 / precision / recall of the detected intervals on the test split (``eval/final.json``), and a
    plot of signal, reconstruction, score and detected vs labelled anomalies at the end of training."""

    standalone_eval = True

    def _test(self, cfg: RunConfig) -> SeriesData:
        from ganforge.builder import build_dataset

        return build_dataset(cfg, "test")

    def evaluate(self, G: torch.nn.Module, data: Any, cfg: RunConfig, device: torch.device) -> dict[str, float]:
        test = self._test(cfg)
        return detect_series(G, test, detect_options(cfg)).metrics(test.intervals)

    def protocol(self, data: Any, cfg: RunConfig, generator: str, step: int) -> dict[str, Any]:
        return {"dataset": cfg.data.name, "split": "test", "generator": generator, "step": step,
                "metric": "Orion overlapping-segment precision/recall/F1 (contextual, weighted=False)",
                "detection": vars(detect_options(cfg))}

    def samples(self, G: torch.nn.Module, data: Any, run_dir: Path, step: int, cfg: RunConfig, device: torch.device,
                final: bool = False) -> None:
        if not final:
            return
        test = self._test(cfg)
        plot_detection(run_dir / "plots" / "detection.png", test, detect_series(G, test, detect_options(cfg)),
                       f"{cfg.name} step {step}")
def unscale(x: np.ndarray, scale: tuple[float, float]) -> np.ndarray:
    """Inverse of the [-1, 1] min-max scaling."""
    lo, hi = scale
    return (np.asarray(x) + 1.0) / 2.0 * (hi - lo) + lo


def plot_detection(path: Path, series: Any, detection: Any, title: str) -> None:
    """Three panels: signal with its reconstruction; the anomaly score; detected (red) vs labelled (green) spans."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = np.arange(len(series.values))
    fig, axes = plt.subplots(3, 1, figsize=(12, 7), sharex=True, height_ratios=[3, 2, 1])
    axes[0].plot(t, series.values, lw=0.7, label="signal")
    axes[0].plot(t, unscale(detection.scores.reconstruction, series.scale), lw=0.7, label="reconstruction G(E(x))")
    axes[0].legend(loc="upper right", fontsize=8)
    axes[0].set_title(title)
    axes[1].plot(t, detection.scores.score, lw=0.7, color="k")
    axes[1].set_ylabel("anomaly score")
    for a, b in series.intervals:
        for ax in axes:
            ax.axvspan(a, b + 1, color="tab:green", alpha=0.25)
    for a, b, _ in detection.intervals:
        axes[2].axvspan(a, b + 1, ymin=0.0, ymax=0.5, color="tab:red", alpha=0.6)
    for a, b in series.intervals:
        axes[2].axvspan(a, b + 1, ymin=0.5, ymax=1.0, color="tab:green", alpha=0.8)
    axes[2].set_yticks([0.25, 0.75], ["detected", "labelled"])
    axes[2].set_xlabel("index")
    fig.tight_layout()
    try:  # through the one writer: a temporary renamed onto ``path`` (RUN/plots/ is ganforge's own folder)
        save_figure(fig, path, own_folder=True, dpi=100)
    finally:
        plt.close(fig)
