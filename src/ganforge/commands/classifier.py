"""``ganforge train-classifier``: (re)train the ``mnist-classifier`` feature extractor (wraps
``python -m ganforge.metrics.classifier``).

Unlike the module's own entry point this refuses to replace an existing weights file (the shipped asset by default)
unless ``--overwrite`` is given: FID/KID values and cached reference statistics depend on the file's sha256.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ganforge.builder import resolve_device
from ganforge.options import ConfigError

NAME = "train-classifier"

def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from ganforge.metrics.classifier import DEFAULT_WEIGHTS

    p = sub.add_parser(NAME, help="train the MNIST classifier used by --features mnist-classifier")
    p.add_argument("--out", type=Path, default=DEFAULT_WEIGHTS, help=f"weights file (default: {DEFAULT_WEIGHTS})")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=3e-3, help="peak learning rate of the one-cycle schedule")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", help="cpu (default; the shipped file), auto, cuda or cuda:N")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (the shipped file used 1)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing weights file at --out")
    return p


def run(args: argparse.Namespace) -> int:
    from ganforge.metrics import classifier

    for flag, value in (("--epochs", args.epochs), ("--batch-size", args.batch_size)):
        if value < 1:
            raise ConfigError(f"{flag} must be >= 1, got {value}")
    if args.lr <= 0:
        raise ConfigError(f"--lr must be > 0, got {args.lr}")
    if args.out.exists() and not args.overwrite:
        raise ConfigError(f"{str(args.out)!r} already exists; pass --overwrite to replace it or choose another --out")
    if args.out.is_dir():
        raise ConfigError(f"--out {str(args.out)!r} is a folder; pass a file path")
    device = resolve_device(args.device, "--device")
    argv = ["--epochs", str(args.epochs), "--batch-size", str(args.batch_size), "--lr", str(args.lr),
            "--seed", str(args.seed), "--device", str(device), "--threads", str(args.threads), "--out", str(args.out)]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    classifier.main(argv)
    return 0
