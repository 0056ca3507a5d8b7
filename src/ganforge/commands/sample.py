"""``ganforge sample RUN``: draw samples from a trained generator as a grid, a folder of PNGs or an .npz file.

Images: ``--format grid`` (one PNG; ``--per-class`` puts one class per row), ``png-dir`` (``00000.png``, ... for FID
tools; refuses a folder that already holds PNGs) or ``npz`` (``images`` uint8 ``[N, C, H, W]`` and, for conditional
models, ``labels`` int64 ``[N]``). Vectors (toy data): ``grid`` writes ``.npy`` (or ``.csv`` if ``--out`` says so),
``npz`` writes ``samples`` float32 ``[N, D]`` (+ ``labels``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from ganforge.builder import resolve_device
from ganforge.commands.common import check_label, check_positive, images_uint8, load_generator, run_root
from ganforge.evaluation import generate_samples
from ganforge.options import ConfigError

FORMATS = ("grid", "png-dir", "npz")


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("sample", help="draw samples from a trained run (grid PNG, PNG folder or .npz)")
    p.add_argument("run", type=Path, help="run directory or checkpoint file")
    p.add_argument("--n", type=int, default=64, help="number of samples (with --per-class: about n per grid)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=None,
                   help="output file or folder (default: RUN/samples/sample-seedN.png|.npz|/ or .npy for vectors)")
    p.add_argument("--format", choices=FORMATS, default="grid", help="grid (one PNG), png-dir or npz")
    p.add_argument("--label", type=int, default=None, help="conditional models: generate only class k")
    p.add_argument("--per-class", action="store_true", help="conditional models: n // classes samples per class, "
                   "one class per grid row")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--no-ema", action="store_true", help="use the raw generator instead of its EMA")
    return p


def sample_labels(c_dim: int, n: int, label: int | None, per_class: bool) -> tuple[torch.Tensor | None, int | None]:
    """(labels or None for random ones, images per grid row) for ``--label`` / ``--per-class``."""
    if per_class:
        per = max(1, n // c_dim)
        return torch.arange(c_dim).repeat_interleave(per), per
    if label is not None:
        return torch.full((n,), label, dtype=torch.long), None
    return None, None


def run(args: argparse.Namespace) -> int:
    check_positive(args.n, "--n")
    if args.label is not None and args.per_class:
        raise ConfigError("--label and --per-class contradict each other; pass one of them")
    device = resolve_device(args.device, "--device")
    _, G, spec, _ = load_generator(args.run, device, use_ema=not args.no_ema)
    check_label(G, args.label)
    c_dim = int(getattr(G, "c_dim", 0) or 0)
    if args.per_class and c_dim == 0:
        raise ConfigError("--per-class: this model is unconditional (trained without labels); drop --per-class")
    is_image = len(spec.shape) == 3
    if args.format == "png-dir" and not is_image:
        raise ConfigError(f"--format png-dir needs image data; this run generates vectors of shape {list(spec.shape)}"
                          " (use --format grid for .npy/.csv or npz)")
    labels, per_row = sample_labels(c_dim, args.n, args.label, args.per_class)
    n = len(labels) if labels is not None else args.n
    out = args.out or default_out(run_root(args.run), args.format, args.seed, is_image)
    if args.format == "png-dir" and out.is_dir() and any(out.glob("*.png")):
        raise ConfigError(f"output folder {str(out)!r} already holds PNGs; choose another --out or remove them")

    if c_dim and labels is None:  # draw the random labels here so they can be saved with the samples
        rng = torch.Generator().manual_seed(args.seed + 1)
        labels = torch.randint(c_dim, (n,), generator=rng)
    fake = generate_samples(G, n, args.seed, device, labels=labels).cpu()
    save_samples(fake, G, labels, out, args.format, is_image, per_row)
    print(f"wrote {n} samples to {out}")
    return 0


def default_out(root: Path, fmt: str, seed: int, is_image: bool) -> Path:
    stem = root / "samples" / f"sample-seed{seed}"
    if fmt == "png-dir":
        return stem
    if fmt == "npz":
        return stem.with_suffix(".npz")
    return stem.with_suffix(".png" if is_image else ".npy")


def save_samples(fake: torch.Tensor, G: torch.nn.Module, labels: torch.Tensor | None, out: Path, fmt: str,
                 is_image: bool, per_row: int | None) -> None:
    from ganforge.viz.images import save_grid, save_png_dir

    if is_image:
        images = images_uint8(fake, G)
        if fmt == "grid":
            save_grid(images, out, nrow=per_row)
        elif fmt == "png-dir":
            save_png_dir(images, out)
        else:
            _save_npz(out, images=images.numpy(), labels=labels)
        return
    if fmt == "npz":
        _save_npz(out, samples=fake.numpy().astype(np.float32), labels=labels)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".csv":
        np.savetxt(out, fake.numpy(), delimiter=",")
    else:
        np.save(out, fake.numpy())


def _save_npz(out: Path, labels: torch.Tensor | None, **arrays: np.ndarray) -> None:
    if labels is not None:
        arrays["labels"] = labels.cpu().numpy().astype(np.int64)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb") as fh:  # a file handle: np.savez would append .npz to a path without that suffix
        np.savez(fh, **arrays)
