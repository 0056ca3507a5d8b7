"""``ganforge detect``: outputs of a tiny TadGAN run on a labelled CSV, and one-line errors for bad inputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ganforge.cli import main
from helpers import make_run, one_line_error

TINY_SETS = ["model.options={'z_dim': 3, 'e_hidden': 4, 'g_hidden': 4, 'cx_channels': 4, 'cx_layers': 2, "
             "'cz_hidden': 5}", "train.batch_size=4", "train.steps=2", "train.d_steps=1", "log.tensorboard=False",
             "log.every=1"]


@pytest.fixture(scope="module")
def tadgan_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("detect")
    t = np.arange(120)
    v = np.sin(t / 4.0)
    v[80:84] += 4
    csv = folder / "series.csv"
    csv.write_text("timestamp,value,is_anomaly\n" + "\n".join(f"{i},{v[i]:.6f},{int(80 <= i < 84)}"
                                                               for i in range(120)) + "\n")
    run = folder / "run"
    sets = [*TINY_SETS, "data.name=series-csv", f"data.options={{'path': '{csv}', 'window': 16}}"]
    assert main(["train", "tadgan-ucr135", *[a for s in sets for a in ("--set", s)], "--run-dir", str(run),
                 "--no-progress"]) == 0
    return run, csv


def test_detect_writes_intervals_scores_plot_and_metrics(tadgan_run: tuple[Path, Path], tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    run, csv = tadgan_run
    capsys.readouterr()
    out = tmp_path / "out"
    assert main(["detect", str(run), "--input", str(csv), "--out", str(out), "--rec-error", "point"]) == 0
    assert "F1" in capsys.readouterr().out
    for name in ("intervals.csv", "scores.csv", "detection.png", "metrics.json"):
        assert (out / name).is_file(), name
    import pandas as pd

    scores = pd.read_csv(out / "scores.csv")
    assert len(scores) == 120
    assert list(scores.columns) == ["timestamp", "value", "reconstruction", "critic", "score"]
    assert list(pd.read_csv(out / "intervals.csv").columns)[:2] == ["start", "end"]
    metrics = json.loads((out / "metrics.json").read_text())["metrics"]
    assert metrics["labelled"] == 1
    assert 0 <= metrics["f1"] <= 1


def test_detect_bad_inputs(tadgan_run: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run, csv = tadgan_run
    capsys.readouterr()
    rc = main(["detect", str(run), "--input", str(tmp_path / "none.csv")])
    one_line_error(capsys, rc, "not found", "--input")
    rc = main(["detect", str(run), "--input", str(csv), "--value-column", "reading"])
    one_line_error(capsys, rc, "no value column 'reading'")
    nan = tmp_path / "nan.csv"
    nan.write_text("value\n1\nnan\n" + "\n".join("0" for _ in range(30)) + "\n")
    one_line_error(capsys, main(["detect", str(run), "--input", str(nan)]), "NaN")
    short = tmp_path / "short.csv"
    short.write_text("value\n" + "\n".join(str(i) for i in range(10)) + "\n")
    one_line_error(capsys, main(["detect", str(run), "--input", str(short)]), "fewer than the window of 16")
    one_line_error(capsys, main(["detect", str(run), "--input", str(csv), "--lambda-rec", "2"]), "--lambda-rec")


def test_detect_refuses_a_run_that_is_not_tadgan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = make_run(["train.steps=2"], tmp_path / "ring")
    csv = tmp_path / "s.csv"
    csv.write_text("value\n" + "\n".join(str(np.sin(i)) for i in range(50)) + "\n")
    one_line_error(capsys, main(["detect", str(run), "--input", str(csv)]), "needs a TadGAN run")
