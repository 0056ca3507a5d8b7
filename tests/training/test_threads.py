"""``train.threads``: the thread count a run uses, chosen so that small models and shared machines are not slowed by
threads that cost more than they compute (issue: ring8 ran 15× slower with torch's default threads under load)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ganforge.cli import main
from ganforge.options import ConfigError
from ganforge.training import threads as T
from ganforge.training.run import Run
from helpers import TINY, tiny_config

CPU = torch.device("cpu")


def test_auto_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(T, "usable_cores", lambda: 8)
    monkeypatch.setattr(T.os, "getloadavg", lambda: (5.2, 0.0, 0.0))
    assert T.choose_threads("auto", 34_435, CPU)[0] == 1  # small model: one thread whatever the machine
    n, why = T.choose_threads("auto", 5_000_000, CPU)
    assert n == 3  # 8 cores − load 5.2 → 3 free
    assert "3 of 8 cores free" in why
    monkeypatch.setattr(T.os, "getloadavg", lambda: (20.0, 0.0, 0.0))
    assert T.choose_threads("auto", 5_000_000, CPU)[0] == 1  # overloaded: at least one
    assert T.choose_threads(6, 10, CPU) == (6, "train.threads")  # explicit wins
    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    assert T.choose_threads("auto", 5_000_000, CPU)[1] == "auto: OMP_NUM_THREADS is set"


@pytest.mark.parametrize("value", ["0", "-2", "'many'"])
def test_bad_values(value: str) -> None:
    with pytest.raises(ConfigError, match=r"train\.threads must be 'auto' or a whole number >= 1"):
        tiny_config(f"train.threads={value}")


def test_dry_run_says_what_was_chosen(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert main(["train", "ring8", "--dry-run"]) == 0
    assert "# threads: 1 (auto: small model" in capsys.readouterr().out


def test_a_run_uses_its_threads_and_gives_the_caller_back_its_own(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    before = torch.get_num_threads()
    seen = []
    real_step = Run._train

    def spy(self: Run) -> dict:
        seen.append(torch.get_num_threads())
        return real_step(self)

    monkeypatch.setattr(Run, "_train", spy)
    summary = Run(tiny_config("train.threads=2", "train.steps=2"), tmp_path / "r").train()
    assert seen == [2]
    assert summary["threads"] == 2
    assert torch.get_num_threads() == before


def test_resume_may_change_threads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sets = [a for o in TINY for a in ("--set", o)]
    run_dir = str(tmp_path / "r")
    assert main(["train", "ring8", *sets, "--set", "train.steps=4", "--run-dir", run_dir]) == 0
    assert main(["train", "ring8", "--run-dir", run_dir, "--resume", "latest", "--set", "train.steps=6",
                 "--set", "train.threads=1"]) == 0
    assert "train.threads auto -> 1" in capsys.readouterr().err
