"""TadGAN vs baselines on labelled series: Orion's overlap F1 / precision / recall and CPU seconds per row.

    OMP_NUM_THREADS=1 python bench/tadgan.py                          # ucr135, yahoo, mitdb: every row
    OMP_NUM_THREADS=1 python bench/tadgan.py --datasets yahoo         # one series
    OMP_NUM_THREADS=1 python bench/tadgan.py --steps mitdb=805        # Orion's 35 epochs on mitdb (default 115)

Rows per series (the same sliding-window threshold, ``metrics.anomaly.find_anomalies``, for every score):

- TadGAN: the ``tadgan-<series>`` preset (Orion's adversarial steps, then 300 reconstruction-only steps; mitdb:
  5 epochs = 115 adversarial steps instead of the preset's 35) trained by ``ganforge train`` (a subprocess; its
  CPU seconds are the child's user + sys time), scored with the preset's ``comb`` / ``rec_error_type`` (Orion's
  pipeline settings).
- LSTM autoencoder: TadGAN's own E and G (same widths, Keras initialisation) trained as a plain autoencoder on
  MSE(G(E(x)), x), Adam 5e-4, batches of 64, for as many steps as the preset's reconstruction-only steps (300) —
  the run without its adversarial part — scored with the same reconstruction error and ``comb="rec"`` (no critic).
- AR(50): a least-squares one-step predictor fitted on the training split (Orion's regression-error protocol).
- moving z-score: |x − trailing mean| / trailing std over 100 points.
- chance levels: "random score" (i.i.d. uniform scores through the same threshold, mean over 5 seeds) and "flag
  everything" (one interval = the whole series): under the overlapping-segment metric the latter has recall 1,
  precision 1 and F1 1 whenever the series has any anomaly — that metric rewards over-wide intervals, so the
  number of detected intervals is printed beside every F1.

Results: bench/results/tadgan.json (rows + the command line).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from ganforge.metrics.anomaly import (
    DetectOptions,
    ar_errors,
    detect_windows,
    detect_with_scores,
    fit_ar,
    moving_zscore,
    overlap_scores,
)
from ganforge.registry import DATASETS

DATASETS_ALL = ("ucr135", "yahoo", "mitdb")
ADVERSARIAL = {"ucr135": 105, "yahoo": 140, "mitdb": 115}  # Orion's epochs in E/G steps (mitdb: 5 of its 35)
RECON = 300  # the presets' reconstruction-only steps after the game (recon_after)


def load(name: str, split: str):
    import ganforge.builder  # noqa: F401  (registers the datasets)

    return DATASETS.get(name)().load(split)


def row(name: str, method: str, expected, found, cpu: float, **extra) -> dict:
    s = overlap_scores(expected, [(a, b) for a, b, *_ in found])
    return {"dataset": name, "method": method, "f1": s.f1, "precision": s.precision, "recall": s.recall,
            "detected": len(found), "cpu_s": round(cpu, 1), **extra}


def cpu_self() -> float:
    return time.process_time()


def cpu_children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def baselines(name: str, window: int = 100, order: int = 50) -> list[dict]:
    train, test = load(name, "train"), load(name, "test")
    rows = []
    for label, fn in (("moving z-score (w=100)", lambda: moving_zscore(test.scaled, window)),
                      (f"AR({order}) predictor", lambda: ar_errors(fit_ar(train.scaled, order), test.scaled))):
        t0 = cpu_self()
        found = detect_with_scores(fn())
        rows.append(row(name, label, test.intervals, found, cpu_self() - t0))
    f1s = []
    for seed in range(5):
        found = detect_with_scores(np.random.default_rng(seed).uniform(size=len(test.values)))
        f1s.append(row(name, "", test.intervals, found, 0.0))
    rows.append({"dataset": name, "method": "chance: random score (5 seeds)",
                 **{k: float(np.mean([r[k] for r in f1s])) for k in ("f1", "precision", "recall", "detected")},
                 "cpu_s": 0.0})
    rows.append(row(name, "trivial: flag everything", test.intervals, [(0, len(test.values) - 1)], 0.0))
    return rows


def train_tadgan(name: str, steps: int, run: Path) -> tuple[dict, float]:
    cmd = [sys.executable, "-m", "ganforge", "train", f"tadgan-{name}", "--run-dir", str(run), "--overwrite",
           "--no-progress", "--set", f"train.steps={steps + RECON}", "--set", f"objective.options.recon_after={steps}",
           "--set", "log.tensorboard=False"]
    before = cpu_children()
    subprocess.run(cmd, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, stdout=subprocess.DEVNULL)
    return {"command": " ".join(["ganforge", *cmd[3:]])}, cpu_children() - before


def tadgan_row(name: str, steps: int, runs: Path) -> dict:
    from ganforge.kinds.series import detect_options, detect_series
    from ganforge.training.rundir import load_run

    run = runs / f"tadgan-{name}"
    info, cpu = train_tadgan(name, steps, run)
    cfg, sampler, _, _ = load_run(run)
    test = load(name, "test")
    t0 = cpu_self()
    options = detect_options(cfg)
    det = detect_series(sampler, test, options)
    return row(name, f"TadGAN ({steps}+{RECON} steps, {options.comb}, {options.rec_error_type})", test.intervals,
               det.intervals, cpu + cpu_self() - t0, **info)


def autoencoder_row(name: str, steps: int, seed: int = 0) -> dict:
    """E and G of TadGAN trained as a plain LSTM autoencoder (MSE only), scored by reconstruction alone."""
    from ganforge.builder import build_family
    from ganforge.config import resolve_config
    from ganforge.models.tadgan import reconstruct

    t0 = cpu_self()
    cfg = resolve_config(f"tadgan-{name}", [])
    family = build_family(cfg)
    train, test = load(name, "train"), load(name, "test")
    torch.manual_seed(seed)
    nets = family.build(train.spec())
    E, G = nets["E"], nets["G"]
    opt = torch.optim.Adam([*E.parameters(), *G.parameters()], lr=5e-4)
    x_all = train.x  # [N, W, 1]
    gen = torch.Generator().manual_seed(seed)
    perm, pos = torch.randperm(len(x_all), generator=gen), 0
    for _ in range(steps):
        if pos + 64 > len(perm):
            perm, pos = torch.randperm(len(x_all), generator=gen), 0
        x = x_all[perm[pos : pos + 64]]
        pos += 64
        loss = (G(E(x)) - x).square().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    y_hat, critic = reconstruct(nets, test.x)
    options = DetectOptions(rec_error_type=family.rec_error_type, comb="rec")
    det = detect_windows(test.x[..., 0].double().numpy(), y_hat, critic, options)
    return row(name, f"LSTM autoencoder ({steps} steps, {options.rec_error_type})", test.intervals, det.intervals,
               cpu_self() - t0, train_mse=round(float(loss.detach()), 4))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--datasets", nargs="+", default=list(DATASETS_ALL), choices=DATASETS_ALL)
    p.add_argument("--steps", nargs="*", default=[], metavar="NAME=STEPS", help="TadGAN adversarial steps per series")
    p.add_argument("--no-gan", action="store_true", help="baselines only (no training)")
    p.add_argument("--runs", type=Path, default=Path("runs/bench-tadgan"))
    p.add_argument("--out", type=Path, default=Path("bench/results/tadgan.json"))
    args = p.parse_args()
    torch.set_num_threads(1)
    steps = {**ADVERSARIAL, **{k: int(v) for k, v in (s.split("=", 1) for s in args.steps)}}
    rows: list[dict] = []
    for name in args.datasets:
        if not args.no_gan:
            rows.append(tadgan_row(name, steps[name], args.runs))
            rows.append(autoencoder_row(name, RECON))
        rows += baselines(name)
        print_rows([r for r in rows if r["dataset"] == name])
        save(args.out, [r for r in rows if r["dataset"] == name], name)  # after each series: a long run keeps some
    return 0


def save(out: Path, rows: list[dict], name: str) -> None:
    """Replace ``name``'s rows in ``out``; other series' rows stay, each with the command that made it."""
    from ganforge.outputs import write_text

    old = json.loads(out.read_text())["rows"] if out.is_file() else []
    argv = " ".join(["python bench/tadgan.py", *sys.argv[1:]])
    rows = [r for r in old if r["dataset"] != name] + [{**r, "bench": argv} for r in rows]
    rows.sort(key=lambda r: DATASETS_ALL.index(r["dataset"]))
    write_text(out, json.dumps({"rows": rows, "threads": torch.get_num_threads(), "numpy": np.__version__,
                                "torch": torch.__version__}, indent=2), "--out")


def print_rows(rows: list[dict]) -> None:
    print(f"{'dataset':8} {'method':48} {'F1':>5} {'prec':>5} {'rec':>5} {'found':>6} {'CPU s':>7}")
    for r in rows:
        print(f"{r['dataset']:8} {r['method'][:48]:48} {r['f1']:5.2f} {r['precision']:5.2f} {r['recall']:5.2f} "
              f"{r['detected']:6.1f} {r['cpu_s']:7.1f}", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
