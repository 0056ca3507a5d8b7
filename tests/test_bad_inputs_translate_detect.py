"""Hostile inputs to ``translate`` and ``detect`` and to the readers of user image folders, .npz arrays and series
CSVs, through the CLI (issue 23): every refusal exits 2 with one ``ganforge: error:`` line and no traceback, before
any work, with every file hashed before and after (nothing changed, nothing written outside the target); outputs go
through ``ganforge.outputs`` (a user's file in ``--out`` is refused, a link at a target is replaced, never followed;
a full disk leaves no partial file). Read-only and full disks are simulated with monkeypatch (tests run as root)."""

from __future__ import annotations

import errno
import os
import struct
import tempfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganforge.cli import main
from helpers import one_line_error, snapshot

PIX2PIX = ["model.options={'ngf': 4, 'ndf': 4, 'depth': 3, 'd_layers': 1}", "train.batch_size=4", "train.steps=1",
           "train.checkpoint_every=1", "log.sample_every=0", "log.tensorboard=False"]
TADGAN = ["model.options={'z_dim': 3, 'e_hidden': 4, 'g_hidden': 4, 'cx_channels': 4, 'cx_layers': 2, "
          "'cz_hidden': 5}", "train.batch_size=4", "train.steps=1", "train.d_steps=1", "log.tensorboard=False",
          "log.every=1"]
N_POINTS = 60


def _sets(sets: list[str]) -> list[str]:
    return [a for s in sets for a in ("--set", s)]


@pytest.fixture(scope="module")
def pix2pix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1-step pix2pix run on 16x16 grey pairs (translates [1, 16, 16] uint8 images)."""
    root = tmp_path_factory.mktemp("pix2pix")
    rng = np.random.default_rng(0)
    a = rng.integers(0, 255, (12, 16, 16), dtype=np.uint8)
    np.savez(root / "pairs.npz", a=a, b=255 - a)
    sets = [*PIX2PIX, "data.name=paired-npz", f"data.options={{'path': '{root / 'pairs.npz'}'}}"]
    assert main(["train", "pix2pix-edges2mnist", *_sets(sets), "--run-dir", str(root / "run"), "--no-progress"]) == 0
    return root / "run"


def series_text(sep: str = ",", decimal: str = ".", dates: bool = False) -> str:
    t = np.arange(N_POINTS)
    v = np.sin(t / 4.0)
    v[40:43] += 4
    stamps = [f"2024-01-01 {i // 60:02d}:{i % 60:02d}:00" if dates else str(i) for i in t]
    rows = [sep.join((stamps[i], f"{v[i]:.6f}".replace(".", decimal), str(int(40 <= i < 43)))) for i in t]
    return sep.join(("timestamp", "value", "is_anomaly")) + "\n" + "\n".join(rows) + "\n"


@pytest.fixture(scope="module")
def tadgan(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A 1-step TadGAN run (window 16) and the labelled series CSV it was trained on."""
    root = tmp_path_factory.mktemp("tadgan")
    csv = root / "series.csv"
    csv.write_text(series_text())
    sets = [*TADGAN, "data.name=series-csv", f"data.options={{'path': '{csv}', 'window': 16}}"]
    assert main(["train", "tadgan-ucr135", *_sets(sets), "--run-dir", str(root / "run"), "--no-progress"]) == 0
    return root / "run", csv


def png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG whose IHDR declares ``width x height`` grey pixels, with one tiny IDAT: a few dozen bytes that claim
    gigabytes (what a decompression bomb's header looks like; the guard must refuse it from the header alone)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))
    return path


def npy_header_only(path: Path, shape: tuple[int, ...], dtype: str = "u1") -> Path:
    """A .npy that declares ``shape`` but holds no data (so the test never allocates it)."""
    with open(path, "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, {"descr": np.dtype(dtype).str, "fortran_order": False,
                                                  "shape": shape})
    return path


def grey_folder(folder: Path, n: int = 2, size: int = 16) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.fromarray(np.full((size, size), 30 * i, np.uint8)).save(folder / f"{i}.png")
    return folder


def refused(capsys: pytest.CaptureFixture[str], argv: list[str], root: Path, *contains: str) -> str:
    """``main(argv)`` exits 2 with one line holding ``contains`` and leaves every file under ``root`` as it was."""
    capsys.readouterr()
    before = snapshot(root)
    line = one_line_error(capsys, main(argv), *contains)
    assert snapshot(root) == before
    return line


# ---- translate: outputs ---------------------------------------------------------------------------------------


def test_translate_out_equal_to_or_inside_its_input_folder_is_refused(pix2pix: Path, tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    inputs = grey_folder(tmp_path / "photos", 3)
    for out in (inputs, inputs / "translated", inputs / "a" / ".." / "b"):
        refused(capsys, ["translate", str(pix2pix), "--input", str(inputs), "--out", str(out), "--device", "cpu"],
                tmp_path, "--input folder", "outside your inputs")
    refused(capsys, ["translate", str(pix2pix), "--input", str(inputs / "0.png"), "--reference", str(inputs),
                     "--out", str(inputs / "x")], tmp_path, "--reference folder")
    link = tmp_path / "link"
    link.symlink_to(inputs)
    refused(capsys, ["translate", str(pix2pix), "--input", str(inputs), "--out", str(link)], tmp_path, "--input")
    assert not (inputs / "translated").exists()


def test_translate_refuses_an_out_folder_with_the_users_files_and_replaces_links(
        pix2pix: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inputs = grey_folder(tmp_path / "in", 3)
    out = tmp_path / "out"
    out.mkdir()
    (out / "00000.png").write_bytes(b"my own picture")
    (out / "notes.txt").write_text("mine")
    line = refused(capsys, ["translate", str(pix2pix), "--input", str(inputs), "--out", str(out)], tmp_path,
                   "did not write", "'00000.png'", "'notes.txt'")
    assert "--out" in line
    (out / "00000.png").unlink()
    (out / "notes.txt").unlink()
    # a link named like an output is replaced by the new file; what it pointed to is untouched
    outside = tmp_path / "outside.png"
    outside.write_bytes(b"precious")
    (out / "1.png").symlink_to(outside)  # outputs keep the input names: 1.png -> out/1.png
    elsewhere = {k: v for k, v in snapshot(tmp_path).items() if not k.startswith("out/")}
    assert main(["translate", str(pix2pix), "--input", str(inputs), "--out", str(out), "--device", "cpu"]) == 0
    assert {k: v for k, v in snapshot(tmp_path).items() if not k.startswith("out/")} == elsewhere  # only out/ changed
    assert outside.read_bytes() == b"precious"
    assert not (out / "1.png").is_symlink()
    assert Image.open(out / "1.png").size == (16, 16)
    # ganforge's own outputs are replaced on a rerun; a smaller rerun removes its own stale ones, nothing else
    (inputs / "2.png").unlink()
    assert main(["translate", str(pix2pix), "--input", str(inputs), "--out", str(out), "--device", "cpu"]) == 0
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "0.png", "1.png", "grid.png", "outputs.npz"]
    assert not list(out.glob("*partial*"))


def test_translate_default_out_in_the_run_must_not_be_a_link(pix2pix: Path, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    inputs = grey_folder(tmp_path / "in", 1)
    photos = grey_folder(tmp_path / "photos", 2)
    (pix2pix / "translate").symlink_to(photos)
    try:
        refused(capsys, ["translate", str(pix2pix), "--input", str(inputs)], tmp_path, "symbolic link")
    finally:
        (pix2pix / "translate").unlink()


def test_translate_read_only_and_full_disk_leave_nothing(pix2pix: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    inputs = grey_folder(tmp_path / "in", 2)
    out = tmp_path / "out"
    assert main(["translate", str(pix2pix), "--input", str(inputs), "--out", str(out), "--device", "cpu"]) == 0
    with monkeypatch.context() as m:
        def no_space(*args: object, **kwargs: object) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

        m.setattr(np, "savez_compressed", no_space)  # the disk fills while outputs.npz is written
        capsys.readouterr()
        before = snapshot(tmp_path)["out/outputs.npz"]
        one_line_error(capsys, main(["translate", str(pix2pix), "--input", str(inputs), "--out", str(out)]),
                       "No space left", "outputs.npz")
        assert snapshot(tmp_path)["out/outputs.npz"] == before  # the old file, whole
        assert not [p for p in out.iterdir() if "partial" in p.name]
    with monkeypatch.context() as m:
        def read_only(*args: object, **kwargs: object) -> None:
            raise PermissionError(errno.EROFS, "Read-only file system")

        m.setattr(tempfile, "mkstemp", read_only)
        refused(capsys, ["translate", str(pix2pix), "--input", str(inputs), "--out", str(tmp_path / "new")],
                tmp_path, "not writable")
        assert not (tmp_path / "new").exists()


# ---- translate: inputs ----------------------------------------------------------------------------------------


def _translate_case(case: str, tmp_path: Path) -> tuple[list[str], list[str]]:
    """(extra argv, expected words) for one class of bad translate input, its files made under ``tmp_path``."""
    inp = tmp_path / "inputs"
    inp.mkdir()
    if case == "fifo":
        os.mkfifo(inp / "pipe.png")
        return ["--input", str(inp / "pipe.png")], ["not a regular file"]
    if case == "fifo-in-folder":
        grey_folder(inp, 1)
        os.mkfifo(inp / "z.png")
        return ["--input", str(inp)], ["z.png", "not a regular file"]
    if case == "broken-link":
        (inp / "a.png").symlink_to(tmp_path / "gone.png")
        return ["--input", str(inp)], ["a.png", "not found"]
    if case == "bomb":
        png_header_only(inp / "bomb.png", 10_000, 10_000)
        return ["--input", str(inp)], ["bomb.png", "10000x10000", "64 M pixels"]
    if case == "bomb-pillow":  # over Pillow's own 2 x 89 M pixel limit, which it checks at open
        png_header_only(inp / "huge.png", 20_000, 20_000)
        return ["--input", str(inp / "huge.png")], ["huge.png", "too large"]
    if case == "bomb-reference":
        grey_folder(inp, 1)
        return ["--input", str(inp), "--reference", str(png_header_only(tmp_path / "r.png", 9000, 9000))], [
            "r.png", "9000x9000"]
    if case == "not-an-image":
        (inp / "a.png").write_text("hello")
        return ["--input", str(inp)], ["cannot read image", "a.png"]
    if case == "npz-nan":
        x = np.zeros((2, 1, 16, 16), np.float32)
        x[1, 0, 3, 3] = np.nan
        np.savez(inp / "x.npz", images=x)
        return ["--input", str(inp / "x.npz")], ["NaN or inf"]
    if case == "npz-inf":
        np.savez(inp / "x.npz", images=np.full((2, 16, 16), np.inf, np.float64))
        return ["--input", str(inp / "x.npz")], ["NaN or inf"]
    if case == "npz-object":
        np.save(inp / "x.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
        return ["--input", str(inp / "x.npy")], ["dtype object"]
    if case == "npy-huge-count":
        return ["--input", str(npy_header_only(inp / "x.npy", (10**9, 1, 16, 16)))], ["1000000000 images"]
    if case == "npy-huge-bytes":
        return ["--input", str(npy_header_only(inp / "x.npy", (9000, 3, 4096, 4096)))], ["B of memory"]  # "1.4 TB"
    if case == "npy-truncated":
        np.save(inp / "x.npy", np.zeros((4, 1, 16, 16), np.uint8))
        (inp / "x.npy").write_bytes((inp / "x.npy").read_bytes()[:200])
        return ["--input", str(inp / "x.npy")], ["cannot be read"]
    if case == "npz-wrong-shape":
        np.savez(inp / "x.npz", images=np.zeros((2, 5, 16, 16), np.uint8))
        return ["--input", str(inp / "x.npz")], ["shape"]
    if case == "z-samples-huge":
        grey_folder(inp, 1)
        return ["--input", str(inp), "--z-samples", "100000000"], ["--z-samples 100000000"]
    if case == "seed-huge":
        grey_folder(inp, 1)
        return ["--input", str(inp), "--seed", str(2**70)], ["--seed"]
    if case == "seed-negative":
        grey_folder(inp, 1)
        return ["--input", str(inp), "--seed", "-1"], ["--seed"]
    if case == "domain-negative":
        grey_folder(inp, 1)
        return ["--input", str(inp), "--domain", "-3"], ["--domain"]
    if case == "name-too-long":
        grey_folder(inp, 1)
        return ["--input", str(inp), "--out", str(tmp_path / ("o" * 300))], ["File name too long"]
    if case == "input-name-too-long":
        return ["--input", str(inp / ("i" * 300 + ".png"))], ["File name too long"]
    if case == "link-loop":
        (inp / "loop.png").symlink_to(inp / "loop.png")
        return ["--input", str(inp / "loop.png")], ["loop.png", "cannot read"]
    if case == "npy-image-too-large":
        return ["--input", str(npy_header_only(inp / "x.npy", (1, 9000, 9000)))], ["9000x9000", "M pixels"]
    if case == "input-is-out-file":
        grey_folder(inp, 1)
        return ["--input", str(inp / "0.png"), "--out", str(inp / "0.png")], ["is a file"]
    raise AssertionError(case)


@pytest.mark.parametrize("case", ["fifo", "fifo-in-folder", "broken-link", "bomb", "bomb-pillow", "bomb-reference",
                                  "not-an-image", "npz-nan", "npz-inf", "npz-object", "npy-huge-count",
                                  "npy-huge-bytes", "npy-truncated", "npz-wrong-shape", "z-samples-huge", "seed-huge",
                                  "seed-negative", "domain-negative", "name-too-long",
                                  "input-name-too-long", "link-loop", "npy-image-too-large", "input-is-out-file"])
def test_translate_bad_inputs_are_refused_before_any_work(case: str, pix2pix: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    argv, words = _translate_case(case, tmp_path)
    run_before = snapshot(pix2pix)
    refused(capsys, ["translate", str(pix2pix), *argv, "--device", "cpu"], tmp_path, *words)
    assert snapshot(pix2pix) == run_before
    assert not (pix2pix / "translate").exists()


def test_translate_refuses_too_many_inputs_and_too_little_memory(pix2pix: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from ganforge import preflight
    from ganforge.commands import translate

    inputs = grey_folder(tmp_path / "in", 4)
    monkeypatch.setattr(translate, "MAX_INPUTS", 3)
    refused(capsys, ["translate", str(pix2pix), "--input", str(inputs)], tmp_path, "more than 3 images")
    monkeypatch.setattr(translate, "MAX_INPUTS", 10)
    monkeypatch.setattr(preflight, "available_memory", lambda: 1000)  # 4 x 16 x 16 x 3 x 2 bytes > 1000
    refused(capsys, ["translate", str(pix2pix), "--input", str(inputs)], tmp_path, "memory", "fewer images")


def test_translate_reads_float_npz_inputs(pix2pix: Path, tmp_path: Path) -> None:
    x = np.linspace(-1.0, 1.0, 2 * 16 * 16).reshape(2, 16, 16, 1)  # [-1, 1] floats, channels last
    np.savez(tmp_path / "x.npz", images=x)
    out = tmp_path / "out"
    assert main(["translate", str(pix2pix), "--input", str(tmp_path / "x.npz"), "--out", str(out),
                 "--device", "cpu"]) == 0
    assert np.load(out / "outputs.npz")["outputs"].shape == (2, 1, 16, 16)


# ---- detect ---------------------------------------------------------------------------------------------------


def test_detect_refuses_an_out_folder_with_the_users_files_and_replaces_links(
        tadgan: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run, csv = tadgan
    out = tmp_path / "out"
    out.mkdir()
    (out / "scores.csv").write_text("my scores\n")
    refused(capsys, ["detect", str(run), "--input", str(csv), "--out", str(out)], tmp_path, "'scores.csv'",
            "did not write")
    (out / "scores.csv").unlink()
    outside = tmp_path / "elsewhere.csv"
    outside.write_text("keep me\n")
    (out / "scores.csv").symlink_to(outside)
    assert main(["detect", str(run), "--input", str(csv), "--out", str(out), "--rec-error", "point"]) == 0
    assert outside.read_text() == "keep me\n"
    assert not (out / "scores.csv").is_symlink()
    assert (out / "scores.csv").read_text().startswith("timestamp,value")
    # a rerun on an unlabelled series replaces ganforge's files and removes its stale metrics.json
    plain = tmp_path / "plain.csv"
    plain.write_text("value\n" + "\n".join(f"{np.sin(i / 4.0):.6f}" for i in range(N_POINTS)) + "\n")
    assert (out / "metrics.json").is_file()
    assert main(["detect", str(run), "--input", str(plain), "--out", str(out), "--rec-error", "point"]) == 0
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "detection.png", "intervals.csv", "scores.csv"]
    # the run's own folder (default --out) is refused when it is a link
    (run / "detect").mkdir(exist_ok=True)
    (run / "detect" / "plain").symlink_to(tmp_path / "photos", target_is_directory=True)
    (tmp_path / "photos").mkdir()
    try:
        refused(capsys, ["detect", str(run), "--input", str(plain)], tmp_path, "symbolic link")
    finally:
        (run / "detect" / "plain").unlink()
    (run / "detect").rmdir()
    (run / "detect").symlink_to(tmp_path / "photos", target_is_directory=True)
    try:
        refused(capsys, ["detect", str(run), "--input", str(plain)], tmp_path, "symbolic link")
        assert not list((tmp_path / "photos").iterdir())
    finally:
        (run / "detect").unlink()


def test_detect_full_disk_leaves_no_partial_csv(tadgan: tuple[Path, Path], tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    import pandas as pd

    run, csv = tadgan

    def no_space(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", no_space)
    capsys.readouterr()
    one_line_error(capsys, main(["detect", str(run), "--input", str(csv), "--out", str(tmp_path / "out"),
                                 "--rec-error", "point"]), "No space left", "intervals.csv")
    assert [p.name for p in (tmp_path / "out").iterdir() if "partial" in p.name or p.suffix == ".csv"] == []


def _detect_case(case: str, tmp_path: Path, csv: Path) -> tuple[list[str], list[str]]:
    """(extra argv, expected words) for one class of bad detect input, its files made under ``tmp_path``."""
    f = tmp_path / "s.csv"
    plain = "value\n" + "\n".join(f"{np.sin(i / 4.0):.6f}" for i in range(N_POINTS)) + "\n"
    if case in ("k-inf", "k-nan", "k-negative", "k-zero"):
        k = {"k-inf": "inf", "k-nan": "nan", "k-negative": "-1", "k-zero": "0"}[case]
        return ["--input", str(csv), f"--k={k}"], ["--k must be a finite number"]
    if case == "lambda-nan":
        return ["--input", str(csv), "--lambda-rec=nan"], ["--lambda-rec"]
    if case == "fifo":
        os.mkfifo(f)
        return ["--input", str(f)], ["not a regular file"]
    if case == "folder":
        return ["--input", str(tmp_path)], ["is a folder"]
    if case == "missing":
        return ["--input", str(tmp_path / "none.csv")], ["not found"]
    if case == "nan":
        f.write_text(plain.replace("\n0.", "\nnan\n0.", 1))
        return ["--input", str(f)], ["NaN"]
    if case == "inf":
        f.write_text(plain + "inf\n")
        return ["--input", str(f)], ["NaN/non-numeric (or infinite)", f"row {N_POINTS}"]
    if case == "text-value":
        f.write_text(plain + "abc\n")
        return ["--input", str(f)], ["non-numeric", f"row {N_POINTS}"]
    if case == "too-short":
        f.write_text("value\n" + "\n".join(str(i) for i in range(10)) + "\n")
        return ["--input", str(f)], ["fewer than the window of 16"]
    if case == "empty":
        f.write_text("")
        return ["--input", str(f)], ["not a readable CSV"]
    if case == "header-only":
        f.write_text("value\n")
        return ["--input", str(f)], ["fewer than the window"]
    if case == "not-utf8":
        f.write_bytes("value,caf\xe9\n".encode("latin-1") + b"1,\xff\xfe\n" * 30)
        return ["--input", str(f)], ["not UTF-8"]
    if case == "range-overflow":
        f.write_text("value\n" + "\n".join(("1e308", "-1e308") * 20) + "\n")
        return ["--input", str(f), "--scale", "input"], ["float64 cannot hold"]
    if case == "far-outside-scaler":
        f.write_text("value\n" + "\n".join(("1e300", "0") * 20) + "\n")
        return ["--input", str(f)], ["float32"]
    if case == "bad-dates":
        f.write_text("timestamp,value\n" + "\n".join(f"{1 + i % 28:02d}.01.2024,{i}" for i in range(30)) + "\n")
        return ["--input", str(f)], ["ISO 8601", "row 0", "'01.01.2024'"]
    if case == "dates-out-of-range":
        f.write_text("timestamp,value\n" + "\n".join(f"2300-01-01 00:{i:02d}:00,{np.sin(i)}" for i in range(30)) + "\n")
        return ["--input", str(f)], ["outside 1677-09-22..2262-04-11"]
    if case == "us-dates":
        f.write_text("timestamp,value\n" + "\n".join(f"03/01/2024 00:{i:02d},{np.sin(i)}" for i in range(30)) + "\n")
        return ["--input", str(f)], ["'03/01/2024 00:00'", "ISO 8601"]
    if case == "decreasing-timestamps":
        f.write_text("timestamp,value\n" + "\n".join(f"{30 - i},{np.sin(i)}" for i in range(30)) + "\n")
        return ["--input", str(f)], ["strictly increasing"]
    if case == "labels-not-01":
        f.write_text("value,is_anomaly\n" + "\n".join(f"{np.sin(i)},{i % 3}" for i in range(30)) + "\n")
        return ["--input", str(f)], ["0/1"]
    if case == "interval-outside":
        (tmp_path / "iv.csv").write_text("start,end\n10,12\n500,510\n")
        return ["--input", str(csv), "--intervals", str(tmp_path / "iv.csv")], ["(500, 510)", "not inside the series",
                                                                                "0..59"]
    if case == "interval-partly-outside":
        (tmp_path / "iv.csv").write_text("start,end\n-5,3\n")
        return ["--input", str(csv), "--intervals", str(tmp_path / "iv.csv")], ["(-5, 3)", "not inside"]
    if case == "interval-reversed":
        (tmp_path / "iv.csv").write_text("start,end\n12,10\n")
        return ["--input", str(csv), "--intervals", str(tmp_path / "iv.csv")], ["start <= end"]
    if case == "interval-text":
        (tmp_path / "iv.csv").write_text("start,end\nsoon,later\n")
        return ["--input", str(csv), "--intervals", str(tmp_path / "iv.csv")], ["'soon'", "ISO 8601"]
    if case == "interval-columns":
        (tmp_path / "iv.csv").write_text("from,to\n1,2\n")
        return ["--input", str(csv), "--intervals", str(tmp_path / "iv.csv")], ["start", "end"]
    if case == "interval-missing":
        return ["--input", str(csv), "--intervals", str(tmp_path / "iv.csv")], ["intervals file", "not found"]
    if case == "interval-fifo":
        os.mkfifo(tmp_path / "iv.csv")
        return ["--input", str(csv), "--intervals", str(tmp_path / "iv.csv")], ["not a regular file"]
    if case == "out-is-file":
        return ["--input", str(csv), "--out", str(csv)], ["is a file"]
    if case == "out-name-too-long":
        return ["--input", str(csv), "--out", str(tmp_path / ("o" * 300))], ["File name too long"]
    if case == "spaced-header":
        f.write_text(" value ;x\n" + "\n".join(f"nan;{i}" for i in range(30)) + "\n")
        return ["--input", str(f)], ["column 'value'", "NaN"]
    raise AssertionError(case)


@pytest.mark.parametrize("case", [
    "k-inf", "k-nan", "k-negative", "k-zero", "lambda-nan", "fifo", "folder", "missing", "nan", "inf", "text-value",
    "too-short", "empty", "header-only", "not-utf8", "range-overflow", "far-outside-scaler", "bad-dates",
    "decreasing-timestamps", "labels-not-01", "interval-outside", "interval-partly-outside", "interval-reversed",
    "interval-text", "interval-columns", "interval-missing", "interval-fifo", "out-is-file",
    "out-name-too-long", "spaced-header", "dates-out-of-range", "us-dates"])
def test_detect_bad_inputs_are_refused_before_any_work(case: str, tadgan: tuple[Path, Path], tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    run, csv = tadgan
    argv, words = _detect_case(case, tmp_path, csv)
    run_before = snapshot(run.parent)
    refused(capsys, ["detect", str(run), *argv, "--rec-error", "point"], tmp_path, *words)
    assert snapshot(run.parent) == run_before


@pytest.mark.parametrize(("sep", "decimal", "dates"), [(";", ",", False), ("\t", ".", False), (",", ".", True),
                                                        (";", ".", True)])
def test_detect_reads_semicolon_tab_and_datetime_csvs(sep: str, decimal: str, dates: bool, tadgan: tuple[Path, Path],
                                                      tmp_path: Path) -> None:
    import pandas as pd

    run, csv = tadgan
    f = tmp_path / "s.csv"
    f.write_text(series_text(sep, decimal, dates))
    out = tmp_path / "out"
    intervals = tmp_path / "iv.csv"
    intervals.write_text("start,end\n2024-01-01 00:40:00,2024-01-01T00:42:00Z\n" if dates else "start,end\n40,42\n")
    assert main(["detect", str(run), "--input", str(f), "--out", str(out), "--rec-error", "point",
                 "--intervals", str(intervals)]) == 0
    scores = pd.read_csv(out / "scores.csv")
    reference = pd.read_csv(csv)
    # the same 6-decimal texts parsed by two readers (pandas' C parser vs to_numeric after "," -> "."): both round
    # to the nearest float64, so they agree to within one ulp, 2**-52 relative
    np.testing.assert_allclose(scores["value"], reference["value"], rtol=2.0**-52, atol=0)
    stamps = scores["timestamp"].to_numpy()
    assert (np.diff(stamps) == (60.0 if dates else 1.0)).all()  # whole seconds: exact in float64
    if dates:
        assert stamps[0] == pd.Timestamp("2024-01-01", tz="UTC").timestamp()
    assert '"labelled": 1' in (out / "metrics.json").read_text()


# ---- the training readers: series CSVs and image folders --------------------------------------------------------


def test_series_csv_training_refuses_intervals_outside_both_series(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    train, test = tmp_path / "train.csv", tmp_path / "test.csv"
    train.write_text("value\n" + "\n".join(f"{np.sin(i / 4):.6f}" for i in range(40)) + "\n")
    test.write_text("timestamp,value\n" + "\n".join(f"{100 + i},{np.sin(i / 4):.6f}" for i in range(40)) + "\n")
    iv = tmp_path / "iv.csv"
    iv.write_text("start,end\n110,112\n1000,1001\n")
    sets = [*TADGAN, "data.name=series-csv", f"data.options={{'path': '{train}', 'test_path': '{test}', "
            f"'intervals': '{iv}', 'window': 16}}"]
    refused(capsys, ["train", "tadgan-ucr135", *_sets(sets), "--run-dir", str(tmp_path / "run"), "--no-progress"],
            tmp_path, "(1000, 1001)", "training or the test series")
    assert not (tmp_path / "run").exists()


def test_image_folder_training_refuses_bombs_and_folders_too_big_for_memory(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch,
                                                                            capsys: pytest.CaptureFixture[str]
                                                                            ) -> None:
    from ganforge import preflight

    images = grey_folder(tmp_path / "images", 4)
    sets = ["data.name=image-folder", f"data.options={{'path': '{images}'}}", "train.steps=1"]
    argv = ["train", "dcgan-mnist", *_sets(sets), "--run-dir", str(tmp_path / "run"), "--no-progress"]
    png_header_only(images / "9.png", 8001, 8000)
    refused(capsys, argv, tmp_path, "9.png", "8001x8000", "64 M pixels")
    (images / "9.png").unlink()
    monkeypatch.setattr(preflight, "available_memory", lambda: 100)
    refused(capsys, argv, tmp_path, "4 images", "memory", "data.options.limit")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("data", ["npz", "paired-npz"])
def test_array_files_declaring_terabytes_are_refused_before_loading(data: str, tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """A .npy header declaring 10**6 x 3 x 1024 x 1024 bytes (3 TB) with no data: refused from the header, before
    np.load would allocate it."""
    if data == "npz":
        path = npy_header_only(tmp_path / "x.npy", (10**6, 3, 1024, 1024))
    else:
        npy_header_only(tmp_path / "a.npy", (10**6, 3, 1024, 1024))
        np.save(tmp_path / "b.npy", np.zeros((2, 16, 16), np.uint8))
        import zipfile

        path = tmp_path / "pairs.npz"
        with zipfile.ZipFile(path, "w") as zf:
            zf.write(tmp_path / "a.npy", "a.npy")
            zf.write(tmp_path / "b.npy", "b.npy")
    preset = "dcgan-mnist" if data == "npz" else "pix2pix-edges2mnist"
    sets = [f"data.name={data}", f"data.options={{'path': '{path}'}}", "train.steps=1"]
    refused(capsys, ["train", preset, *_sets(sets), "--run-dir", str(tmp_path / "run"), "--no-progress"], tmp_path,
            "GB of arrays", "memory")
    assert not (tmp_path / "run").exists()
