"""ganforge's CTGAN vs the reference ``ctgan`` package (``CTGANSynthesizer``): same tables, epochs, batch and seed.

For each table: train both on the training split (80 %, the same rows), generate as many rows as the training split,
and score them with sdmetrics' ``QualityReport`` (column shapes, pair trends, overall), ganforge's own re-implementation
of those two scores (``metrics.tabular``, a cross-check), machine-learning efficacy on the held-out 20 % (fit on
synthetic rows, score on real ones; "real" = fit on the real training rows) and the training wall time. Run with one
thread (OMP_NUM_THREADS=1), e.g.

    OMP_NUM_THREADS=1 python bench/tabular.py --tables nasscds:10 health-insurance:30 --seed 0

``table:epochs`` pairs; the result table is printed as markdown and written to bench/results/tabular.json.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

PRESETS = {"nasscds": "ctgan-nasscds", "health-insurance": "ctgan-health-insurance"}
BATCH = 500


def sdmetrics_quality(real: pd.DataFrame, synth: pd.DataFrame, discrete: list[str]) -> dict[str, float]:
    from sdmetrics.reports.single_table import QualityReport

    meta = {"columns": {c: {"sdtype": "categorical" if c in discrete else "numerical"} for c in real.columns}}
    report = QualityReport()
    report.generate(real, synth, meta, verbose=False)
    props = report.get_properties().set_index("Property")["Score"]
    return {"sd_quality": float(report.get_score()), "sd_column_shapes": float(props["Column Shapes"]),
            "sd_pair_trends": float(props["Column Pair Trends"])}


def score(real: pd.DataFrame, synth: pd.DataFrame, test: pd.DataFrame, discrete: list[str], target: str,
          seed: int) -> dict[str, float]:
    from ganforge.metrics.tabular import evaluate_table

    ours = evaluate_table(real, synth, test, discrete, target, seed=seed)
    keep = {k: v for k, v in ours.items() if not k.startswith("shape/")}
    return {**sdmetrics_quality(real, synth, discrete), **keep}


def run_ganforge(table: str, epochs: int, seed: int, out: Path) -> tuple[pd.DataFrame, Any, float]:
    from ganforge.config import resolve_config
    from ganforge.data.tabular import n_steps, synthesize
    from ganforge.training.run import Run

    cfg = resolve_config(PRESETS[table], ["log.tensorboard=False", "log.progress=False", "log.sample_every=0",
                                          f"train.seed={seed}", "train.device=cpu"])
    run = Run(cfg, out / f"ganforge-{table}-{seed}")
    data = run.c.data
    cfg.train.steps = n_steps(len(data), BATCH, epochs)
    t0 = time.perf_counter()
    trainer = run.trainer
    while trainer.step < cfg.train.steps:
        trainer.train_step()
    seconds = time.perf_counter() - t0
    synth = synthesize(run.eval_generator(), data.transformer, len(data.frame), seed + 2_000_003,
                       torch.device("cpu"), BATCH)
    return synth, data, seconds


def run_ctgan(data: Any, epochs: int, seed: int) -> tuple[pd.DataFrame, float]:
    from ctgan import CTGAN

    np.random.seed(seed)  # noqa: NPY002  (ctgan draws from numpy's global RNG)
    torch.manual_seed(seed)
    model = CTGAN(epochs=epochs, batch_size=BATCH, pac=10, verbose=False, cuda=False)
    t0 = time.perf_counter()
    model.fit(data.frame, discrete_columns=data.transformer.discrete)
    seconds = time.perf_counter() - t0
    return model.sample(len(data.frame)), seconds


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tables", nargs="+", default=["nasscds:10", "health-insurance:30"], help="table:epochs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("bench/results"))
    args = p.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for item in args.tables:
        table, epochs = item.split(":")
        synth, data, t_ours = run_ganforge(table, int(epochs), args.seed, Path("/tmp/ganforge-bench-tabular"))
        ref, t_ref = run_ctgan(data, int(epochs), args.seed)
        disc, target = data.transformer.discrete, data.target
        for name, df, secs in (("ganforge ctgan", synth, t_ours), ("ctgan 0.12.1", ref, t_ref)):
            rows.append({"table": table, "epochs": int(epochs), "model": name, "train_seconds": round(secs, 1),
                         **score(data.frame, df, data.test_frame, disc, target, args.seed)})
            print(json.dumps(rows[-1]), flush=True)
    (args.out / "tabular.json").write_text(json.dumps(rows, indent=1) + "\n")
    cols = ["table", "epochs", "model", "sd_quality", "sd_column_shapes", "sd_pair_trends", "quality"]
    eff = sorted({k for r in rows for k in r if k.startswith("efficacy")})
    header = cols + eff + ["train_seconds"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for r in rows:
        print("| " + " | ".join(f"{r[k]:.3f}" if isinstance(r.get(k), float) else str(r.get(k, "")) for k in header)
              + " |")


if __name__ == "__main__":
    main()
