"""``ganforge translate RUN --input PATH --out DIR``: run a trained translation model on your images.

One command for every family that maps images to images (pix2pix, CycleGAN, colourisation, StarGAN v2,
super-resolution): the family's ``translation_input`` says what it takes and ``translate`` does the work
(``ganforge.models.base``: uint8 in, uint8 out), so this file knows no model. Inputs: one image file, a folder of
images (sorted by name) or an .npz/.npy of images (uint8, or floats in [0, 1] / [-1, 1]; array ``images``, else ``x``,
else the only image-shaped one). Outputs in ``--out``:
``<input stem>.png`` (``<stem>-k.png`` when a family gives several outputs per input: domains, references, z samples;
a name taken twice gets ``_2``, ``_3``, ...; inputs from an array without names are ``00000`` ...),
``outputs.npz`` (``outputs``: uint8 ``[N·K, C, H, W]``, the same layout ``--input`` reads, so translations chain;
``names``: the PNG stems; ``per_input``: K) and ``grid.png`` (the family's comparison columns, one row per input).
Grey inputs to an RGB model (or RGB to a grey one) are converted and the CLI says so on stderr; a wrong size is
refused with the shape the model expects, unless ``--resize`` converts it.

Checked before any work: every input is a readable regular file (a FIFO would block), no image is over
``formats.MAX_IMAGE_PIXELS`` (from its header, before decoding), an .npz declares a sane shape and holds no NaN/inf,
inputs and outputs fit in memory and on disk, and ``--out`` is not an input folder (nor inside one) and holds no file
ganforge did not write (``ganforge.outputs.OutputFolder``). Files are written under temporary names and renamed: a
failure replaces nothing, and a link at a target is replaced, never written through.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ganforge.builder import resolve_device
from ganforge.commands.common import check_positive, claim_output_folder, load_generator, one_line_os_errors, run_root
from ganforge.data.formats import (
    IMAGE_EXTENSIONS,
    MAX_IMAGE_PIXELS,
    NPZ_ERRORS,
    array_headers,
    array_to_images,
    image_size,
    open_image,
)
from ganforge.models.base import TranslateRequest, conditioning_dim
from ganforge.options import ConfigError
from ganforge.outputs import OutputFolder
from ganforge.preflight import check_disk, check_memory, check_writable, require_input

NAME = "translate"
MAX_INPUTS = 10_000  # one call holds every input and output in memory: bigger sets go folder by folder
MAX_Z_SAMPLES = 1_000  # outputs per input from new z (a grid of 1,000 is already far past what anyone reads)
MAX_OUTPUTS = 100_000  # output images per call (inputs x references x z samples)
OUTPUT_NAME = re.compile(r"[^/\\]+\.png|outputs\.npz")  # what write_outputs writes (PNGs named after the inputs)
SAFE_NAME = re.compile(r"[^/\\\x00-\x1f.][^/\\\x00-\x1f]{0,99}")  # a stem read from an .npz's ``names``: no path
GRID_CELL = 64  # default grid.png cell width in pixels: a 28-pixel digit is upscaled ×3, column titles fit
MAX_SCALE = 8
RESERVED = {"grid", "outputs"}  # stems of translate's own files
MAX_SEED = 2**63 - 1 - MAX_Z_SAMPLES  # families seed output j with seed + j: keep it inside torch's int64 seeds


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(NAME, help="translate images with a trained image-to-image run (pix2pix, CycleGAN, "
                       "StarGAN v2, super-resolution)")
    p.add_argument("run", type=Path, help="run directory or checkpoint file")
    p.add_argument("--input", type=Path, required=True, help="an image file, a folder of images or an .npz/.npy")
    p.add_argument("--out", type=Path, default=None, help="output folder (default: RUN/translate/)")
    p.add_argument("--direction", choices=["AB", "BA"], default=None, help="two-way models (CycleGAN): A→B or B→A")
    p.add_argument("--domain", type=int, default=None, help="multi-domain models: target domain (default: all)")
    p.add_argument("--reference", type=Path, default=None,
                   help="multi-domain models: reference image(s) whose style to use (file, folder or .npz)")
    p.add_argument("--z-samples", type=int, default=None, help="multimodal models: outputs per input from new z")
    p.add_argument("--seed", type=int, default=0, help="seed of latent codes / noise the translation draws")
    p.add_argument("--resize", action="store_true",
                   help="convert inputs of another size or channel count to what the model takes (else refused)")
    p.add_argument("--scale", type=int, default=None, metavar="K",
                   help=f"nearest-neighbour upscaling of grid.png (default: the smallest K giving cells of at least "
                   f"{GRID_CELL} pixels, at most {MAX_SCALE})")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--no-ema", action="store_true", help="use the raw networks instead of their EMA copies")
    return p


def image_files(folder: Path, flag: str = "--input") -> list[Path]:
    """The image files directly in ``folder`` (sorted by name; hidden files and sub-folders skipped), each checked to
    be a readable regular file (a FIFO named ``x.png`` would block the read forever); at most ``MAX_INPUTS``."""
    files = []
    with os.scandir(folder) as entries:
        for entry in entries:
            p = Path(entry.path)
            if entry.name.startswith(".") or p.suffix.lower() not in IMAGE_EXTENSIONS or p.is_dir():
                continue
            require_input(p, f"{flag} file", flag)
            files.append(p)
            if len(files) > MAX_INPUTS:
                raise ValueError(f"{flag} {str(folder)!r} holds more than {MAX_INPUTS} images; translate at most "
                                 f"{MAX_INPUTS} per call (split the folder)")
    if not files:
        raise ValueError(f"{flag} {str(folder)!r} holds no images ({'/'.join(IMAGE_EXTENSIONS)}); point it at a "
                         "folder of images")
    return sorted(files)


def read_images(path: Path, flag: str = "--input") -> tuple[list[np.ndarray], list[str]]:
    """``([uint8 [H, W, C]] , names)`` from an image file, a folder of images or an .npz/.npy of images.

    Checked before anything is decoded: the path is a readable regular file or folder, every image's header size is
    at most ``MAX_IMAGE_PIXELS`` and all of them fit in the available memory (``N × H × W × 3`` bytes, twice)."""
    require_input(path, flag, flag, folder=True)
    if path.suffix.lower() in (".npz", ".npy") and not path.is_dir():
        return _read_array(path, flag)
    if path.is_dir():
        files = image_files(path, flag)
    elif path.suffix.lower() in IMAGE_EXTENSIONS:
        files = [path]
    else:
        raise ValueError(f"{flag} {str(path)!r}: unknown file type {path.suffix!r}; pass an image, a folder or .npz")
    pixels = sum(w * h for w, h in (image_size(f) for f in files))  # headers only: bombs refused here
    check_memory(2.0 * 3 * pixels, f"{flag}: decoding {len(files)} image(s) of {pixels / 1e6:.1f} M pixels in all",
                 f"pass fewer images per {flag}")
    images = []
    for f in files:
        with open_image(f) as im:  # one-line error naming a corrupt file
            if im.mode.startswith("I;16"):  # 16-bit grey: v / 257 rounded, 65535 -> 255 (as formats._decode)
                a = np.rint(np.asarray(im, dtype=np.float64) / 257.0).astype(np.uint8)
            else:
                a = np.asarray(im.convert("L") if im.mode in ("1", "L", "LA", "I", "F") else im.convert("RGB"),
                               dtype=np.uint8)
        images.append(a[:, :, None] if a.ndim == 2 else a)
    return images, [f.stem for f in files]


def _read_array(path: Path, flag: str) -> tuple[list[np.ndarray], list[str]]:
    """Images of an .npz (array ``images``, else ``x``, else its one image-shaped array, else the first saved) or
    .npy: uint8, or floats in [0, 1] / [-1, 1] (``formats.array_to_images``: NaN/inf refused), shaped ``[N, H, W]``,
    ``[N, H, W, C]`` or ``[N, C, H, W]`` (an alpha channel is dropped). The shape declared in the header is checked
    (count, pixels per image, memory) before anything is loaded."""
    headers = array_headers(path)
    if not headers:
        raise ValueError(f"{flag} {str(path)!r} holds no arrays; save the images with np.savez(path, images=x)")
    images = [k for k, (shape, _) in headers.items() if len(shape) in (3, 4)]  # arrays shaped like images
    key = next((k for k in ("images", "x", "") if k in headers), images[0] if len(images) == 1 else next(iter(headers)))
    shape, dtype = headers[key]
    where = f"{flag} {str(path)!r}" + (f" array {key!r}" if key else "")
    if dtype.hasobject or dtype.kind not in "biuf":
        raise ValueError(f"{where} has dtype {dtype}; expected uint8 images or floats in [0, 1] / [-1, 1]")
    if len(shape) not in (3, 4):
        raise ValueError(f"{where} has shape {list(shape)}; expected images [N, H, W], [N, H, W, C] or [N, C, H, W]")
    if shape[0] > MAX_INPUTS:
        raise ValueError(f"{where} holds {shape[0]} images, more than {MAX_INPUTS} per call; split it")
    h, w = (shape[1], shape[2]) if len(shape) == 3 or shape[-1] in (1, 3, 4) else (shape[2], shape[3])
    if h * w > MAX_IMAGE_PIXELS:
        raise ValueError(f"{where} holds {w}x{h} images = {w * h / 1e6:.1f} M pixels each, more than the "
                         f"{MAX_IMAGE_PIXELS / 1e6:.0f} M pixels ganforge translates; resize them")
    nbytes = float(np.prod(shape, dtype=np.float64)) * dtype.itemsize
    check_memory(3.0 * nbytes, f"{where} ({list(shape)} {dtype})", "pass fewer images per call")
    try:
        loaded = np.load(path, allow_pickle=False)
        stored = None
        if isinstance(loaded, np.ndarray):  # a .npy
            x = loaded
        else:
            with loaded:
                x = loaded[key]
                if "names" in headers and key != "names" and headers["names"][1].kind == "U":
                    stored = loaded["names"]  # translate's own outputs.npz: keep its names when chained
    except (*NPZ_ERRORS, KeyError) as exc:
        raise ValueError(f"{where} cannot be read ({' '.join(str(exc).split())[:120]}); it may be truncated: save "
                         "it again") from None
    if x.ndim == 4 and x.shape[-1] == 4 and x.shape[1] not in (1, 3):  # RGBA channels-last: drop alpha
        x = x[..., :3]
    elif x.ndim == 4 and x.shape[1] == 4:
        x = x[:, :3]
    x = array_to_images(x, where)  # uint8 [N, C, H, W]; NaN/inf and out-of-range values refused
    names = [f"{i:05d}" for i in range(x.shape[0])]
    if stored is not None and stored.shape == (x.shape[0],) and all(SAFE_NAME.fullmatch(str(n)) for n in stored):
        names = [str(n) for n in stored]
    return list(x.transpose(0, 2, 3, 1)), names


def fit_images(images: list[np.ndarray], names: list[str], shape: tuple[int, ...], resize: bool,
               flag: str = "--input", say: Callable[[str], None] | None = None) -> torch.Tensor:
    """The images as uint8 ``[N, C, H, W]`` of ``shape`` ``(C, H, W)``. Grey↔RGB is always converted (PIL's ``L``
    ↔ ``RGB``: ITU-R 601 luma one way, the grey value repeated the other), told once through ``say``; another size
    is resized (bilinear) with ``resize``, else a one-line error naming the first image that does not fit."""
    from PIL import Image

    c, h, w = shape
    out = []
    converted = 0
    for a, name in zip(images, names, strict=True):
        if a.shape != (h, w, c):
            if a.shape[:2] != (h, w) and not resize:
                raise ValueError(f"{flag} image {name!r} is {a.shape[0]}x{a.shape[1]} with {a.shape[2]} channel(s); "
                                 f"this model takes {h}x{w} with {c}: pass --resize to convert, or resize it")
            im = Image.fromarray(a[:, :, 0] if a.shape[2] == 1 else a)
            im = im.convert("L" if c == 1 else "RGB")
            if im.size != (w, h):
                im = im.resize((w, h), Image.Resampling.BILINEAR)
            a = np.asarray(im, dtype=np.uint8)
            a = a[:, :, None] if a.ndim == 2 else a
            converted += 1 if a.shape[2] != np.shape(images[len(out)])[2] else 0
        out.append(a)
    if converted and say is not None:
        kind = "grey" if c == 1 else "RGB"
        say(f"{flag}: converted {converted} image(s) to {kind} ({c} channel(s)): the model takes {kind} {h}x{w}")
    return torch.from_numpy(np.ascontiguousarray(np.stack(out).transpose(0, 3, 1, 2)))


def _real(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # a link loop (RuntimeError before Python 3.13)
        return path.absolute()


def check_out_outside(out: Path, inputs: list[tuple[Path | None, str]]) -> None:
    """One-line error when ``--out`` is an input folder or lies inside one: outputs named ``00000.png`` would land
    among (or over) the user's own images, and the next call would read them back as inputs."""
    target = _real(out)
    for path, flag in inputs:
        if path is None or not path.is_dir():
            continue
        src = _real(path)
        if target == src or src in target.parents:
            raise ConfigError(f"--out {str(out)!r} is {'the' if target == src else 'inside the'} {flag} folder "
                              f"{str(path)!r}; choose an --out folder outside your inputs")


def check_sizes(args: argparse.Namespace) -> None:
    """Sizes refused before any work, with the size: the number of outputs per input and the seed range."""
    check_positive(args.z_samples, "--z-samples")
    if args.z_samples is not None and args.z_samples > MAX_Z_SAMPLES:
        raise ConfigError(f"--z-samples {args.z_samples} is too many: at most {MAX_Z_SAMPLES} outputs per input per "
                          "call")
    if not 0 <= args.seed <= MAX_SEED:
        raise ConfigError(f"--seed must be in 0..{MAX_SEED}, got {args.seed}")
    if args.scale is not None and not 1 <= args.scale <= MAX_SCALE:
        raise ConfigError(f"--scale {args.scale}: give an integer from 1 to {MAX_SCALE}")
    if args.domain is not None and args.domain < 0:
        raise ConfigError(f"--domain must be >= 0 (a domain index), got {args.domain}")


@one_line_os_errors
def run(args: argparse.Namespace) -> int:
    check_sizes(args)
    device = resolve_device(args.device, "--device")
    out: Path = args.out or run_root(args.run) / "translate"
    check_out_outside(out, [(args.input, "--input"), (args.reference, "--reference")])
    folder = claim_output_folder(out, args.out is None, OUTPUT_NAME.fullmatch)  # refuses the user's files there
    check_writable(out, "--out", folder=True)
    images, names = read_images(args.input)
    references = read_images(args.reference, "--reference") if args.reference is not None else None
    per_input = (args.z_samples or 1) * (len(references[0]) if references is not None else 1)
    if len(names) * per_input > MAX_OUTPUTS:
        raise ConfigError(f"{len(names)} input(s) x {per_input} output(s) each = {len(names) * per_input} images, "
                          f"more than {MAX_OUTPUTS} per call; pass fewer inputs, references or --z-samples")
    _, sampler, _, _ = load_generator(args.run, device, use_ema=not args.no_ema)
    family, nets = sampler.family, dict(sampler.nets.items())
    request = TranslateRequest(direction=args.direction, domain=args.domain, z_samples=args.z_samples,
                               seed=args.seed)
    shape = tuple(family.translation_input(nets, request))
    check_output_size(out, len(names), per_input, nets, args.domain, shape)
    x = fit_images(images, names, shape, args.resize, say=_stderr)
    if references is not None:
        request.reference = fit_images(*references, shape, args.resize, flag="--reference", say=_stderr).to(device)
    with torch.no_grad():
        result = family.translate(nets, x.to(device), request)
    outputs = result.outputs.cpu()
    if outputs.dtype != torch.uint8 or outputs.ndim != 5 or outputs.shape[0] != x.shape[0]:
        raise ConfigError(f"{type(family).__name__}.translate returned {outputs.dtype} {list(outputs.shape)}; "
                          f"expected uint8 [{x.shape[0]}, K, C, H, W] (a bug in the family: report it)")
    scale = args.scale or min(MAX_SCALE, max(1, -(-GRID_CELL // max(c.shape[-1] for _, c in result.columns))
                                             if result.columns else 1))
    if result.columns:  # the grid: N rows of the columns at the largest column size, ×scale², RGB, held twice
        h, w = (max(c.shape[d] for _, c in result.columns) for d in (-2, -1))
        check_memory(2.0 * len(names) * len(result.columns) * 3 * h * w * scale**2,
                     f"grid.png of {len(names)} row(s) x {len(result.columns)} column(s) at --scale {scale}",
                     "pass a smaller --scale or fewer inputs")
    write_outputs(folder, outputs, names, result.columns, header=[t for t, _ in result.columns], scale=scale)
    k = outputs.shape[1]
    print(f"translated {len(names)} image(s) ({k} output(s) each, {outputs.shape[-2]}x{outputs.shape[-1]}) -> "
          f"{out}/ (PNGs, outputs.npz" + (", grid.png)" if result.columns else ")"))
    return 0


def _stderr(line: str) -> None:
    print(f"ganforge: {line}", file=sys.stderr)


def check_output_size(out: Path, n: int, per_input: int, nets: dict, domain: int | None,
                      shape: tuple[int, ...]) -> None:
    """Refuse before translating when the outputs would not fit in memory or on disk. Estimate: ``n × K`` images of
    ``shape`` (``K`` = per-input outputs × the model's domains when no ``--domain`` is chosen), held as uint8 and as
    float32 (5 bytes a value), and at most that many bytes again on disk (PNGs + outputs.npz, uncompressed bound)."""
    domains = max(1, conditioning_dim(nets.get("G"))) if domain is None else 1
    values = float(n) * per_input * domains * float(np.prod(shape))
    check_memory(5.0 * values, f"{n} input(s) x {per_input * domains} output(s) of {list(shape)}",
                 "pass fewer inputs, references or --z-samples, or choose a --domain")
    check_disk(out / "outputs.npz", 2.0 * values, f"{n * per_input * domains} translated images", "the inputs")


def output_stems(names: list[str], k: int) -> list[str]:
    """The PNG stem of each of the ``N·K`` outputs, input by input: ``<name>`` (K = 1) or ``<name>-<j>``; a stem
    taken twice (``a.png`` and ``a.jpg``, or an input named ``grid``) gets ``_2``, ``_3``, ... (case-insensitively,
    so the names stay distinct on macOS and Windows file systems)."""
    taken = set(RESERVED)
    stems = []
    for name in names:
        for j in range(k):
            base = name if k == 1 else f"{name}-{j}"
            stem, n = base, 1
            while stem.lower() in taken:
                n += 1
                stem = f"{base}_{n}"
            taken.add(stem.lower())
            stems.append(stem)
    return stems


def write_outputs(out: OutputFolder | Path, outputs: torch.Tensor, names: list[str], columns: list,
                  header: list[str] | None = None, scale: int = 1) -> None:
    """``<input stem>.png`` ... (``<stem>-k.png`` for K > 1, see ``output_stems``), ``outputs.npz`` (``outputs``
    uint8 ``[N·K, C, H, W]``, ``names``, ``per_input``) and ``grid.png`` in ``out``, each written by
    ``OutputFolder.write`` (a temporary name, renamed; recorded in the folder's manifest); ganforge's own earlier
    outputs that this call did not rewrite (other inputs) are removed, nothing else is touched."""
    from ganforge.viz.images import comparison_grid, save_image

    folder = out if isinstance(out, OutputFolder) else OutputFolder(out, "--out").claim()
    n, k = outputs.shape[:2]
    flat = outputs.reshape(n * k, *outputs.shape[2:])  # [N·K, C, H, W], input-major: row i·K + j is output j of i
    stems = output_stems(names, k)
    written = []
    for stem, image in zip(stems, flat, strict=True):
        name = f"{stem}.png"
        with folder.write(name, save=False) as tmp:  # the manifest is written once, below
            save_image(image.permute(1, 2, 0).numpy(), tmp)
        written.append(name)
    folder.save()
    with folder.write("outputs.npz") as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, outputs=flat.numpy(), names=np.array(stems), per_input=np.int64(k))
    written.append("outputs.npz")
    if columns:
        grid = comparison_grid([c for _, c in columns], header=header, scale=scale)
        with folder.write("grid.png") as tmp:
            save_image(grid, tmp)
        written.append("grid.png")
    folder.remove_stale(written)
