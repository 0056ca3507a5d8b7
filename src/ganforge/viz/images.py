"""Image grids, PNG files and animated GIFs with Pillow (no torchvision).

Inputs are ``uint8`` images ``[N, C, H, W]`` (C = 1, 3 or 4; NumPy arrays or CPU tensors);
``ganforge.data.base.to_uint8`` converts a generator's float output. Nothing here samples from a model or decides
when to save.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ganforge.outputs import atomic_file

MODES = {1: "L", 3: "RGB", 4: "RGBA"}


def make_grid(images: Any, nrow: int | None = None, padding: int = 2, pad_value: int = 255) -> np.ndarray:
    """Tile ``uint8 [N, C, H, W]`` images into one ``uint8 [H', W', C]`` picture, row by row.

    ``nrow`` = images per row (default ``ceil(sqrt(N))``); ``padding`` pixels of ``pad_value`` separate the images
    and frame the grid (torchvision's layout): ``H' = rows·(H + padding) + padding``, ``W' = nrow·(W + padding) +
    padding``. Cells after the last image stay ``pad_value``.
    """
    x = _check_images(images)
    n, c, h, w = x.shape
    if nrow is None:
        nrow = math.ceil(math.sqrt(n))
    if nrow < 1 or padding < 0 or not 0 <= pad_value <= 255:
        raise ValueError(f"need nrow >= 1, padding >= 0, pad_value in [0, 255]; got {nrow}, {padding}, {pad_value}")
    ncol = min(nrow, n)
    rows = math.ceil(n / ncol)
    grid = np.full((rows * (h + padding) + padding, ncol * (w + padding) + padding, c), pad_value, dtype=np.uint8)
    for i in range(n):
        top = padding + (i // ncol) * (h + padding)
        left = padding + (i % ncol) * (w + padding)
        grid[top : top + h, left : left + w] = x[i].transpose(1, 2, 0)  # CHW -> HWC
    return grid


def comparison_grid(columns: Sequence[Any], padding: int = 2, pad_value: int = 255, header: Sequence[str] | None = None,
                    scale: int = 1) -> np.ndarray:
    """Side-by-side comparison: ``columns`` of ``uint8 [N, C, H_k, W_k]`` images (input | output | truth ...) ->
    one ``uint8 [H', W', C]`` picture with one row per sample. Columns of other sizes are nearest-upscaled to the
    largest (an integer factor, e.g. ×4 for super-resolution) and grey columns repeated to RGB when any is colour.
    The picture is upscaled ``scale``× (nearest); ``header`` (one title per column) adds a row of labels on top
    (``label_row``)."""
    if scale < 1:
        raise ValueError(f"scale must be >= 1, got {scale}")
    if header is not None and len(header) != len(columns):
        raise ValueError(f"{len(header)} header titles for {len(columns)} columns")
    cols = [_check_images(c) for c in columns]
    if not cols or len({c.shape[0] for c in cols}) != 1:
        raise ValueError(f"comparison columns must hold the same number of images, got {[c.shape[0] for c in cols]}")
    h, w = max(c.shape[2] for c in cols), max(c.shape[3] for c in cols)
    c_out = 3 if any(c.shape[1] == 3 for c in cols) else cols[0].shape[1]
    fitted = []
    for c in cols:
        if c.shape[2] != h or c.shape[3] != w:
            if h % c.shape[2] or w % c.shape[3]:
                raise ValueError(f"column of size {c.shape[2]}x{c.shape[3]} does not divide {h}x{w}")
            c = c.repeat(h // c.shape[2], axis=2).repeat(w // c.shape[3], axis=3)
        if c.shape[1] == 1 and c_out == 3:
            c = c.repeat(3, axis=1)
        fitted.append(c)
    n = fitted[0].shape[0]
    interleaved = np.stack(fitted, axis=1).reshape(n * len(fitted), c_out, h, w)  # row i = sample i's columns
    grid = make_grid(interleaved, nrow=len(fitted), padding=padding, pad_value=pad_value)
    grid = grid.repeat(scale, axis=0).repeat(scale, axis=1)  # nearest-neighbour ×scale
    if header is None:
        return grid
    return np.concatenate([label_row(header, w * scale, padding * scale, c_out, pad_value), grid], axis=0)


def label_row(titles: Sequence[str], cell: int, gap: int, channels: int, pad_value: int = 255,
              offset: int | None = None) -> np.ndarray:
    """A ``uint8 [h, W, channels]`` strip of ``titles`` in PIL's default font, black on ``pad_value``, one title
    centred over each ``cell``-pixel cell of a grid laid out as ``make_grid`` does (``gap`` pixels before and between
    cells; ``offset`` pixels before the first title's cell, default ``gap``). A title wider than its cell is cut and
    ends with "…" so neighbours never overlap; ``h`` = the font's line height + 4."""
    from PIL import ImageDraw, ImageFont

    font = ImageFont.load_default()
    start = gap if offset is None else offset
    width = start + len(titles) * (cell + gap)
    _, top, _, bottom = font.getbbox("Ag|")
    height = bottom - top + 4
    strip = Image.new("L", (width, height), pad_value)
    draw = ImageDraw.Draw(strip)
    ink = 0 if pad_value > 127 else 255
    for k, title in enumerate(titles):
        text = str(title)
        while text and draw.textlength(text, font=font) > cell:
            text = text[:-2] + "…" if len(text) > 1 else ""
        x = start + k * (cell + gap) + (cell - draw.textlength(text, font=font)) / 2
        draw.text((x, 2 - top), text, fill=ink, font=font)
    a = np.asarray(strip, dtype=np.uint8)[:, :, None]
    return a.repeat(channels, axis=2)


def labelled_grid(images: Any, nrow: int, scale: int = 1, header: Sequence[str] | None = None,
                  row_titles: Sequence[str] | None = None, padding: int = 2, pad_value: int = 255) -> np.ndarray:
    """:func:`make_grid` upscaled ``scale``× (nearest), with a header row of column titles (``label_row``, one per
    column) and/or a left strip of row titles (``label_column``, one per row; "" leaves a row blank)."""
    if scale < 1:
        raise ValueError(f"scale must be >= 1, got {scale}")
    x = _check_images(images)
    grid = make_grid(x, nrow, padding, pad_value).repeat(scale, axis=0).repeat(scale, axis=1)
    h, w, c = x.shape[2] * scale, x.shape[3] * scale, grid.shape[2]
    if row_titles is not None:
        grid = np.concatenate([label_column(row_titles, h, padding * scale, c, pad_value), grid], axis=1)
    if header is not None:
        margin = grid.shape[1] - (padding * scale + len(header) * (w + padding * scale))  # the row-title strip
        grid = np.concatenate([label_row(header, w, padding * scale, c, pad_value, offset=margin + padding * scale),
                               grid], axis=0)
    return grid


def label_column(titles: Sequence[str], cell: int, gap: int, channels: int, pad_value: int = 255) -> np.ndarray:
    """A ``uint8 [H, w, channels]`` strip of ``titles``, black on ``pad_value``, each centred on one ``cell``-pixel
    row of a ``make_grid`` layout (``gap`` pixels before and between rows); ``w`` = the widest title + 6."""
    from PIL import ImageDraw, ImageFont

    font = ImageFont.load_default()
    height = gap + len(titles) * (cell + gap)
    probe = ImageDraw.Draw(Image.new("L", (1, 1)))
    width = 6 + math.ceil(max([probe.textlength(str(t), font=font) for t in titles] + [0.0]))
    _, top, _, bottom = font.getbbox("Ag|")
    strip = Image.new("L", (width, height), pad_value)
    draw = ImageDraw.Draw(strip)
    for r, title in enumerate(titles):
        y = gap + r * (cell + gap) + (cell - (bottom - top)) / 2 - top
        draw.text((3, y), str(title), fill=0 if pad_value > 127 else 255, font=font)
    return np.asarray(strip, dtype=np.uint8)[:, :, None].repeat(channels, axis=2)


def save_grid(
    images: Any, path: str | Path, nrow: int | None = None, scale: int = 1, padding: int = 2, pad_value: int = 255
) -> Path:
    """Write :func:`make_grid` as a PNG (grayscale as mode 'L'), upscaled ``scale``× with nearest-neighbour."""
    return save_image(make_grid(images, nrow, padding, pad_value), path, scale)


def save_image(image: np.ndarray, path: str | Path, scale: int = 1) -> Path:
    """Write one ``uint8 [H, W, C]`` or ``[H, W]`` image (format from the suffix, e.g. .png), creating folders."""
    if scale < 1:
        raise ValueError(f"scale must be >= 1, got {scale}")
    pil = _pil(image)
    if scale > 1:
        pil = pil.resize((pil.width * scale, pil.height * scale), Image.Resampling.NEAREST)
    path = Path(path)
    with atomic_file(path) as tmp:  # ganforge.outputs: a unique temporary, renamed when complete
        pil.save(tmp, format=Image.registered_extensions().get(path.suffix.lower()))
    return path


def save_gif(frames: Sequence[np.ndarray], path: str | Path, duration_ms: int = 200) -> Path:
    """Animated GIF from ``uint8 [H, W, C]`` (or ``[H, W]``) frames of equal size, looping forever.

    GIF stores at most 256 colours per frame, so RGB frames are quantised. Pillow merges consecutive identical frames
    into one longer frame, so a GIF of repeated frames reads back with fewer frames.
    """
    if len(frames) == 0:
        raise ValueError("save_gif needs at least one frame")
    pils = [_pil(f) for f in frames]
    if len({p.size for p in pils}) > 1:
        raise ValueError(f"all GIF frames must have the same size, got {sorted({p.size for p in pils})}")
    path = Path(path)
    with atomic_file(path) as tmp:
        pils[0].save(tmp, format="GIF", save_all=True, append_images=pils[1:], duration=duration_ms, loop=0)
    return path


def _numpy(images: Any) -> np.ndarray:
    if hasattr(images, "detach"):  # torch.Tensor, without importing torch here
        images = images.detach().cpu().numpy()
    return np.asarray(images)


def _check_images(images: Any) -> np.ndarray:
    x = _numpy(images)
    if x.ndim != 4 or x.shape[1] not in MODES or x.shape[0] == 0:
        raise ValueError(f"expected images [N >= 1, C in (1, 3, 4), H, W], got shape {x.shape}")
    if x.dtype != np.uint8:
        raise ValueError(f"expected uint8 images, got {x.dtype}; convert with "
                         "ganforge.data.base.to_uint8(x, output_range)")
    return x


def _pil(image: np.ndarray) -> Image.Image:
    x = _numpy(image)
    if x.ndim == 3 and x.shape[2] == 1:
        x = x[:, :, 0]
    if x.dtype != np.uint8 or not (x.ndim == 2 or (x.ndim == 3 and x.shape[2] in (3, 4))):
        raise ValueError(f"expected a uint8 image [H, W], [H, W, 1], [H, W, 3] or [H, W, 4], got {x.dtype} {x.shape}")
    return Image.fromarray(np.ascontiguousarray(x))  # uint8 [H, W] -> "L", [H, W, 3] -> "RGB", [H, W, 4] -> "RGBA"
