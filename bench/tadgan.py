"""TadGAN vs baselines on labelled series: Orion's overlap F1 / precision / recall, with the command and wall time.

    python bench/tadgan.py --run runs/tadgan-ucr135                 # evaluate a trained run + baselines on ucr135
    python bench/tadgan.py --train --steps 150                      # train the preset first (ganforge train ...)
    python bench/tadgan.py --datasets ucr135 yahoo mitdb            # baselines on every built-in series

Baselines (same thresholding: metrics.anomaly.find_anomalies): a trailing moving-window z-score of the value, and
a least-squares AR(p) one-step predictor fitted on the training split (Orion's regression-error protocol).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from ganforge.metrics.anomaly import ar_errors, detect_with_scores, fit_ar, moving_zscore, overlap_scores
from ganforge.registry import DATASETS


def load(name: str, split: str):
    import ganforge.builder  # noqa: F401  (registers the datasets)

    return DATASETS.get(name)().load(split)


def baselines(name: str, window: int = 100, order: int = 50) -> list[dict]:
    train, test = load(name, "train"), load(name, "test")
    rows = []
    for label, fn in (("moving z-score (w=100)", lambda: moving_zscore(test.scaled, window)),
                      (f"AR({order}) predictor", lambda: ar_errors(fit_ar(train.scaled, order), test.scaled))):
        t0 = time.perf_counter()
        found = detect_with_scores(fn())
        s = overlap_scores(test.intervals, [(a, b) for a, b, _ in found])
        rows.append({"dataset": name, "method": label, "f1": s.f1, "precision": s.precision, "recall": s.recall,
                     "detected": len(found), "seconds": round(time.perf_counter() - t0, 2)})
    return rows


def tadgan(run: Path, name: str) -> dict:
    from ganforge.data.timeseries import detect_series
    from ganforge.training.rundir import load_run

    _, sampler, _, _ = load_run(run)
    test = load(name, "test")
    t0 = time.perf_counter()
    det = detect_series(sampler, test)
    m = det.metrics(test.intervals)
    return {"dataset": name, "method": f"TadGAN ({run})", "f1": m["f1"], "precision": m["precision"],
            "recall": m["recall"], "detected": int(m["detected"]), "seconds": round(time.perf_counter() - t0, 2)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--datasets", nargs="+", default=["ucr135"])
    p.add_argument("--run", type=Path, default=None, help="a trained TadGAN run (evaluated on its dataset)")
    p.add_argument("--train", action="store_true", help="train the tadgan-<dataset> preset first")
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--out", type=Path, default=Path("bench/results/tadgan.json"))
    args = p.parse_args()
    rows: list[dict] = []
    if args.train:
        args.run = args.run or Path("runs/tadgan-ucr135")
        cmd = ["ganforge", "train", "tadgan-ucr135", "--run-dir", str(args.run), "--overwrite", "--no-progress"]
        if args.steps:
            cmd += ["--set", f"train.steps={args.steps}"]
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True)
        print(f"trained in {time.perf_counter() - t0:.0f} s: {' '.join(cmd)}")
    for name in args.datasets:
        rows += baselines(name)
        if args.run is not None and name == "ucr135":
            rows.append(tadgan(args.run, name))
    print(f"{'dataset':8} {'method':40} {'F1':>5} {'prec':>5} {'rec':>5} {'found':>5} {'s':>6}")
    for r in rows:
        print(f"{r['dataset']:8} {r['method'][:40]:40} {r['f1']:5.2f} {r['precision']:5.2f} {r['recall']:5.2f} "
              f"{r['detected']:5d} {r['seconds']:6.1f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"rows": rows, "argv": sys.argv[1:], "numpy": np.__version__}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
