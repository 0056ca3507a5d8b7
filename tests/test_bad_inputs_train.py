"""Hostile inputs to ``ganforge train``: a bad run directory, resume or file system is one line ``ganforge: error:``,
exit code 2, no traceback, and nothing the user already had is lost or modified. Driven through the CLI (``main``)
so the tests outlive refactors of the training internals; read-only folders and full disks are simulated with
patched system calls (the tests run as root, for whom chmod does not stop writes)."""

from __future__ import annotations

import builtins
import errno
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from ganforge.cli import main
from helpers import TINY, one_line_error, snapshot

TINY_SET = [arg for o in TINY for arg in ("--set", o)]


def train(run_dir: Path, *extra: str, preset: str = "ring8") -> int:
    return main(["train", preset, "--run-dir", str(run_dir), *TINY_SET, *extra])


def resume(run_dir: Path, *extra: str, preset: str = "ring8") -> int:
    """Resume as a user would: the preset, the run directory, and only the --set that should change."""
    return main(["train", preset, "--run-dir", str(run_dir), "--resume", "latest", *extra])


def saved_step(run_dir: Path) -> int:
    return int(torch.load(run_dir / "checkpoints" / "latest.pt", weights_only=True)["trainer"]["step"])


@pytest.fixture(scope="module")
def base_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("train") / "base"
    assert train(run_dir) == 0
    return run_dir


@pytest.fixture
def run_dir(base_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A private copy of a finished 20-step ring8 run."""
    capsys.readouterr()
    return Path(shutil.copytree(base_run, tmp_path / "run"))


# ---- --overwrite and reuse of a run directory --------------------------------------------------------------------


def test_overwrite_deletes_only_what_ganforge_wrote(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mine = {"checkpoints/mine.pt": b"x\n", "eval/paper_results.json": b"{}\n", "samples/handmade.png": b"png",
            "tb/events.out.tfevents.1.otherhost.42.0": b"someone else's events", "notes.txt": b"keep me"}
    for name, data in mine.items():
        (run_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (run_dir / name).write_bytes(data)
    before = {k: v for k, v in snapshot(run_dir).items() if k in mine}
    assert train(run_dir, "--overwrite", "--set", "train.steps=2", "--no-progress") == 0
    after = snapshot(run_dir)
    assert {k: v for k, v in after.items() if k in mine} == before  # every user file kept, unchanged
    assert "checkpoints/step-0000020.pt" not in after  # the old run's files are gone
    assert saved_step(run_dir) == 2
    err = capsys.readouterr().err
    assert "keeps 4 file(s) ganforge did not write" in err


def test_metrics_without_checkpoint_is_not_silently_reused(run_dir: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    shutil.rmtree(run_dir / "checkpoints")  # e.g. killed before its first checkpoint
    before = snapshot(run_dir)
    one_line_error(capsys, train(run_dir), "already holds a run", "--overwrite")
    assert snapshot(run_dir) == before


def test_negative_keep_checkpoints_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    one_line_error(capsys, train(tmp_path / "r", "--set", "train.keep_checkpoints=-3"), "train.keep_checkpoints")
    assert list(tmp_path.iterdir()) == []


# ---- resume: the run's config, and which keys may change --------------------------------------------------------


def test_resume_applies_a_new_learning_rate_and_logs_it(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert resume(run_dir, "--set", "train.steps=30", "--set", "optim.g.lr=0.5") == 0
    err = capsys.readouterr().err
    assert "optim.g.lr 0.001 -> 0.5" in err
    state = torch.load(run_dir / "checkpoints" / "latest.pt", weights_only=True)
    assert state["config"]["optim"]["g"]["lr"] == 0.5
    assert state["trainer"]["optimizers"]["g"]["param_groups"][0]["lr"] == 0.5  # trained at it, not just recorded
    assert state["trainer"]["schedulers"]["g"]["base_lrs"] == [0.5]
    changes = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()
               if "config_change" in line]
    assert changes == [{"step": 20, "config_change": {"optim.g.lr": [0.001, 0.5], "train.steps": [20, 30]}}]


@pytest.mark.parametrize(("extra", "contains"), [
    (["--seed", "7"], "train.seed"),
    (["--set", "optim.d.name=sgd"], "optim.d.name"),  # was a KeyError after config.yaml had been rewritten
    (["--set", "optim.g.betas=[0.0, 0.9]"], "optim.g.betas"),
    (["--set", "data.name=grid25"], "data.name"),  # same data shape, another dataset
    (["--set", "data.options={'std': 0.5}"], "data.options"),
])
def test_resume_refuses_changes_that_would_not_be_honoured(run_dir: Path, extra: list[str], contains: str,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(run_dir)
    one_line_error(capsys, resume(run_dir, *extra), contains, "new --run-dir")
    assert snapshot(run_dir) == before


def test_resume_with_another_preset_is_refused(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(run_dir)
    one_line_error(capsys, resume(run_dir, preset="grid25"), "'ring8'", "config.yaml")
    assert snapshot(run_dir) == before


def test_the_interrupted_hint_is_the_whole_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from ganforge.training.trainer import Trainer

    real_step = Trainer.train_step

    def step_then_ctrl_c(self: Trainer) -> None:
        real_step(self)
        if self.step == 7:
            os.kill(os.getpid(), signal.SIGINT)  # as if the user pressed Ctrl-C

    monkeypatch.setattr(Trainer, "train_step", step_then_ctrl_c)
    run_dir = tmp_path / "r"
    assert train(run_dir, "--set", "train.steps=30") == 128 + signal.SIGINT
    assert not (run_dir / "ganforge.lock").exists()  # released on SIGINT
    monkeypatch.setattr(Trainer, "train_step", real_step)
    hint = capsys.readouterr().err.split("Continue with: ganforge ")[1].split()
    assert hint == ["train", "ring8", "--run-dir", str(run_dir), "--resume", "latest"]
    assert main(hint) == 0
    assert saved_step(run_dir) == 30  # the run's own steps, not the preset's default


def _tamper(run_dir: Path, change: Callable[[dict[str, Any]], None]) -> None:
    path = run_dir / "checkpoints" / "latest.pt"
    state = torch.load(path, weights_only=True)
    change(state)
    torch.save(state, path)


@pytest.mark.parametrize("change", [
    lambda s: s["models"]["G"].update({k: torch.zeros(3, 3) for k in list(s["models"]["G"])[:1]}),  # wrong shape
    lambda s: s["models"].pop("G"),
    lambda s: s.pop("trainer"),
    lambda s: s["trainer"]["optimizers"].pop("g"),
    lambda s: s["trainer"].pop("rng"),
], ids=["wrong-shape", "no-G", "no-trainer", "no-optimizer", "no-rng"])
def test_tampered_checkpoint_is_a_one_line_error(run_dir: Path, change: Callable[[dict[str, Any]], None],
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    _tamper(run_dir, change)
    before = snapshot(run_dir)
    one_line_error(capsys, resume(run_dir, "--set", "train.steps=30"), "checkpoint", "damaged")
    assert snapshot(run_dir) == before


@pytest.mark.parametrize(("change", "contains"), [
    (lambda s: s["spec"].update(kind="field"), "spec.kind is 'field' but its data 'ring8' is of kind 'mixture2d'"),
    (lambda s: s["spec"].update(kind="table"), "spec.kind is 'table'"),
    (lambda s: s["spec"].update(kind=3), "spec.kind 3 is not a data kind name"),
    (lambda s: s["spec"].update(shape=[-2]), "spec.shape"),
    (lambda s: s["spec"].update(num_classes="ten"), "spec.num_classes is str 'ten'"),
    (lambda s: s["trainer"].update(step=-5), "trainer.step = -5 is outside"),
    (lambda s: s["trainer"].update(step=10**30), "trainer.step = 1000000000000000000000000000000 is outside"),
    (lambda s: s["trainer"].update(step="20"), "trainer.step is str"),
    (lambda s: s["trainer"].update(step=20.5), "trainer.step is float"),
    (lambda s: s["trainer"].update(images_seen=-1), "trainer.images_seen = -1"),
    (lambda s: s["trainer"].update(best_step=10**6), "trainer.best_step"),
    (lambda s: s.update(config=[1, 2]), "config is not a mapping"),
    (lambda s: s["trainer"]["schedulers"]["g"].update(last_epoch=-7), "trainer.schedulers.g.last_epoch = -7"),
], ids=["kind-field", "kind-table", "kind-int", "shape", "classes", "step-negative", "step-huge", "step-str",
        "step-float", "images-seen", "best-step", "config-list", "scheduler-step"])
@pytest.mark.parametrize("command", ["resume", "sample"])
def test_a_checkpoint_with_wrong_kind_counters_or_types_is_one_line(
        run_dir: Path, tmp_path: Path, change: Callable[[dict[str, Any]], None], contains: str, command: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    """One validation (ganforge/checkpoint.validate_state) for every loader: resume and load_run (sample, eval,
    ...). A ring8 checkpoint claiming the "field" kind made `sample` fail with AttributeError."""
    _tamper(run_dir, change)
    before = snapshot(tmp_path)
    if command == "resume":
        rc = resume(run_dir, "--set", "train.steps=30")
    else:
        rc = main(["sample", str(run_dir), "--n", "4", "--out", str(tmp_path / "s.npy")])
    # a spec that does not fit the run's config reads as load_run's other mismatches; bad counters as damage
    one_line_error(capsys, rc, "does not match its config" if contains.startswith("spec") else "damaged", contains)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("steps", [5, 19])
def test_resume_with_fewer_steps_than_done_is_refused_and_rewrites_nothing(
        run_dir: Path, steps: int, capsys: pytest.CaptureFixture[str]) -> None:
    """It exited 0 having trained nothing and rewrote latest.pt."""
    before = snapshot(run_dir)
    rc = resume(run_dir, "--set", f"train.steps={steps}")
    one_line_error(capsys, rc, f"train.steps={steps} is below step 20", "N > 20")
    assert snapshot(run_dir) == before


# ---- file system: unwritable folders, full disks, leftovers of kill -9 ------------------------------------------


def refuse_writes(monkeypatch: pytest.MonkeyPatch, folder: Path, code: int = errno.EACCES) -> None:
    """Make ``folder`` (and everything below it) behave as read-only: creating or writing files or folders there
    raises ``OSError(code)``. Reading still works."""
    folder = folder.resolve()

    def inside(path: Any) -> bool:
        try:
            p = Path(os.fsdecode(path)).resolve()
        except TypeError:  # a file descriptor
            return False
        return p == folder or folder in p.parents

    def deny(path: Any) -> None:
        raise OSError(code, os.strerror(code), os.fsdecode(path))

    real_open, real_os_open, real_mkdir = builtins.open, os.open, os.mkdir

    def fake_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if any(c in mode for c in "wax+") and inside(file):
            deny(file)
        return real_open(file, mode, *args, **kwargs)

    def fake_os_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT) and inside(path):
            deny(path)
        return real_os_open(path, flags, *args, **kwargs)

    def fake_mkdir(path: Any, *args: Any, **kwargs: Any) -> None:
        if inside(Path(os.fsdecode(path)).parent):
            deny(path)
        real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", fake_open)
    monkeypatch.setattr(os, "open", fake_os_open)
    monkeypatch.setattr(os, "mkdir", fake_mkdir)


def test_run_dir_under_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "somefile").write_text("mine")
    one_line_error(capsys, train(tmp_path / "somefile" / "run"), "is a file")
    assert (tmp_path / "somefile").read_text() == "mine"


@pytest.mark.parametrize("code", [errno.EACCES, errno.EROFS])
def test_read_only_parent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int,
                          capsys: pytest.CaptureFixture[str]) -> None:
    refuse_writes(monkeypatch, tmp_path, code)
    one_line_error(capsys, train(tmp_path / "a" / "run"), "cannot write to", str(tmp_path))
    assert list(tmp_path.iterdir()) == []


def test_read_only_run_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                           capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "r").mkdir()
    refuse_writes(monkeypatch, tmp_path / "r")
    one_line_error(capsys, train(tmp_path / "r"), "cannot write to")
    assert list((tmp_path / "r").iterdir()) == []


def test_read_only_checkpoints_folder_fails_before_training(run_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    from ganforge.training.trainer import Trainer

    def no_training(self: Trainer) -> None:
        raise AssertionError("trained although checkpoints/ cannot be written")

    monkeypatch.setattr(Trainer, "train_step", no_training)
    refuse_writes(monkeypatch, run_dir / "checkpoints")
    before = snapshot(run_dir)
    one_line_error(capsys, resume(run_dir, "--set", "train.steps=30"), "cannot write to", "checkpoints")
    assert snapshot(run_dir) == before


def test_disk_full_during_a_checkpoint_keeps_the_previous_one(run_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    latest = run_dir / "checkpoints" / "latest.pt"
    good = latest.read_bytes()

    def full_disk(obj: Any, f: Any, *args: Any, **kwargs: Any) -> None:
        half = b"PK\x03\x04 partial"  # half a zip, as a writer that ran out of space leaves it
        if hasattr(f, "write"):  # save_atomic passes an open handle
            f.write(half)
        else:
            Path(f).write_bytes(half)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(f))

    monkeypatch.setattr(torch, "save", full_disk)
    one_line_error(capsys, resume(run_dir, "--set", "train.steps=30", "--no-progress"), "No space left on device",
               "latest.pt is intact")
    assert latest.read_bytes() == good
    assert sorted(p.name for p in latest.parent.iterdir()) == ["latest.pt", "step-0000010.pt", "step-0000020.pt"]
    assert not (run_dir / "ganforge.lock").exists()  # released on error


def test_partial_checkpoints_of_a_killed_save_are_removed(run_dir: Path) -> None:
    folder = run_dir / "checkpoints"
    # today's unique temporaries (outputs.atomic_file) and the fixed names of earlier versions
    for name in ("latest.pt.tmp", "step-0000030.pt.tmp", "best.pt.tmp", ".latest.k2_x9q0a.partial.pt",
                 ".step-0000030.abc123.partial.pt"):
        (folder / name).write_bytes(b"PK\x03\x04 cut by kill -9")
    assert resume(run_dir, "--set", "train.steps=30", "--no-progress") == 0
    assert sorted(p.name for p in folder.iterdir()) == ["latest.pt", "step-0000020.pt", "step-0000030.pt"]
    assert saved_step(run_dir) == 30


# ---- two processes on one run directory --------------------------------------------------------------------------


def test_a_run_directory_in_use_is_refused_naming_the_owner(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    owner = os.getppid()  # a live process that is not this one
    (run_dir / "ganforge.lock").write_text(json.dumps({"pid": owner, "host": socket.gethostname()}))
    before = snapshot(run_dir)
    one_line_error(capsys, resume(run_dir, "--set", "train.steps=30"), f"pid {owner}")
    one_line_error(capsys, train(run_dir, "--overwrite"), f"pid {owner}")
    assert snapshot(run_dir) == before


def test_a_stale_lock_is_taken_over_and_released(run_dir: Path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # its pid is no longer alive: the lock of a process killed with -9
    (run_dir / "ganforge.lock").write_text(json.dumps({"pid": gone.pid, "host": socket.gethostname()}))
    assert resume(run_dir, "--set", "train.steps=30", "--no-progress") == 0
    assert saved_step(run_dir) == 30
    assert not (run_dir / "ganforge.lock").exists()


# ---- batches that cannot fit in memory ------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "contains"), [("10000000000", "GiB"), ("1e10", "train.batch_size")])
def test_a_batch_too_large_for_memory_is_refused_up_front(tmp_path: Path, value: str, contains: str,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    one_line_error(capsys, train(tmp_path / "r", "--set", f"train.batch_size={value}"), "train.batch_size", contains)
    assert list(tmp_path.iterdir()) == []
