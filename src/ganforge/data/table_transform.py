"""CTGAN's reversible table encoding (Xu et al. 2019, §4.2 "Mode-specific normalization").

Every continuous column c_i gets a variational Gaussian mixture (sklearn ``BayesianGaussianMixture``, Dirichlet-process
prior with concentration 0.001, at most 10 modes; modes with weight ≤ 0.005 are dropped, as the ``ctgan`` package /
rdt ``ClusterBasedNormalizer`` do). A value c_ij is encoded as

    β_ij  one-hot of a mode k sampled from the posterior p(k | c_ij) (the paper's step 2),
    α_ij = (c_ij − η_k) / (4 φ_k)  clipped to [−0.99, 0.99]  (eq. in §4.2; η_k mean, φ_k std of mode k),

and decoded as c = clip(α, −1, 1)·4φ_k + η_k with k = argmax β. Discrete columns are one-hot vectors d_i.

Layout of an encoded row (``[N, D]`` float32): every continuous column ``[α | β (k modes)]`` in table order, then every
discrete column's one-hot ``[d (c categories)]``; the order of columns inside the vector does not matter to the
fully connected networks, and grouping them lets the spec carry the layout as two size tuples (``modes``,
``categories``). The fitted transformer is plain JSON (``save``/``load``): means, stds, categories, their counts and
the original dtypes; never a pickle.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ganforge.lazy import pandas as pd

STD_MULTIPLIER = 4.0  # α = (c − η) / (4 φ): CTGAN §4.2
ALPHA_CLIP = 0.99  # rdt clips the encoded scalar to [−0.99, 0.99]
FORMAT = 1


def _plain(value: Any) -> Any:
    """NumPy scalars → Python (JSON) values; NaN → None (a missing category)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


@dataclass
class ModeNormalizer:
    """The VGM of one continuous column: means η_k ``[K]`` and stds φ_k ``[K]`` of the kept modes."""

    means: np.ndarray
    stds: np.ndarray

    @classmethod
    def fit(cls, values: np.ndarray, max_modes: int = 10, weight_threshold: float = 0.005,
            seed: int = 0) -> tuple[ModeNormalizer, Any]:
        """Fit the Bayesian GMM on ``values [N]``; returns the normaliser and the fitted sklearn model (for
        ``encode``'s posterior)."""
        from sklearn.mixture import BayesianGaussianMixture

        gm = BayesianGaussianMixture(n_components=min(max_modes, len(values)),
                                     weight_concentration_prior_type="dirichlet_process",
                                     weight_concentration_prior=0.001, n_init=1, random_state=seed)
        with warnings.catch_warnings():  # "did not converge": rdt / ctgan accept the fit after max_iter too
            warnings.simplefilter("ignore")
            gm.fit(values.reshape(-1, 1))
        keep = gm.weights_ > weight_threshold
        if not keep.any():
            keep = gm.weights_ == gm.weights_.max()
        gm.keep_ = keep
        stds = np.sqrt(gm.covariances_.reshape(-1))[keep]
        return cls(gm.means_.reshape(-1)[keep].astype(np.float64), stds.astype(np.float64)), gm

    @property
    def n_modes(self) -> int:
        return len(self.means)

    def encode(self, values: np.ndarray, gm: Any, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``values [N]`` → (α ``[N]``, mode index ``[N]``), the mode sampled from the posterior over kept modes
        (+1e-6, renormalised, as rdt)."""
        probs = gm.predict_proba(values.reshape(-1, 1))[:, gm.keep_] + 1e-6
        probs /= probs.sum(axis=1, keepdims=True)
        u = rng.random(len(values))[:, None]
        modes = np.minimum((probs.cumsum(axis=1) < u).sum(axis=1), self.n_modes - 1)  # inverse-CDF draw
        alpha = (values - self.means[modes]) / (STD_MULTIPLIER * self.stds[modes])
        return np.clip(alpha, -ALPHA_CLIP, ALPHA_CLIP), modes

    def decode(self, alpha: np.ndarray, modes: np.ndarray) -> np.ndarray:
        """(α ``[N]``, mode ``[N]``) → values ``[N]``: c = clip(α, −1, 1)·4φ_k + η_k."""
        return np.clip(alpha, -1.0, 1.0) * STD_MULTIPLIER * self.stds[modes] + self.means[modes]


@dataclass
class TableTransformer:
    """Column types, the continuous columns' mode normalisers and the discrete columns' categories (with counts)."""

    columns: list[str]  # the table's columns in their original order
    dtypes: dict[str, str]  # original pandas dtypes (str), restored by ``decode``
    continuous: list[str]
    discrete: list[str]
    normalizers: dict[str, ModeNormalizer] = field(default_factory=dict)
    categories: dict[str, list[Any]] = field(default_factory=dict)  # None = the missing-value category
    counts: dict[str, list[int]] = field(default_factory=dict)  # training rows per category

    # ---- layout -------------------------------------------------------------------------------------------------
    @property
    def modes(self) -> tuple[int, ...]:
        return tuple(self.normalizers[c].n_modes for c in self.continuous)

    @property
    def n_categories(self) -> tuple[int, ...]:
        return tuple(len(self.categories[c]) for c in self.discrete)

    @property
    def dim(self) -> int:
        return sum(1 + k for k in self.modes) + sum(self.n_categories)

    # ---- fit / encode / decode ----------------------------------------------------------------------------------
    @classmethod
    def fit(cls, df: pd.DataFrame, continuous: list[str], discrete: list[str], max_modes: int = 10,
            weight_threshold: float = 0.005, seed: int = 0, rng: np.random.Generator | None = None
            ) -> tuple[TableTransformer, np.ndarray, np.ndarray]:
        """Fit on ``df`` and encode it: (transformer, rows ``float32 [N, D]``, category codes ``int64 [N, M]``)."""
        rng = rng or np.random.default_rng(seed)
        tf = cls(list(df.columns), {c: str(df[c].dtype) for c in df.columns}, list(continuous), list(discrete))
        parts: list[np.ndarray] = []
        for i, col in enumerate(continuous):
            values = df[col].to_numpy(dtype=np.float64)
            norm, gm = ModeNormalizer.fit(values, max_modes, weight_threshold, seed + i)
            tf.normalizers[col] = norm
            alpha, modes = norm.encode(values, gm, rng)
            parts += [alpha[:, None], np.eye(norm.n_modes)[modes]]
        codes = np.zeros((len(df), len(discrete)), dtype=np.int64)
        for j, col in enumerate(discrete):
            values = df[col]
            cats = list(pd.unique(values))
            cats = sorted(cats, key=lambda v: (v is None or (isinstance(v, float) and math.isnan(v)), str(v)))
            tf.categories[col] = [_plain(v) for v in cats]
            codes[:, j] = tf.codes(col, values)
            tf.counts[col] = np.bincount(codes[:, j], minlength=len(cats)).tolist()
            parts.append(np.eye(len(cats))[codes[:, j]])
        return tf, np.concatenate(parts, axis=1).astype(np.float32), codes

    def codes(self, col: str, values: pd.Series) -> np.ndarray:
        """Category index of each value of discrete column ``col`` (NaN → the None category); -1 = unseen."""
        lookup = {v: i for i, v in enumerate(self.categories[col]) if v is not None}
        missing = self.categories[col].index(None) if None in self.categories[col] else -1
        plain = [_plain(v) for v in values.tolist()]
        return np.array([missing if v is None else lookup.get(v, -1) for v in plain], dtype=np.int64)

    def spans(self) -> list[tuple[str, int, int]]:
        """(column, start, end) of each column's block in an encoded row."""
        out, st = [], 0
        for col, k in zip(self.continuous, self.modes, strict=True):
            out.append((col, st, st + 1 + k))
            st += 1 + k
        for col, c in zip(self.discrete, self.n_categories, strict=True):
            out.append((col, st, st + c))
            st += c
        return out

    def decode(self, rows: np.ndarray) -> pd.DataFrame:
        """Encoded rows ``[N, D]`` (α in any range, β/d as scores: argmax) → a table with the original columns,
        column order and dtypes (integer columns rounded; categories restored with their original values)."""
        if rows.ndim != 2 or rows.shape[1] != self.dim:
            raise ValueError(f"encoded rows must be [N, {self.dim}], got {list(rows.shape)}")
        out: dict[str, Any] = {}
        for col, st, ed in self.spans():
            if col in self.normalizers:
                out[col] = self.normalizers[col].decode(rows[:, st], rows[:, st + 1:ed].argmax(axis=1))
            else:
                cats = np.empty(len(self.categories[col]), dtype=object)
                cats[:] = self.categories[col]
                out[col] = cats[rows[:, st:ed].argmax(axis=1)]
        df = pd.DataFrame({c: out[c] for c in self.columns})
        for col in self.columns:
            dtype = self.dtypes[col]
            if col in self.normalizers and dtype.startswith(("int", "uint", "Int", "UInt")):
                df[col] = np.round(df[col].to_numpy(dtype=np.float64))
            if dtype != "object":
                try:
                    df[col] = df[col].astype(dtype)
                except (TypeError, ValueError):  # e.g. a None category in an int column: keep it nullable
                    df[col] = df[col].astype("object")
        return df

    # ---- JSON ---------------------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "columns": self.columns, "dtypes": self.dtypes, "continuous": self.continuous,
                "discrete": self.discrete,
                "normalizers": {c: {"means": n.means.tolist(), "stds": n.stds.tolist()}
                                for c, n in self.normalizers.items()},
                "categories": self.categories, "counts": self.counts}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TableTransformer:
        if d.get("format") != FORMAT:
            raise ValueError(f"table transformer format {d.get('format')!r} is not {FORMAT}; retrain the run")
        norms = {c: ModeNormalizer(np.asarray(v["means"], dtype=np.float64), np.asarray(v["stds"], dtype=np.float64))
                 for c, v in d["normalizers"].items()}
        return cls(d["columns"], d["dtypes"], d["continuous"], d["discrete"], norms, d["categories"], d["counts"])

    def save(self, path: Path) -> None:
        """Write the JSON atomically (``outputs.atomic_file``: a unique temporary name, fsync, rename)."""
        from ganforge.outputs import write_text

        write_text(path, json.dumps(self.to_dict(), indent=1), "--run-dir")

    @classmethod
    def load(cls, path: Path) -> TableTransformer:
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except (OSError, json.JSONDecodeError, KeyError) as exc:
            raise ValueError(f"cannot read the table transformer {str(path)!r} ({type(exc).__name__}); it is "
                             "damaged: delete it to refit it from the run's data") from None
