"""Bad configs and start-up faults through the CLI: every case is exit 2 (130 for Ctrl-C), one stderr line, no
traceback, and nothing is written. Found by a hostile probe (issue "Nothing lost, nothing silent")."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch

from ganforge.cli import main
from helpers import TINY, one_line_error

TINY_SET = [arg for o in TINY for arg in ("--set", o)]


@pytest.mark.parametrize(("override", "contains"), [
    ("optim.g.lr=1e400", "'optim.g.lr' must be a finite number, got inf"),
    ("optim.d.betas=[0.5, -1e999]", "'optim.d.betas' must be a finite number"),
    ("log.sample_every=-5", "log.sample_every must be >= 0"),
    ("log.eval_every=-1", "log.eval_every must be >= 0"),
    ("train.keep_checkpoints=-3", "train.keep_checkpoints must be >= 0"),
    ("train.seed=100000000000000000000000", "train.seed must be in [0, 2**63)"),
    ("train.ema_start=-2", "train.ema_start must be >= 0"),
    ("model.options.g_hidden=[12.5]", "'model.options.g_hidden' expects a list of int, got list [12.5]"),
    ("optim.g.betas=[0.5]", "'optim.g.betas' expects a list of 2 float"),
])
def test_bad_values_are_refused_before_anything_is_written(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], override: str, contains: str) -> None:
    run_dir = tmp_path / "run"
    rc = main(["train", "ring8", *TINY_SET, "--set", override, "--run-dir", str(run_dir)])
    assert rc == 2
    one_line_error(capsys, rc, contains)
    assert not run_dir.exists()


def test_seed_flag_out_of_range(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["train", "ring8", "--seed", str(10**23), "--run-dir", str(tmp_path / "r")])
    one_line_error(capsys, rc, "train.seed must be in [0, 2**63)")


@pytest.mark.parametrize(("text", "contains"), [
    ("", "is empty"),
    ("# only a comment\n", "is empty"),
    ("name: mine\n", "has none of the sections"),
])
def test_empty_or_sectionless_yaml_does_not_train_the_default_model(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, contains: str) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(text)
    rc = main(["train", str(path), "--run-dir", str(tmp_path / "run")])
    assert rc == 2
    one_line_error(capsys, rc, contains)
    assert not (tmp_path / "run").exists()


def test_unreadable_checkpoint_error_is_whole_and_torch_warnings_are_silenced(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A legacy pickle made torch warn before the one-line error, and causes were cut at 120 characters."""
    cause = "weights only load failed: " + "x" * 200 + " (the end of the cause)"

    def fake_load(*args: object, **kwargs: object) -> None:
        warnings.warn("legacy format: this warning must not reach the user", UserWarning, stacklevel=1)
        raise RuntimeError(cause + "\nsecond line")

    ckpt = tmp_path / "old.pt"
    ckpt.write_bytes(b"not really a checkpoint")
    monkeypatch.setattr(torch, "load", fake_load)
    with warnings.catch_warnings():
        warnings.simplefilter("always")  # a warning that escaped would print
        rc = main(["sample", str(ckpt), "--n", "4", "--out", str(tmp_path / "s.npy")])
    err = one_line_error(capsys, rc, "(the end of the cause)")
    assert "legacy format" not in err
    assert ckpt.read_bytes() == b"not really a checkpoint"


def test_ctrl_c_while_importing_is_one_line() -> None:
    """SIGINT during the ~2 s of torch imports: simulated deterministically by an import hook that raises
    KeyboardInterrupt when torch starts loading, in a fresh interpreter running the console-script entry point."""
    code = (
        "import sys\n"
        "class Interrupt:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'torch':\n"
        "            raise KeyboardInterrupt\n"
        "sys.meta_path.insert(0, Interrupt())\n"
        "from ganforge.entry import main\n"
        "sys.exit(main(['list']))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 130
    assert out.stderr.strip().splitlines() == ["ganforge: interrupted while starting; nothing was run"]


def test_missing_optimiser_group_of_the_objective_is_one_line(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """A hand-written StarGAN v2 config without optim.f (the mapping network's group) is refused by name, before
    anything is built or written (it used to surface as a KeyError inside the trainer)."""
    import yaml

    from ganforge.config import resolve_config

    cfg = resolve_config("stargan-v2-mnist", []).to_dict()
    del cfg["optim"]["f"]
    path = tmp_path / "no-f.yaml"
    path.write_text(yaml.safe_dump(cfg))
    rc = main(["train", str(path), "--run-dir", str(tmp_path / "run"), "--dry-run"])
    one_line_error(capsys, rc, "optim.f", "optimiser group")
    assert not (tmp_path / "run").exists()
