"""Progressive growing (``pggan-mnist``) vs ``dcgan-mnist`` on digit quality, at equal CPU time and at equal images
seen, judged by the shipped mnist-classifier; plus the PGGAN's sec/kimg per stage.

1. The PGGAN preset trains (``Run``: exactly what ``ganforge train`` does) to its ``train.steps``; every step is timed
   by stage (resolution, fade-in or stable), so the table gives sec/kimg at 4², 8², 16² and 32² (kimg = 1,000 real
   images shown to D). Its training CPU seconds T and real images seen I are recorded.
2. The DCGAN preset trains until it has seen I real images (evaluated: "equal images") and until its training CPU
   time reaches T (evaluated: "equal CPU"), in whichever order they come.

Every evaluation judges 10,000 samples of the EMA generator and of the raw G (``ganforge.kinds.image.evaluate_digits``,
the trainer's private-RNG protocol): confident % (max class probability >= 0.9), the normalised entropy of the
predicted-class histogram, and FID on the classifier's 128-d features against the first 10,000 MNIST training
digits. The PGGAN draws 32x32 images (MNIST padded by 2 px, ``data mnist32``): the classifier sees their central
28x28 crop, the exact inverse of the padding. CPU time is ``time.process_time()`` of this process (1 torch thread by
default), so other jobs on a shared machine do not count against either model.

Example (CPU, 1 thread; about 40 minutes of CPU since the preset trains ~20 CPU-minutes; add
``--set train.steps=565`` for the growing schedule alone; per CPU-minute marks: ``bench/image_quality.py``)::

    OMP_NUM_THREADS=1 python bench/pggan_vs_dcgan.py --out runs/bench-pggan-vs-dcgan.json
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from ganforge.config import resolve_config
from ganforge.data.images import MNIST
from ganforge.kinds import write_samples
from ganforge.kinds.image import N_DIGITS, evaluate_digits
from ganforge.sampling import EVAL_SEED_OFFSET, Unpadded
from ganforge.training.run import Run

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mnist_quality import QUIET, hardware  # the sibling bench's run settings and hardware line


def judge(run: Run, label: str, n_eval: int, reference: Any, extra: dict[str, Any]) -> list[dict[str, Any]]:
    """Digit quality and classifier FID of the run's EMA generator and raw G (one row each); writes their grids."""
    cfg = run.cfg
    rows = []
    generators = [("ema", run.G_ema), ("G", run.components.G)] if run.G_ema is not None else [("G", run.components.G)]
    for which, G in generators:
        t0 = time.perf_counter()
        metrics = evaluate_digits(Unpadded(G).eval(), cfg.train.seed + EVAL_SEED_OFFSET, run.device, n=n_eval,
                                  reference=reference)
        write_samples(G, run.components.data, run.run_dir / f"{label}-{which}", run.trainer.step, cfg, run.device)
        rows.append({"preset": cfg.name, "point": label, "generator": which, "steps": run.trainer.step,
                     "images_seen": run.trainer.images_seen,
                     "confident_percent": round(metrics["confident_percent"], 2),
                     "class_entropy": round(metrics["class_entropy"], 4), "fid": round(metrics["fid"], 3),
                     "eval_seconds": round(time.perf_counter() - t0, 1), **extra})
        print(format_row(rows[-1]), flush=True)
    return rows


def format_row(r: dict[str, Any]) -> str:
    return (f"{r['preset']:<12} {r['point']:<13} {r['generator']:<4} {r['images_seen']:>8} {r['steps']:>6} "
            f"{r['confident_percent']:>7.2f} {r['class_entropy']:>8.4f} {r['fid']:>8.3f} "
            f"{r['train_cpu_seconds']:>8.1f} {r['train_seconds']:>8.1f}")


HEADER = (f"{'preset':<12} {'point':<13} {'G':<4} {'images':>8} {'steps':>6} {'conf %':>7} {'entropy':>8} "
          f"{'FID':>8} {'cpu s':>8} {'wall s':>8}")


def train_pggan(preset: str, overrides: list[str], device: str, run_root: Path) -> tuple[Run, dict[str, Any]]:
    """Train the PGGAN preset to its end, timing every step by stage; returns the run and the timing table."""
    cfg = resolve_config(preset, [*overrides, *QUIET, f"train.device={device}"])
    run = Run(cfg, run_root / cfg.name, overwrite=True, progress=False)
    trainer, objective = run.trainer, run.components.objective
    stages: dict[str, dict[str, float]] = {}
    wall = cpu = 0.0
    while trainer.step < cfg.train.steps:
        p = objective.progress(run.components.nets, trainer.step, cfg.train.batch_size)
        key = f"{p.resolution}x{p.resolution} {'fade' if p.alpha < 1 else 'stable'}"
        seen = trainer.images_seen
        t0, c0 = time.perf_counter(), time.process_time()
        trainer.train_step()
        dw, dc = time.perf_counter() - t0, time.process_time() - c0
        wall, cpu = wall + dw, cpu + dc
        s = stages.setdefault(key, {"steps": 0, "images": 0, "wall_s": 0.0, "cpu_s": 0.0, "batch_size": p.batch_size})
        s["steps"] += 1
        s["images"] += trainer.images_seen - seen
        s["wall_s"] += dw
        s["cpu_s"] += dc
    trainer.check_finite()
    run.save_checkpoint()
    for s in stages.values():
        s["cpu_s_per_kimg"] = round(1000 * s["cpu_s"] / s["images"], 2)
        s["wall_s"], s["cpu_s"] = round(s["wall_s"], 1), round(s["cpu_s"], 1)
    return run, {"stages": stages, "train_seconds": round(wall, 1), "train_cpu_seconds": round(cpu, 1)}


def train_dcgan_to(preset: str, images: int, cpu_seconds: float, device: str, run_root: Path, n_eval: int,
                   reference: Any) -> list[dict[str, Any]]:
    """Train the DCGAN preset until it has seen ``images`` and used ``cpu_seconds``; judge it at both points."""
    cfg = resolve_config(preset, [*QUIET, f"train.device={device}", "train.steps=100000000"])
    run = Run(cfg, run_root / cfg.name, overwrite=True, progress=False)
    trainer = run.trainer
    wall = cpu = 0.0
    rows: list[dict[str, Any]] = []
    pending = {"equal images", "equal CPU"}
    while pending:
        t0, c0 = time.perf_counter(), time.process_time()
        trainer.train_step()
        wall, cpu = wall + time.perf_counter() - t0, cpu + time.process_time() - c0
        reached = {"equal images": trainer.images_seen >= images, "equal CPU": cpu >= cpu_seconds}
        hit = sorted(p for p in pending if reached[p])
        if hit:
            trainer.check_finite()
            label = " + ".join(hit) if len(hit) > 1 else hit[0]
            rows += judge(run, label.replace("equal ", "eq-").replace(" + ", "+"), n_eval, reference,
                          {"train_seconds": round(wall, 1), "train_cpu_seconds": round(cpu, 1)})
            pending -= set(hit)
    run.save_checkpoint()
    return rows


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python bench/pggan_vs_dcgan.py", description=__doc__.splitlines()[0])
    parser.add_argument("--pggan", default="pggan-mnist", help="the progressive preset (default pggan-mnist)")
    parser.add_argument("--dcgan", default="dcgan-mnist", help="the baseline preset (default dcgan-mnist)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="config override for the PGGAN run (repeatable), e.g. objective.options.fade_images=9600")
    parser.add_argument("--device", default="cpu", help="cpu | cuda | auto (default cpu)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--n-eval", type=int, default=N_DIGITS, help=f"generated digits judged (default {N_DIGITS})")
    parser.add_argument("--run-root", type=Path, default=None, help="where runs go (default: a temporary folder)")
    parser.add_argument("--out", type=Path, default=Path("runs/bench-pggan-vs-dcgan.json"), help="JSON results")
    args = parser.parse_args(argv)
    if args.n_eval < 2:
        parser.error("--n-eval must be >= 2 (FID needs a covariance)")
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    tmp = tempfile.TemporaryDirectory(prefix="ganforge-bench-") if args.run_root is None else None
    run_root = Path(tmp.name) if tmp is not None else args.run_root
    reference = MNIST(limit=args.n_eval).load("train")  # FID reference: the first n training digits (28x28)
    try:
        run, timing = train_pggan(args.pggan, args.overrides, args.device, run_root)
        print(f"{args.pggan}: {run.trainer.images_seen} images, {timing['train_cpu_seconds']} CPU s "
              f"({timing['train_seconds']} wall s)")
        for key, s in timing["stages"].items():
            print(f"  {key:<14} batch {s['batch_size']:>3}  {s['images']:>7} images  {s['cpu_s']:>7.1f} CPU s  "
                  f"{s['cpu_s_per_kimg']:>6.2f} CPU s/kimg", flush=True)
        print(HEADER, flush=True)
        extra = {"train_seconds": timing["train_seconds"], "train_cpu_seconds": timing["train_cpu_seconds"]}
        rows = judge(run, "preset budget", args.n_eval, reference, extra)
        rows += train_dcgan_to(args.dcgan, run.trainer.images_seen, timing["train_cpu_seconds"], args.device,
                               run_root, args.n_eval, reference)
    finally:
        if tmp is not None:
            tmp.cleanup()
    result = {
        "rows": rows,
        "pggan_stages": timing["stages"],
        "hardware": hardware(torch.device(args.device if args.device != "auto" else "cpu")),
        "protocol": {"n_fake": args.n_eval, "classifier": "mnist-classifier", "confidence_threshold": 0.9,
                     "fid_reference": f"first {args.n_eval} MNIST training digits", "crop": "central 28x28",
                     "seed_offset": EVAL_SEED_OFFSET},
        "command": shlex.join(["python", sys.argv[0], *(argv if argv is not None else sys.argv[1:])]),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"hardware: {result['hardware']}\nwrote {args.out}")
    return result


if __name__ == "__main__":
    main()
