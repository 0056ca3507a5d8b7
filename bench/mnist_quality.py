"""Digit quality of MNIST GAN presets at equal numbers of real images seen, judged by the shipped MNIST classifier.

For every preset, one training run (``Run`` from ``ganforge.training.run``, so exactly what ``ganforge train`` does)
is advanced until ``images_seen`` reaches each budget in ``--images`` (ascending); at each budget the evaluation
generator (the EMA copy when the preset keeps one) is judged by ``ganforge.kinds.image.evaluate_digits`` on 10,000
samples (the trainer's own protocol, private RNG):

    confident % = 100 · (1/N) Σ_i 1[max_j p(j | G(z_i)) >= 0.9]
    class entropy = −Σ_k q_k log q_k / log 10,   q_k = share of samples whose argmax class is k
    FID = ‖μ_g − μ_r‖² + Tr(Σ_g + Σ_r − 2(Σ_g Σ_r)^½) of the classifier's 128-d features, N generated digits vs
          the first N training digits (``evaluate_digits(..., reference=train data)``)
    pixel std = std over samples of each pixel, averaged over pixels (real MNIST train: 0.193); a collapsed G has
          a small one

Confident % and entropy alone cannot tell a collapsed or blob generator from a good one (a random StyleGAN2 G scores
56 % confident): judge by FID and the sample grid beside them.

Training wall time excludes evaluation (reported separately); ``cpu s`` is the process's CPU time, which shows how
much of the wall time was lost to other jobs on a shared machine. Presets with a generator EMA are judged twice: the
EMA copy (what ``ganforge train`` evaluates) and the raw G. Each run is checkpointed at the end (kept with
``--run-root``); ``--resume`` continues those runs to larger budgets, bit-exactly as if never stopped. Budgets
round up to whole generator steps (``ceil(images / batch_size)``), so a batch-256 preset can see up to 255 more
images than a batch-64 one.

Output: a table on stdout (preset × images seen × confident % × entropy × FID × pixel std × wall times × hardware)
and a JSON file.

Example (CPU, 1 thread; about 30 minutes on a 2-core machine shared with other jobs, the SciNet preset alone 10)::

    OMP_NUM_THREADS=1 python bench/mnist_quality.py dcgan-tf-mnist dcgan-keras-mnist dcgan-scinet-mnist \\
        dcgan-mnist --images 6400 --out runs/bench-mnist-quality.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from ganforge.config import resolve_config
from ganforge.kinds import write_samples
from ganforge.kinds.image import N_DIGITS, evaluate_digits, is_digit_data
from ganforge.sampling import EVAL_SEED_OFFSET
from ganforge.training.run import Run

QUIET = ["log.tensorboard=False", "log.progress=False", "log.sample_every=0", "train.checkpoint_every=100000000"]


def hardware(device: torch.device) -> str:
    """A one-line description of where the benchmark ran (CPU model and thread count, or GPU name)."""
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (torch {torch.__version__})"
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {torch.get_num_threads()} thread(s), {os.cpu_count()} cores visible (torch {torch.__version__})"


def bench_preset(preset: str, budgets: list[int], overrides: list[str], device: str, run_root: Path,
                 n_eval: int, resume: bool = False) -> list[dict[str, Any]]:
    """Train ``preset`` through the ascending ``budgets`` (images seen) and evaluate at each one; with ``resume``,
    continue the run a previous invocation left in ``run_root`` instead of starting afresh."""
    cfg = resolve_config(preset, [*overrides, *QUIET, f"train.device={device}"])
    batch = cfg.train.batch_size
    cfg.train.steps = math.ceil(max(budgets) / batch)
    run_dir = run_root / Path(preset).stem  # a YAML path runs as its stem
    if resume and not (run_dir / "checkpoints" / "latest.pt").exists():
        raise SystemExit(f"--resume: no run of {preset!r} in {str(run_dir)!r}; run once without --resume first")
    run = Run(cfg, run_dir, resume="latest" if resume else None, overwrite=not resume, progress=False)
    if not is_digit_data(run.components.data):
        raise SystemExit(f"{preset}: data {cfg.data.name!r} is not 1×28×28 images; the mnist-classifier can't judge it")
    rows: list[dict[str, Any]] = []
    train_seconds = train_cpu = 0.0
    for budget in sorted(budgets):
        steps = math.ceil(budget / batch)
        if steps <= run.trainer.step:  # only a resumed run can already be past a budget (budgets are >= 1)
            print(f"{preset}: {budget} images already seen by the resumed run (step {run.trainer.step}); skipped",
                  flush=True)
            continue
        t0, c0 = time.perf_counter(), time.process_time()
        while run.trainer.step < steps:
            run.trainer.train_step()
        run.trainer.check_finite()  # raises NonFiniteLossError when a loss went NaN/inf
        train_seconds += time.perf_counter() - t0
        train_cpu += time.process_time() - c0  # CPU seconds of this process: wall time / CPU share under contention
        # the EMA copy (what the trainer evaluates) and, when there is one, the raw G too: EMA lags on short budgets
        G_raw = run.components.G
        generators = [("ema", run.G_ema), ("G", G_raw)] if run.G_ema is not None else [("G", G_raw)]
        for label, G in generators:
            t1 = time.perf_counter()
            metrics = evaluate_digits(G, cfg.train.seed + EVAL_SEED_OFFSET, run.device, n=n_eval,
                                      reference=run.components.data)
            eval_seconds = time.perf_counter() - t1
            # samples/step-N.png
            write_samples(G, run.components.data, run.run_dir / label, run.trainer.step, cfg, run.device)
            row = {
                "preset": preset,
                "generator": label,
                "images_seen": run.trainer.images_seen,
                "steps": run.trainer.step,
                "batch_size": batch,
                "confident_percent": round(metrics["confident_percent"], 2),
                "class_entropy": round(metrics["class_entropy"], 4),
                "fid": round(metrics["fid"], 2),
                "pixel_std": round(metrics["pixel_std"], 4),
                "train_seconds": round(train_seconds, 1),
                "train_cpu_seconds": round(train_cpu, 1),
                "eval_seconds": round(eval_seconds, 1),
                "samples": str(run.run_dir / label / "samples" / f"step-{run.trainer.step:07d}.png"),
            }
            rows.append(row)
            print(format_row(row), flush=True)
    run.save_checkpoint()  # the run can be re-evaluated or continued: ganforge train ... --resume latest
    return rows


HEADER = (f"{'preset':<20} {'G':<4} {'images':>8} {'steps':>6} {'conf %':>7} {'entropy':>8} {'FID':>7} {'px std':>6} "
          f"{'train s':>8} {'cpu s':>7} {'eval s':>7}")


def format_row(r: dict[str, Any]) -> str:
    return (f"{r['preset']:<20} {r['generator']:<4} {r['images_seen']:>8} {r['steps']:>6} "
            f"{r['confident_percent']:>7.2f} {r['class_entropy']:>8.4f} {r['fid']:>7.2f} {r['pixel_std']:>6.4f} "
            f"{r['train_seconds']:>8.1f} "
            f"{r['train_cpu_seconds']:>7.1f} {r['eval_seconds']:>7.1f}")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python bench/mnist_quality.py", description=__doc__.splitlines()[0])
    parser.add_argument("presets", nargs="+", help="preset names or YAML files (MNIST-shaped data)")
    parser.add_argument("--images", type=int, nargs="+", default=[6400],
                        help="budgets of real images seen; each preset is evaluated at every one (default 6400)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="config override applied to every preset (repeatable), e.g. train.seed=1")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda (default auto)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--n-eval", type=int, default=N_DIGITS, help=f"generated digits judged (default {N_DIGITS})")
    parser.add_argument("--run-root", type=Path, default=None, help="where runs go (default: a temporary folder)")
    parser.add_argument("--resume", action="store_true",
                        help="continue each preset's run left in --run-root (e.g. 600k -> 3M images); train s then "
                             "counts this invocation only")
    parser.add_argument("--out", type=Path, default=Path("runs/bench-mnist-quality.json"), help="JSON results file")
    args = parser.parse_args(argv)
    if min(args.images) < 1:
        parser.error("--images budgets must be >= 1")
    if args.resume and args.run_root is None:
        parser.error("--resume needs --run-root (the folder of the runs to continue)")
    if args.threads > 0:
        torch.set_num_threads(args.threads)

    tmp = tempfile.TemporaryDirectory(prefix="ganforge-bench-") if args.run_root is None else None
    run_root = Path(tmp.name) if tmp is not None else args.run_root
    rows: list[dict[str, Any]] = []
    device = None
    print(HEADER, flush=True)
    try:
        for preset in args.presets:
            rows += bench_preset(preset, args.images, args.overrides, args.device, run_root, args.n_eval,
                                 args.resume)
            device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                                  ("cpu" if args.device == "auto" else args.device))
    finally:
        if tmp is not None:
            tmp.cleanup()
    result = {
        "rows": rows,
        "hardware": hardware(device or torch.device("cpu")),
        "protocol": {"n_fake": args.n_eval, "classifier": "mnist-classifier", "confidence_threshold": 0.9,
                     "fid": "classifier features (128-d), n_fake generated vs the first n_fake train digits",
                     "seed_offset": EVAL_SEED_OFFSET},
        "command": shlex.join(["python", sys.argv[0], *(argv if argv is not None else sys.argv[1:])]),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"hardware: {result['hardware']}\nwrote {args.out}")
    return result


if __name__ == "__main__":
    main()
