"""Data kind "table" (``data.tabular``): synthetic rows from CTGAN's generator, decoded to the original columns.

Samples: the fitted transformer saved with the run (``transformer.json``) and a CSV preview of 200 synthetic rows per
step. Evaluation: CTGAN's metrics (``metrics.tabular``: column shapes, pair trends, machine-learning efficacy on the
held-out rows), also ``ganforge eval RUN``. Export: ``ganforge sample`` writes CSV/Parquet in the original units.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ganforge.data.table_transform import TableTransformer
from ganforge.data.tabular import TABLE_SUFFIXES, TRANSFORMER_FILE, category_probs
from ganforge.kinds.base import DataKind, RunLoader
from ganforge.lazy import pandas as pd
from ganforge.models.base import Sampler
from ganforge.registry import DATASETS, RUN_HOOKS
from ganforge.viz.html import fig_png, figure, pyplot

N_EVAL_MAX = 20_000  # synthetic rows scored per evaluation (the training rows' count, capped)


def condition_sampler(transformer: TableTransformer) -> Tensor:
    """P(category) ``[C]`` for generation: ctgan's ``sample_original_condvec`` — the log-frequency probabilities of
    every column, flattened and renormalised (= a column uniformly, then a category ∝ log(1 + count))."""
    probs = category_probs([transformer.counts[c] for c in transformer.discrete])
    flat = probs[probs > 0] if probs.numel() else probs.flatten()
    return flat / flat.sum() if flat.numel() else flat


@torch.no_grad()
def synthesize_encoded(G: nn.Module, transformer: TableTransformer, n: int, seed: int, device: torch.device,
                       batch_size: int = 500) -> np.ndarray:
    """``n`` encoded rows ``[n, D]`` as ctgan's ``sample`` makes them: per batch, z ~ N(0, I), a conditional vector
    drawn by ``condition_sampler``, G's output activated (tanh / Gumbel-softmax); G (a copy) in training mode, so batch
    norm uses the batch's statistics as in ctgan (which never switches G to eval). Reproducible from ``seed``."""
    net = copy.deepcopy(G.nets["G"] if isinstance(G, Sampler) else G).to(device).train()
    gen = torch.Generator(device=device).manual_seed(seed)
    p = condition_sampler(transformer).to(device)
    out = []
    for start in range(0, n, batch_size):
        b = max(2, min(batch_size, n - start))  # batch norm needs 2 rows
        z = torch.randn(b, net.z_dim, generator=gen, device=device)
        cond = torch.zeros(b, len(p), device=device)
        if len(p):
            cond.scatter_(1, torch.multinomial(p, b, replacement=True, generator=gen)[:, None], 1.0)
        raw = net.raw(z, cond)
        out.append(net.activate(raw, torch.rand(raw.shape, generator=gen, device=device)).float().cpu())
    return torch.cat(out)[:n].numpy()


def synthesize(G: nn.Module, transformer: TableTransformer, n: int, seed: int, device: torch.device,
               batch_size: int = 500) -> pd.DataFrame:
    """``n`` synthetic rows with the original columns and dtypes."""
    return transformer.decode(synthesize_encoded(G, transformer, n, seed, device, batch_size))


def write_table(df: pd.DataFrame, out: Path, user_named: bool = False) -> None:
    """CSV or Parquet by suffix, through ``ganforge.outputs`` (atomic; a file the user named with ``--out``:
    ``write_owned``, never over a file ganforge did not write)."""
    from ganforge.preflight import out_file

    with out_file(out, user_named) as tmp:
        if out.suffix.lower() == ".csv":
            df.to_csv(tmp, index=False)
        else:
            df.to_parquet(tmp, index=False)


def run_transformer(run_dir: Path, cfg: Any, spec_fields: dict[str, Any] | None = None) -> TableTransformer:
    """The run's saved transformer (``RUN/transformer.json``), else refitted from its config (same data, same
    seed: the same fit) and saved; checked against the layout the networks were built for."""
    path = run_dir / TRANSFORMER_FILE
    if path.is_file():
        tf = TableTransformer.load(path)
    else:
        from ganforge.builder import build_dataset

        tf = build_dataset(cfg).transformer
        tf.save(path)
    if spec_fields is not None and (tuple(spec_fields.get("modes", ())) != tf.modes
                                    or tuple(spec_fields.get("categories", ())) != tf.n_categories):
        raise ValueError(f"{str(path)!r} does not match the networks' layout (modes {list(spec_fields['modes'])}, "
                         f"categories {list(spec_fields['categories'])}); delete it to refit it from the run's data")
    return tf


@RUN_HOOKS.register("table")
class TableKind(DataKind):
    """Tables: the transformer saved with the run, a CSV preview of synthetic rows, and CTGAN's metrics
    (``metrics.tabular``: column shapes, pair trends, machine-learning efficacy on the held-out rows)."""

    standalone_eval = True

    def samples(self, G: nn.Module, data: Any, run_dir: Path, step: int, cfg: Any, device: torch.device,
                final: bool = False) -> None:
        if not (run_dir / TRANSFORMER_FILE).is_file():
            data.transformer.save(run_dir / TRANSFORMER_FILE)
        name = "final" if final else f"step-{step:07d}"
        df = synthesize(G, data.transformer, 200, cfg.train.seed + 1_000_003, device, cfg.train.batch_size)
        write_table(df, run_dir / "samples" / f"{name}.csv")

    def evaluate(self, G: nn.Module, data: Any, cfg: Any, device: torch.device) -> dict[str, float]:
        from ganforge.metrics.tabular import evaluate_table

        n = min(len(data.frame), N_EVAL_MAX)
        synth = synthesize(G, data.transformer, n, cfg.train.seed + 2_000_003, device, cfg.train.batch_size)
        return evaluate_table(data.frame, synth, data.test_frame, data.transformer.discrete, data.target,
                              seed=cfg.train.seed)

    def protocol(self, data: Any, cfg: Any, generator: str, step: int) -> dict[str, Any]:
        return {"dataset": cfg.data.name, "generator": generator, "step": step,
                "synthetic_rows": min(len(data.frame), N_EVAL_MAX), "train_rows": len(data.frame),
                "test_rows": len(data.test_frame), "target": data.target, "seed": cfg.train.seed + 2_000_003,
                "metrics": "column shapes (KS / TV complement), pair trends (correlation / contingency similarity), "
                           "ML efficacy: fit on synthetic (or real training) rows, score on held-out real rows"}

    sample_flags = ()  # `ganforge sample` takes only --n, --seed and --out for a table (commands/sample.py)

    def export_samples(self, G: nn.Module, cfg: Any, run_dir: Path, args: Any, device: torch.device) -> Path:
        from ganforge.preflight import check_disk, check_memory, check_out_file, check_suffix

        out = args.out or run_dir / "samples" / f"sample-seed{args.seed}.csv"
        check_suffix(out, TABLE_SUFFIXES, "a table run's samples are")
        check_out_file(out, args.out is not None)
        layout = G.nets["G"].layout
        width = sum(layout.modes) + len(layout.modes) + sum(layout.categories)  # encoded row (modes, alpha, one-hots)
        columns = len(layout.modes) + len(layout.categories)
        # encoded float32 rows (the network's output and its activation), the decoded frame (8 bytes a cell, plus
        # Python strings for categories) and its CSV text (~24 bytes a cell)
        check_memory(args.n * (8 * width + 64 * columns), f"--n {args.n} table rows", "lower --n")
        check_disk(out, args.n * 24 * columns, f"--n {args.n} table rows", "--n")
        spec = {"modes": tuple(layout.modes), "categories": tuple(layout.categories)}
        tf = run_transformer(run_dir, cfg, spec)
        write_table(synthesize(G, tf, args.n, args.seed, device, cfg.train.batch_size), out, args.out is not None)
        return out

    def report_section(self, run_dir: Path, runs: RunLoader) -> str:
        final = run_dir / "samples" / "final.csv"
        if not final.is_file():
            return ""
        from ganforge.options import build_options

        # the raw table (all rows, before the split): building the dataset would refit the encoder (seconds)
        cfg = runs.resolve(run_dir / "config.yaml")
        real = build_options(DATASETS.get(cfg.data.name), cfg.data.options, "data.options").table()[0]
        png = table_distributions(real, pd.read_csv(final))
        return "<h3>Real vs synthetic columns (the table vs samples/final.csv)</h3>" + figure(
            png, "column distributions: real (blue) vs synthetic (orange)")


def table_distributions(real: Any, synth: Any, max_columns: int = 12) -> bytes:
    """Real vs synthetic distribution per column: overlaid histograms (numeric) or category shares (discrete)."""
    import pandas as pd

    plt = pyplot()
    columns = [c for c in real.columns if c in synth.columns][:max_columns]
    cols = min(4, len(columns))
    rows = math.ceil(len(columns) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.4 * rows), squeeze=False)
    for ax, col in zip(axes.flat, columns, strict=False):
        r, s = real[col].dropna(), synth[col].dropna()
        numeric = pd.api.types.is_numeric_dtype(r) and not pd.api.types.is_bool_dtype(r) and r.nunique() > 10
        if numeric:
            lo, hi = float(min(r.min(), s.min() if len(s) else r.min())), float(max(r.max(), s.max() if len(s)
                                                                                      else r.max()))
            bins = np.linspace(lo, hi if hi > lo else lo + 1, 30)
            ax.hist(r, bins=bins, density=True, alpha=0.5, label="real")
            ax.hist(s, bins=bins, density=True, alpha=0.5, label="synthetic")
        else:
            cats = list(r.astype(str).value_counts().index[:15])
            pr = r.astype(str).value_counts(normalize=True).reindex(cats, fill_value=0)
            ps = s.astype(str).value_counts(normalize=True).reindex(cats, fill_value=0)
            x = np.arange(len(cats))
            ax.bar(x - 0.2, pr.to_numpy(), 0.4, label="real")
            ax.bar(x + 0.2, ps.to_numpy(), 0.4, label="synthetic")
            ax.set_xticks(x, [c[:8] for c in cats], rotation=60, fontsize=6)
        ax.set_title(str(col), fontsize=8)
        ax.tick_params(labelsize=6)
    for ax in list(axes.flat)[len(columns):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=6)
    fig.tight_layout()
    return fig_png(fig)
