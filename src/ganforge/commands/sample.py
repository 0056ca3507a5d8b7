"""``ganforge sample RUN``: draw samples from a trained generator as a grid, a folder of PNGs or an .npz file.

Images: ``--format grid`` (one PNG; ``--per-class`` puts one class per row), ``png-dir`` (``00000.png``, ... for FID
tools; replaces ganforge's own earlier PNGs there, refuses a folder holding any file it did not write) or ``npz``
(``images`` uint8 ``[N, C, H, W]`` and, for conditional models, ``labels`` int64 ``[N]``). Vectors (toy data):
``grid`` writes ``.npy`` (or ``.csv`` if ``--out`` says so), ``npz`` writes ``samples`` float32 ``[N, D]``
(+ ``labels``).

The samples are "the n samples of seed S" (``sampling.iter_labelled_samples``, random labels included): the images
``ganforge eval --seed S`` judges. They are generated and written batch by batch, so files of any size are written in
bounded memory (only the grid needs every image at once), and an output that would not fit on disk (or a grid that
would not fit in RAM) is refused before anything is generated. Files are written to a temporary name and renamed, so
a failed write never replaces an existing file (``ganforge.outputs``). A file named with ``--out`` that exists and was
not written by ganforge is refused (``outputs.write_owned``); so are a suffix that is not the format's (``.npy``
bytes in ``v.parquet``) and an option the run's data kind does not use (``--format`` on a table run, ...): the kinds
with their own writers (``DataKind.export_samples``: tables, fields, storm tracks) list the ones they take in
``DataKind.sample_flags``.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import zipfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO

import numpy as np
import torch

from ganforge.builder import resolve_device
from ganforge.commands.common import (
    check_picture_suffix,
    check_positive,
    check_seed,
    images_uint8,
    load_generator,
    run_root,
)
from ganforge.kinds import hooks_for
from ganforge.models.base import conditioning_dim
from ganforge.options import ConfigError
from ganforge.outputs import MANIFEST, OutputError, OutputFolder, ensure_folder
from ganforge.preflight import check_disk, check_memory, check_out_file, check_suffix, check_writable, out_file
from ganforge.sampling import check_label, iter_labelled_samples
from ganforge.training.run import RunError

FORMATS = ("grid", "png-dir", "npz")


NAME = "sample"

def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(NAME, help="draw samples from a trained run (grid PNG, PNG folder or .npz)")
    p.add_argument("run", type=Path, help="run directory or checkpoint file")
    p.add_argument("--n", type=int, default=64, help="number of samples (with --per-class: about n per grid)")
    p.add_argument("--seed", type=int, default=0, help="seed of the latent codes (the samples `eval --seed` judges)")
    p.add_argument("--out", type=Path, default=None,
                   help="output file or folder (default: RUN/samples/sample-seedN[-per-class|-labelK|-tT].png|.npz|/ "
                   "or .npy for vectors: each mode its own name)")
    p.add_argument("--format", choices=FORMATS, default=None,
                   help="grid (one PNG; the default), png-dir or npz: images and vectors only")
    p.add_argument("--scale", type=int, default=None, metavar="K",
                   help=f"grid of images: nearest-neighbour upscaling K x (1..{MAX_SCALE}; default 1)")
    p.add_argument("--label", type=int, default=None, help="conditional models: generate only class k")
    p.add_argument("--per-class", action="store_true", help="conditional models: n // classes samples per class, "
                   "one class per grid row")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--no-ema", action="store_true", help="use the raw generator instead of its EMA")
    p.add_argument("--truncation", type=float, default=None, metavar="T",
                   help="truncation trick: redraw N(0, 1) latent entries beyond ±T (smaller T: better, less varied); "
                   "style-based runs (StyleGAN2): ψ, w' = w̄ + ψ·(w − w̄)")
    return p


def sample_labels(c_dim: int, n: int, label: int | None, per_class: bool) -> tuple[torch.Tensor | None, int | None]:
    """(labels or None for random ones, images per grid row) for ``--label`` / ``--per-class``."""
    if per_class:
        per = max(1, n // c_dim)
        return torch.arange(c_dim).repeat_interleave(per), per
    if label is not None:
        return torch.full((n,), label, dtype=torch.long), None
    return None, None


# the options ``sample`` has beyond --n/--seed/--out, and the attribute ``args`` keeps them in
KIND_FLAGS = {"label": "--label", "per_class": "--per-class", "truncation": "--truncation", "format": "--format",
              "scale": "--scale"}
MAX_SCALE = 16


def given_flags(args: argparse.Namespace) -> list[str]:
    """The ``KIND_FLAGS`` this command line sets (an option left at its default is not given)."""
    values = {k: getattr(args, k, None) for k in KIND_FLAGS}
    return [k for k, v in values.items() if v is not None and v is not False]  # `is`: --label 0 is given


def check_kind_flags(hooks: object, kind: str, args: argparse.Namespace) -> None:
    """Refuse, before any work, an option the run's data kind does not use (``DataKind.sample_flags``; None: the
    standard image/vector writer, which uses them all): ignored silently, it would give samples the user did not
    ask for."""
    used = hooks.sample_flags
    if used is None:
        return
    unused = [KIND_FLAGS[k] for k in given_flags(args) if k not in used]
    if unused:
        raise ConfigError(f"{', '.join(unused)} do{'es' if len(unused) == 1 else ''} not apply to a {kind} run "
                          f"(its samples take {', '.join(KIND_FLAGS[k] for k in used) or 'only --n, --seed and --out'}"
                          f"); drop {' and '.join(unused)}")


def run(args: argparse.Namespace) -> int:
    check_positive(args.n, "--n")
    check_seed(args.seed)
    if args.label is not None and args.per_class:
        raise ConfigError("--label and --per-class contradict each other; pass one of them")
    if args.truncation is not None and not math.isfinite(args.truncation):
        raise ConfigError(f"--truncation {args.truncation}: give a finite number")
    device = resolve_device(args.device, "--device")
    cfg, G, spec, state = load_generator(args.run, device, use_ema=not args.no_ema)
    kind = state.kind
    hooks = hooks_for(kind)
    check_kind_flags(hooks, kind, args)
    G.set_truncation(args.truncation)
    written = hooks.export_samples(G, cfg, run_root(args.run), args, device)
    if written is not None:  # tables, fields, series: the data kind writes its own files (original units, columns)
        print(f"wrote {args.n} samples to {written}")
        return 0
    fmt = args.format or "grid"
    scale = 1 if args.scale is None else args.scale
    if not 1 <= scale <= MAX_SCALE:
        raise ConfigError(f"--scale {scale}: give an integer from 1 to {MAX_SCALE}")
    if args.scale is not None and (fmt != "grid" or len(spec.shape) != 3):
        raise ConfigError("--scale applies to a grid of images (--format grid on an image run); drop --scale")
    check_label(G, args.label)
    c_dim = conditioning_dim(G)
    if args.per_class and c_dim == 0:
        raise ConfigError("--per-class: this model is unconditional (trained without labels); drop --per-class")
    is_image = len(spec.shape) == 3
    if fmt == "png-dir" and not is_image:
        raise ConfigError(f"--format png-dir needs image data; this run generates vectors of shape {list(spec.shape)}"
                          " (use --format grid for .npy/.csv or npz)")
    n = c_dim * max(1, args.n // c_dim) if args.per_class else args.n  # the size sample_labels gives
    user_named = args.out is not None
    out = args.out or default_out(run_root(args.run), fmt, args.seed, is_image, mode_suffix(args))
    folder = check_output(out, fmt, is_image, n, math.prod(spec.shape) * scale * scale, bool(c_dim), user_named)

    labels, per_row = sample_labels(c_dim, args.n, args.label, args.per_class)
    # the n samples of seed S, exactly as `ganforge eval --seed S` draws them (random labels come with them)
    batches = with_bar(iter_labelled_samples(G, n, args.seed, device, labels=labels), n)
    save_samples(batches, n, spec.shape, G, bool(c_dim), out, fmt, is_image, per_row, folder, user_named, scale)
    print(f"wrote {n} samples to {out}")
    return 0


def check_output(out: Path, fmt: str, is_image: bool, n: int, numel: int, labelled: bool,
                 user_named: bool = True) -> OutputFolder | None:
    """Refuse, before generating anything, an output that cannot be written, is not ganforge's to replace, has a
    suffix its format is not written as, or would not fit on disk or in RAM. Returns the claimed folder of
    ``png-dir``."""
    folder = None
    if fmt == "png-dir":
        if not user_named and out.parent.is_symlink():  # RUN/samples -> elsewhere: never written through
            raise ConfigError(f"{str(out.parent)!r} is a symbolic link; ganforge does not write through links in its "
                              "own folders: remove the link or pass --out")
        check_writable(out, "--out", folder=True)
        # ganforge's own earlier PNGs (in the folder's manifest) may be replaced; any other file is refused
        folder = OutputFolder(out, "--out", own=not user_named).claim()
    else:
        check_out_file(out, user_named)
    if is_image and fmt == "grid":
        check_picture_suffix(out, plot=False)
        # the grid holds every image at once: G's float output, the uint8 images and the picture
        check_memory(n * numel * 6, f"a grid of {n} images", "lower --n or use --format png-dir / npz")
    elif fmt == "npz":
        check_suffix(out, (".npz",), "--format npz samples are")
    elif not is_image:
        check_suffix(out, (".npy", ".csv"), "vector samples (--format grid) are")
    if is_image:
        per_sample = numel + 100 if fmt == "png-dir" else numel  # PNG headers; raw pixels bound the compressed data
    else:
        per_sample = numel * (26 if out.suffix.lower() == ".csv" and fmt == "grid" else 4)  # '%.18e,' or float32
    check_disk(out, n * (per_sample + 8 * labelled), f"{n} samples", "--n")
    return folder


def with_bar(batches: Iterable[tuple[torch.Tensor, torch.Tensor | None]], n: int
             ) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
    """``batches`` with a progress bar on stderr for long draws (n ≥ 5,000) in a terminal or notebook (tqdm's
    ``disable=None`` hides it when stderr is not a terminal, so scripts and logs get no bar lines)."""
    from tqdm.auto import tqdm

    with tqdm(total=n, unit="sample", desc="sampling", disable=None if n >= 5000 else True, leave=False) as bar:
        for x, c in batches:
            bar.update(x.shape[0])
            yield x, c


def mode_suffix(args: argparse.Namespace) -> str:
    """What sets these samples apart in a default file name: ``-per-class``, ``-labelK``, ``-tT`` (truncation), so
    the modes of one seed never replace each other's files."""
    parts = ["-per-class" if args.per_class else "", f"-label{args.label}" if args.label is not None else "",
             f"-t{args.truncation:g}" if args.truncation is not None else "", "-raw" if args.no_ema else ""]
    return "".join(parts)


def default_out(root: Path, fmt: str, seed: int, is_image: bool, suffix: str = "") -> Path:
    stem = root / "samples" / f"sample-seed{seed}{suffix}"
    if fmt == "png-dir":
        return stem
    if fmt == "npz":
        return stem.with_name(stem.name + ".npz")  # not with_suffix: "-t0.7" holds a dot
    return stem.with_name(stem.name + (".png" if is_image else ".npy"))


def save_samples(labelled: Iterable[tuple[torch.Tensor, torch.Tensor | None]], n: int, shape: tuple[int, ...],
                 G: torch.nn.Module, labelled_model: bool, out: Path, fmt: str, is_image: bool,
                 per_row: int | None, folder: OutputFolder | None = None, user_named: bool = True,
                 scale: int = 1) -> None:
    """Write ``n`` samples arriving in ``labelled`` batches ``(G's float output, labels or None)`` to ``out`` in
    format ``fmt``; the labels of a conditional model (``labelled_model``) go to the .npz, after the samples."""
    from ganforge.viz.images import save_grid

    label_chunks: list[np.ndarray] = []

    def _batches() -> Iterator[torch.Tensor]:
        for x, c in labelled:
            if c is not None:
                label_chunks.append(c.cpu().numpy().astype(np.int64))
            yield x

    batches = _batches()

    def label_array() -> np.ndarray | None:  # read after the samples were written (they come with them)
        return np.concatenate(label_chunks) if labelled_model else None

    if is_image and fmt == "png-dir":
        _save_png_dir((images_uint8(b, G) for b in batches), folder or OutputFolder(out, "--out").claim())
        return
    with out_file(out, user_named) as tmp:
        if is_image and fmt == "grid":
            save_grid(torch.cat([images_uint8(b, G) for b in batches]), tmp, nrow=per_row, scale=scale)
        elif is_image:
            _save_npz(tmp, "images", (n, *shape), np.uint8, (images_uint8(b, G).numpy() for b in batches),
                      label_array)
        elif fmt == "npz":
            _save_npz(tmp, "samples", (n, *shape), np.float32, (b.cpu().numpy() for b in batches), label_array)
        elif out.suffix.lower() == ".csv":
            with open(tmp, "w") as fh:
                for b in batches:
                    np.savetxt(fh, b.cpu().numpy(), delimiter=",")
        else:  # .npy whatever the suffix (np.save would append .npy to any other name and print the wrong path)
            with open(tmp, "wb") as fh:
                _write_npy(fh, (n, *shape), np.float32, (b.cpu().numpy() for b in batches))


def _write_npy(fh: IO[bytes], shape: tuple[int, ...], dtype: type, chunks: Iterable[np.ndarray]) -> None:
    """An .npy file (the same bytes as ``np.save``) written chunk by chunk; ``chunks`` concatenate to ``shape``."""
    np.lib.format.write_array_header_1_0(
        fh, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": shape})
    for chunk in chunks:
        fh.write(np.ascontiguousarray(chunk, dtype=dtype).tobytes())


def _save_npz(path: Path, key: str, shape: tuple[int, ...], dtype: type, chunks: Iterable[np.ndarray],
              label_array: Callable[[], np.ndarray | None]) -> None:
    """What ``np.savez(path, key=..., labels=...)`` writes (uncompressed members), with ``key`` streamed; the labels
    (``label_array()``, None for none) are asked for once the chunks are written."""
    with zipfile.ZipFile(path, "w", allowZip64=True) as zf:
        with zf.open(f"{key}.npy", "w", force_zip64=True) as fh:
            _write_npy(fh, shape, dtype, chunks)
        labels = label_array()
        if labels is not None:
            with zf.open("labels.npy", "w", force_zip64=True) as fh:
                _write_npy(fh, labels.shape, np.int64, [labels])


def _save_png_dir(batches: Iterator[torch.Tensor], folder: OutputFolder) -> None:
    """``00000.png``, ``00001.png``, ... batch by batch, each through ``folder.write`` (atomic, recorded in the
    folder's manifest); ganforge's own PNGs of an earlier, larger run that this one did not rewrite are removed at
    the end (a folder of samples must hold this run's). On failure the PNGs written so far are removed: the folder
    held nothing but ganforge's outputs (``OutputFolder.claim``)."""
    from ganforge.viz.images import save_image

    created = not folder.folder.exists()
    written: list[str] = []
    try:
        ensure_folder(folder.folder, "--out", own=folder.own)
        for batch in batches:
            for img in batch.numpy():
                name = f"{len(written):05d}.png"
                with folder.write(name, save=False) as tmp:
                    save_image(img.transpose(1, 2, 0), tmp)
                written.append(name)
        folder.remove_stale(written)  # saves the manifest
    except BaseException as exc:
        for name in written:
            (folder.folder / name).unlink(missing_ok=True)
        with contextlib.suppress(OutputError, OSError):
            folder.save()
        if created and folder.folder.is_dir():
            with contextlib.suppress(OSError):
                (folder.folder / MANIFEST).unlink(missing_ok=True)
                folder.folder.rmdir()
        if isinstance(exc, OSError):
            raise RunError(f"cannot write PNGs to {str(folder.folder)!r} ({exc.strerror or exc}); free some disk "
                           "space or choose another --out") from None
        raise
