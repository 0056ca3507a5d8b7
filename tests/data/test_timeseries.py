"""The series data kind: windows and scaling, the built-in offline series, and one-line errors for bad CSVs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ganforge.data.timeseries import (
    MITDB,
    UCR135,
    SeriesCSV,
    Yahoo,
    intervals_to_labels,
    labels_to_intervals,
    minmax_scale,
    rolling_windows,
)


def write_csv(path: Path, values: np.ndarray, labels: np.ndarray | None = None, value: str = "value") -> Path:
    lines = [f"timestamp,{value}" + (",is_anomaly" if labels is not None else "")]
    for i, v in enumerate(values):
        lines.append(f"{i},{v}" + (f",{int(labels[i])}" if labels is not None else ""))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_intervals_round_trip_and_windows() -> None:
    labels = np.array([0, 1, 1, 0, 0, 1, 0, 1])
    assert labels_to_intervals(labels) == [(1, 2), (5, 5), (7, 7)]
    assert (intervals_to_labels([(1, 2), (5, 5), (7, 7)], 8) == labels).all()
    w = rolling_windows(np.arange(10.0), 4, 3)
    assert w.tolist() == [[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9]]
    assert minmax_scale(np.array([2.0, 4.0, 3.0]), 2.0, 4.0).tolist() == [-1.0, 1.0, 0.0]


def test_builtin_series_load_offline() -> None:
    train, test = UCR135().load("train"), UCR135().load("test")
    assert tuple(train.x.shape) == (1101, 100, 1)
    assert train.intervals == []
    assert tuple(test.x.shape) == (7402, 100, 1)
    assert test.intervals == [(4187, 4198)]
    assert test.scale == train.scale  # the test series uses the training scaler
    assert float(train.x.min()) == -1.0
    assert float(train.x.max()) == 1.0
    assert len(Yahoo().load().intervals) == 7
    assert MITDB().load().intervals == [(6936, 7287)]


def test_series_csv_with_a_test_file(tmp_path: Path) -> None:
    t = np.arange(300)
    train = write_csv(tmp_path / "train.csv", np.sin(t / 5))
    labels = np.zeros(300)
    labels[100:110] = 1
    test = write_csv(tmp_path / "test.csv", 2 * np.sin(t / 5), labels)
    data = SeriesCSV(path=str(train), test_path=str(test), window=20).load("test")
    assert tuple(data.x.shape) == (281, 20, 1)
    assert data.intervals == [(100, 109)]
    assert data.x.max() > 1.5  # scaled with the training min/max, not its own


@pytest.mark.parametrize(("case", "message"), [
    ("missing", "not found"),
    ("column", "no value column 'value'"),
    ("nan", "NaN/non-numeric"),
    ("short", "fewer than the window of 100"),
    ("labels", "must hold 0/1 anomaly labels"),
    ("constant", "is constant"),
    ("timestamps", "increasing numbers"),
])
def test_bad_series_csv_one_line_errors(tmp_path: Path, case: str, message: str) -> None:
    path = tmp_path / "s.csv"
    if case == "column":
        write_csv(path, np.arange(200.0), value="reading")
    elif case == "nan":
        path.write_text("value\n1\n\n2\nabc\n" + "\n".join(str(i) for i in range(200)) + "\n")
    elif case == "short":
        write_csv(path, np.arange(50.0))
    elif case == "labels":
        write_csv(path, np.arange(200.0), np.full(200, 2))
    elif case == "constant":
        write_csv(path, np.ones(200))
    elif case == "timestamps":
        path.write_text("timestamp,value\n" + "\n".join(f"{i % 50},{i}" for i in range(200)) + "\n")
    with pytest.raises((ValueError, FileNotFoundError)) as err:
        SeriesCSV(path=str(path)).load()
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_intervals_file_and_its_errors(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "s.csv", np.sin(np.arange(200) / 3))
    good = tmp_path / "iv.csv"
    good.write_text("start,end\n20,25\n150,150\n")
    assert SeriesCSV(path=str(path), intervals=str(good)).load().intervals == [(20, 25), (150, 150)]
    bad = tmp_path / "bad.csv"
    bad.write_text("from,to\n1,2\n")
    with pytest.raises(ValueError, match="no column"):
        SeriesCSV(path=str(path), intervals=str(bad)).load()
    with pytest.raises(ValueError, match="window must be >= 2"):
        SeriesCSV(path=str(path), window=1)


def test_a_missing_test_path_is_refused_before_training(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """It was read only when the run evaluated, after training, and reported as a problem of the disk."""
    from ganforge.cli import main
    from helpers import one_line_error

    train = write_csv(tmp_path / "train.csv", np.sin(np.arange(300) / 5))
    rc = main(["train", "tadgan-ucr135", "--set", "data.name=series-csv", "--set",
               f"data.options={{'path': '{train}', 'test_path': '{tmp_path / 'nope.csv'}', 'window': 20}}",
               "--run-dir", str(tmp_path / "run")])
    one_line_error(capsys, rc, "test series CSV", "nope.csv", "not found", "data.options.test_path")
    assert not (tmp_path / "run").exists()
