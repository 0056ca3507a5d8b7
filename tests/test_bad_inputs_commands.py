"""Hostile inputs to ``sample``, ``interpolate``, ``eval``, the data loaders and ``bench modes``, through the CLI: every
case exits 2 with one ``ganforge: error:`` line on stderr, no traceback, and the user's files unchanged. Read-only and
full disks are simulated with monkeypatch (the tests run as root, for whom chmod stops nothing)."""

from __future__ import annotations

import errno
import shutil
import struct
import tempfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.cli import main
from ganforge.outputs import MANIFEST
from helpers import TINY, make_run, one_line_error, snapshot

MNIST_TINY = [
    "data.name=mnist", "data.options={'limit': 64}", "train.steps=2", "train.checkpoint_every=2", "train.ema=0.5",
    "model.options={'z_dim': 4, 'g_hidden': [16], 'd_hidden': [16], 'g_output': 'tanh'}",
]
RING_TINY = ["train.steps=2", "train.checkpoint_every=2", "train.ema=0.5"]
FAST_EVAL = ["--features", "mnist-classifier", "--ref", "mnist:test", "--no-progress", "--metrics", "fid"]
TINY_SET = [arg for o in TINY for arg in ("--set", o)]
GB = 10**9


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("bad-input-runs")
    return {"mnist": make_run(MNIST_TINY, root / "mnist"), "ring": make_run(RING_TINY, root / "ring")}


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def full_disk(monkeypatch: pytest.MonkeyPatch, free: int = 50 * GB) -> None:
    """Pretend every disk has ``free`` bytes left, so size checks do not depend on this machine."""
    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(free * 4, free * 3, free))


def read_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every new file fails like on a read-only mount (the writability probe creates one with mkstemp)."""
    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)


# ---- 1, 2, 6: outputs that cannot be written -----------------------------------------------------------------


@pytest.mark.parametrize(("argv", "contains"), [
    (["sample", "{mnist}", "--n", "4", "--out", "{tmp}/ro/s.png"], ["--out", "not writable"]),
    (["sample", "{ring}", "--n", "4", "--format", "npz", "--out", "{tmp}/s.npz"], ["not writable"]),
    (["interpolate", "{mnist}", "--out", "{tmp}/i.png"], ["--out", "not writable"]),
    (["interpolate", "{ring}", "--out", "{tmp}/i.npy"], ["--out", "not writable"]),
    (["eval", "{mnist}", "--n", "20", *FAST_EVAL, "--out", "{tmp}/e.json"], ["--out", "not writable"]),
])
def test_read_only_outputs_are_refused_before_any_work(runs: dict[str, Path], tmp_path: Path, argv: list[str],
                                                       contains: list[str], monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(runs["mnist"].parent)
    read_only(monkeypatch)
    argv = [a.format(tmp=tmp_path, **{k: str(v) for k, v in runs.items()}) for a in argv]
    one_line_error(capsys, main(argv), *contains)
    assert snapshot(runs["mnist"].parent) == before
    assert not any(tmp_path.glob("[!c]*"))  # nothing written (the cache folder is the fixture's)


@pytest.mark.parametrize(("make", "argv", "contains"), [
    ("file", ["eval", "{mnist}", "--n", "20", *FAST_EVAL, "--cache", "{target}"], ["--cache", "is a file"]),
    ("dir", ["sample", "{ring}", "--n", "4", "--out", "{target}"], ["--out", "is a folder"]),
    ("dir", ["sample", "{mnist}", "--n", "4", "--format", "npz", "--out", "{target}"], ["is a folder"]),
    ("dir", ["interpolate", "{ring}", "--out", "{target}"], ["is a folder"]),
    ("dir", ["eval", "{mnist}", "--n", "20", *FAST_EVAL, "--out", "{target}"], ["is a folder"]),
    ("file", ["sample", "{mnist}", "--n", "4", "--format", "png-dir", "--out", "{target}"], ["is a file"]),
    ("none", ["sample", "{mnist}", "--n", "4", "--out", "{target}.dat"], ["cannot write a picture of type '.dat'"]),
])
def test_outputs_of_the_wrong_kind(runs: dict[str, Path], tmp_path: Path, make: str, argv: list[str],
                                   contains: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "target"
    if make == "file":
        target.write_text("mine")
    elif make == "dir":
        target.mkdir()
        (target / "keep.txt").write_text("mine")
    before = snapshot(tmp_path)
    argv = [a.format(target=target, **{k: str(v) for k, v in runs.items()}) for a in argv]
    one_line_error(capsys, main(argv), *contains)
    assert snapshot(tmp_path) == before


def test_a_vector_output_with_another_suffix_is_refused(runs: dict[str, Path], tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    # .npy bytes in a file called .dat (or .parquet) would mislead whoever reads it: refused before any work
    one_line_error(capsys, main(["sample", str(runs["ring"]), "--n", "5", "--out", str(tmp_path / "x.dat")]),
                   "'.dat'", ".npy or .csv")
    assert list(tmp_path.iterdir()) == []
    out = tmp_path / "x.npy"
    assert main(["sample", str(runs["ring"]), "--n", "5", "--out", str(out)]) == 0
    assert f"wrote 5 samples to {out}\n" in capsys.readouterr().out
    # no temporary left; the manifest records that ganforge wrote x.npy (so a rerun may replace it)
    assert sorted(p.name for p in tmp_path.iterdir()) == [MANIFEST, "x.npy"]
    assert np.load(out).shape == (5, 2)


def _fail_half_way(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pillow writes a few bytes of each PNG, then the disk is full."""
    def save(self: Image.Image, fp: object, *args: object, **kwargs: object) -> None:
        Path(str(fp)).write_bytes(b"\x89PNG partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", save)


@pytest.mark.parametrize("fmt", ["grid", "png-dir"])
def test_a_full_disk_mid_write_keeps_the_previous_output(runs: dict[str, Path], tmp_path: Path, fmt: str,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / ("s.png" if fmt == "grid" else "pngs")
    if fmt == "grid":  # a previous grid written by ganforge (one the user wrote is refused before any work)
        assert main(["sample", str(runs["mnist"]), "--n", "2", "--out", str(out)]) == 0
    before = snapshot(tmp_path)
    _fail_half_way(monkeypatch)
    rc = main(["sample", str(runs["mnist"]), "--n", "4", "--format", fmt, "--out", str(out)])
    one_line_error(capsys, rc, "No space left on device", str(out))
    assert snapshot(tmp_path) == before  # old grid intact; no partial PNGs or temporary files left behind


# ---- 3: corrupt data ----------------------------------------------------------------------------------------------


def _npz(path: Path, truncate: bool = False, **arrays: np.ndarray) -> Path:
    np.savez(path, **arrays)
    if truncate:
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return path


def _bomb_png(path: Path, side: int = 20000) -> Path:
    """A tiny PNG whose header claims side x side pixels (400 M for 20000): Pillow refuses it at open."""
    Image.new("L", (1, 1)).save(path)
    raw = bytearray(path.read_bytes())
    raw[16:24] = struct.pack(">II", side, side)  # IHDR width, height (after the 8-byte signature + length + type)
    raw[29:33] = struct.pack(">I", zlib.crc32(bytes(raw[12:29])))
    path.write_bytes(bytes(raw))
    return path


def _truncated_png(path: Path) -> Path:
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (28, 28), dtype=np.uint8)).save(path)
    path.write_bytes(path.read_bytes()[:120])
    return path


def _png_folder(folder: Path, bad: Callable[[Path], Path]) -> Path:
    folder.mkdir()
    for i in range(3):
        Image.fromarray(np.full((28, 28), 40 * i, dtype=np.uint8)).save(folder / f"{i:05d}.png")
    bad(folder / "00003.png")
    return folder


def _train_on(data: str, path: Path, tmp: Path, *extra: str) -> list[str]:
    return ["train", "gan-mlp-mnist", *TINY_SET, "--set", f"data.name={data}", "--set",
            f"data.options={{'path': '{path}'}}", *extra, "--run-dir", str(tmp / "run")]


def _digits(n: int = 64) -> np.ndarray:
    return np.zeros((n, 28, 28), np.uint8)


CORRUPT_DATA: dict[str, Callable[[Path], tuple[list[str], list[str]]]] = {
    "train-truncated-npz": lambda t: (_train_on("npz", _npz(t / "d.npz", True, x=_digits()), t), ["d.npz"]),
    "train-labels-up-to-1e9": lambda t: (
        _train_on("npz", _npz(t / "d.npz", x=_digits(), y=np.arange(64) * 15_000_000), t,
                  "--set", "model.options.conditioning=concat"),
        ["d.npz", "go up to 945000000", "K <= 100000"]),
    "train-png-bomb": lambda t: (_train_on("image-folder", _png_folder(t / "imgs", _bomb_png), t),
                                 ["00003.png", "too large to decode safely"]),
    "train-truncated-png": lambda t: (_train_on("image-folder", _png_folder(t / "imgs", _truncated_png), t),
                                      ["00003.png"]),
    "eval-truncated-npz": lambda t: (
        ["eval", str(_npz(t / "s.npz", True, images=_digits(40)[:, None])), *FAST_EVAL],
        ["s.npz", "not a readable .npz"]),
    "eval-truncated-png": lambda t: (
        ["eval", str(_png_folder(t / "imgs", _truncated_png)), *FAST_EVAL], ["00003.png", "cannot read image"]),
    "eval-png-bomb": lambda t: (
        ["eval", str(_png_folder(t / "imgs", _bomb_png)), *FAST_EVAL], ["00003.png", "too large to decode safely"]),
}


@pytest.mark.parametrize("case", CORRUPT_DATA)
def test_corrupt_data_names_the_file(tmp_path: Path, case: str, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    data.mkdir()
    argv, contains = CORRUPT_DATA[case](data)
    before = snapshot(data)
    one_line_error(capsys, main(argv), *contains)
    assert snapshot(data) == before


# ---- 4: checkpoints that load but do not match their config ------------------------------------------------------


def _wrong_shape(state: dict) -> None:
    for key in ("G", "G_ema"):
        weights = state["models"].get(key)
        if weights is not None:
            name = next(iter(weights))
            weights[name] = torch.zeros(*[d + 1 for d in weights[name].shape])


def _no_generator(state: dict) -> None:
    state["models"].pop("G")
    state["models"].pop("G_ema", None)


TAMPER: dict[str, Callable[[dict], None]] = {
    "wrong-shape": _wrong_shape,
    "no-models.G": _no_generator,
    "no-spec": lambda state: state.pop("spec"),
    "spec-shape-none": lambda state: state["spec"].update(shape=None),
    "other-hidden-size": lambda state: state["config"]["model"]["options"].update(g_hidden=[32]),
}


@pytest.mark.parametrize("command", [["sample", "--n", "4"], ["interpolate"], ["eval", *FAST_EVAL]])
@pytest.mark.parametrize("tamper", TAMPER)
def test_tampered_checkpoints(runs: dict[str, Path], tmp_path: Path, command: list[str], tamper: str,
                              capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    shutil.copytree(runs["ring"], run)
    path = run / "checkpoints" / "latest.pt"
    state = torch.load(path, weights_only=True)
    TAMPER[tamper](state)
    torch.save(state, path)
    before = snapshot(run)
    rc = main([command[0], str(run), *command[1:]])
    one_line_error(capsys, rc, "does not match its config", str(path))
    assert snapshot(run) == before


# ---- 5: sizes that would not fit -------------------------------------------------------------------------------


@pytest.mark.parametrize(("argv", "contains"), [
    (["sample", "{mnist}", "--n", "1e10"], ["--n", "invalid int value"]),
    (["sample", "{mnist}", "--n", "10000000000", "--format", "npz"], ["10000000000 samples", "7.8 TB on disk",
                                                                      "50.0 GB is free", "lower --n"]),
    (["sample", "{mnist}", "--n", "100000000"], ["a grid of 100000000 images", "of memory", "png-dir"]),
    (["sample", "{ring}", "--n", "100000000000"], ["800.0 GB on disk", "lower --n"]),
    (["sample", "{ring}", "--n", "100000000000", "--format", "npz"], ["on disk"]),
    (["interpolate", "{mnist}", "--steps", "100000", "--pairs", "100000"], ["10000000000 samples", "of memory",
                                                                             "lower --pairs or --steps"]),
    (["interpolate", "{ring}", "--steps", "100000", "--pairs", "100000", "--out", "{tmp}/i.npy"], ["memory"]),
    (["eval", "{mnist}", *FAST_EVAL, "--n", "10000000000"], ["eval --n 10000000000", "of memory", "lower --n"]),
])
def test_sizes_that_would_not_fit_are_refused_up_front(runs: dict[str, Path], tmp_path: Path, argv: list[str],
                                                       contains: list[str], monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    full_disk(monkeypatch)
    before = snapshot(runs["mnist"].parent)
    argv = [a.format(tmp=tmp_path, **{k: str(v) for k, v in runs.items()}) for a in argv]
    one_line_error(capsys, main(argv), *contains)
    assert snapshot(runs["mnist"].parent) == before
    assert not any(tmp_path.glob("[!c]*"))


@pytest.mark.parametrize(("run", "fmt", "out"), [
    ("ring", "grid", "s.npy"), ("ring", "grid", "s.csv"), ("ring", "npz", "s.npz"), ("mnist", "npz", "s.npz"),
])
def test_samples_written_batch_by_batch_equal_one_generate_samples_call(
        runs: dict[str, Path], tmp_path: Path, run: str, fmt: str, out: str) -> None:
    """2,500 samples cross two generation batches; the file must hold what one in-memory call produces."""
    from ganforge.commands.common import images_uint8, load_generator
    from ganforge.sampling import generate_samples

    assert main(["sample", str(runs[run]), "--n", "2500", "--seed", "7", "--format", fmt,
                 "--out", str(tmp_path / out)]) == 0
    _, G, _, _ = load_generator(runs[run], torch.device("cpu"))
    fake = generate_samples(G, 2500, 7, torch.device("cpu"))
    if run == "mnist":
        np.savez(tmp_path / "ref.npz", images=images_uint8(fake, G).numpy())
    elif fmt == "npz":
        np.savez(tmp_path / "ref.npz", samples=fake.numpy())
    elif out.endswith(".csv"):
        np.savetxt(tmp_path / "ref.csv", fake.numpy(), delimiter=",")
    else:
        np.save(tmp_path / "ref.npy", fake.numpy())
    ref = tmp_path / f"ref{Path(out).suffix}"
    if fmt == "npz":
        with np.load(tmp_path / out) as got, np.load(ref) as want:
            assert got.files == want.files
            for key in want.files:
                np.testing.assert_array_equal(got[key], want[key])
    else:
        assert (tmp_path / out).read_bytes() == ref.read_bytes()


# ---- 7: bench ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("argv", "line"), [
    (["--bogus"], "ganforge: error: bench modes: unrecognized arguments: --bogus (see ganforge bench modes --help)"),
    (["--steps", "0"], "ganforge: error: bench modes: --steps must be >= 1, got 0"),
    (["--seeds", "x"], "ganforge: error: bench modes: argument --seeds: invalid int value: 'x' (see ganforge bench "
                       "modes --help)"),
])
def test_bench_modes_bad_arguments(tmp_path: Path, argv: list[str], line: str,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert one_line_error(capsys, main(["bench", "modes", *argv, "--out-dir", str(tmp_path / "b")])) == line
    assert not (tmp_path / "b").exists()
