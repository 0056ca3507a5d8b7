"""``ganforge detect RUN --input series.csv``: anomaly detection with a trained TadGAN run (Geiger et al. 2020).

The input series is scaled with the run's training scaler (``--scale train``; ``--scale input`` fits it on the input,
as Orion's ``fit_detect``), cut into the run's windows, reconstructed as G(E(x)) and scored by Cx; the anomaly score
(reconstruction error combined with the critic score) is thresholded by the sliding-window rule
(``metrics.anomaly``). Writes ``intervals.csv`` (start, end, their timestamps, score), ``scores.csv`` (per point:
value, reconstruction in the input's units, critic, score), ``detection.png`` (signal and reconstruction, score,
detected vs labelled intervals) and, when the input has labels, ``metrics.json`` (Orion's overlap F1).

Checked before any work: the input is a readable regular CSV (separator sniffed, timestamps numbers or ISO 8601
dates, finite values, labelled intervals inside the series), --k is finite and positive, and --out holds no file
ganforge did not write; every output goes through ``ganforge.outputs.OutputFolder`` (temporary name, renamed).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from ganforge.builder import build_dataset, resolve_device
from ganforge.commands.common import claim_output_folder, load_generator, one_line_os_errors, run_root
from ganforge.kinds.series import detect_options, detect_series, plot_detection, unscale
from ganforge.metrics.anomaly import COMBINATIONS, REC_ERROR_TYPES
from ganforge.options import ConfigError
from ganforge.outputs import OutputFolder
from ganforge.preflight import check_memory, check_writable, require_input

NAME = "detect"


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(NAME, help="find anomalous intervals in a series with a trained TadGAN run",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("run", type=Path, help="TadGAN run directory or checkpoint file")
    p.add_argument("--input", type=Path, required=True, help="series CSV (a value column; optional timestamps/labels)")
    p.add_argument("--out", type=Path, default=None, help="output folder (default: RUN/detect/<input name>/)")
    p.add_argument("--value-column", default="value", help="column holding the series (default: value)")
    p.add_argument("--timestamp-column", default="timestamp", help="timestamps (default: timestamp; else 0..T-1)")
    p.add_argument("--label-column", default="is_anomaly", help="0/1 anomaly labels, used when present")
    p.add_argument("--intervals", default="", help="labelled anomalies as a start,end CSV (timestamps)")
    p.add_argument("--scale", choices=["train", "input"], default="train",
                   help="min-max scaler of the training series (default) or fitted on the input")
    p.add_argument("--rec-error", choices=REC_ERROR_TYPES, default=None,
                   help="reconstruction error (default: the run's model.options.rec_error_type; Orion: dtw)")
    p.add_argument("--comb", choices=COMBINATIONS, default=None,
                   help="combine with the critic: mult, sum, rec (default: the run's model.options.comb)")
    p.add_argument("--lambda-rec", type=float, default=None,
                   help="α of --comb sum, the weight of reconstruction (default: the run's model.options.lambda_rec)")
    p.add_argument("--k", type=float, default=4.0, help="threshold = mean + k·std in each window (default 4)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--no-ema", action="store_true", help="use the raw networks instead of their EMA copies")
    return p


OUTPUTS = ("intervals.csv", "scores.csv", "detection.png", "metrics.json")


def check_options(args: argparse.Namespace) -> None:
    """Numbers refused before any work: --lambda-rec outside [0, 1], --k not a finite positive number."""
    if args.lambda_rec is not None and not 0.0 <= args.lambda_rec <= 1.0:  # also refuses nan
        raise ConfigError(f"--lambda-rec must be in [0, 1], got {args.lambda_rec}")
    if not (math.isfinite(args.k) and args.k > 0):
        raise ConfigError(f"--k must be a finite number > 0 (threshold mean + k·std), got {args.k}")


def check_detection_memory(n_points: int, window: int) -> None:
    """Detection holds every window ``[T − window + 1, window]`` several times (float32 input and reconstruction,
    float64 copies for the scores): about 40 bytes a window value. Refused up front when that is not available."""
    n_windows = max(0, n_points - window + 1)
    check_memory(40.0 * n_windows * window, f"detection on {n_points} points ({n_windows} windows of {window})",
                 "pass a shorter series (split it)")


@one_line_os_errors
def run(args: argparse.Namespace) -> int:
    from ganforge.data.timeseries import make_series, read_series_csv

    check_options(args)
    device = resolve_device(args.device, "--device")
    path = require_input(str(args.input), "input series", "--input")
    values, timestamps, expected = read_series_csv(path, args.value_column, args.timestamp_column, args.label_column,
                                                   args.intervals)
    out: Path = args.out or run_root(args.run) / "detect" / path.stem
    if args.out is None and (run_root(args.run) / "detect").is_symlink():  # the run's own folder: never followed
        raise ConfigError(f"{str(run_root(args.run) / 'detect')!r} is a symbolic link; ganforge does not write "
                          "through links in its own folders: remove the link or pass --out")
    folder = claim_output_folder(out, args.out is None, OUTPUTS.__contains__)  # refuses the user's files there
    check_writable(out, "--out", folder=True)
    cfg, sampler, spec, _ = load_generator(args.run, device, use_ema=not args.no_ema)
    if "Cx" not in sampler.nets or "E" not in sampler.nets:
        raise ConfigError(f"run {str(args.run)!r} is a {cfg.model.name} run; `ganforge detect` needs a TadGAN run "
                          "(train one with `ganforge train tadgan-ucr135`)")
    window = int(spec.shape[0])
    if len(values) >= window:
        check_detection_memory(len(values), window)
    scale = None
    if args.scale == "train":
        try:
            scale = build_dataset(cfg, "train").scale
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot reload the run's training series for its scaler ({exc}); pass --scale input"
                              ) from None
    series = make_series(values, timestamps, expected, window, 1, path.stem, scale=scale)
    options = detect_options(cfg, rec_error_type=args.rec_error, comb=args.comb, lambda_rec=args.lambda_rec, k=args.k)
    detection = detect_series(sampler, series, options)
    write_outputs(folder, series, detection)
    with folder.write("detection.png") as tmp:
        plot_detection(tmp, series, detection, f"{cfg.name}: {path.name}")
    written = ["intervals.csv", "scores.csv", "detection.png"]
    summary = f"{len(detection.intervals)} anomalous interval(s)"
    if expected:
        metrics = detection.metrics(expected)
        with folder.write("metrics.json") as tmp:
            tmp.write_text(json.dumps({"metrics": metrics, "detection": vars(options)}, indent=2))
        written.append("metrics.json")
        summary += (f"; vs {len(expected)} labelled: F1 {metrics['f1']:.3f} (precision {metrics['precision']:.3f}, "
                    f"recall {metrics['recall']:.3f})")
    folder.remove_stale(written)  # e.g. metrics.json of an earlier, labelled input
    print(f"{summary} -> {out}/ (intervals.csv, scores.csv, detection.png{', metrics.json' if expected else ''})")
    return 0


def write_outputs(out: OutputFolder | Path, series: Any, detection: Any) -> None:
    """``intervals.csv`` and ``scores.csv`` in ``out``, each through ``OutputFolder.write`` (a temporary name,
    renamed; a link at the target is replaced, a file ganforge did not write is refused)."""
    import pandas as pd

    folder = out if isinstance(out, OutputFolder) else OutputFolder(out, "--out").claim(OUTPUTS, only_names=True)
    ts = series.timestamps
    rows = [{"start": a, "end": b, "start_timestamp": ts[a], "end_timestamp": ts[b], "score": s}
            for a, b, s in detection.intervals]
    with folder.write("intervals.csv") as tmp:
        pd.DataFrame(rows, columns=["start", "end", "start_timestamp", "end_timestamp", "score"]).to_csv(
            tmp, index=False)
    s = detection.scores
    with folder.write("scores.csv") as tmp:
        pd.DataFrame({"timestamp": ts, "value": series.values,
                      "reconstruction": unscale(s.reconstruction, series.scale), "critic": s.critic,
                      "score": s.score}).to_csv(tmp, index=False)
