"""The mode-collapse suite: train a set of methods over several seeds, count modes, tabulate mean ± std.

Protocols:

* ``ring8`` / ``grid25`` (2-D mixtures): PacGAN / VEEGAN (Lin et al. 2018, §5.1; Srivastava et al. 2017, §5.1) —
  2,500 samples of the trained generator (its EMA when the preset keeps one); a sample is *high quality* if within
  3 std of its nearest mode; ``modes`` = modes with at least one high-quality sample; ``modes_20`` = modes with at
  least 20 (the stricter rule; blank for the published rows, which use the first); ``hq_percent``; ``kl`` =
  KL(p̂ ‖ uniform) = Σ_k p̂_k log(K p̂_k) over the high-quality histogram (``ganforge.metrics.toy``).
* ``stacked-mnist`` (1,000 modes): 26,000 generated images (PacGAN Table 2 / VEEGAN), each channel labelled by the
  shipped MNIST classifier, mode = 100·d_R + 10·d_G + d_B; ``modes`` = modes hit at least once; ``kl`` =
  KL(p̂ ‖ uniform over 1,000) (``ganforge.metrics.classifier.mode_statistics``). No quality threshold (blank HQ).

Each (dataset, method) row reports the mean ± sample standard deviation (ddof = 1; 0 for a single seed) over seeds,
next to the published rows of PacGAN Tables 1–2. Outputs in ``out_dir``: ``modes.md``, ``modes.csv``,
``modes.png`` (a scatter grid: one row per 2-D method, one column per seed), ``results.json`` (every run), and one
run directory per (dataset, method, seed) under ``runs/``.

A *method* is a preset name or YAML path, optionally labelled and with overrides:
``LABEL:PRESET;KEY=VALUE;KEY=VALUE`` (e.g. ``pacgan2:ring8;model.options.pack=2``). With ``datasets`` given, every
method runs on every dataset (``data.name`` is replaced, and ``data.options`` dropped when the dataset changes);
without, each method runs on its preset's own dataset. Built-in methods for Stacked MNIST (no preset file):
``dcgan-stacked-mnist`` and ``pacdcgan2-stacked-mnist`` (``BUILTIN_METHODS``).
"""

from __future__ import annotations

import argparse
import copy
import csv
import json
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import torch

from ganforge.config import apply_override, config_from_dict, load_preset, parse_override
from ganforge.data.base import to_uint8
from ganforge.data.toy import GaussianMixture2D
from ganforge.metrics.toy import N_EVAL
from ganforge.models.base import output_range
from ganforge.options import ConfigError
from ganforge.outputs import OutputFolder, atomic_file, ensure_folder, save_figure
from ganforge.sampling import EVAL_SEED_OFFSET, generate_samples

N_STACKED_EVAL = 26_000  # generated images per Stacked-MNIST evaluation (VEEGAN / PacGAN)
TOY_DATASETS = ("ring8", "grid25")
STACKED = "stacked-mnist"
METRIC_KEYS = ("modes", "modes_20", "hq_percent", "kl")  # per-run metrics a row aggregates (absent ones: None)

# Published rows (Lin et al. 2018, PacGAN, Tables 1–2); None = not quoted here. ``hq_percent`` is % high quality.
# Table 1's spread is over 10 runs (the released config runs 10 per packing degree; the caption gives it as the
# standard error), ours is the standard deviation over our seeds. PacGAN's "GAN" row is the unpacked D (pack 1):
# compare a packed preset with the PacGAN-k rows.
PUBLISHED: dict[str, list[dict[str, Any]]] = {
    "ring8": [
        {"method": "GAN (PacGAN Table 1)", "modes": (6.3, 0.5), "hq_percent": (98.2, None), "kl": None},
        {"method": "PacGAN2 (PacGAN Table 1)", "modes": (7.9, 0.1), "hq_percent": None, "kl": None},
    ],
    "grid25": [
        {"method": "GAN (PacGAN Table 1)", "modes": (17.3, 0.8), "hq_percent": None, "kl": None},
        {"method": "PacGAN2 (PacGAN Table 1)", "modes": (23.8, 0.7), "hq_percent": None, "kl": None},
        {"method": "PacGAN3 (PacGAN Table 1)", "modes": (24.6, 0.4), "hq_percent": None, "kl": None},
        {"method": "PacGAN4 (PacGAN Table 1)", "modes": (24.8, 0.2), "hq_percent": (93.6, None), "kl": None},
    ],
    STACKED: [
        {"method": "DCGAN (PacGAN Table 2)", "modes": (99.0, None), "hq_percent": None, "kl": (3.40, None)},
        {"method": "PacDCGAN2 (PacGAN Table 2)", "modes": (1000.0, None), "hq_percent": None, "kl": (0.06, None)},
    ],
}

# DCGAN on Stacked MNIST, sized for CPU (width 32: G 64-32 channels, D 32-64), non-saturating loss, Adam 2e-4 β1 0.5
# (Radford et al. 2016). PacDCGAN2 = the same with D judging 2 packed samples (Lin et al. 2018).
_STACKED_DCGAN: dict[str, Any] = {
    "model": {"name": "dcgan", "options": {"z_dim": 100, "width": 32}},
    "objective": {"name": "logistic", "options": {"g_cost": "nonsaturating"}},
    "data": {"name": STACKED, "options": {"n": 60_000, "seed": 0}},
    "optim": {"g": {"name": "adam", "lr": 2.0e-4, "betas": [0.5, 0.999]},
              "d": {"name": "adam", "lr": 2.0e-4, "betas": [0.5, 0.999]}},
    "train": {"steps": 5000, "batch_size": 64},
    "log": {"every": 100, "sample_every": 0},
}
BUILTIN_METHODS: dict[str, dict[str, Any]] = {
    "dcgan-stacked-mnist": _STACKED_DCGAN,
    "pacdcgan2-stacked-mnist": {**_STACKED_DCGAN, "model": {"name": "dcgan",
                                                             "options": {"z_dim": 100, "width": 32, "pack": 2}}},
}
BENCH_OVERRIDES = ["log.tensorboard=False", "log.progress=False", "train.checkpoint_every=1000000"]


@dataclass
class Method:
    """One table row's recipe: a label, a preset (name, YAML path or built-in) and ``--set``-style overrides."""

    label: str
    preset: str
    overrides: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, spec: str) -> Method:
        """``PRESET`` or ``LABEL:PRESET;KEY=VALUE;...`` (a colon before any '=' introduces the label)."""
        label = None
        head = spec.split("=", 1)[0]
        if ":" in head:
            label, spec = spec.split(":", 1)
        preset, *overrides = [part.strip() for part in spec.split(";")]
        if not preset:
            raise ValueError(f"method spec {spec!r} names no preset")
        return cls(label or preset, preset, [o for o in overrides if o])


def _preset_dict(preset: str) -> dict[str, Any]:
    if preset in BUILTIN_METHODS:
        data = copy.deepcopy(BUILTIN_METHODS[preset])
        data["name"] = preset
        return data
    return copy.deepcopy(load_preset(preset))


def method_config(method: Method, dataset: str | None, seed: int, steps: int | None,
                  overrides: Sequence[str] = ()) -> Any:
    """The ``RunConfig`` of one run: preset -> dataset swap -> method overrides -> bench overrides -> seed, steps."""
    data = _preset_dict(method.preset)
    data["name"] = f"{method.label}-{dataset or data.get('data', {}).get('name', '')}-s{seed}"
    if dataset is not None and data.get("data", {}).get("name") != dataset:
        data["data"] = {"name": dataset}
    for text in [*method.overrides, *overrides, *BENCH_OVERRIDES]:
        apply_override(data, *parse_override(text))
    apply_override(data, ["train", "seed"], seed)
    if steps is not None:
        apply_override(data, ["train", "steps"], steps)
    return config_from_dict(data)


# ---- one run -------------------------------------------------------------------------------------------------


def _stacked_metrics(G: torch.nn.Module, seed: int, device: torch.device, n_eval: int) -> dict[str, float]:
    """Stacked-MNIST protocol: ``n_eval`` images -> classifier modes -> {modes, kl} (module docstring)."""
    from ganforge.metrics.classifier import load_mnist_classifier, mode_statistics, stacked_mnist_modes

    fake = generate_samples(G, n_eval, seed + EVAL_SEED_OFFSET, device)
    images = to_uint8(fake, output_range(G)).cpu()
    modes = stacked_mnist_modes(load_mnist_classifier(device=device), images)
    stats = mode_statistics(modes)
    return {"modes": float(stats["modes"]), "kl": stats["kl"]}


def run_one(cfg: Any, run_dir: Path, n_stacked_eval: int = N_STACKED_EVAL) -> tuple[dict[str, float], np.ndarray | None,
                                                                                      float]:
    """Train ``cfg`` in ``run_dir`` (overwritten); return (metrics, 2-D samples for the picture or None, seconds)."""
    import ganforge.data.stacked  # noqa: F401  (registers "stacked-mnist")
    from ganforge.training.run import Run

    t0 = time.perf_counter()
    run = Run(cfg, run_dir, overwrite=True, progress=False)
    summary = run.train()
    if summary["status"] != "finished":
        raise RuntimeError(f"run {cfg.name} stopped early ({summary['status']})")
    G, data = run.eval_generator(), run.components.data
    points = None
    if isinstance(data, GaussianMixture2D):
        m = summary["metrics"]
        metrics = {"modes": m["modes"], "modes_20": m["modes_20"], "hq_percent": m["hq_percent"],
                   "kl": m["reverse_kl"]}
        # the same 2,500 points the metrics were computed on (evaluate_generator's seed)
        points = generate_samples(G, N_EVAL, cfg.train.seed + EVAL_SEED_OFFSET, run.device).cpu().numpy()
    elif cfg.data.name == STACKED:
        metrics = _stacked_metrics(G, cfg.train.seed, run.device, n_stacked_eval)
    else:
        raise ValueError(f"the mode bench handles {', '.join([*TOY_DATASETS, STACKED])}; got {cfg.data.name!r}")
    return metrics, points, time.perf_counter() - t0


# ---- the suite -----------------------------------------------------------------------------------------------


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    arr = np.asarray(values, dtype=np.float64)
    return float(arr.mean()), float(arr.std(ddof=1)) if len(arr) > 1 else 0.0


RESULT_FILES = ("modes.md", "modes.csv", "results.json", "modes.png")


def run_mode_bench(presets: Sequence[str], datasets: Sequence[str] | None, seeds: Sequence[int],
                   steps_override: int | None, out_dir: str | Path, *, overrides: Sequence[str] = (),
                   n_stacked_eval: int = N_STACKED_EVAL, picture: bool = True, verbose: bool = True,
                   ) -> list[dict[str, Any]]:
    """Run every method × dataset × seed, write ``modes.md`` / ``modes.csv`` / ``modes.png`` / ``results.json``.

    Returns the table: one dict per row, measured rows (``source`` "measured", with ``runs``) followed, per dataset,
    by the published rows (``source`` "published"). Numeric cells are ``(mean, std)`` pairs or None.
    """
    if not seeds:
        raise ValueError("the mode bench needs at least one seed")
    out_dir = Path(out_dir)
    # before any training: the result files may replace only ganforge's own earlier ones (the folder's manifest)
    results = OutputFolder(out_dir, "--out-dir").claim(RESULT_FILES, only_names=True)
    ensure_folder(out_dir, "--out-dir")
    methods = [Method.parse(p) for p in presets]
    plan: list[tuple[str, Method]] = []
    for method in methods:
        for dataset in datasets or [None]:
            name = dataset or _preset_dict(method.preset).get("data", {}).get("name", "ring8")
            plan.append((name, method))
    order = {d: i for i, d in enumerate(dict.fromkeys(d for d, _ in plan))}
    plan.sort(key=lambda dm: order[dm[0]])  # group rows by dataset, methods in the order given

    rows: list[dict[str, Any]] = []
    points: dict[tuple[str, str], list[tuple[int, np.ndarray]]] = {}
    for dataset, method in plan:
        runs = []
        for seed in seeds:
            cfg = method_config(method, dataset, seed, steps_override, overrides)
            metrics, pts, seconds = run_one(cfg, out_dir / "runs" / dataset / method.label / f"seed-{seed}",
                                            n_stacked_eval)
            runs.append({"seed": seed, "seconds": round(seconds, 2), "steps": cfg.train.steps, **metrics})
            if pts is not None:
                points.setdefault((dataset, method.label), []).append((seed, pts))
            if verbose:
                shown = ", ".join(f"{k} {v:.3g}" for k, v in metrics.items())
                print(f"[modes] {dataset} {method.label} seed {seed}: {shown} ({seconds:.1f} s)", flush=True)
        row: dict[str, Any] = {"dataset": dataset, "method": method.label, "source": "measured",
                               "seeds": len(runs), "steps": runs[0]["steps"], "runs": runs,
                               "seconds": _mean_std([r["seconds"] for r in runs])}
        for key in METRIC_KEYS:
            row[key] = _mean_std([r[key] for r in runs]) if key in runs[0] else None
        rows.append(row)
    for dataset in order:
        for ref in PUBLISHED.get(dataset, []):
            rows.append({"dataset": dataset, "source": "published", "seeds": None, "steps": None, "seconds": None,
                         **ref})
    rows.sort(key=lambda r: order[r["dataset"]])  # stable: measured rows first within each dataset

    with results.write("modes.md") as tmp:
        tmp.write_text(format_markdown(rows))
    with results.write("modes.csv") as tmp:
        write_csv(rows, tmp)
    with results.write("results.json") as tmp:
        tmp.write_text(json.dumps(rows, indent=2) + "\n")
    if picture and points:
        with results.write("modes.png") as tmp:
            plot_mode_grid(points, tmp)
    return rows


# ---- writers -------------------------------------------------------------------------------------------------


def _cell(value: tuple[float, float | None] | None, digits: int = 1) -> str:
    if value is None:
        return ""
    mean, std = value
    return f"{mean:.{digits}f}" if std is None else f"{mean:.{digits}f} ± {std:.{digits}f}"


def format_markdown(rows: Sequence[dict[str, Any]]) -> str:
    """A markdown table: dataset, method, source, seeds, steps, modes (≥ 1 and ≥ 20 high-quality samples),
    % high quality, KL, seconds per seed."""
    lines = ["| dataset | method | source | seeds | steps | modes | modes (≥ 20) | high quality (%) | KL to uniform "
             "| s / seed |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append("| " + " | ".join([
            r["dataset"], r["method"], r["source"], str(r["seeds"] or ""), str(r["steps"] or ""),
            _cell(r["modes"]), _cell(r.get("modes_20")), _cell(r["hq_percent"]), _cell(r["kl"], 2),
            _cell(r["seconds"], 0),
        ]) + " |")
    return "\n".join(lines) + "\n"


CSV_FIELDS = ["dataset", "method", "source", "seeds", "steps", "modes_mean", "modes_std", "modes_20_mean",
              "modes_20_std", "hq_percent_mean", "hq_percent_std", "kl_mean", "kl_std", "seconds_mean", "seconds_std"]


def write_csv(rows: Sequence[dict[str, Any]], path: str | Path) -> None:
    """One line per row; ``*_mean`` / ``*_std`` columns (empty where unknown); atomic (``ganforge.outputs``)."""
    with atomic_file(Path(path), "--out-dir") as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for r in rows:
            line: dict[str, Any] = {k: r.get(k) if r.get(k) is not None else "" for k in CSV_FIELDS[:5]}
            for key in (*METRIC_KEYS, "seconds"):
                mean, std = r.get(key) or (None, None)
                line[f"{key}_mean"] = "" if mean is None else f"{mean:.6g}"
                line[f"{key}_std"] = "" if std is None else f"{std:.6g}"
            writer.writerow(line)


def plot_mode_grid(points: dict[tuple[str, str], list[tuple[int, np.ndarray]]], path: str | Path) -> None:
    """Scatter grid: one row per (dataset, method), one column per seed, the generated points over the modes.

    ``points[(dataset, method)]`` = ``[(seed, samples [N, 2]), ...]``; the modes (black crosses) are drawn at the
    dataset's default options.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ganforge.registry import DATASETS

    keys = list(points)
    ncols = max(len(v) for v in points.values())
    fig, axes = plt.subplots(len(keys), ncols, figsize=(2.2 * ncols, 2.2 * len(keys)), dpi=100, squeeze=False)
    for i, key in enumerate(keys):
        means = DATASETS.get(key[0])().means.numpy()
        extent = float(np.abs(means).max()) * 1.35
        for j in range(ncols):
            ax = axes[i][j]
            ax.set_xticks([])
            ax.set_yticks([])
            if j >= len(points[key]):
                ax.axis("off")
                continue
            seed, pts = points[key][j]
            ax.scatter(pts[:, 0], pts[:, 1], s=1, c="tab:orange", alpha=0.4)
            ax.scatter(means[:, 0], means[:, 1], marker="x", c="k", s=12, linewidths=0.8)
            ax.set_xlim(-extent, extent)
            ax.set_ylim(-extent, extent)
            ax.set_aspect("equal")
            ax.set_title(f"seed {seed}", fontsize=8)
            if j == 0:
                ax.set_ylabel(f"{key[0]}\n{key[1]}", fontsize=8)
    fig.tight_layout()
    try:
        save_figure(fig, Path(path), "--out-dir")
    finally:
        plt.close(fig)


# ---- command line ----------------------------------------------------------------------------------------------


class _ArgumentParser(argparse.ArgumentParser):
    """The CLI's one-line error format for a bad argument, instead of argparse's usage block."""

    def error(self, message: str) -> NoReturn:
        name = self.prog.removeprefix("ganforge ")
        print(f"ganforge: error: {name}: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)


def build_parser(prog: str = "ganforge bench modes") -> argparse.ArgumentParser:
    p = _ArgumentParser(prog=prog, description="Mode-collapse suite: methods × datasets × seeds, "
                                "PacGAN protocol, mean ± std next to the published rows.")
    p.add_argument("--presets", nargs="+", default=["ring8", "gmmn-ring8"], metavar="METHOD",
                   help="preset names / YAML paths / built-ins, optionally LABEL:PRESET;KEY=VALUE;... "
                        "(default: ring8 gmmn-ring8)")
    p.add_argument("--datasets", nargs="*", default=None, choices=[*TOY_DATASETS, STACKED],
                   help="run every method on each of these (default: each preset's own dataset)")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    p.add_argument("--steps", type=int, default=None, help="override train.steps of every run")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="config override applied to every run (repeatable), e.g. data.options.n=10000")
    p.add_argument("--n-stacked-eval", type=int, default=N_STACKED_EVAL,
                   help=f"generated images per Stacked-MNIST evaluation (default {N_STACKED_EVAL})")
    p.add_argument("--out-dir", type=Path, default=Path("runs/bench-modes"))
    p.add_argument("--no-picture", action="store_true", help="skip modes.png")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """``ganforge bench modes`` / ``python bench/modes.py``: run the suite, print the markdown table."""
    try:
        args = build_parser().parse_args(list(argv) if argv is not None else None)
    except SystemExit as exc:  # --help (0) or a bad argument (2, already reported on one line)
        return exc.code if isinstance(exc.code, int) else 2
    for flag, value in (("--steps", args.steps), ("--n-stacked-eval", args.n_stacked_eval)):
        if value is not None and value < 1:
            raise ConfigError(f"bench modes: {flag} must be >= 1, got {value}")
    t0 = time.perf_counter()
    rows = run_mode_bench(args.presets, args.datasets, args.seeds, args.steps, args.out_dir,
                          overrides=args.overrides, n_stacked_eval=args.n_stacked_eval, picture=not args.no_picture)
    print(format_markdown(rows), end="")
    picture = ", modes.png" if (args.out_dir / "modes.png").is_file() and not args.no_picture else ""
    seconds = math.ceil(time.perf_counter() - t0)
    print(f"wrote {args.out_dir / 'modes.md'}, modes.csv, results.json{picture} in {seconds} s")
    return 0


if __name__ == "__main__":  # python -m ganforge.bench.modes ...
    import sys

    sys.exit(main(sys.argv[1:]))
