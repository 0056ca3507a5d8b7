"""SAGAN and BigGAN on MNIST, measured against the DCGANs they improved on (docs/sagan_biggan.md).

Three parts (sub-commands), all on the shipped MNIST classifier (``metrics/classifier.py``):

``compare``     trains ``sagan-mnist`` (class-conditional), SAGAN unconditional, ``dcgan-mnist`` and the conditional
                DCGAN (``dcgan-mnist`` with a projection D) for the SAME budget (``--steps`` generator steps of batch
                64, one D step each), then judges each raw generator (SAGAN keeps no EMA) on ``--n`` digits of a
                private seed: FID of 128-d classifier features against the first ``--n`` training digits,
                confident % (top probability >= 0.9), class entropy, and for conditional models the label accuracy
                (``--per-class`` digits per label, % classified as that label; bench/conditional_accuracy.py).
                ``--only NAME`` trains/evaluates one model (to spread runs over processes); finished runs under
                ``--run-root`` are reused.
``attention``   the paper's attention-map figure from a trained SAGAN run: a few generated digits, three query
                pixels each on G's 14×14 attention grid, and where each query attends (β row, eq. 1) → PNG.
``table``       the label-following table (issue 24): ``sagan-mnist`` and ``biggan-mnist`` at their preset budgets
                and the conditional DCGAN (``dcgan-mnist`` + projection D, G gets the label with z: the
                like-for-like convolutional model — ``cgan-mnist`` / ``acgan-mnist`` are MLPs) trained to the SAME
                CPU seconds as each of them (1 thread; resumed in segments, exact). Each generator (the EMA copy
                where the preset keeps one, as ``ganforge sample`` uses) makes ``--per-class`` digits of every label;
                from those: label accuracy (chance 10 %), classifier FID against the first 10 × ``--per-class``
                training digits, confident %, class entropy and pixel std over z (real digits 0.193) →
                ``bench/results/sagan_biggan_table.json`` and a Markdown table (``.md``).
``truncation``  BigGAN's truncation trade-off from a trained BigGAN run (EMA G): for each threshold t, z is redrawn
                until |z_i| <= t (``Sampler``), and FID, precision / recall (k = 5, classifier features), the mean
                pairwise feature distance (diversity), confident % and label accuracy are measured → JSON + plot of
                FID against confident % (the quality axis, IS's role in the paper's Fig. 2/17) and against the
                diversity score;
                ``--no-ema`` sweeps the raw G (for runs too short for the EMA to catch up).

``per-class``   within-class diversity of a trained conditional run (issue 24: BigGAN made ~one image per label):
                ``--n`` digits per label from each generator (EMA copy and raw G), the per-pixel std over z within
                each label (images in [0, 1]), averaged over pixels, then over labels; beside it the same statistic
                of ``--n`` real training digits per label (0.151 at 100 per label) and the bench's pooled pixel std.

Results go to ``bench/results/sagan_biggan.json`` (one entry per part / model, with the command, CPU and wall time).

    OMP_NUM_THREADS=1 python bench/sagan_biggan.py compare --steps 300 --n 2000 --per-class 200 --run-root runs/sb
    OMP_NUM_THREADS=1 python bench/sagan_biggan.py table --run-root runs/sbt --per-class 1000
    OMP_NUM_THREADS=1 python bench/sagan_biggan.py attention --run runs/sb/sagan-cond
    OMP_NUM_THREADS=1 ganforge train biggan-mnist --set train.steps=600 --run-dir runs/sb/biggan
    OMP_NUM_THREADS=1 python bench/sagan_biggan.py truncation --run runs/sb/biggan --n 2000 --per-class 100
    OMP_NUM_THREADS=1 python bench/sagan_biggan.py per-class --run runs/sb/biggan --n 100
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from conditional_accuracy import class_accuracy
from mnist_quality import hardware

from ganforge.config import resolve_config
from ganforge.data.base import to_uint8
from ganforge.data.images import MNIST
from ganforge.kinds.image import evaluate_digits, pixel_std
from ganforge.metrics.classifier import classify, digit_quality, features, load_mnist_classifier
from ganforge.metrics.fid import fid_from_features
from ganforge.metrics.prdc import prdc
from ganforge.models.attention import attention_blocks
from ganforge.sampling import generate_samples
from ganforge.training.run import Run
from ganforge.training.rundir import load_run

RESULTS = Path(__file__).resolve().parent / "results" / "sagan_biggan.json"
IMG = Path(__file__).resolve().parents[1] / "docs" / "img"
EVAL_SEED = 12_345
QUIET = ["log.tensorboard=False", "log.progress=False", "log.sample_every=0", "log.eval_samples=1000"]
CPU = torch.device("cpu")

# name -> (preset, overrides, conditional): the same budget for all is set by --steps (batch 64, 1 D step each)
D2 = "model.options.d_channels=[64, 128]"
MODELS: dict[str, tuple[str, list[str], bool]] = {
    "sagan-cond": ("sagan-mnist", [], True),
    "dcgan": ("dcgan-mnist", [], False),
    "dcgan-proj": ("dcgan-mnist", ["model.options.conditioning=projection"], True),
    # the preset before its D got a third layer (d_channels [64, 128]) and the diagnostics run on that D: unconditional,
    # G's lr raised to D's 4e-4 (TTUR ablation), no attention, D flattening instead of sum pooling, no SN in G
    "sagan-cond-2layer": ("sagan-mnist", [D2], True),
    "sagan-uncond-2layer": ("sagan-mnist", [D2, "model.options.conditioning=none"], False),
    "sagan-cond-2layer-glr4e-4": ("sagan-mnist", [D2, "optim.g.lr=4e-4"], True),
    "sagan-cond-2layer-noattn": ("sagan-mnist", [D2, "model.options.attention_res=-1"], True),
    "sagan-cond-2layer-flatten": ("sagan-mnist", [D2, "model.options.d_pool=flatten"], True),
    "sagan-cond-2layer-nogsn": ("sagan-mnist", [D2, "model.options.g_spectral_norm=false"], True),
    "sagan-cond-flatten": ("sagan-mnist", ["model.options.d_pool=flatten"], True),
}


def _command() -> str:
    return " ".join(shlex.quote(a) for a in ["python", "bench/sagan_biggan.py", *sys.argv[1:]])


def save_result(key: str, value: dict[str, Any]) -> None:
    """Merge ``value`` into the results file under ``key`` (re-read first: several processes may write)."""
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    data[key] = value
    RESULTS.write_text(json.dumps(data, indent=2) + "\n")


def _reference(n: int) -> torch.Tensor:
    """The first ``n`` MNIST training digits, uint8 [n, 1, 28, 28] (evaluate_digits' FID reference)."""
    return MNIST().load("train").x[:n]


# ---- compare --------------------------------------------------------------------------------------------------------


def train_model(name: str, steps: int, run_root: Path) -> tuple[Path, dict[str, Any]]:
    """Train ``name`` for ``steps`` (or reuse the finished run): (run dir, training info)."""
    preset, overrides, _ = MODELS[name]
    run_dir = run_root / name
    info_file = run_dir / "bench_train.json"
    if info_file.is_file() and json.loads(info_file.read_text())["steps"] == steps:
        return run_dir, json.loads(info_file.read_text())
    cfg = resolve_config(preset, [*overrides, *QUIET, f"train.steps={steps}", "train.batch_size=64",
                                  "train.d_steps=1"])
    cpu0 = time.process_time()
    summary = Run(cfg, run_dir, overwrite=True, progress=False).train()
    info = {"preset": preset, "overrides": overrides, "steps": summary["step"], "batch_size": 64,
            "images_seen": summary["images_seen"], "train_wall_s": summary["seconds"],
            "train_cpu_s": round(time.process_time() - cpu0, 1)}
    info_file.write_text(json.dumps(info, indent=2) + "\n")
    return run_dir, info


def evaluate_model(run_dir: Path, conditional: bool, n: int, per_class: int) -> dict[str, Any]:
    """Raw-G digit quality + classifier-feature FID (+ label accuracy for conditional models)."""
    _, G, _, _ = load_run(run_dir, use_ema=False)
    reference = MNIST().load("train")
    out = evaluate_digits(G, EVAL_SEED, CPU, n=n, reference=reference)
    result = {"fid": round(out["fid"], 2), "confident_percent": round(out["confident_percent"], 2),
              "class_entropy": round(out["class_entropy"], 4)}
    if conditional:
        result["label_accuracy_percent"] = class_accuracy(G, per_class)["overall_percent"]
    return result


def cmd_compare(args: argparse.Namespace) -> None:
    for name in args.only or list(MODELS):
        if name not in MODELS:
            raise SystemExit(f"unknown model {name!r}; choose from: {', '.join(MODELS)}")
        t0 = time.perf_counter()
        run_dir, info = train_model(name, args.steps, args.run_root)
        metrics = evaluate_model(run_dir, MODELS[name][2], args.n, args.per_class)
        row = {**info, **metrics, "n": args.n, "per_class": args.per_class, "generator": "G (raw, no EMA)",
               "run_dir": str(run_dir), "wall_s": round(time.perf_counter() - t0, 1), "hardware": hardware(CPU),
               "command": _command()}
        save_result(f"compare/{name}/{args.steps}", row)
        print(json.dumps({name: row}, indent=2), flush=True)


# ---- table: label accuracy and quality at equal CPU time -----------------------------------------------------------

TABLE = RESULTS.with_name("sagan_biggan_table.json")
PRESETS = ("sagan-mnist", "biggan-mnist")
CDCGAN = ("dcgan-mnist", ["model.options.conditioning=projection"])  # the conditional DCGAN (projection D)


def same_training(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Two run configs train identically: all but ``log`` and ``name`` equal (evaluations use their own RNG)."""
    return {k: v for k, v in a.items() if k not in ("log", "name")} == \
        {k: v for k, v in b.items() if k not in ("log", "name")}


def train_preset(preset: str, run_dir: Path) -> dict[str, Any]:
    """Train ``preset`` as shipped (quiet logging) or reuse a finished run of the same training config whose
    ``bench_train.json`` holds its CPU seconds."""
    cfg = resolve_config(preset, QUIET)
    info_file = run_dir / "bench_train.json"
    if info_file.is_file():
        import yaml

        saved = yaml.safe_load((run_dir / "config.yaml").read_text())
        if same_training(saved, cfg.to_dict()):
            return json.loads(info_file.read_text())
    cpu0 = time.process_time()
    summary = Run(cfg, run_dir, overwrite=True, progress=False).train()
    info = {"preset": preset, "steps": summary["step"], "images_seen": summary["images_seen"],
            "train_cpu_s": round(time.process_time() - cpu0, 1), "train_wall_s": summary["seconds"]}
    info_file.write_text(json.dumps(info, indent=2) + "\n")
    return info


def train_to_cpu(run_dir: Path, targets: list[float], probe_steps: int = 100) -> list[dict[str, Any]]:
    """The conditional DCGAN trained until its training CPU seconds reach each of ``targets`` (ascending): a probe
    of ``probe_steps`` measures CPU s/step, then the run is resumed (bit-exact) to the step count that the rate
    predicts for each target, again while it is more than 2 % short. Returns one ``{steps, train_cpu_s}`` per
    target, the run left at the last."""
    preset, overrides = CDCGAN
    cfg = resolve_config(preset, [*overrides, *QUIET, f"train.steps={probe_steps}"])
    cpu0 = time.process_time()
    Run(cfg, run_dir, overwrite=True, progress=False).train()
    cpu = time.process_time() - cpu0
    steps, out = probe_steps, []
    from ganforge.training.resume import resume_config

    for target in targets:
        # each resume pays the run's setup again, so the first prediction falls short: resume until within 2 %
        while cpu < 0.98 * target:
            want = steps + max(1, round((target - cpu) / (cpu / steps)))
            rcfg = resume_config(preset, run_dir, "latest", [*overrides, *QUIET, f"train.steps={want}"], None)
            cpu0 = time.process_time()
            Run(rcfg, run_dir, resume="latest", progress=False).train()
            cpu += time.process_time() - cpu0
            steps = want
        out.append({"steps": steps, "train_cpu_s": round(cpu, 1)})
        save_snapshot(run_dir, steps)
    return out


def save_snapshot(run_dir: Path, steps: int) -> None:
    """Keep the checkpoint of ``steps`` as ``checkpoints/at-<steps>.pt`` (resuming further replaces latest.pt)."""
    import shutil

    src = run_dir / "checkpoints" / "latest.pt"
    shutil.copyfile(src, src.with_name(f"at-{steps}.pt"))


def judge(G: torch.nn.Module, per_class: int, reference: torch.Tensor) -> dict[str, Any]:
    """``per_class`` digits of every label from G → label accuracy, FID, confident %, entropy, pixel std."""
    model = load_mnist_classifier()
    labels = torch.arange(G.c_dim).repeat_interleave(per_class)  # [K·N]
    images = to_uint8(generate_samples(G, len(labels), EVAL_SEED, CPU, labels=labels), G.output_range)
    probs = classify(model, images)
    quality = digit_quality(probs)
    fake = features(model, images).double().numpy()
    real = features(model, reference[:len(labels)]).double().numpy()
    return {"label_accuracy_percent": round(100 * float((probs.argmax(1) == labels).double().mean()), 2),
            "fid": round(fid_from_features(real, fake), 2),
            "confident_percent": round(100 * quality["confident"], 2),
            "class_entropy": round(quality["entropy"] + 0.0, 4), "pixel_std": round(pixel_std(images), 4),
            "n": len(labels)}


def load_generators(run: Path) -> list[tuple[torch.nn.Module, str]]:
    """[(EMA G, "G_ema"), (raw G, "G")] of a run directory or checkpoint file, [(G, "G")] when no EMA is saved:
    both are judged (dcgan-mnist's EMA, 0.999 from step 500, still lags its raw G at ~1,000 steps)."""
    _, G, _, state = load_run(run, use_ema=True)
    if state["models"].get("G_ema") is None:
        return [(G, "G")]
    return [(G, "G_ema"), (load_run(run, use_ema=False)[1], "G")]


def cmd_table(args: argparse.Namespace) -> None:
    torch.set_num_threads(1)
    reference = MNIST().load("train").x
    rows: list[dict[str, Any]] = []
    budgets = {}
    for preset in PRESETS:
        run_dir = args.run_root / preset
        info = train_preset(preset, run_dir)
        budgets[preset] = info["train_cpu_s"]
        for G, which in load_generators(run_dir):
            rows.append({"model": preset, "generator": which, **info, **judge(G, args.per_class, reference),
                         "run_dir": str(run_dir)})
            print(json.dumps(rows[-1]), flush=True)
    order = sorted(budgets, key=budgets.get)
    cdir = args.run_root / "cdcgan"
    for preset, seg in zip(order, train_to_cpu(cdir, [budgets[p] for p in order]), strict=True):
        for G, which in load_generators(cdir / "checkpoints" / f"at-{seg['steps']}.pt"):
            rows.append({"model": f"conditional DCGAN (≈ {preset}'s CPU)", "generator": which,
                         "preset": CDCGAN[0], "overrides": CDCGAN[1], **seg, **judge(G, args.per_class, reference),
                         "run_dir": str(cdir)})
            print(json.dumps(rows[-1]), flush=True)
    result = {"rows": rows, "per_class": args.per_class, "hardware": hardware(CPU), "command": _command(),
              "real_digits": {"pixel_std": round(pixel_std(reference), 4)}}
    TABLE.write_text(json.dumps(result, indent=2) + "\n")
    TABLE.with_suffix(".md").write_text(markdown_table(result))
    print(markdown_table(result))


def markdown_table(result: dict[str, Any]) -> str:
    head = ("| model | generator | steps | train CPU s | label acc. % (chance 10) | FID (classifier) | confident % "
            "| class entropy | pixel std (real {real}) |\n|---|---|---|---|---|---|---|---|---|\n")
    lines = [head.format(real=result["real_digits"]["pixel_std"])]
    for r in result["rows"]:
        lines.append(f"| {r['model']} | {r['generator']} | {r['steps']} | {r['train_cpu_s']} | "
                     f"{r['label_accuracy_percent']} | {r['fid']} | {r['confident_percent']} | {r['class_entropy']} "
                     f"| {r['pixel_std']} |\n")
    return "".join(lines) + f"\n{result['per_class']} digits per label; {result['hardware']}; `{result['command']}`\n"


# ---- attention maps -------------------------------------------------------------------------------------------------


def query_pixels(image: np.ndarray, size: int) -> list[tuple[int, int]]:
    """Three query pixels on the ``size``×``size`` attention grid of a 28×28 digit: the brightest stroke pixel,
    the centre, and a background corner (the paper picks points on the object and on the background)."""
    scale = image.shape[-1] // size
    pooled = image.reshape(size, scale, size, scale).mean(axis=(1, 3))
    r, c = np.unravel_index(int(pooled.argmax()), pooled.shape)
    return [(int(r), int(c)), (size // 2, size // 2), (1, 1)]


def cmd_attention(args: argparse.Namespace) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _, G, _, _ = load_run(args.run, use_ema=True)
    blocks = attention_blocks(G)
    if not blocks:
        raise SystemExit(f"{args.run}: the generator has no self-attention block (is it a SAGAN / BigGAN run?)")
    block = blocks[0]
    block.record_attention = True
    rng = torch.Generator().manual_seed(args.seed)
    z = G.sample_z(args.samples, rng)
    labels = torch.arange(args.samples) % 10 if G.c_dim else None
    with torch.no_grad():
        images = to_uint8(G(z, labels), G.output_range)[:, 0].numpy()  # [S, 28, 28]
    size = block.last_query_size[0]  # the queries' grid (keys: last_size, H/2 when the block pools)
    colours = ["tab:red", "tab:green", "tab:blue"]
    fig, axes = plt.subplots(args.samples, 4, figsize=(8, 2.1 * args.samples))
    for s in range(args.samples):
        queries = query_pixels(images[s].astype(np.float64), size)
        maps = block.query_maps(queries)[s].numpy()  # [3, size, size]
        ax = axes[s, 0]
        ax.imshow(images[s], cmap="gray")
        scale = 28 / size
        for (r, c), colour in zip(queries, colours, strict=True):
            ax.plot((c + 0.5) * scale - 0.5, (r + 0.5) * scale - 0.5, "o", color=colour, markersize=6)
        ax.set_title(f"G(z, {int(labels[s])})" if labels is not None else "G(z)", fontsize=8)
        for q, ((r, c), colour) in enumerate(zip(queries, colours, strict=True)):
            ax = axes[s, q + 1]
            ax.imshow(images[s], cmap="gray", extent=(0, size, size, 0))
            ax.imshow(maps[q], cmap="magma", alpha=0.7, extent=(0, size, size, 0))
            ax.plot(c + 0.5, r + 0.5, "o", color=colour, markersize=6)
            ax.set_title(f"query ({r}, {c}) on {size}×{size}", fontsize=8)
        for ax in axes[s]:
            ax.set_xticks([])
            ax.set_yticks([])
    gamma = float(block.gamma.detach())
    fig.suptitle(f"SAGAN generator attention (γ = {gamma:.3f}): where each query pixel looks", fontsize=9)
    fig.tight_layout()
    IMG.mkdir(parents=True, exist_ok=True)
    out = args.out or IMG / "sagan_attention.png"
    fig.savefig(out, dpi=110)
    # how non-local is it: mean attention mass outside the query's 3×3 neighbourhood, and the entropy of the rows
    beta = block.last_attention  # [S, P, P]
    entropy = float(-(beta * beta.clamp_min(1e-12).log()).sum(-1).mean() / np.log(beta.shape[-1]))
    result = {"run": str(args.run), "png": str(out), "gamma": round(gamma, 4), "grid": size,
              "row_entropy_normalised": round(entropy, 4), "command": _command()}
    save_result("attention", result)
    print(json.dumps(result, indent=2))


# ---- truncation sweep -----------------------------------------------------------------------------------------------


def mean_pairwise_distance(feats: np.ndarray, m: int = 1000) -> float:
    """Mean Euclidean distance between the first ``m`` feature vectors (all pairs i < j): a diversity score."""
    f = feats[:m].astype(np.float64)
    sq = (f * f).sum(1)
    d = np.sqrt(np.clip(sq[:, None] + sq[None, :] - 2 * f @ f.T, 0, None))
    return float(d[np.triu_indices(len(f), 1)].mean())


def plot_truncation(rows: list[dict[str, Any]], out: Path, strips: dict[str, np.ndarray] | None = None) -> None:
    """FID against a quality score (confident %, the role IS plays in the paper's Fig. 2/17) and against a diversity
    score (mean pairwise feature distance), one point per truncation threshold; with ``strips`` (threshold name ->
    uint8 digits [10, 28, 28], labels 0..9, one z per column) the samples below the plots."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if strips:
        fig = plt.figure(figsize=(10, 4 + 1.1 * len(strips)))
        grid = fig.add_gridspec(2, 1, height_ratios=[4, 1.1 * len(strips)])
        axes = grid[0].subgridspec(1, 2).subplots()
        ax = fig.add_subplot(grid[1])
        rows_img = [np.concatenate(list(strip), axis=1) for strip in strips.values()]  # [28, 280] each
        ax.imshow(np.concatenate(rows_img, axis=0), cmap="gray", vmin=0, vmax=255)
        ax.set_yticks([14 + 28 * i for i in range(len(strips))], [f"t={k}" for k in strips])
        ax.set_xticks([14 + 28 * i for i in range(10)], [f"y={i}" for i in range(10)])
        ax.set_title("EMA G(z, y), one sample per label y = 0..9 at each threshold t", fontsize=9)
    else:
        fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key, label in ((axes[0], "confident_percent", "quality: confident % (top class p >= 0.9)"),
                           (axes[1], "mean_pairwise_distance", "diversity: mean pairwise feature distance")):
        xs, ys = [r[key] for r in rows], [r["fid"] for r in rows]
        ax.plot(xs, ys, "o-")
        for r, x, y in zip(rows, xs, ys, strict=True):
            ax.annotate("none" if r["truncation"] is None else f"t={r['truncation']}", (x, y), fontsize=8,
                        textcoords="offset points", xytext=(4, 4))
        ax.set_xlabel(label)
        ax.set_ylabel("FID (classifier features; lower is better)")
        ax.grid(alpha=0.3)
    fig.suptitle("BigGAN truncation trade-off on MNIST: smaller t = more confident, less diverse digits", fontsize=10)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)


def cmd_truncation(args: argparse.Namespace) -> None:
    if args.replot:  # redraw the figure from the stored sweep
        stored = json.loads(RESULTS.read_text())["truncation"]
        plot_truncation(stored["rows"], args.out or Path(stored["png"]))
        return
    if args.run is None:
        raise SystemExit("truncation needs --run RUN (a trained biggan-mnist run directory)")
    t0 = time.perf_counter()
    model = load_mnist_classifier()
    real = features(model, _reference(args.n)).numpy()
    _, G, _, state = load_run(args.run, use_ema=not args.no_ema)
    generator = "G" if args.no_ema or state["models"].get("G_ema") is None else "G_ema"
    rows, strips = [], {}
    for t in [*args.thresholds, None]:
        G.set_truncation(t)
        if t in (0.5, 1.0, None):
            labels = torch.arange(10) if G.c_dim else None
            strip = generate_samples(G, 10, EVAL_SEED + 1, CPU, labels=labels)
            strips["none" if t is None else str(t)] = to_uint8(strip, G.output_range)[:, 0].numpy()
        images = to_uint8(generate_samples(G, args.n, EVAL_SEED, CPU), G.output_range)
        fake = features(model, images).numpy()
        quality = digit_quality(classify(model, images))
        pr = prdc(real, fake, k_pr=5, k_dc=5)
        row = {"truncation": t, "fid": round(fid_from_features(real, fake), 2),
               "precision": round(pr["precision"], 4), "recall": round(pr["recall"], 4),
               "mean_pairwise_distance": round(mean_pairwise_distance(fake), 3),
               "confident_percent": round(100 * quality["confident"], 2),
               "class_entropy": round(quality["entropy"] + 0.0, 4)}
        if G.c_dim:
            row["label_accuracy_percent"] = class_accuracy(G, args.per_class)["overall_percent"]
        rows.append(row)
        print(json.dumps(row), flush=True)
    out = args.out or IMG / "biggan_truncation.png"
    plot_truncation(rows, out, strips)
    result = {"run": str(args.run), "step": int(state["trainer"]["step"]) if "trainer" in state else None,
              "n": args.n, "rows": rows, "png": str(out), "generator": generator,
              "wall_s": round(time.perf_counter() - t0, 1), "hardware": hardware(CPU), "command": _command()}
    save_result("truncation", result)


# ---- per-class ------------------------------------------------------------------------------------------------------


def within_class_std(images: torch.Tensor, labels: torch.Tensor) -> float:
    """Mean over labels of ``pixel_std`` (mean over pixels of the std over samples, images uint8 → [0, 1]) of the
    images of that label alone: 0 when a generator makes one image per label, whatever its pooled pixel std."""
    return float(np.mean([pixel_std(images[labels == k]) for k in labels.unique().tolist()]))


def cmd_per_class(args: argparse.Namespace) -> None:
    torch.set_num_threads(1)
    train = MNIST().load("train")
    real_labels = train.y.long()
    picked = torch.cat([torch.nonzero(real_labels == k).flatten()[:args.n] for k in range(10)])
    result: dict[str, Any] = {"run": str(args.run), "n_per_label": args.n,
                              "real_within_class_pixel_std": round(within_class_std(train.x[picked],
                                                                                    real_labels[picked]), 4)}
    for G, name in load_generators(args.run):
        labels = torch.arange(G.c_dim).repeat_interleave(args.n)  # [K·n]
        images = to_uint8(generate_samples(G, len(labels), EVAL_SEED, CPU, labels=labels), G.output_range)
        result[name] = {"within_class_pixel_std": round(within_class_std(images, labels), 4),
                        "pixel_std": round(pixel_std(images), 4)}
    result["command"] = _command()
    print(json.dumps(result, indent=2))
    save_result(f"per_class:{args.key or Path(args.run).name}", result)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="part", required=True)
    c = sub.add_parser("compare", help="SAGAN vs the DCGANs at one budget")
    c.add_argument("--steps", type=int, default=1000)
    c.add_argument("--run-root", type=Path, required=True)
    c.add_argument("--only", action="append", default=[], help=f"one of: {', '.join(MODELS)} (repeatable)")
    c.add_argument("--n", type=int, default=5000, help="generated digits for FID / quality")
    c.add_argument("--per-class", type=int, default=500, help="digits per label for label accuracy")
    tb = sub.add_parser("table", help="sagan-mnist, biggan-mnist and the conditional DCGAN at equal CPU time")
    tb.add_argument("--run-root", type=Path, required=True)
    tb.add_argument("--per-class", type=int, default=1000, help="digits per label (10 × this in all)")
    a = sub.add_parser("attention", help="attention maps of a SAGAN run's generator (PNG)")
    a.add_argument("--run", type=Path, required=True)
    a.add_argument("--samples", type=int, default=4)
    a.add_argument("--seed", type=int, default=3)
    a.add_argument("--out", type=Path, default=None)
    t = sub.add_parser("truncation", help="BigGAN truncation sweep: FID vs diversity (PNG + JSON)")
    t.add_argument("--run", type=Path, default=None, help="the BigGAN run (not needed with --replot)")
    t.add_argument("--thresholds", type=float, nargs="+", default=[0.25, 0.5, 0.75, 1.0, 1.5, 2.0])
    t.add_argument("--n", type=int, default=5000)
    t.add_argument("--per-class", type=int, default=200)
    t.add_argument("--out", type=Path, default=None)
    t.add_argument("--no-ema", action="store_true", help="sweep the raw generator instead of its EMA copy")
    t.add_argument("--replot", action="store_true", help="only redraw the plot from bench/results/sagan_biggan.json")
    pc = sub.add_parser("per-class", help="within-class pixel std of a conditional run (EMA and raw G) vs real")
    pc.add_argument("--run", type=Path, required=True, help="run directory or checkpoint file")
    pc.add_argument("--n", type=int, default=100, help="digits per label")
    pc.add_argument("--key", default=None, help="entry name in the results file (default: the run's name)")
    args = p.parse_args(argv)
    parts = {"compare": cmd_compare, "table": cmd_table, "attention": cmd_attention, "truncation": cmd_truncation,
             "per-class": cmd_per_class}
    parts[args.part](args)


if __name__ == "__main__":
    main()
