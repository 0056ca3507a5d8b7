"""Issue 23, the output side, at the CLI: every failure is exit code 2, one ``ganforge: error:`` line and no
traceback; every file is hashed before and after (``snapshot``) and nothing is written outside the target.

Classes: a link in the run directory (never followed by --overwrite / resume / train), a file or folder ganforge did
not write (never replaced), a link at ``--out`` (replaced, not written through), an output suffix that is not its
format's, an option the run's data kind does not use, a size refused up front, a full disk or read-only folder (no
partial file, the previous output intact).
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

from ganforge.cli import main
from ganforge.config import resolve_config
from ganforge.outputs import MANIFEST
from helpers import TINY, make_run, one_line_error, snapshot, train_config

TINY_SET = [arg for o in TINY for arg in ("--set", o)]
MNIST_TINY = ["data.name=mnist", "data.options={'limit': 64}", "train.steps=2", "train.checkpoint_every=2",
              "model.options={'z_dim': 4, 'g_hidden': [16], 'd_hidden': [16], 'g_output': 'tanh'}"]
TABLE_TINY = ["model.options={'z_dim': 4, 'g_hidden': [8], 'd_hidden': [8], 'pac': 2}", "train.batch_size=20",
              "train.steps=2", "train.checkpoint_every=2", "log.sample_every=0", "log.tensorboard=False"]
FIELD_TINY = ["model.options={'z_dim': 4, 'channels': 4, 'layers': 2}", "data.name=field-npz", "train.batch_size=4",
              "train.d_steps=1", "train.steps=2", "train.checkpoint_every=2", "log.sample_every=0",
              "log.tensorboard=False"]
STYLE_TINY = ["model.name=stylegan2", "model.options={'z_dim': 4, 'w_dim': 4, 'mapping_layers': 2, 'channel_base': "
              "32, 'channel_max': 4}", "objective.name=stylegan2", "objective.options={'r1_every': 2, 'pl_every': 2}",
              "data.name=lfw", "data.options={'limit': 8}", "train.batch_size=4", "train.steps=1"]
HUGE = str(10**10)


def trained(preset: str, sets: list[str], run_dir: Path) -> Path:
    """A run directory trained for ``train.steps`` with its checkpoint (no end-of-run plots)."""
    return train_config(resolve_config(preset, sets), run_dir)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("output-runs")
    rng = np.random.default_rng(0)
    table = root / "t.csv"
    n = 60
    table.write_text("age,colour,flag\n" + "".join(
        f"{a:.3f},{c},{f}\n" for a, c, f in zip(rng.normal(40, 10, n), rng.choice(["red", "blue"], n),
                                                 rng.integers(0, 2, n), strict=True)))
    fields = root / "f.npz"
    np.savez(fields, fields=(rng.normal(size=(8, 1, 9, 11)) + 280).astype(np.float32),
             cond=rng.normal(size=(8, 2)).astype(np.float32))
    return {
        "ring": make_run(["train.steps=2", "train.checkpoint_every=2"], root / "ring"),
        "mnist": make_run(MNIST_TINY, root / "mnist"),
        "table": trained("ctgan-nasscds", [*TABLE_TINY, "data.name=table",
                                           f"data.options={{'path': '{table}', 'target': 'flag'}}"], root / "table"),
        "field": trained("cgan-fields-a1b", [*FIELD_TINY, f"data.options={{'path': '{fields}'}}"], root / "field"),
    }


@pytest.fixture(scope="module")
def style_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_run(STYLE_TINY, tmp_path_factory.mktemp("style") / "run")


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "cache"))


def fill(argv: list[str], runs: dict[str, Path], tmp_path: Path, **more: Path) -> list[str]:
    return [a.format(tmp=tmp_path, **{k: str(v) for k, v in {**runs, **more}.items()}) for a in argv]


def refused(capsys: pytest.CaptureFixture[str], argv: list[str], watch: list[Path], *contains: str) -> str:
    """Run ``argv``: exit 2, one line holding ``contains``, and every file under ``watch`` unchanged."""
    before = [snapshot(w) for w in watch]
    line = one_line_error(capsys, main(argv), *contains)
    assert [snapshot(w) for w in watch] == before
    return line


# ---- 1. a link where the run writes: never followed, by --overwrite, --resume or a new run ----------------------


@pytest.mark.parametrize("where", ["samples", "checkpoints", "plots", "eval", "tb", "metrics.jsonl", "config.yaml"])
@pytest.mark.parametrize("mode", [["--overwrite"], ["--resume", "latest"]])
def test_a_linked_part_of_the_run_dir_is_refused_and_nothing_behind_it_is_touched(
        tmp_path: Path, where: str, mode: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    run = make_run([], tmp_path / "run")
    photos = tmp_path / "photos"
    photos.mkdir()
    # names ganforge itself writes in samples/ and plots/: --overwrite used to delete them through the link
    for name in ("final.png", "step-0000010.png", "losses.png", "holiday.jpg"):
        (photos / name).write_bytes(name.encode())
    target = run / where
    if where == "checkpoints":  # checkpoints moved to another disk and linked back: resume finds them
        shutil.copytree(target, photos, dirs_exist_ok=True)
    if target.is_dir():
        shutil.rmtree(target)
    elif target.exists():
        target.unlink()
    target.symlink_to(photos if "." not in where else photos / "holiday.jpg")
    line = refused(capsys, ["train", "ring8", *TINY_SET, "--run-dir", str(run), *mode, "--no-progress"],
                   [tmp_path], "symbolic link", repr(str(target)))
    assert "never writes or deletes through a link" in line


def test_a_new_run_into_a_folder_with_a_linked_subfolder_is_refused(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "step-0000010.png").write_bytes(b"mine")  # the name of the first sample grid training writes
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "samples").symlink_to(photos)
    refused(capsys, ["train", "ring8", *TINY_SET, "--set", "log.sample_every=10", "--run-dir", str(tmp_path / "run"),
                     "--no-progress"], [tmp_path], "symbolic link", "samples")


@pytest.mark.parametrize(("argv", "folder"), [
    (["sample", "{run}", "--n", "2"], "samples"),
    (["sample", "{run}", "--n", "2", "--format", "npz"], "samples"),
    (["interpolate", "{run}", "--pairs", "1", "--steps", "2"], "samples"),
])
def test_default_outputs_never_go_through_a_linked_run_folder(tmp_path: Path, argv: list[str], folder: str,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    run = make_run(["train.steps=2", "train.checkpoint_every=2"], tmp_path / "run")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.rmtree(run / folder, ignore_errors=True)
    (run / folder).symlink_to(elsewhere)
    refused(capsys, [a.format(run=run) for a in argv], [tmp_path], "symbolic link", folder)
    assert not any(elsewhere.iterdir())


def test_overwrite_keeps_links_deeper_down_and_what_they_point_to(tmp_path: Path) -> None:
    run = make_run([], tmp_path / "run")
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "final.png").write_bytes(b"mine")
    (run / "samples").mkdir(exist_ok=True)
    (run / "samples" / "album").symlink_to(photos)
    (run / "samples" / "final.png").symlink_to(photos / "final.png")  # a link with one of ganforge's names
    before = snapshot(photos)
    assert main(["train", "ring8", *TINY_SET, "--set", "train.steps=2", "--run-dir", str(run), "--overwrite",
                 "--no-progress"]) == 0
    assert snapshot(photos) == before
    assert (run / "samples" / "album").is_symlink()


# ---- 2. a file or folder ganforge did not write is never replaced; its own earlier outputs are --------------------

FOREIGN = [
    (["sample", "{mnist}", "--n", "4", "--out", "{tmp}/out/x.png"], "x.png"),
    (["sample", "{mnist}", "--n", "4", "--format", "npz", "--out", "{tmp}/out/x.npz"], "x.npz"),
    (["sample", "{ring}", "--n", "4", "--out", "{tmp}/out/x.npy"], "x.npy"),
    (["sample", "{ring}", "--n", "4", "--out", "{tmp}/out/x.csv"], "x.csv"),
    (["sample", "{table}", "--n", "4", "--out", "{tmp}/out/x.csv"], "x.csv"),
    (["sample", "{table}", "--n", "4", "--out", "{tmp}/out/x.parquet"], "x.parquet"),
    (["sample", "{field}", "--n", "2", "--out", "{tmp}/out/x.npz"], "x.npz"),
    (["sample", "{field}", "--n", "2", "--out", "{tmp}/out/x.nc"], "x.nc"),
    (["sample", "{mnist}", "--n", "3", "--format", "png-dir", "--out", "{tmp}/out"], "notes.txt"),
    (["interpolate", "{mnist}", "--pairs", "2", "--steps", "2", "--out", "{tmp}/out/x.png"], "x.png"),
    (["interpolate", "{ring}", "--pairs", "2", "--steps", "2", "--out", "{tmp}/out/x.png"], "x.png"),
    (["eval", "{table}", "--out", "{tmp}/out/x.json"], "x.json"),
]


@pytest.mark.parametrize(("argv", "name"), FOREIGN, ids=[" ".join(a[:1] + a[-1:]) + f"-{n}" for a, n in FOREIGN])
def test_a_file_ganforge_did_not_write_is_refused_by_name(runs: dict[str, Path], tmp_path: Path, argv: list[str],
                                                          name: str, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / name).write_bytes(b"the user's own file")
    argv = fill(argv, runs, tmp_path)
    refused(capsys, argv, [tmp_path, *runs.values()], name, "did not write")
    # once the user's file is gone, ganforge writes; and may then replace its own output
    (tmp_path / "out" / name).unlink()
    assert main(argv) == 0
    assert main(argv) == 0
    left = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert MANIFEST in left
    assert not [n for n in left if ".partial" in n]  # no temporary left behind


def test_style_grid_out_dir_with_foreign_files_is_refused(style_run: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "grids"
    out.mkdir()
    (out / "holiday.png").write_bytes(b"mine")
    argv = ["style-grid", str(style_run), "--rows", "1", "--cols", "1", "--sweep-rows", "1", "--psi", "1",
            "--scale", "1", "--device", "cpu", "--out-dir", str(out)]
    refused(capsys, argv, [tmp_path, style_run], "holiday.png", "did not write")
    (out / "holiday.png").unlink()
    assert main(argv) == 0
    assert main(argv) == 0  # its own grids are replaced
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST, "style-mixing-seed0.png", "truncation-seed0.png"]


def test_style_grid_out_dir_naming_the_runs_own_samples_is_the_default(style_run: Path) -> None:
    (style_run / "samples").mkdir(exist_ok=True)
    (style_run / "samples" / "step-0000001.png").write_bytes(b"a training grid")  # not in any manifest
    argv = ["style-grid", str(style_run), "--rows", "1", "--cols", "1", "--sweep-rows", "1", "--psi", "1",
            "--scale", "1", "--device", "cpu"]
    assert main([*argv, "--out-dir", str(style_run / "samples")]) == 0
    assert main(argv) == 0
    assert (style_run / "samples" / "step-0000001.png").read_bytes() == b"a training grid"


def test_a_link_at_out_is_replaced_never_written_through(runs: dict[str, Path], tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    for name in ("a.npy", "b.csv", "c.npz", "d.png"):
        (outside / name).write_bytes(b"precious")
    before = snapshot(outside)
    out = tmp_path / "out"
    out.mkdir()
    for run, name in (("ring", "a.npy"), ("table", "b.csv"), ("field", "c.npz"), ("mnist", "d.png")):
        (out / name).symlink_to(outside / name)
        assert main(["sample", str(runs[run]), "--n", "2", "--out", str(out / name)]) == 0
        assert not (out / name).is_symlink()
    assert snapshot(outside) == before


# ---- 3. the output's suffix must be its format's ------------------------------------------------------------------

SUFFIX = [
    (["sample", "{ring}", "--n", "4", "--out", "{tmp}/v.parquet"], [".npy or .csv", "'.parquet'"]),
    (["sample", "{ring}", "--n", "4", "--format", "npz", "--out", "{tmp}/v.npy"], [".npz", "'.npy'"]),
    (["sample", "{mnist}", "--n", "4", "--format", "npz", "--out", "{tmp}/v.png"], [".npz", "'.png'"]),
    (["sample", "{mnist}", "--n", "4", "--out", "{tmp}/v.npz"], ["picture of type '.npz'"]),
    (["sample", "{table}", "--n", "4", "--out", "{tmp}/v.npy"], [".csv, .parquet or .pq", "'.npy'"]),
    (["sample", "{field}", "--n", "2", "--out", "{tmp}/v.csv"], [".nc or .npz", "'.csv'"]),
    (["interpolate", "{ring}", "--out", "{tmp}/v.csv"], ["picture of type '.csv'"]),
    (["interpolate", "{mnist}", "--out", "{tmp}/v.npy"], ["picture of type '.npy'"]),
    (["eval", "{table}", "--out", "{tmp}/v.csv"], [".json", "'.csv'"]),
    (["sample", "{table}", "--out", "{tmp}/" + MANIFEST.replace(".json", ".csv")], []),  # a legal name: written
]


@pytest.mark.parametrize(("argv", "contains"), SUFFIX)
def test_an_output_suffix_that_is_not_its_format_is_refused(runs: dict[str, Path], tmp_path: Path, argv: list[str],
                                                            contains: list[str],
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    if not contains:
        assert main(fill(argv, runs, tmp_path)) == 0
        return
    refused(capsys, fill(argv, runs, tmp_path), [tmp_path, *runs.values()], "--out", *contains)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache"] or not any(tmp_path.iterdir())


def test_the_manifest_name_is_never_an_output(runs: dict[str, Path], tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """``eval --out .ganforge-outputs.json`` would have its record overwritten by the manifest it updates."""
    refused(capsys, ["eval", str(runs["table"]), "--out", str(tmp_path / MANIFEST)], [tmp_path, runs["table"]],
            "record of its outputs")
    assert not (tmp_path / MANIFEST).exists()


# ---- 4. options the run's data kind does not use are refused, not ignored -----------------------------------------

UNUSED = [
    (["sample", "{table}", "--label", "1"], ["--label", "table run"]),
    (["sample", "{table}", "--per-class"], ["--per-class", "table run"]),
    (["sample", "{table}", "--truncation", "0.5"], ["--truncation", "table run"]),
    (["sample", "{table}", "--format", "png-dir"], ["--format", "table run"]),
    (["sample", "{table}", "--format", "npz", "--label", "0"], ["--label, --format", "table run"]),
    (["sample", "{field}", "--label", "1"], ["--label", "field run"]),
    (["sample", "{field}", "--format", "npz"], ["--format", "field run"]),
    (["eval", "{table}", "--metrics", "fid"], ["--metrics", "table run"]),
    (["eval", "{table}", "--n", "100"], ["--n", "table run"]),
    (["eval", "{field}", "--ref", "mnist:test"], ["--ref", "field run"]),
    (["eval", "{field}", "--features", "mnist-classifier", "--k", "3"], ["--features, --k", "field run"]),
    (["interpolate", "{table}"], ["table run", "ganforge sample"]),
    (["interpolate", "{field}"], ["field run", "ganforge sample"]),
    (["style-grid", "{ring}"], ["style-based run"]),
]


@pytest.mark.parametrize(("argv", "contains"), UNUSED)
def test_options_a_data_kind_does_not_use_are_refused(runs: dict[str, Path], tmp_path: Path, argv: list[str],
                                                      contains: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    refused(capsys, [*fill(argv, runs, tmp_path), "--device", "cpu"], [tmp_path, *runs.values()], *contains)


# ---- 5. sizes are refused up front, with the size -----------------------------------------------------------------

SIZES = [
    (["sample", "{table}", "--n", HUGE], ["--n 10000000000 table rows", "of memory"]),
    (["sample", "{field}", "--n", HUGE], ["--n 10000000000 fields", "of memory"]),
    (["sample", "{ring}", "--n", HUGE], ["10000000000 samples", "on disk"]),
    (["sample", "{mnist}", "--n", HUGE, "--format", "npz", "--out", "{tmp}/x.npz"], ["10000000000 samples", "on disk"]),
    (["interpolate", "{ring}", "--steps", str(10**12)], ["--steps 1000000000000", "of memory"]),
    (["interpolate", "{mnist}", "--pairs", str(10**9)], ["--pairs 1000000000", "of memory"]),
]


@pytest.mark.parametrize(("argv", "contains"), SIZES)
def test_sizes_are_refused_before_any_work(runs: dict[str, Path], tmp_path: Path, argv: list[str],
                                           contains: list[str], monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    free = 50 * 10**9  # pretend 50 GB of disk and of memory, so the test does not depend on this machine
    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(4 * free, 3 * free, free))
    monkeypatch.setattr("ganforge.preflight.available_memory", lambda: free)
    refused(capsys, [*fill(argv, runs, tmp_path), "--device", "cpu"], [tmp_path, *runs.values()], *contains)


@pytest.mark.parametrize(("flags", "contains"), [
    (["--rows", str(10**7)], ["--rows 10000000", "of memory"]),
    (["--scale", str(10**5)], ["--scale 100000", "of memory"]),
    (["--psi", ",".join(["0.5"] * 10**6)], ["1000000 --psi values", "of memory"]),
    (["--psi", "1e6"], ["--psi 1e+06", "outside"]),
])
def test_style_grid_sizes_are_refused(style_run: Path, tmp_path: Path, flags: list[str], contains: list[str],
                                      monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("ganforge.preflight.available_memory", lambda: 50 * 10**9)
    refused(capsys, ["style-grid", str(style_run), "--device", "cpu", "--out-dir", str(tmp_path / "g"), *flags],
            [tmp_path, style_run], *contains)
    assert not (tmp_path / "g").exists()


# ---- 6. a full disk or a read-only folder: one line, no partial file, the previous output intact ------------------


@pytest.mark.parametrize(("run", "name"), [("table", "x.csv"), ("table", "x.parquet"), ("field", "x.npz"),
                                           ("field", "x.nc"), ("ring", "x.npy"), ("mnist", "x.npz")])
def test_a_full_disk_mid_write_leaves_the_previous_output(runs: dict[str, Path], tmp_path: Path, run: str,
                                                          name: str, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / name
    argv = ["sample", str(runs[run]), "--n", "2", "--out", str(out)]
    if run == "mnist":
        argv += ["--format", "npz"]
    assert main(argv) == 0  # the previous output, ganforge's own
    before = snapshot(tmp_path)
    real_fsync = os.fsync

    def full(fd: int) -> None:  # the write got this far, then the disk is full (as a failing close/fsync says)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    line = one_line_error(capsys, main(argv), "No space left on device", name)
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert snapshot(tmp_path) == before  # no partial temporary, the old file as it was
    assert ".partial" not in line


@pytest.mark.parametrize("argv", [
    ["sample", "{table}", "--n", "2", "--out", "{tmp}/ro/x.csv"],
    ["sample", "{field}", "--n", "2", "--out", "{tmp}/ro/x.nc"],
    ["sample", "{mnist}", "--n", "2", "--format", "png-dir", "--out", "{tmp}/ro/pngs"],
    ["eval", "{field}", "--out", "{tmp}/ro/x.json"],
])
def test_a_read_only_folder_is_refused_before_any_work(runs: dict[str, Path], tmp_path: Path, argv: list[str],
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)  # every new file fails, as on a read-only mount
    refused(capsys, fill(argv, runs, tmp_path), [tmp_path, *runs.values()], "not writable")
    assert not (tmp_path / "ro").exists()
