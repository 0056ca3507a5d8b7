"""Conditional accuracy of a class-conditional MNIST GAN, judged by the shipped MNIST classifier.

Trains a conditional preset (``cgan-mnist``, ``cgan-proj-mnist``, ``acgan-mnist`` or any YAML) for a budget of
generator steps — or reuses a finished run with ``--run`` — then, for every class k, generates ``--n`` digits with
label k (private RNG, EMA generator when the run has one) and reports the fraction the classifier assigns to k:

    acc_k = (1/N) Σ_i 1[argmax_j p(j | G(z_i, k)) = k],   overall = mean over the K classes (equal N per class).

Output: one JSON object on stdout (and in ``--out`` when given) with per-class and overall accuracy in percent, the
classifier's mean confidence, the training budget, wall time and the command line.

Example (CPU, 1 thread)::

    OMP_NUM_THREADS=1 python bench/conditional_accuracy.py cgan-mnist --steps 3000 --out runs/bench-cgan.json
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
from ganforge.data.base import to_uint8
from ganforge.metrics.classifier import classify, load_mnist_classifier
from ganforge.sampling import generate_samples
from ganforge.training.run import Run
from ganforge.training.rundir import load_run

EVAL_SEED = 12_345  # generation RNG of the benchmark (independent of training)


def class_accuracy(G: torch.nn.Module, n_per_class: int, seed: int = EVAL_SEED,
                   device: torch.device | str = "cpu") -> dict[str, Any]:
    """Per-class and overall % of ``G(z, k)`` classified as ``k`` by the shipped MNIST classifier."""
    c_dim = int(getattr(G, "c_dim", 0))
    if c_dim < 2:
        raise ValueError("the generator is not conditional (c_dim = 0); use a conditional preset")
    labels = torch.arange(c_dim).repeat_interleave(n_per_class)  # [K·N]: N of every class
    fake = generate_samples(G, len(labels), seed, torch.device(device), labels=labels)
    images = to_uint8(fake, getattr(G, "output_range", None)).cpu()
    if tuple(images.shape[1:]) != (1, 28, 28):
        raise ValueError(f"the MNIST classifier needs [N, 1, 28, 28] digits, the generator makes {tuple(fake.shape)}")
    probs = classify(load_mnist_classifier(), images)  # [K·N, 10]
    pred = probs.argmax(1)
    hit = (pred == labels).double()
    per_class = {str(k): round(100.0 * float(hit[labels == k].mean()), 2) for k in range(c_dim)}
    return {
        "per_class_percent": per_class,
        "overall_percent": round(100.0 * float(hit.mean()), 2),
        "min_class_percent": min(per_class.values()),
        "mean_confidence": round(float(probs.max(1).values.mean()), 4),
        "n_per_class": n_per_class,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("preset", nargs="?", default="cgan-mnist", help="conditional preset name or YAML file")
    p.add_argument("--steps", type=int, default=None, help="generator steps (default: the preset's train.steps)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="extra config override (repeatable), e.g. --set train.batch_size=128")
    p.add_argument("--seed", type=int, default=0, help="training seed")
    p.add_argument("--n", type=int, default=1000, help="generated digits per class")
    p.add_argument("--run", type=Path, default=None, help="evaluate this finished run instead of training")
    p.add_argument("--run-dir", type=Path, default=None, help="where to train (default: a temporary directory)")
    p.add_argument("--no-ema", action="store_true", help="judge the raw generator instead of its EMA")
    p.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = p.parse_args(argv)

    t0 = time.perf_counter()
    train_info: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = args.run
        if run_dir is None:
            overrides = [*args.overrides, "log.tensorboard=False", "log.progress=False", "log.sample_every=0"]
            if args.steps is not None:
                overrides.append(f"train.steps={args.steps}")
            cfg = resolve_config(args.preset, overrides, args.seed)
            run_dir = args.run_dir or Path(tmp) / "run"
            summary = Run(cfg, run_dir, overwrite=True, progress=False).train()
            train_info = {"preset": args.preset, "steps": summary["step"], "batch_size": cfg.train.batch_size,
                          "d_steps": cfg.train.d_steps, "images_seen": summary["images_seen"],
                          "train_seconds": summary["seconds"], "seed": args.seed}
        _, G, _, _ = load_run(run_dir, use_ema=not args.no_ema)
        result = {"run": str(args.run) if args.run else None, **train_info,
                  **class_accuracy(G, args.n), "generator": "G" if args.no_ema else "ema-if-present",
                  "wall_seconds": round(time.perf_counter() - t0, 2), "torch_threads": torch.get_num_threads(),
                  "command": " ".join(shlex.quote(a) for a in [sys.argv[0], *(argv if argv is not None
                                                                                 else sys.argv[1:])])}
    text = json.dumps(result, indent=2)
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    return result


if __name__ == "__main__":
    main()
