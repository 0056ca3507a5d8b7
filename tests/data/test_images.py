"""Image dataset loaders: small files written in tmp_path in the real formats, loaded back and checked exactly."""

from __future__ import annotations

import gzip
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.data import images
from ganforge.options import ConfigError, build_options
from ganforge.registry import DATASETS

RNG = np.random.default_rng(0)


def rand_u8(*shape: int) -> np.ndarray:
    return RNG.integers(0, 256, size=shape, dtype=np.uint8)


def check(data, shape: tuple[int, ...], labels: list[int] | None = None, num_classes: int | None = None) -> None:
    """Shape, dtypes and (optionally) exact labels and class count of a loaded TensorData."""
    assert tuple(data.x.shape) == shape
    assert data.x.dtype == torch.uint8
    if labels is None:
        assert data.y is None
    else:
        assert data.y.dtype == torch.int64
        assert data.y.tolist() == labels
    if num_classes is not None:
        assert data.num_classes == num_classes


# ----------------------------------------------------------------------------------------------------------- registry


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("mnist", images.MNIST),
        ("digits", images.Digits),
        ("idx", images.IDX),
        ("cifar", images.CIFAR),
        ("image-folder", images.ImageFolder),
        ("npz", images.NPZ),
    ],
)
def test_loader_is_registered_and_builds_from_defaults(name: str, cls: type) -> None:
    assert DATASETS.get(name) is cls
    assert cls().limit == 0
    assert build_options(cls, {"limit": 5}, "data.options").limit == 5


@pytest.mark.parametrize(
    ("cls", "values", "message"),
    [
        (images.ImageFolder, {"channels": 2}, "channels must be 0"),
        (images.ImageFolder, {"size": 0}, "size must be a positive"),
        (images.NPZ, {"limit": -1}, "limit must be >= 0"),
    ],
)
def test_bad_options_are_config_errors(cls: type, values: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build_options(cls, values, "data.options")


# -------------------------------------------------------------------------------------------------- mnist / digits


def test_mnist_train_and_test() -> None:
    train = images.MNIST().load("train")
    test = images.MNIST().load("test")
    check(train, (60000, 1, 28, 28), num_classes=10, labels=train.y.tolist())
    check(test, (10000, 1, 28, 28), num_classes=10, labels=test.y.tolist())
    assert train.y.tolist()[:5] == [5, 0, 4, 1, 9]
    assert test.y.tolist()[:5] == [7, 2, 1, 0, 4]
    assert train.is_image
    assert (int(train.x.min()), int(train.x.max())) == (0, 255)
    small = images.MNIST(limit=7).load("test")
    check(small, (7, 1, 28, 28), [7, 2, 1, 0, 4, 1, 4], num_classes=10)
    assert torch.equal(small.x, test.x[:7])
    with pytest.raises(ValueError, match="no split 'valid'"):
        images.MNIST().load("valid")


def test_digits_splits_and_scaling() -> None:
    from sklearn.datasets import load_digits

    ref = load_digits()
    train, test, every = (images.Digits().load(s) for s in ("train", "test", "all"))
    check(train, (1437, 1, 8, 8), ref.target[:1437].tolist(), num_classes=10)
    check(test, (360, 1, 8, 8), ref.target[1437:].tolist(), num_classes=10)
    check(every, (1797, 1, 8, 8), ref.target.tolist(), num_classes=10)
    assert np.array_equal(every.x[:, 0].numpy(), np.rint(ref.images * 255.0 / 16.0).astype(np.uint8))
    assert int(every.x.max()) == 255
    assert torch.equal(torch.cat([train.x, test.x]), every.x)
    assert len(images.Digits(limit=10).load("test")) == 10
    with pytest.raises(ValueError, match="choose from: train, test, all"):
        images.Digits().load("val")


# --------------------------------------------------------------------------------------------------------------- IDX

IDX_CODES = {"u1": 0x08, "i1": 0x09, "i2": 0x0B, "i4": 0x0C, "f4": 0x0D, "f8": 0x0E}


def idx_bytes(arr: np.ndarray) -> bytes:
    """The IDX layout: 0, 0, type code, ndim, big-endian uint32 dims, then big-endian data."""
    code = IDX_CODES[arr.dtype.newbyteorder("=").str[1:]]
    header = struct.pack(">BBBB", 0, 0, code, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


def write_idx(path: Path, arr: np.ndarray, gz: bool = False) -> Path:
    data = idx_bytes(arr)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def write_bytes(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


@pytest.mark.parametrize("gz", [False, True])
def test_idx_images_and_labels(tmp_path: Path, gz: bool) -> None:
    x = rand_u8(5, 6, 4)
    y = np.array([3, 0, 1, 7, 2], dtype=np.uint8)
    # names deliberately say the opposite of the content: gzip is detected by magic bytes, not by extension
    imgs = str(write_idx(tmp_path / ("imgs.idx" if gz else "imgs.idx.gz"), x, gz=gz))
    labs = str(write_idx(tmp_path / "labs", y, gz=gz))
    data = images.IDX(images=imgs, labels=labs).load("test")
    check(data, (5, 1, 6, 4), [3, 0, 1, 7, 2], num_classes=8)
    assert np.array_equal(data.x[:, 0].numpy(), x)
    check(images.IDX(images=imgs, labels=labs, limit=2).load(), (2, 1, 6, 4), [3, 0], num_classes=8)
    check(images.IDX(images=imgs).load(), (5, 1, 6, 4), None)


@pytest.mark.parametrize("dtype", ["i1", "i2", "i4", "f4", "f8"])
def test_idx_other_dtypes(tmp_path: Path, dtype: str) -> None:
    x = RNG.integers(0, 128, size=(3, 2, 2)).astype(dtype)  # whole numbers that fit 0..255
    y = np.array([1, 0, 4], dtype=dtype)
    data = images.IDX(images=str(write_idx(tmp_path / "x", x)), labels=str(write_idx(tmp_path / "y", y))).load()
    check(data, (3, 1, 2, 2), [1, 0, 4])
    assert np.array_equal(data.x[:, 0].numpy(), x.astype(np.uint8))


def test_idx_bad_files(tmp_path: Path) -> None:
    good = idx_bytes(rand_u8(4, 3, 3))
    cut = write_bytes(tmp_path / "cut", good[:-5])
    with pytest.raises(ValueError, match=r"truncated or corrupt: header says \(4, 3, 3\) \(36 bytes"):
        images.IDX(images=cut).load()
    long = write_bytes(tmp_path / "long", good + b"\0")
    with pytest.raises(ValueError, match="truncated or corrupt"):
        images.IDX(images=long).load()
    header = write_bytes(tmp_path / "hdr", b"\0\0\x08\x03\0\0\0\x04")
    with pytest.raises(ValueError, match="truncated header"):
        images.IDX(images=header).load()
    png = write_bytes(tmp_path / "png", b"\x89PNG\r\n\x1a\n")
    with pytest.raises(ValueError, match="not an IDX file"):
        images.IDX(images=png).load()
    code = write_bytes(tmp_path / "code", b"\0\0\x0a\x01\0\0\0\x01\0")
    with pytest.raises(ValueError, match="unknown type code 0x0A"):
        images.IDX(images=code).load()
    bad_gz = write_bytes(tmp_path / "badgz", gzip.compress(good)[:-12])
    with pytest.raises(ValueError, match="cannot be decompressed"):
        images.IDX(images=bad_gz).load()


def test_idx_bad_contents(tmp_path: Path) -> None:
    imgs = str(write_idx(tmp_path / "x", rand_u8(4, 3, 3)))
    labels = str(write_idx(tmp_path / "y", np.array([1, 2, 3], dtype=np.uint8)))
    with pytest.raises(ValueError, match="4 images but 3 labels"):
        images.IDX(images=imgs, labels=labels).load()
    with pytest.raises(ValueError, match=r"expected \(N, H, W\) images - is data\.options\.images a labels file"):
        images.IDX(images=labels).load()
    halves = str(write_idx(tmp_path / "f", np.full((2, 2, 2), 0.5, dtype=np.float32)))
    with pytest.raises(ValueError, match=r"float32 pixels that are not whole numbers in 0\.\.255"):
        images.IDX(images=halves).load()
    big = str(write_idx(tmp_path / "big", np.full((2, 2, 2), 300, dtype=np.int16)))
    with pytest.raises(ValueError, match=r"not whole numbers in 0\.\.255"):
        images.IDX(images=big).load()
    negative = str(write_idx(tmp_path / "neg", np.array([0, -1, 2, 3], dtype=np.int8)))
    with pytest.raises(ValueError, match=r"class labels must be 0\.\.K-1"):
        images.IDX(images=imgs, labels=negative).load()
    with pytest.raises(FileNotFoundError, match=r"IDX images file '.*nope' not found; check data\.options\.images"):
        images.IDX(images=str(tmp_path / "nope")).load()
    with pytest.raises(FileNotFoundError, match="IDX labels file"):
        images.IDX(images=imgs, labels=str(tmp_path / "nope")).load()
    with pytest.raises(ValueError, match=r"no IDX images file given; set data\.options\.images"):
        images.IDX().load()
    with pytest.raises(ValueError, match="is a folder, not a file"):
        images.IDX(images=str(tmp_path)).load()
    with pytest.raises(ValueError, match="no split 'valid'"):
        images.IDX(images=imgs).load("valid")


# ------------------------------------------------------------------------------------------------------------- CIFAR


def write_cifar_batch(path: Path, x: np.ndarray, labels: list[int], label_key: bytes = b"labels") -> None:
    """A batch as the CIFAR python pickles store it: bytes keys, uint8 [N, 3072] rows (R plane, G, B), list labels."""
    batch = {
        b"batch_label": b"training batch 1 of 5",
        label_key: labels,
        b"data": x.reshape(len(x), 3072),
        b"filenames": [f"img_{i}.png".encode() for i in range(len(x))],
    }
    if label_key == b"fine_labels":
        batch[b"coarse_labels"] = [v // 5 for v in labels]
    path.write_bytes(pickle.dumps(batch, protocol=2))


def make_cifar10(root: Path) -> tuple[np.ndarray, list[int], np.ndarray, list[int]]:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    x_train, y_train = rand_u8(10, 3, 32, 32), [i % 10 for i in range(3, 13)]
    for b in range(5):
        write_cifar_batch(folder / f"data_batch_{b + 1}", x_train[2 * b : 2 * b + 2], y_train[2 * b : 2 * b + 2])
    x_test, y_test = rand_u8(3, 3, 32, 32), [9, 8, 1]
    write_cifar_batch(folder / "test_batch", x_test, y_test)
    (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": [b"airplane"]}, protocol=2))
    return x_train, y_train, x_test, y_test


def test_cifar10_folder(tmp_path: Path) -> None:
    x_train, y_train, x_test, y_test = make_cifar10(tmp_path)
    folder = tmp_path / "cifar-10-batches-py"
    train = images.CIFAR(path=str(folder)).load("train")
    check(train, (10, 3, 32, 32), y_train, num_classes=10)  # batches 1..5 in order
    assert np.array_equal(train.x.numpy(), x_train)
    test = images.CIFAR(path=str(tmp_path)).load("test")  # the parent of the extracted folder works too
    check(test, (3, 3, 32, 32), y_test, num_classes=10)
    assert np.array_equal(test.x.numpy(), x_test)
    one = images.CIFAR(path=str(folder / "data_batch_2")).load()
    check(one, (2, 3, 32, 32), y_train[2:4], num_classes=10)
    assert np.array_equal(one.x.numpy(), x_train[2:4])
    check(images.CIFAR(path=str(folder), limit=3).load(), (3, 3, 32, 32), y_train[:3])


def test_cifar100_folder_uses_fine_labels(tmp_path: Path) -> None:
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    x_train, x_test = rand_u8(4, 3, 32, 32), rand_u8(2, 3, 32, 32)
    write_cifar_batch(folder / "train", x_train, [99, 0, 57, 3], b"fine_labels")
    write_cifar_batch(folder / "test", x_test, [12, 40], b"fine_labels")
    train = images.CIFAR(path=str(folder)).load("train")
    check(train, (4, 3, 32, 32), [99, 0, 57, 3], num_classes=100)
    assert np.array_equal(train.x.numpy(), x_train)
    test = images.CIFAR(path=str(folder)).load("test")
    check(test, (2, 3, 32, 32), [12, 40], num_classes=100)
    assert np.array_equal(test.x.numpy(), x_test)


def test_cifar_reads_protocol5_pickles(tmp_path: Path) -> None:
    x = rand_u8(2, 3, 32, 32)
    (tmp_path / "b").write_bytes(pickle.dumps({b"data": x.reshape(2, 3072), b"labels": np.array([4, 5])}, protocol=5))
    data = images.CIFAR(path=str(tmp_path / "b")).load()
    check(data, (2, 3, 32, 32), [4, 5])
    assert np.array_equal(data.x.numpy(), x)


class _Evil:
    def __reduce__(self):
        return (os.getcwd, ())


def test_cifar_errors(tmp_path: Path) -> None:
    make_cifar10(tmp_path)
    folder = tmp_path / "cifar-10-batches-py"
    with pytest.raises(FileNotFoundError, match=r"CIFAR path '.*missing' not found; check data\.options\.path"):
        images.CIFAR(path=str(tmp_path / "missing")).load()
    with pytest.raises(ValueError, match=r"needs data\.options\.path"):
        images.CIFAR().load()
    with pytest.raises(ValueError, match="no split 'all'"):
        images.CIFAR(path=str(folder)).load("all")
    (folder / "test_batch").unlink()
    with pytest.raises(FileNotFoundError, match=r"test_batch' not found; point data\.options\.path at the extracted"):
        images.CIFAR(path=str(folder)).load("test")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="empty/train' not found"):
        images.CIFAR(path=str(tmp_path / "empty")).load()
    write_cifar_batch(tmp_path / "mismatch", rand_u8(2, 3, 32, 32), [0, 1, 2])
    with pytest.raises(ValueError, match="2 images but 3 labels"):
        images.CIFAR(path=str(tmp_path / "mismatch")).load()
    evil = write_bytes(tmp_path / "evil", pickle.dumps({b"data": _Evil()}, protocol=2))
    with pytest.raises(ValueError, match=r"refusing to load (posix|nt)\.getcwd"):
        images.CIFAR(path=evil).load()
    archive = write_bytes(tmp_path / "cifar.tar.gz", gzip.compress(b"tar"))
    with pytest.raises(ValueError, match=r"gzip archive; extract it \(tar xzf\)"):
        images.CIFAR(path=archive).load()
    no_data = write_bytes(tmp_path / "nodata", pickle.dumps({b"labels": [1]}, protocol=2))
    with pytest.raises(ValueError, match="no b'data' key"):
        images.CIFAR(path=no_data).load()
    wrong = write_bytes(tmp_path / "bad", pickle.dumps({b"data": rand_u8(8, 768), b"labels": [0] * 8}, protocol=2))
    with pytest.raises(ValueError, match=r"data is uint8 \(8, 768\); expected uint8 \[N, 3072\]") as info:
        images.CIFAR(path=wrong).load()
    assert "\n" not in str(info.value)


# ------------------------------------------------------------------------------------------------------ image folder


def save(path: Path, arr: np.ndarray, **kwargs) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path, **kwargs)


def test_image_folder_classes_grayscale(tmp_path: Path) -> None:
    cats, dogs = rand_u8(2, 5, 7), rand_u8(1, 5, 7)
    save(tmp_path / "cat" / "a.png", cats[0])
    save(tmp_path / "cat" / "b.PNG", cats[1])  # extensions are case-insensitive
    save(tmp_path / "dog" / "deep" / "c.png", dogs[0])  # class folders are searched recursively
    save(tmp_path / "cat" / ".hidden.png", rand_u8(9, 9))  # hidden files and folders are ignored
    save(tmp_path / ".cache" / "x.png", rand_u8(9, 9))
    (tmp_path / "cat" / "notes.txt").write_text("not an image")
    (tmp_path / "empty").mkdir()  # a folder without images is no class
    data = images.ImageFolder(path=str(tmp_path)).load()
    check(data, (3, 1, 5, 7), [0, 0, 1], num_classes=2)
    assert np.array_equal(data.x[:, 0].numpy(), np.concatenate([cats, dogs]))
    check(images.ImageFolder(path=str(tmp_path), limit=1).load("test"), (1, 1, 5, 7), [0], num_classes=2)


def test_image_folder_channels(tmp_path: Path) -> None:
    gray, rgb = rand_u8(4, 4), rand_u8(4, 4, 3)
    save(tmp_path / "a.png", gray)
    save(tmp_path / "b.png", rgb)
    save(tmp_path / "c.png", np.dstack([rgb, np.full((4, 4), 7, np.uint8)]))  # RGBA: alpha dropped
    data = images.ImageFolder(path=str(tmp_path)).load()  # loose images: unlabelled
    check(data, (3, 3, 4, 4), None, num_classes=0)
    assert np.array_equal(data.x[0].numpy(), np.stack([gray] * 3))  # gray replicated to RGB
    assert np.array_equal(data.x[1].numpy(), rgb.transpose(2, 0, 1))
    assert np.array_equal(data.x[2].numpy(), rgb.transpose(2, 0, 1))
    forced = images.ImageFolder(path=str(tmp_path), channels=1).load()
    check(forced, (3, 1, 4, 4), None)
    assert np.array_equal(forced.x[0, 0].numpy(), gray)
    assert np.array_equal(forced.x[1, 0].numpy(), np.asarray(Image.fromarray(rgb).convert("L")))  # luma
    (tmp_path / "b.png").unlink()
    (tmp_path / "c.png").unlink()
    check(images.ImageFolder(path=str(tmp_path), channels=3).load(), (1, 3, 4, 4), None)


def test_image_folder_formats(tmp_path: Path) -> None:
    gray = rand_u8(6, 6)
    save(tmp_path / "a.gif", gray)  # GIF stores a palette; a gray palette counts as grayscale
    save(tmp_path / "b.bmp", gray)
    save(tmp_path / "c.tif", gray)
    save(tmp_path / "d.webp", gray, lossless=True)  # WebP has no gray mode: loads as RGB with R == G == B
    save(tmp_path / "e.png", np.stack([gray] * 3, axis=2))  # gray content saved as RGB
    Image.fromarray(gray.astype(np.uint16) * 257).save(tmp_path / "f.png")  # 16-bit PNG
    data = images.ImageFolder(path=str(tmp_path)).load()
    check(data, (6, 1, 6, 6), None)
    for i in range(6):
        assert np.array_equal(data.x[i, 0].numpy(), gray), i


def test_image_folder_jpeg_and_resize(tmp_path: Path) -> None:
    ramp = np.linspace(0, 255, 16).astype(np.uint8)
    smooth = np.stack([np.tile(ramp, (16, 1)), np.tile(ramp[::-1], (16, 1)), np.full((16, 16), 90, np.uint8)], 2)
    save(tmp_path / "a.jpg", smooth, quality=95)
    save(tmp_path / "b.jpeg", smooth[:8, :12], quality=95)
    with pytest.raises(ValueError, match=r"images '.*a\.jpg' \(16x16\) and '.*b\.jpeg' \(12x8\) differ in size"):
        images.ImageFolder(path=str(tmp_path)).load()
    data = images.ImageFolder(path=str(tmp_path), size=8).load()
    check(data, (2, 3, 8, 8), None)
    expected = np.asarray(Image.fromarray(smooth).resize((8, 8), Image.Resampling.LANCZOS)).transpose(2, 0, 1)
    assert np.abs(data.x[0].numpy().astype(int) - expected).max() <= 6  # JPEG is lossy
    assert (data.x[0, 0, :, -1] > data.x[0, 0, :, 0]).all()  # the red ramp survives


def test_image_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"image folder '.*nope' not found; check data\.options\.path"):
        images.ImageFolder(path=str(tmp_path / "nope")).load()
    with pytest.raises(ValueError, match=r"needs data\.options\.path"):
        images.ImageFolder().load()
    (tmp_path / "readme.txt").write_text("x")
    (tmp_path / "sub").mkdir()
    with pytest.raises(ValueError, match=r"contains no images \(\.png/\.jpg/.*\); point data\.options\.path at a"):
        images.ImageFolder(path=str(tmp_path)).load()
    with pytest.raises(ValueError, match="is a file, not a folder"):
        images.ImageFolder(path=str(tmp_path / "readme.txt")).load()
    save(tmp_path / "sub" / "ok.png", rand_u8(16, 16))
    (tmp_path / "sub" / "broken.png").write_bytes(b"this is not a png")
    with pytest.raises(ValueError, match=r"cannot read image '.*broken\.png' .*; delete or replace the file"):
        images.ImageFolder(path=str(tmp_path)).load()
    (tmp_path / "sub" / "broken.png").write_bytes((tmp_path / "sub" / "ok.png").read_bytes()[:-40])  # truncated
    with pytest.raises(ValueError, match=r"cannot read image '.*broken\.png' \(image file is truncated"):
        images.ImageFolder(path=str(tmp_path)).load()
    (tmp_path / "sub" / "broken.png").unlink()
    save(tmp_path / "loose.png", rand_u8(3, 3))
    with pytest.raises(ValueError, match=r"mixes loose images \('loose\.png'\) with class sub-folders \('sub'\)"):
        images.ImageFolder(path=str(tmp_path)).load()
    with pytest.raises(ValueError, match="no split 'val'"):
        images.ImageFolder(path=str(tmp_path)).load("val")


# ---------------------------------------------------------------------------------------------------------- npz / npy


@pytest.mark.parametrize("layout", ["NHW", "NHWC", "NCHW", "NHW1", "N1HW"])
def test_npz_layouts_uint8(tmp_path: Path, layout: str) -> None:
    x = rand_u8(4, 3, 5, 6)  # [N, C, H, W]
    stored = {
        "NHW": x[:, 0],
        "NHWC": x.transpose(0, 2, 3, 1),
        "NCHW": x,
        "NHW1": x[:, :1].transpose(0, 2, 3, 1),
        "N1HW": x[:, :1],
    }[layout]
    np.savez(tmp_path / "d.npz", x=stored, y=np.array([2, 0, 1, 2]))
    data = images.NPZ(path=str(tmp_path / "d.npz")).load()
    want = x if layout in ("NHWC", "NCHW") else x[:, :1]
    check(data, want.shape, [2, 0, 1, 2], num_classes=3)
    assert np.array_equal(data.x.numpy(), want)


def test_npz_float_ranges_and_keys(tmp_path: Path) -> None:
    unit = np.array([[[0.0, 0.5], [1.0, 0.25]]], dtype=np.float32)  # [1, 2, 2] in [0, 1]
    np.savez(tmp_path / "a.npz", images=unit, labels=np.array([[4]]))  # (N, 1) labels are accepted
    data = images.NPZ(path=str(tmp_path / "a.npz")).load()
    check(data, (1, 1, 2, 2), [4])
    assert data.x[0, 0].tolist() == [[0, 128], [255, 64]]  # rint(255 x)
    np.save(tmp_path / "b.npy", np.array([[[-1.0, 0.0], [1.0, -0.5]]]))  # [-1, 1]
    data = images.NPZ(path=str(tmp_path / "b.npy")).load()
    check(data, (1, 1, 2, 2), None)
    assert data.x[0, 0].tolist() == [[0, 128], [255, 64]]  # rint(127.5 (x + 1))
    np.savez(tmp_path / "c.npz", faces=rand_u8(3, 4, 4), ids=np.arange(3), other=np.zeros(2))
    limited = images.NPZ(path=str(tmp_path / "c.npz"), key="faces", labels_key="ids", limit=2).load()
    check(limited, (2, 1, 4, 4), [0, 1], num_classes=3)
    np.savez(tmp_path / "d.npz", arr_0=np.full((2, 3, 3), 200, dtype=np.int64))  # the only array; ints in 0..255
    data = images.NPZ(path=str(tmp_path / "d.npz")).load()
    check(data, (2, 1, 3, 3), None)
    assert int(data.x.min()) == 200


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.array([[[0.5, np.nan]]]), "contains NaN or inf"),
        (np.array([[[0.0, np.inf]]]), "contains NaN or inf"),
        (np.array([[[0.0, 2.0]]]), r"float values in \[0, 2\]; expected \[0, 1\] or \[-1, 1\]"),
        (np.zeros((2, 4, 4, 5), np.uint8), r"shape \(2, 4, 4, 5\); expected images as \(N, H, W\)"),
        (np.zeros((2, 16), np.uint8), r"shape \(2, 16\)"),
        (np.full((1, 2, 2), 256), r"int64 pixels that are not whole numbers in 0\.\.255"),
        (np.zeros((0, 4, 4), np.uint8), "holds no images"),
        (np.zeros((1, 4, 4), bool), "has dtype bool"),
    ],
)
def test_npy_bad_arrays(tmp_path: Path, array: np.ndarray, message: str) -> None:
    np.save(tmp_path / "a.npy", array)
    with pytest.raises(ValueError, match=message):
        images.NPZ(path=str(tmp_path / "a.npy")).load()


def test_npz_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"array file '.*nope\.npz' not found; check data\.options\.path"):
        images.NPZ(path=str(tmp_path / "nope.npz")).load()
    with pytest.raises(ValueError, match=r"no array file given; set data\.options\.path"):
        images.NPZ().load()
    two = str(tmp_path / "two.npz")
    np.savez(two, a=rand_u8(2, 3, 3), b=rand_u8(2, 3, 3))
    with pytest.raises(ValueError, match=r"holds arrays \['a', 'b'\]; set data\.options\.key"):
        images.NPZ(path=two).load()
    with pytest.raises(ValueError, match=r"has no array 'img'; it holds \['a', 'b'\]; fix data\.options\.key"):
        images.NPZ(path=two, key="img").load()
    with pytest.raises(ValueError, match=r"fix data\.options\.labels_key"):
        images.NPZ(path=two, key="a", labels_key="lbl").load()
    np.savez(tmp_path / "mismatch.npz", x=rand_u8(3, 2, 2), y=np.arange(4))
    with pytest.raises(ValueError, match="3 images but 4 labels"):  # checked on all samples, not the limited ones
        images.NPZ(path=str(tmp_path / "mismatch.npz"), limit=2).load()
    np.savez(tmp_path / "float_labels.npz", x=rand_u8(2, 2, 2), y=np.array([0.5, 1.0]))
    with pytest.raises(ValueError, match="must be whole numbers"):
        images.NPZ(path=str(tmp_path / "float_labels.npz")).load()
    np.save(tmp_path / "one.npy", rand_u8(2, 2, 2))
    with pytest.raises(ValueError, match=r"single \.npy array; key/labels_key only apply to \.npz"):
        images.NPZ(path=str(tmp_path / "one.npy"), key="x").load()
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match=r"cannot load '.*obj\.npy' as \.npy/\.npz"):
        images.NPZ(path=str(tmp_path / "obj.npy")).load()
    np.savez(tmp_path / "obj.npz", x=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="cannot read arrays from"):
        images.NPZ(path=str(tmp_path / "obj.npz")).load()
    junk = write_bytes(tmp_path / "junk.npz", b"junk")
    with pytest.raises(ValueError, match="cannot load"):
        images.NPZ(path=junk).load()
