"""``train.epochs`` instead of ``train.steps`` through the CLI: resolved once the data is built
(ceil(epochs · N_train / batch_size); tables as ctgan counts), shown by ``--dry-run``, recorded as steps in
config.yaml, and a resumed run continues as with steps."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ganforge.cli import main
from helpers import one_line_error
from kind_runs import CTGAN_TINY, small_table

PAIRS = ["model.options={'ngf': 4, 'ndf': 4, 'depth': 3, 'd_layers': 1}", "train.batch_size=4",
         "train.checkpoint_every=100", "log.sample_every=0", "log.tensorboard=False", "log.every=1"]


def _sets(sets: list[str]) -> list[str]:
    return [a for s in sets for a in ("--set", s)]


def _pairs(root: Path, n: int) -> list[str]:
    import numpy as np

    a = np.random.default_rng(0).integers(0, 255, (n, 16, 16), dtype=np.uint8)
    np.savez(root / "pairs.npz", a=a, b=255 - a)
    return [*PAIRS, "data.name=paired-npz", f"data.options={{'path': '{root / 'pairs.npz'}'}}"]


def test_dry_run_prints_the_resolved_steps(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sets = _pairs(tmp_path, 10)
    assert main(["train", "pix2pix-edges2mnist", *_sets([*sets, "train.epochs=3"]), "--dry-run"]) == 0
    out = capsys.readouterr().out
    config = yaml.safe_load("\n".join(line for line in out.splitlines() if not line.startswith("#")))
    n = int(out.split(" over ")[1].split()[0])  # the training pairs the data kind keeps
    assert config["train"]["steps"] == -(-3 * n // 4)  # ceil(epochs · N / batch)
    assert config["train"]["epochs"] is None
    assert f"# steps: {config['train']['steps']} = train.epochs=3 over {n} training items at batch 4" in out
    # a table counts an epoch as ctgan does: rows // batch_size steps
    csv = tmp_path / "t.csv"
    small_table(120).to_csv(csv, index=False)
    table = [f"model.options={CTGAN_TINY['model.options']}", "train.batch_size=20", "data.name=table",
             f"data.options={{'path': '{csv}', 'target': 'y'}}", "train.epochs=2"]
    assert main(["train", "ctgan-health-insurance", *_sets(table), "--dry-run"]) == 0
    out = capsys.readouterr().out
    rows = int(out.split(" over ")[1].split()[0])
    assert rows == 96  # 120 rows less the 20 % held out
    assert f"# steps: {2 * (rows // 20)} = train.epochs=2" in out
    # a sampled distribution has no epochs
    rc = main(["train", "ring8", "--set", "train.epochs=2", "--dry-run"])
    one_line_error(capsys, rc, "train.epochs", "train.steps")
    rc = main(["train", "ring8", "--set", "train.epochs=-1", "--dry-run"])
    one_line_error(capsys, rc, "train.epochs must be >= 1")


def test_epochs_train_records_steps_and_resume_continues(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sets = [*_pairs(tmp_path, 10), "train.epochs=1"]
    run = tmp_path / "run"
    assert main(["train", "pix2pix-edges2mnist", *_sets(sets), "--run-dir", str(run), "--no-progress"]) == 0
    first = yaml.safe_load((run / "config.yaml").read_text())["train"]
    assert first["epochs"] is None
    steps = first["steps"]
    assert steps >= 1
    err = capsys.readouterr().err
    assert f"train.epochs resolved to train.steps={steps} (" in err
    n = int(err.split(f"steps={steps} (")[1].split()[0])  # the training pairs
    assert steps == -(-n // 4)
    # resume with two epochs: ceil(2 · N / 4) steps, continued from the checkpoint (as --set train.steps would)
    assert main(["train", "pix2pix-edges2mnist", *_sets([*sets, "train.epochs=2"]), "--run-dir", str(run),
                 "--resume", "latest", "--no-progress"]) == 0
    assert f"resume applies train.steps {steps} -> {-(-2 * n // 4)} from step {steps}" in capsys.readouterr().err
    assert yaml.safe_load((run / "config.yaml").read_text())["train"]["steps"] == -(-2 * n // 4)
    last = [line for line in (run / "metrics.jsonl").read_text().splitlines() if '"step"' in line][-1]
    assert yaml.safe_load(last)["step"] == -(-2 * n // 4)
