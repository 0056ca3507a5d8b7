"""Readers for the image file formats users bring: IDX, CIFAR python pickles, image folders and NumPy arrays.

Each reader checks its input and returns NumPy arrays (images ``uint8 [N, C, H, W]``, labels ``int64 [N]``); the
registered dataset classes in ``ganforge.data.images`` turn them into ``TensorData``. Nothing here downloads anything.
Every bad input raises a one-line ``ValueError`` / ``FileNotFoundError`` that names the file, the problem and the fix.
"""

from __future__ import annotations

import gzip
import importlib
import pickle
import warnings
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from ganforge.preflight import check_memory, require_input

GZIP_MAGIC = b"\x1f\x8b"
MAX_CLASSES = 100_000  # labels above this are ids, not class indices: a conditional model would need K embeddings
# what a truncated or corrupt .npz / .npy can raise while loading (zip directory, member CRC, inflate, header)
NPZ_ERRORS = (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error)
# Largest image decoded, in pixels (width x height): 64 Mpx = 192 MB as RGB uint8, before any conversion. A PNG
# of a few KB can declare 100,000 x 100,000 pixels (a "decompression bomb"): the header is checked before decoding.
MAX_IMAGE_PIXELS = 64_000_000
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
_EXTENSIONS_TEXT = "/".join(IMAGE_EXTENSIONS)

# IDX type codes (http://yann.lecun.com/exdb/mnist/, "THE IDX FILE FORMAT"); multi-byte values are big-endian.
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_maybe_gzip(path: Path) -> bytes:
    """The file's bytes, gunzipped when it starts with the gzip magic 0x1f 0x8b (whatever its extension)."""
    raw = path.read_bytes()
    if raw[:2] != GZIP_MAGIC:
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise ValueError(f"'{path}' looks gzip-compressed but cannot be decompressed ({exc}); re-download it") from None


def labels_to_int64(y: np.ndarray, n: int, where: str) -> np.ndarray:
    """Validate labels (1-D or [N, 1], whole non-negative numbers, one per sample) and return ``int64 [N]``."""
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"labels in {where} have shape {y.shape}; expected one label per sample, shape ({n},)")
    if y.shape[0] != n:
        raise ValueError(f"{where} has {n} images but {y.shape[0]} labels; use the labels that belong to these images")
    if y.dtype.kind not in "iuf" or (y.dtype.kind == "f" and not (np.isfinite(y).all() and (y == np.rint(y)).all())):
        raise ValueError(f"labels in {where} must be whole numbers, got dtype {y.dtype}; store class indices 0..K-1")
    if n and y.min() < 0:
        raise ValueError(f"labels in {where} include {int(y.min())}; class labels must be 0..K-1")
    if n and y.max() >= MAX_CLASSES:
        raise ValueError(f"labels in {where} go up to {y.max():.0f}; class labels must be 0..K-1 with K <= "
                         f"{MAX_CLASSES} (renumber them: np.unique(y, return_inverse=True)[1])")
    return y.astype(np.int64)


def whole_pixels_to_uint8(x: np.ndarray, where: str) -> np.ndarray:
    """Non-uint8 pixel arrays whose values are whole numbers in 0..255 -> uint8; anything else is an error."""
    if x.dtype == np.uint8:
        return x
    ok = x.dtype.kind in "iuf" and (x.size == 0 or (x.min() >= 0 and x.max() <= 255))
    if ok and x.dtype.kind == "f":
        ok = bool(np.isfinite(x).all() and (x == np.rint(x)).all())
    if not ok:
        raise ValueError(
            f"{where} has {x.dtype.name} pixels that are not whole numbers in 0..255; store images as uint8"
        )
    return x.astype(np.uint8)


# --------------------------------------------------------------------------------------------------------------- IDX


def read_idx(path: Path) -> np.ndarray:
    """Parse one IDX file (MNIST / Fashion-MNIST / KMNIST format, plain or gzipped) into an array of its dims.

    Header: two zero bytes, a type code (``IDX_DTYPES``), the number of dims, then each dim as a big-endian uint32.
    """
    data = read_maybe_gzip(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError(f"'{path}' is not an IDX file (it must start with two zero bytes); pass an MNIST-style file")
    code, ndim = data[2], data[3]
    if code not in IDX_DTYPES:
        raise ValueError(f"IDX file '{path}' has unknown type code 0x{code:02X}; expected one of 08 09 0B 0C 0D 0E")
    if ndim == 0 or len(data) < 4 + 4 * ndim:
        raise ValueError(f"IDX file '{path}' has a truncated header ({ndim} dims); re-download or re-export it")
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[code]
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    got = len(data) - 4 - 4 * ndim
    if got != expected:
        raise ValueError(
            f"IDX file '{path}' is truncated or corrupt: header says {dims} ({expected} bytes of {dtype.name}) "
            f"but the file holds {got}; re-download or re-export it"
        )
    return np.frombuffer(data, dtype=dtype, offset=4 + 4 * ndim).reshape(dims).copy()  # writable, for torch


# ------------------------------------------------------------------------------------------------------------- CIFAR

# CIFAR batches are pickles of dicts of NumPy arrays and lists. Unpickling can run arbitrary code, so only the
# globals such a pickle needs are resolved (NumPy's array/dtype reconstructors, and codecs.encode for py3 bytes).
_PICKLE_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): ("numpy._core.multiarray", "numpy.core.multiarray"),
    ("numpy._core.multiarray", "_reconstruct"): ("numpy._core.multiarray", "numpy.core.multiarray"),
    ("numpy.core.multiarray", "scalar"): ("numpy._core.multiarray", "numpy.core.multiarray"),
    ("numpy._core.multiarray", "scalar"): ("numpy._core.multiarray", "numpy.core.multiarray"),
    ("numpy.core.numeric", "_frombuffer"): ("numpy._core.numeric", "numpy.core.numeric"),
    ("numpy._core.numeric", "_frombuffer"): ("numpy._core.numeric", "numpy.core.numeric"),
    ("numpy", "ndarray"): ("numpy",),
    ("numpy", "dtype"): ("numpy",),
    ("_codecs", "encode"): ("_codecs",),
}


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        for candidate in _PICKLE_ALLOWED.get((module, name), ()):
            try:
                return getattr(importlib.import_module(candidate), name)
            except (ImportError, AttributeError):
                continue
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _load_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray, int]:
    """One CIFAR batch file -> images ``uint8 [N, 3, 32, 32]``, labels ``int64 [N]``, number of classes (10/100)."""
    with path.open("rb") as fh:
        head = fh.read(2)
        if head == GZIP_MAGIC:
            raise ValueError(f"'{path}' is a gzip archive; extract it (tar xzf) and point at the extracted folder")
        fh.seek(0)
        try:
            batch = _ArrayUnpickler(fh, encoding="bytes").load()
        except Exception as exc:  # a corrupt pickle can raise nearly anything; report it in one line
            raise ValueError(f"'{path}' is not a CIFAR python batch ({type(exc).__name__}: {exc})") from None
    if not isinstance(batch, dict) or b"data" not in batch:
        raise ValueError(f"'{path}' is not a CIFAR python batch (no b'data' key); use the cifar-*-python files")
    label_key, num_classes = (b"fine_labels", 100) if b"fine_labels" in batch else (b"labels", 10)
    if label_key not in batch:
        raise ValueError(f"CIFAR batch '{path}' has no b'labels' or b'fine_labels'; use the cifar-*-python files")
    x = np.asarray(batch[b"data"])
    if x.dtype != np.uint8 or x.ndim != 2 or x.shape[1] != 3 * 32 * 32:
        raise ValueError(f"CIFAR batch '{path}' data is {x.dtype} {x.shape}; expected uint8 [N, 3072]")
    y = labels_to_int64(np.asarray(batch[label_key]), x.shape[0], f"CIFAR batch '{path}'")
    return x.reshape(-1, 3, 32, 32), y, num_classes  # rows are 1024 R, then G, then B values, row-major


def cifar_batch_files(path: Path, split: str) -> list[Path]:
    """The batch files of ``split`` in a ``cifar-10-batches-py`` / ``cifar-100-python`` folder (or one batch file)."""
    if path.is_file():
        return [path]
    for sub in ("cifar-10-batches-py", "cifar-100-python"):  # the folder the archive extracts into, one level down
        if not any(path.glob("data_batch_*")) and not (path / "train").is_file() and (path / sub).is_dir():
            path = path / sub
    if any(path.glob("data_batch_*")):  # CIFAR-10: data_batch_1..5 + test_batch
        if split == "test":
            files = [path / "test_batch"]
        else:
            files = sorted(path.glob("data_batch_*"), key=lambda p: (len(p.name), p.name))
    else:  # CIFAR-100: train + test
        files = [path / ("test" if split == "test" else "train")]
    missing = [f for f in files if not f.is_file()]
    if missing:
        raise FileNotFoundError(
            f"CIFAR file '{missing[0]}' not found; point data.options.path at the extracted cifar-10-batches-py "
            "(data_batch_1..5, test_batch) or cifar-100-python (train, test) folder"
        )
    return files


def read_cifar(path: Path, split: str) -> tuple[np.ndarray, np.ndarray, int]:
    """All batches of ``split`` concatenated: ``uint8 [N, 3, 32, 32]``, ``int64 [N]``, number of classes."""
    parts = [_load_cifar_batch(f) for f in cifar_batch_files(path, split)]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), parts[0][2]


# ------------------------------------------------------------------------------------------------------ image folder


def _visible(p: Path, root: Path) -> bool:
    return not any(part.startswith(".") for part in p.relative_to(root).parts)


def _images_under(folder: Path, root: Path, recursive: bool) -> list[Path]:
    found = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(p for p in found if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS and _visible(p, root))


def list_image_folder(root: Path) -> tuple[list[Path], list[int] | None, list[str]]:
    """Image files (sorted) and their labels under ``root``.

    Images directly in ``root`` are unlabelled; otherwise each non-hidden sub-folder that holds images (searched
    recursively) is a class, labelled by its index in the sorted folder names. Sub-folders without images are skipped.
    """
    loose = _images_under(root, root, recursive=False)
    folders = [d for d in sorted(root.iterdir()) if d.is_dir() and not d.name.startswith(".")]
    classes = [(d.name, files) for d in folders if (files := _images_under(d, root, recursive=True))]
    if loose and classes:
        raise ValueError(
            f"image folder '{root}' mixes loose images ('{loose[0].name}') with class sub-folders "
            f"('{classes[0][0]}'); move the loose images into a sub-folder or out of the folder"
        )
    if loose:
        return loose, None, []
    if not classes:
        raise ValueError(
            f"image folder '{root}' contains no images ({_EXTENSIONS_TEXT}); point data.options.path at a folder "
            "of images or of class sub-folders"
        )
    files = [f for _, fs in classes for f in fs]
    labels = [k for k, (_, fs) in enumerate(classes) for _ in fs]
    return files, labels, [name for name, _ in classes]


_GRAY_MODES = ("1", "L", "LA", "I", "F")


def _too_large(path: Path, width: int, height: int) -> ValueError:
    return ValueError(f"image '{path}' is {width}x{height} = {width * height / 1e6:.1f} M pixels, more than the "
                      f"{MAX_IMAGE_PIXELS / 1e6:.0f} M pixels ganforge decodes (a decompression bomb guard); resize "
                      "or remove it")


def _open_checked(path: Path, load: bool) -> Any:
    """``PIL.Image.open(path)`` after checking it is a readable regular file, with its header size checked against
    ``MAX_IMAGE_PIXELS`` before any pixel is decoded; decoded too with ``load``. One-line ``ValueError`` otherwise."""
    from PIL import Image, UnidentifiedImageError

    require_input(path, "image", "the input")
    try:
        with warnings.catch_warnings():
            # the header size is checked just below against our own, lower limit (naming the size); Pillow's
            # warning would only print to stderr. Over twice its limit Pillow raises at open (mapped below).
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(path)  # reads the header only
            try:
                w, h = im.size
                if w * h > MAX_IMAGE_PIXELS:
                    raise _too_large(path, w, h)
                if load:
                    im.load()
            except BaseException:
                im.close()
                raise
            return im
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        size = str(exc).split(",")[0].split(" could be")[0]
        raise ValueError(f"image '{path}' is too large to decode safely ({size}; ganforge decodes at most "
                         f"{MAX_IMAGE_PIXELS / 1e6:.0f} M pixels); resize or remove it") from None
    except ValueError as exc:
        if str(exc).startswith(f"image '{path}' is "):
            raise
        raise ValueError(f"cannot read image '{path}' ({exc}); delete or replace the file") from None
    except (UnidentifiedImageError, OSError, SyntaxError, EOFError, zlib.error, MemoryError) as exc:
        raise ValueError(f"cannot read image '{path}' ({exc}); delete or replace the file") from None


def image_size(path: Path) -> tuple[int, int]:
    """``(width, height)`` of an image file from its header alone (nothing decoded); one-line ``ValueError`` for
    an unreadable file or one over ``MAX_IMAGE_PIXELS``."""
    with _open_checked(path, load=False) as im:
        return im.size


def open_image(path: Path) -> Any:
    """A fully decoded ``PIL.Image`` of ``path`` (use it in a ``with``), or a one-line ``ValueError`` naming the file.

    Covers unreadable, non-regular (a FIFO would block), truncated and corrupt files, and decompression bombs: an
    image over ``MAX_IMAGE_PIXELS`` (64 M pixels) is refused from its header, before its pixels are decoded, since
    one such file (a few KB of PNG) can decode to gigabytes.
    """
    return _open_checked(path, load=True)


def _decode(path: Path, size: int | None, channels: int) -> tuple[np.ndarray, bool]:
    """One image -> ``uint8 [H, W]`` (grayscale, when ``channels`` allows) or ``[H, W, 3]``, and whether it is gray.

    An image counts as grayscale when its mode is (L, 16-bit, ...) or when every pixel has R == G == B (gray
    palettes, WebP, gray images saved as RGB).
    """
    from PIL import Image

    with open_image(path) as im:
        try:
            if im.mode.startswith("I;16"):  # 16-bit grayscale PNG/TIFF: v / 257 rounded, so 65535 -> 255
                im = Image.fromarray(np.rint(np.asarray(im, dtype=np.float64) / 257.0).astype(np.uint8))
            elif im.mode in _GRAY_MODES:
                im = im.convert("L")
            else:  # RGB, RGBA (alpha dropped), P (palette), CMYK, YCbCr, ...
                im = im.convert("RGB")
            if im.mode == "RGB" and channels != 3:
                rgb = np.asarray(im)
                if channels == 1:
                    im = im.convert("L")  # ITU-R 601-2 luma
                elif (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all():
                    im = Image.fromarray(np.ascontiguousarray(rgb[..., 0]))
            elif im.mode == "L" and channels == 3:
                im = im.convert("RGB")
            if size is not None and im.size != (size, size):
                im = im.resize((size, size), Image.Resampling.LANCZOS)
            return np.asarray(im, dtype=np.uint8), im.mode == "L"
        except (OSError, ValueError) as exc:  # a mode Pillow cannot convert
            raise ValueError(f"cannot convert image '{path}' ({exc}); re-save it as PNG") from None


def read_image_folder(
    root: Path, size: int | None, channels: int, limit: int
) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
    """Decode every image under ``root`` -> ``uint8 [N, C, H, W]``, ``int64 [N]`` labels or None, class names.

    Before decoding, the memory the result needs is estimated from the first image's header (without ``size`` all
    images must share its size, else they are refused below): ``N × H × W × 3`` bytes, twice (the decoded list and
    the stacked array), and refused when it is not available.
    """
    files, labels, names = list_image_folder(root)
    if limit:
        files = files[:limit]
        labels = labels[:limit] if labels is not None else None
    w, h = (size, size) if size is not None else image_size(files[0])
    check_memory(2.0 * len(files) * w * h * 3, f"decoding the {len(files)} images of '{root}' ({w}x{h})",
                 "set data.options.limit to use fewer, or data.options.size to shrink them")
    arrays: list[np.ndarray] = []
    all_gray = True
    for f in files:
        a, gray = _decode(f, size, channels)
        if arrays and a.shape[:2] != arrays[0].shape[:2]:
            (h0, w0), (h, w) = arrays[0].shape[:2], a.shape[:2]
            raise ValueError(
                f"images '{files[0]}' ({w0}x{h0}) and '{f}' ({w}x{h}) differ in size; set data.options.size "
                "to resize them all to one square size"
            )
        arrays.append(a)
        all_gray &= gray
    if all_gray:  # [N, H, W] -> [N, 1, H, W]
        x = np.stack(arrays)[:, None]
    else:  # gray images are replicated to RGB (what Pillow's L -> RGB does)
        x = np.stack([a if a.ndim == 3 else np.repeat(a[..., None], 3, axis=2) for a in arrays]).transpose(0, 3, 1, 2)
    y = np.asarray(labels, dtype=np.int64) if labels is not None else None
    return np.ascontiguousarray(x), y, names


# ---------------------------------------------------------------------------------------------------- .npz / .npy


def array_headers(path: Path) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """``{name: (shape, dtype)}`` of the arrays in a ``.npy`` (name ``""``) or ``.npz``, read from their headers alone,
    so that a file declaring ``(10**9, 3, 64, 64)`` can be refused before it is decompressed into memory."""
    from numpy.lib import format as npformat

    def header(fh: Any) -> tuple[tuple[int, ...], np.dtype]:
        version = npformat.read_magic(fh)
        read = npformat.read_array_header_1_0 if version == (1, 0) else npformat.read_array_header_2_0
        shape, _fortran, dtype = read(fh, max_header_size=10_000)
        return tuple(int(d) for d in shape), dtype

    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                out = {}
                for info in zf.infolist():
                    if info.filename.endswith(".npy"):
                        with zf.open(info) as fh:
                            out[info.filename.removesuffix(".npy")] = header(fh)
                return out
        with open(path, "rb") as fh:
            return {"": header(fh)}
    except (*NPZ_ERRORS, KeyError, TypeError, SyntaxError) as exc:
        raise ValueError(f"cannot load '{path}' as .npy/.npz ({' '.join(str(exc).split())[:120]}); save it with "
                         "np.save / np.savez") from None


def check_array_file(path: Path, where: str) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """The arrays' headers of a .npy/.npz (``array_headers``), refused before loading when a shape is impossible or
    all of them together would not fit in the available memory (a few KB of zip can declare terabytes)."""
    headers = array_headers(path)
    for name, (shape, _dtype) in headers.items():  # object arrays: np.load(allow_pickle=False) refuses them
        if any(d < 0 for d in shape):
            raise ValueError(f"{where}: array {name!r} declares the impossible shape {list(shape)}; save it again")
    nbytes = sum(float(np.prod(shape, dtype=np.float64)) * dtype.itemsize for shape, dtype in headers.values())
    check_memory(2.0 * nbytes, f"loading {where} ({nbytes / 1e9:.1f} GB of arrays)", "pass a smaller file")
    return headers


def _pick_key(keys: list[str], wanted: str, defaults: tuple[str, ...], path: Path, option: str) -> str | None:
    if wanted:
        if wanted not in keys:
            raise ValueError(f"'{path}' has no array {wanted!r}; it holds {keys}; fix {option}")
        return wanted
    return next((k for k in defaults if k in keys), None)


def read_array_file(path: Path, key: str, labels_key: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Images (and labels) from a ``.npz`` archive or a ``.npy`` array, loaded with ``allow_pickle=False`` after
    ``check_array_file`` (sizes from the headers)."""
    check_array_file(path, f"'{path}'")
    try:
        loaded = np.load(path, allow_pickle=False)
    except NPZ_ERRORS as exc:
        raise ValueError(f"cannot load '{path}' as .npy/.npz ({exc}); save it with np.save / np.savez") from None
    if isinstance(loaded, np.ndarray):
        if key or labels_key:
            raise ValueError(f"'{path}' is a single .npy array; key/labels_key only apply to .npz files, remove them")
        return loaded, None
    with loaded:
        keys = list(loaded.files)
        image_key = _pick_key(keys, key, ("x", "images"), path, "data.options.key")
        if image_key is None:
            if len(keys) != 1:
                raise ValueError(f"'{path}' holds arrays {keys}; set data.options.key to the one with the images")
            image_key = keys[0]
        label_key = _pick_key(keys, labels_key, ("y", "labels"), path, "data.options.labels_key")
        try:
            x = loaded[image_key]
            y = loaded[label_key] if label_key is not None and label_key != image_key else None
        except NPZ_ERRORS as exc:
            raise ValueError(f"cannot read arrays from '{path}' ({exc}); the file is truncated or corrupt: save it "
                             "again with np.savez") from None
    return x, y


def array_to_images(x: np.ndarray, where: str) -> np.ndarray:
    """``[N, H, W]``, ``[N, H, W, C]`` or ``[N, C, H, W]`` (C in 1, 3) -> ``uint8 [N, C, H, W]``.

    uint8 is kept; integers must lie in 0..255; floats in [0, 1] become ``rint(255 x)`` and floats in [-1, 1] become
    ``rint(127.5 (x + 1))``. A float array inside [0, 1] is always read as [0, 1].
    """
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 4 and x.shape[3] in (1, 3):
        x = x.transpose(0, 3, 1, 2)
    elif not (x.ndim == 4 and x.shape[1] in (1, 3)):
        raise ValueError(
            f"{where} has shape {x.shape}; expected images as (N, H, W), (N, H, W, C) or (N, C, H, W) with C = 1 or 3"
        )
    if x.shape[0] == 0:
        raise ValueError(f"{where} holds no images (shape {x.shape}); save a non-empty array")
    if x.dtype.kind == "f":
        if not np.isfinite(x).all():
            raise ValueError(f"{where} contains NaN or inf; clean the array before training")
        lo, hi = float(x.min()), float(x.max())
        if lo >= 0.0 and hi <= 1.0:
            x = np.rint(x.astype(np.float64) * 255.0)
        elif lo >= -1.0 and hi <= 1.0:
            x = np.rint((x.astype(np.float64) + 1.0) * 127.5)
        else:
            raise ValueError(
                f"{where} has float values in [{lo:g}, {hi:g}]; expected [0, 1] or [-1, 1] (or uint8 0..255: "
                "use x.astype(np.uint8))"
            )
        x = x.astype(np.uint8)
    elif x.dtype.kind in "iu":
        x = whole_pixels_to_uint8(x, where)
    else:
        raise ValueError(f"{where} has dtype {x.dtype}; expected uint8 pixels or floats in [0, 1] / [-1, 1]")
    return np.ascontiguousarray(x)
