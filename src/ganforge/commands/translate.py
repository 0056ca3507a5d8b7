"""``ganforge translate RUN --input PATH --out DIR``: run a trained translation model on your images.

One command for every family that maps images to images (pix2pix, CycleGAN, colourisation, StarGAN v2,
super-resolution): the family's ``translation_input`` says what it takes and ``translate`` does the work
(``ganforge.models.base``: uint8 in, uint8 out), so this file knows no model. Inputs: one image file, a folder of
images (sorted by name) or an .npz/.npy of uint8 images (``images`` or the first array). Outputs in ``--out``:
``00000.png`` ... (``00000-k.png`` when a family gives several outputs per input: domains, references, z samples),
``outputs.npz`` (uint8 ``[N, K, C, H, W]`` and the input file names) and ``grid.png`` (the family's comparison
columns, one row per input). Wrong channels or size are refused with the shape the model expects, unless
``--resize`` converts them. Files are written under temporary names and renamed: a failure replaces nothing.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from ganforge.builder import resolve_device
from ganforge.commands.common import atomic_output, check_positive, check_writable, load_generator, run_root
from ganforge.data.formats import IMAGE_EXTENSIONS, open_image
from ganforge.models.base import TranslateRequest
from ganforge.options import ConfigError

NAME = "translate"
MAX_INPUTS = 10_000  # one call holds every input and output in memory: bigger sets go folder by folder


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
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--no-ema", action="store_true", help="use the raw networks instead of their EMA copies")
    return p


def read_images(path: Path, flag: str = "--input") -> tuple[list[np.ndarray], list[str]]:
    """``([uint8 [H, W, C]] , names)`` from an image file, a folder of images or an .npz/.npy of uint8 images."""
    if not path.exists():
        raise FileNotFoundError(f"{flag} {str(path)!r} not found; pass an image file, a folder of images or an .npz")
    if path.suffix.lower() in (".npz", ".npy"):
        return _read_array(path, flag)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith("."))
        if not files:
            raise ValueError(f"{flag} {str(path)!r} holds no images ({'/'.join(IMAGE_EXTENSIONS)}); point it at a "
                             "folder of images")
    elif path.suffix.lower() in IMAGE_EXTENSIONS:
        files = [path]
    else:
        raise ValueError(f"{flag} {str(path)!r}: unknown file type {path.suffix!r}; pass an image, a folder or .npz")
    if len(files) > MAX_INPUTS:
        raise ValueError(f"{flag} {str(path)!r} holds {len(files)} images, more than {MAX_INPUTS} per call; split it")
    images = []
    for f in files:
        with open_image(f) as im:  # one-line error naming a corrupt file
            im = im.convert("L") if im.mode in ("1", "L", "LA", "I", "F") or im.mode.startswith("I;16") \
                else im.convert("RGB")
            a = np.asarray(im, dtype=np.uint8)
        images.append(a[:, :, None] if a.ndim == 2 else a)
    return images, [f.stem for f in files]


def _read_array(path: Path, flag: str) -> tuple[list[np.ndarray], list[str]]:
    """uint8 images of an .npz (``images`` or the first array) or .npy, read as ``ganforge eval`` reads samples."""
    from ganforge.commands.eval import read_npz

    try:
        x = read_npz(path)  # uint8 [N, C, H, W], C in 1, 3; one-line errors for unreadable or non-uint8 files
    except ValueError as exc:
        raise ValueError(f"{flag}: {exc}") from None
    if x.shape[0] > MAX_INPUTS:
        raise ValueError(f"{flag} {str(path)!r} holds {x.shape[0]} images, more than {MAX_INPUTS} per call; split it")
    return list(x.permute(0, 2, 3, 1).numpy()), [f"{i:05d}" for i in range(x.shape[0])]


def fit_images(images: list[np.ndarray], names: list[str], shape: tuple[int, ...], resize: bool,
               flag: str = "--input") -> torch.Tensor:
    """The images as uint8 ``[N, C, H, W]`` of ``shape`` ``(C, H, W)``: converted (grey↔RGB, bilinear resize) with
    ``resize``, else a one-line error naming the first image that does not fit."""
    from PIL import Image

    c, h, w = shape
    out = []
    for a, name in zip(images, names, strict=True):
        if a.shape != (h, w, c):
            if not resize:
                raise ValueError(f"{flag} image {name!r} is {a.shape[0]}x{a.shape[1]} with {a.shape[2]} channel(s); "
                                 f"this model takes {h}x{w} with {c}: pass --resize to convert, or resize it")
            im = Image.fromarray(a[:, :, 0] if a.shape[2] == 1 else a)
            im = im.convert("L" if c == 1 else "RGB")
            if im.size != (w, h):
                im = im.resize((w, h), Image.Resampling.BILINEAR)
            a = np.asarray(im, dtype=np.uint8)
            a = a[:, :, None] if a.ndim == 2 else a
        out.append(a)
    return torch.from_numpy(np.ascontiguousarray(np.stack(out).transpose(0, 3, 1, 2)))


def run(args: argparse.Namespace) -> int:
    check_positive(args.z_samples, "--z-samples")
    device = resolve_device(args.device, "--device")
    images, names = read_images(args.input)
    references = read_images(args.reference, "--reference") if args.reference is not None else None
    out: Path = args.out or run_root(args.run) / "translate"
    check_writable(out, "--out", folder=True)
    _, sampler, _, _ = load_generator(args.run, device, use_ema=not args.no_ema)
    family, nets = sampler.family, dict(sampler.nets.items())
    request = TranslateRequest(direction=args.direction, domain=args.domain, z_samples=args.z_samples,
                               seed=args.seed)
    shape = tuple(family.translation_input(nets, request))
    x = fit_images(images, names, shape, args.resize)
    if references is not None:
        request.reference = fit_images(*references, shape, args.resize, flag="--reference").to(device)
    with torch.no_grad():
        result = family.translate(nets, x.to(device), request)
    outputs = result.outputs.cpu()
    if outputs.dtype != torch.uint8 or outputs.ndim != 5 or outputs.shape[0] != x.shape[0]:
        raise ConfigError(f"{type(family).__name__}.translate returned {outputs.dtype} {list(outputs.shape)}; "
                          f"expected uint8 [{x.shape[0]}, K, C, H, W] (a bug in the family: report it)")
    write_outputs(out, outputs, names, result.columns)
    k = outputs.shape[1]
    print(f"translated {len(names)} image(s) ({k} output(s) each, {outputs.shape[-2]}x{outputs.shape[-1]}) -> "
          f"{out}/ (PNGs, outputs.npz" + (", grid.png)" if result.columns else ")"))
    return 0


def write_outputs(out: Path, outputs: torch.Tensor, names: list[str], columns: list) -> None:
    from ganforge.viz.images import comparison_grid, save_image

    out.mkdir(parents=True, exist_ok=True)
    k = outputs.shape[1]
    for i in range(len(names)):
        for j in range(k):
            target = out / (f"{i:05d}.png" if k == 1 else f"{i:05d}-{j}.png")
            with atomic_output(target) as tmp:
                save_image(outputs[i, j].permute(1, 2, 0).numpy(), tmp)
    with atomic_output(out / "outputs.npz") as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, outputs=outputs.numpy(), names=np.array(names))
    if columns:
        grid = comparison_grid([c for _, c in columns])
        with atomic_output(out / "grid.png") as tmp:
            save_image(grid, tmp)
