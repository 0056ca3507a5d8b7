"""Tables: the CTGAN encoding (VGM mode-specific normalisation, one-hots) and its inverse, the JSON round trip, the
built-in tables, and a one-line error for every bad input."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ganforge.cli import main
from ganforge.data.table_transform import ModeNormalizer, TableTransformer
from ganforge.data.tabular import CPS1988, HealthInsurance, NassCDS, Prism, TableFile
from helpers import one_line_error


def small_table(n: int = 240, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    mode = rng.integers(0, 2, n)
    return pd.DataFrame({
        "amount": np.where(mode == 0, rng.normal(-5, 0.5, n), rng.normal(5, 1.0, n)),  # bimodal float
        "age": rng.integers(18, 80, n),  # integer continuous
        "colour": rng.choice(["red", "green", "blue"], n, p=[0.6, 0.3, 0.1]),
        "flag": rng.random(n) < 0.3,
    })


def test_vgm_finds_the_modes_and_decode_inverts_encode() -> None:
    df = small_table(600)
    norm, gm = ModeNormalizer.fit(df["amount"].to_numpy(), max_modes=10, weight_threshold=0.005, seed=0)
    top = np.sort(norm.means[np.argsort(gm.weights_[gm.keep_])[-2:]])
    np.testing.assert_allclose(top, [-5, 5], atol=0.3)  # the two big modes are found
    alpha, modes = norm.encode(df["amount"].to_numpy(), gm, np.random.default_rng(0))
    assert alpha.min() >= -0.99
    assert alpha.max() <= 0.99
    inside = np.abs(alpha) < 0.99  # not clipped: decode is the exact inverse c = 4φα + η
    np.testing.assert_allclose(norm.decode(alpha, modes)[inside], df["amount"].to_numpy()[inside], rtol=1e-12,
                               atol=1e-12)
    # α = (c − η_k) / (4 φ_k) by hand for one row
    k = modes[0]
    assert alpha[0] == pytest.approx(np.clip((df["amount"][0] - norm.means[k]) / (4 * norm.stds[k]), -.99, .99))


def test_transformer_round_trip_layout_and_dtypes(tmp_path: Path) -> None:
    df = small_table()
    tf, x, codes = TableTransformer.fit(df, ["amount", "age"], ["colour", "flag"], seed=0)
    assert x.dtype == np.float32
    assert x.shape == (len(df), tf.dim)
    assert tf.dim == sum(1 + k for k in tf.modes) + 3 + 2
    assert tf.n_categories == (3, 2)
    assert tf.categories["colour"] == ["blue", "green", "red"]
    assert tf.counts["colour"] == list(
        np.bincount(codes[:, 0], minlength=3))
    for col, st, ed in tf.spans():  # one-hot blocks hold exactly one 1
        block = x[:, st + 1:ed] if col in tf.normalizers else x[:, st:ed]
        np.testing.assert_array_equal(block.sum(1), 1)
    back = tf.decode(x.astype(np.float64))
    assert list(back.columns) == list(df.columns)
    assert back.dtypes.to_dict() == df.dtypes.to_dict()
    pd.testing.assert_series_equal(back["colour"], df["colour"])
    pd.testing.assert_series_equal(back["flag"], df["flag"])
    np.testing.assert_array_equal(back["age"], df["age"])  # rounded back to the integers
    np.testing.assert_allclose(back["amount"], df["amount"], atol=1e-5 * df["amount"].abs().max())  # float32 α
    tf.save(tmp_path / "t.json")
    again = TableTransformer.load(tmp_path / "t.json")
    pd.testing.assert_frame_equal(again.decode(x.astype(np.float64)), back)
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ValueError, match="damaged"):
        TableTransformer.load(tmp_path / "bad.json")


def write(tmp_path: Path, df: pd.DataFrame, name: str = "t.csv") -> str:
    path = tmp_path / name
    df.to_parquet(path) if name.endswith(".parquet") else df.to_csv(path, index=False)
    return str(path)


def test_file_loader_infers_types_splits_and_reads_parquet(tmp_path: Path) -> None:
    df = small_table()
    data = TableFile(path=write(tmp_path, df, "t.parquet"), test_fraction=0.25).load()
    assert data.transformer.continuous == ["amount", "age"]
    assert data.transformer.discrete == ["colour", "flag"]
    assert len(data.frame) == 180
    assert len(data.test_frame) == 60
    test = TableFile(path=write(tmp_path, df), test_fraction=0.25).load("test")
    assert len(test.frame) == 60
    declared = TableFile(path=write(tmp_path, df), discrete=["age"], columns=["age", "colour"]).load()
    assert declared.transformer.discrete == ["age", "colour"]
    assert declared.spec().fields["modes"] == ()


@pytest.mark.parametrize(("edit", "options", "match"), [
    (None, {"discrete": ["nope"]}, "column 'nope' named in data.options.discrete is not in the table"),
    (None, {"columns": ["nope"]}, "column 'nope' named in data.options.columns"),
    (None, {"target": "nope"}, "data.options.target 'nope' is not a column"),
    (None, {"continuous": ["colour"]}, "'colour' is declared continuous but holds non-numeric"),
    (None, {"discrete": ["age"], "continuous": ["age"]}, "declared both discrete and continuous"),
    ("all_nan", {}, "column 'empty' is empty (all NaN)"),
    ("constant", {}, "column 'same' is constant (7)"),
    ("ids", {}, "discrete column 'id' has 240 categories (> data.options.max_categories=100)"),
    ("nan", {}, "continuous column 'amount' has 1 NaN values; set data.options.drop_na=true"),
    (None, {"test_fraction": 1.0}, "test_fraction must be in [0, 1)"),
])
def test_bad_columns_get_one_line_errors(tmp_path: Path, edit: str | None, options: dict, match: str) -> None:
    df = small_table()
    if edit == "all_nan":
        df["empty"] = np.nan
    elif edit == "constant":
        df["same"] = 7
    elif edit == "ids":
        df["id"] = [f"case{i}" for i in range(len(df))]
    elif edit == "nan":
        df.loc[3, "amount"] = np.nan
    with pytest.raises(ValueError, match=re.escape(match)) as exc:
        TableFile(path=write(tmp_path, df), **options).load()
    assert "\n" not in str(exc.value)


def test_nan_rows_dropped_on_request_and_bad_files(tmp_path: Path) -> None:
    df = small_table()
    df.loc[3, "amount"] = np.nan
    assert len(TableFile(path=write(tmp_path, df), drop_na=True, test_fraction=0.0).load()) == len(df) - 1
    with pytest.raises(FileNotFoundError, match=r"not found; check data.options.path"):
        TableFile(path=str(tmp_path / "missing.csv")).load()
    (tmp_path / "t.txt").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match=r"must be a .csv/.parquet/.pq file"):
        TableFile(path=str(tmp_path / "t.txt")).load()
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(ValueError, match="cannot read table"):
        TableFile(path=str(tmp_path / "broken.parquet")).load()
    with pytest.raises(ValueError, match=r"needs data.options.path"):
        TableFile()
    with pytest.raises(ValueError, match="has no split 'valid'"):
        TableFile(path=write(tmp_path, small_table())).load("valid")


def test_bad_table_from_the_cli_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    df = small_table()
    df["same"] = 1
    rc = main(["train", "ctgan-nasscds", "--set", "data.name=table", "--set",
               f"data.options={{'path': '{write(tmp_path, df)}'}}", "--run-dir", str(tmp_path / "run"), "--dry-run"])
    one_line_error(capsys, rc, "column 'same' is constant")


@pytest.mark.parametrize(("cls", "columns", "target"), [
    (NassCDS, 14, "dead"), (HealthInsurance, 11, "insurance"), (CPS1988, 7, "wage"), (Prism, 9, "ClaimLiability")])
def test_built_in_tables_load_offline(cls: type, columns: int, target: str) -> None:
    data = cls(limit=300).load()
    assert data.frame.shape == (240, columns)
    assert len(data.test_frame) == 60
    assert data.target == target
    assert data.frame.notna().all().all()
    assert data.spec().shape == (data.transformer.dim,)


# ---- hostile user tables through the CLI (issue 23 item 4): exit 2, one line, nothing written ----------------------

TINY_CTGAN = ["--set", "model.options={'z_dim': 4, 'g_hidden': [8], 'd_hidden': [8], 'pac': 2}",
              "--set", "train.batch_size=10", "--set", "train.steps=2", "--set", "log.progress=False",
              "--set", "log.tensorboard=False", "--set", "data.name=table"]


def _train_table(tmp_path: Path, options: dict, *extra: str) -> int:
    return main(["train", "ctgan-nasscds", *TINY_CTGAN, "--set", f"data.options={options!r}", *extra,
                 "--run-dir", str(tmp_path / "run")])


def _refused(tmp_path: Path, capsys: pytest.CaptureFixture[str], options: dict, *contains: str,
             extra: tuple[str, ...] = ()) -> None:
    """Refused before anything is written: the user's files are unchanged (hashed) and no run folder appears."""
    from helpers import snapshot

    before = snapshot(tmp_path)
    one_line_error(capsys, _train_table(tmp_path, options, *extra), *contains)
    assert snapshot(tmp_path) == before
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_a_csv_with_another_separator_is_read_by_its_columns(tmp_path: Path, sep: str) -> None:
    """A ';'-separated file was one string column 'amount;age;colour;flag' (refused for its 240 categories)."""
    df = small_table()
    path = tmp_path / "semi.csv"
    df.to_csv(path, sep=sep, index=False)
    data = TableFile(path=str(path)).load()
    assert list(data.frame.columns) == list(df.columns)
    assert data.transformer.discrete == ["colour", "flag"]


def test_a_comma_inside_quotes_does_not_pick_the_separator(tmp_path: Path) -> None:
    path = tmp_path / "quoted.csv"
    path.write_text('"a;b";"c,d"\n' + "".join(f"{i};{i % 3}\n" for i in range(50)))
    from ganforge.data.tabular import csv_separator

    assert csv_separator(path) == ";"


def test_huge_finite_values_are_refused_naming_the_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Values near 1e308 overflowed in the normalisation ("array must not contain infs or NaNs")."""
    df = small_table()
    df["amount"] = df["amount"] * 1e307
    _refused(tmp_path, capsys, {"path": write(tmp_path, df)}, "continuous column 'amount' holds values up to",
             "rescale")


def test_fewer_rows_than_a_batch_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """20 rows (16 for training) with batch 500 trained silently on repeats."""
    path = write(tmp_path, small_table(20))
    _refused(tmp_path, capsys, {"path": path}, "train.batch_size=500 is more than the 16 training rows",
             extra=("--set", "train.batch_size=500"))


def test_no_held_out_rows_with_a_target_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The efficacy metric the target asks for was silently left out."""
    path = write(tmp_path, small_table())
    _refused(tmp_path, capsys, {"path": path, "test_fraction": 0.0, "target": "colour"}, "holds out no rows",
             "data.options.test_fraction")


@pytest.mark.parametrize(("dates", "declared", "contains"), [
    ("%Y-%m-%d", True, "declared continuous but holds dates or times ('2020-01-01'"),
    ("%Y-%m-%dT%H:%M:%S", True, "holds dates or times"),
    ("%d/%m/%Y", True, "holds dates or times"),
    ("%Y-%m-%d", False, "holds 240 distinct dates or times"),
])
def test_datetime_columns_are_refused_with_the_expected_format(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                               dates: str, declared: bool, contains: str) -> None:
    df = small_table()
    df["when"] = pd.date_range("2020-01-01", periods=len(df), freq="D").strftime(dates)
    options = {"path": write(tmp_path, df), **({"continuous": ["when"]} if declared else {})}
    _refused(tmp_path, capsys, options, contains, "days since 1970-01-01", "ISO 8601")


def test_a_few_distinct_dates_stay_categories(tmp_path: Path) -> None:
    df = small_table()
    df["month"] = np.where(np.arange(len(df)) % 2, "2020-01-01", "2020-02-01")
    data = TableFile(path=write(tmp_path, df)).load()
    assert "month" in data.transformer.discrete


@pytest.mark.parametrize(("hidden", "suffix", "extra"), [
    (("pandas",), ".csv", "tabular"),
    (("pyarrow", "fastparquet"), ".parquet", "tabular"),
])
def test_a_missing_optional_package_names_the_extra(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch, hidden: tuple[str, ...],
                                                    suffix: str, extra: str) -> None:
    """A core install (no pandas/pyarrow) got a ModuleNotFoundError traceback; simulated by hiding the modules
    (``sys.modules[name] = None`` makes ``import name`` fail as if it were not installed)."""
    import sys

    from ganforge.data import tabular
    from ganforge.lazy import LazyModule

    path = write(tmp_path, small_table(), f"t{suffix}")
    for name in hidden:
        for module in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
            monkeypatch.setitem(sys.modules, module, None)
        monkeypatch.setitem(sys.modules, name, None)
    if "pandas" in hidden:
        monkeypatch.setattr(tabular, "pd", LazyModule("pandas"))  # the module's handle, not yet imported
    _refused(tmp_path, capsys, {"path": path}, f"pip install 'ganforge[{extra}]'", f"{hidden[0]!r}")


def test_a_missing_netcdf4_names_the_fields_extra(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "netCDF4", None)
    rc = main(["train", "cgan-fields-a1b", "--dry-run", "--run-dir", str(tmp_path / "run")])
    one_line_error(capsys, rc, "'netCDF4'", "pip install 'ganforge[fields]'")
    assert not (tmp_path / "run").exists()
