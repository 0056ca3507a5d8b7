"""CLI contracts of ``train``, ``list``, ``config`` and the shared error format: every expected failure is one line
``ganforge: error: ...`` with a non-zero exit code, and a failed command never changes an existing run directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from ganforge.cli import main
from helpers import TINY, one_line_error, snapshot

TINY_SET = [arg for o in TINY for arg in ("--set", o)]




@pytest.fixture(scope="module")
def ring_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("cli") / "ring"
    assert main(["train", "ring8", "--run-dir", str(run_dir), *TINY_SET, "--no-progress"]) == 0
    return run_dir


def test_train_writes_a_run_directory(ring_run: Path) -> None:
    assert (ring_run / "checkpoints" / "latest.pt").is_file()
    assert (ring_run / "config.yaml").is_file()
    assert (ring_run / "eval" / "final.json").is_file()


def test_dry_run_prints_config_and_parameter_counts_and_creates_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["train", "ring8", "--dry-run", *TINY_SET]) == 0
    out = capsys.readouterr().out
    assert "model:" in out
    assert "train:" in out
    assert "steps: 20" in out
    assert "# network G: MLPGenerator" in out
    assert "# network D: MLPDiscriminator" in out
    assert "# phases per step: D, G" in out
    assert "parameters" in out
    assert "# dry run: nothing trained" in out
    assert list(tmp_path.iterdir()) == []


def test_list_and_config(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for group in ("presets:", "models:", "objectives:", "datasets:", "features:"):
        assert group in out
    assert "ring8" in out
    assert "mnist-classifier" in out
    assert main(["list", "models"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("models:")
    assert "mlp" in out
    assert main(["config", "ring8", "--set", "train.steps=7", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "steps: 7" in out
    assert "seed: 3" in out


def test_version_and_help_exit_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert "ganforge" in capsys.readouterr().out
    for cmd in ("train", "sample", "eval", "interpolate", "train-classifier", "list", "config"):
        assert main([cmd, "--help"]) == 0
        assert "usage" in capsys.readouterr().out


@pytest.mark.parametrize(("argv", "contains"), [
    (["config", "no-such-preset"], "unknown preset 'no-such-preset'"),
    (["config", "ring8", "--set", "train.stepz=5"], "stepz"),
    (["config", "ring8", "--set", "train.steps=abc"], "train.steps"),
    (["config", "ring8", "--set", "train.steps"], "KEY=VALUE"),
    (["train", "ring8", "--dry-run", "--set", "model.name=nope"], "unknown model 'nope'"),
    (["train", "ring8", "--dry-run", "--set", "model.options.g_hiden=[4]"], "g_hiden"),
    (["train", "ring8", "--dry-run", "--set", "train.batch_size=0"], "train.batch_size"),
    (["frobnicate"], "invalid choice"),
    (["sample", "x", "--n", "abc"], "invalid int value"),
    (["train"], "required"),
])
def test_bad_inputs_are_one_line_errors(argv: list[str], contains: str, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    one_line_error(capsys, main(argv), contains)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("extra", "contains"), [
    ([], "already holds a run"),  # no --resume: refuses to overwrite
    (["--resume", "latest", "--overwrite"], "contradict"),
    (["--resume", "latest", "--set", "model.options={'z_dim': 2, 'g_hidden': [32], 'd_hidden': [16]}"],
     "differs: model.options.g_hidden"),  # resume into a different model
    (["--resume", "latest", "--set", "objective.options.g_cost=minimax"], "objective.options.g_cost"),
    (["--resume", "nope.pt"], "not found"),
    (["--set", "train.steps=abc"], "train.steps"),
    (["--set", "train.unknown=1"], "unknown"),
])
def test_failed_train_leaves_the_existing_run_untouched(ring_run: Path, extra: list[str], contains: str,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(ring_run)
    rc = main(["train", "ring8", "--run-dir", str(ring_run), *TINY_SET, *extra, "--no-progress"])
    one_line_error(capsys, rc, contains)
    assert snapshot(ring_run) == before


def test_corrupt_checkpoint_is_a_one_line_error_everywhere(ring_run: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken"
    (broken / "checkpoints").mkdir(parents=True)
    (broken / "config.yaml").write_text((ring_run / "config.yaml").read_text())
    good = (ring_run / "checkpoints" / "latest.pt").read_bytes()
    (broken / "checkpoints" / "latest.pt").write_bytes(good[: len(good) // 3])  # truncated mid-write
    before = snapshot(broken)
    commands = [
        ["train", "ring8", "--run-dir", str(broken), *TINY_SET, "--resume", "latest"],
        ["sample", str(broken)],
        ["interpolate", str(broken)],
        ["eval", str(broken), "--features", "mnist-classifier", "--ref", "mnist:test"],
    ]
    for argv in commands:
        one_line_error(capsys, main(argv), "corrupt or not a ganforge checkpoint")
    junk = tmp_path / "junk.pt"
    junk.write_text("hello")
    one_line_error(capsys, main(["sample", str(junk)]), "junk.pt")
    assert snapshot(broken) == before


@pytest.mark.parametrize("command", ["sample", "interpolate", "eval"])
def test_missing_run_is_a_one_line_error(command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    one_line_error(capsys, main([command, str(tmp_path / "no-such-run")]), "not found")
    assert list(tmp_path.iterdir()) == []


def test_run_without_checkpoint_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    one_line_error(capsys, main(["sample", str(tmp_path / "empty")]), "no checkpoint in")


def test_help_shows_defaults(capsys) -> None:
    assert main(["sample", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "--seed SEED seed of the latent codes (the samples `eval --seed` judges) (default: 0)" in out
    assert "--n N number of samples (with --per-class: about n per grid) (default: 64)" in out
    assert "--no-ema use the raw generator instead of its EMA" in out
    assert "(default: False)" not in out


def test_finish_line_names_what_exists_and_the_next_commands(tmp_path) -> None:
    from ganforge.cli import finish_line

    run = tmp_path / "r"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "latest.pt").write_bytes(b"x")
    (run / "samples").mkdir()  # empty: not listed
    (run / "config.yaml").write_text("name: r\n")
    line = finish_line(run, "series")
    assert line.splitlines()[0] == f"run directory: {run}  (config.yaml, checkpoints/)"
    assert f"ganforge sample {run}  |  ganforge eval {run}  |  ganforge detect {run} --input SERIES.csv" in line
    assert "report.html" not in line
    (run / "report.html").write_text("<html></html>")
    assert f"open {run / 'report.html'} in a browser" in finish_line(run, "mixture2d")
