"""Synthetic-table metrics: SDMetrics' quality score (column shapes, pair trends) and CTGAN's machine-learning
efficacy.

Column shapes (per column, higher is better, 1 = identical):
    continuous: KS complement  1 − sup_x |F_real(x) − F_synth(x)|  (two-sample Kolmogorov-Smirnov statistic)
    discrete:   TV complement  1 − ½ Σ_k |p_real(k) − p_synth(k)|
Pair trends (per pair of columns):
    both continuous: correlation similarity  1 − |ρ_real − ρ_synth| / 2  (Pearson)
    otherwise:       contingency similarity  1 − ½ Σ_{a,b} |p_real(a, b) − p_synth(a, b)|, a continuous column binned
                     into 10 equal-width bins of the real column's range (outer edges open), as sdmetrics does
quality = mean(mean column shape, mean pair trend) (sdmetrics ``QualityReport.get_score``).
ML efficacy (Xu et al. 2019, §5.1): fit a model on the synthetic rows (and, for reference, on the real training
rows), score it on the held-out real rows: macro-F1 for a discrete target, R² for a continuous one.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np
from scipy import stats

from ganforge.lazy import pandas as pd

N_BINS = 10


def ks_complement(real: np.ndarray, synth: np.ndarray) -> float:
    """1 − the two-sample KS statistic."""
    return 1.0 - float(stats.ks_2samp(real, synth).statistic)


def _codes(real: pd.Series, synth: pd.Series) -> tuple[np.ndarray, np.ndarray, int]:
    """Joint integer codes of the values of two columns (NaN a value of its own)."""
    both = pd.concat([real.astype("object"), synth.astype("object")], ignore_index=True)
    codes, uniques = pd.factorize(both, use_na_sentinel=False)
    return codes[: len(real)], codes[len(real):], len(uniques)


def tv_complement(real: pd.Series, synth: pd.Series) -> float:
    """1 − total variation distance between the category frequencies."""
    r, s, k = _codes(real, synth)
    return 1.0 - 0.5 * float(np.abs(np.bincount(r, minlength=k) / len(r) - np.bincount(s, minlength=k) / len(s)).sum())


def binned(real: pd.Series, synth: pd.Series, bins: int = N_BINS) -> tuple[np.ndarray, np.ndarray]:
    """Bin indices of both columns on the real column's equal-width edges, outer edges open (sdmetrics)."""
    edges = np.histogram_bin_edges(real.to_numpy(dtype=np.float64), bins=bins)
    edges[0], edges[-1] = -np.inf, np.inf
    return np.digitize(real.to_numpy(dtype=np.float64), edges), np.digitize(synth.to_numpy(dtype=np.float64), edges)


def correlation_similarity(real: pd.DataFrame, synth: pd.DataFrame) -> float:
    """1 − |ρ_real − ρ_synth| / 2 for two continuous columns (Pearson; a constant synthetic column counts ρ = 0)."""
    def rho(df: pd.DataFrame) -> float:
        a, b = (df.iloc[:, i].to_numpy(dtype=np.float64) for i in (0, 1))
        if a.std() == 0 or b.std() == 0:
            return 0.0
        return float(stats.pearsonr(a, b).statistic)

    return 1.0 - abs(rho(real) - rho(synth)) / 2


def contingency_similarity(real: pd.DataFrame, synth: pd.DataFrame, continuous: set[str]) -> float:
    """1 − ½ Σ |p_real(a, b) − p_synth(a, b)| over the joint categories (continuous columns binned)."""
    keys_r, keys_s = [], []
    for col in real.columns[:2]:
        if col in continuous:
            r, s = binned(real[col], synth[col])
            k = N_BINS + 2
        else:
            r, s, k = _codes(real[col], synth[col])
        keys_r.append(r)
        keys_s.append(s)
        width = k
    joint_r = keys_r[0] * width + keys_r[1]
    joint_s = keys_s[0] * width + keys_s[1]
    n = int(max(joint_r.max(), joint_s.max())) + 1
    p_r, p_s = np.bincount(joint_r, minlength=n) / len(joint_r), np.bincount(joint_s, minlength=n) / len(joint_s)
    return 1.0 - 0.5 * float(np.abs(p_r - p_s).sum())


def column_shapes(real: pd.DataFrame, synth: pd.DataFrame, discrete: list[str]) -> dict[str, float]:
    return {col: tv_complement(real[col], synth[col]) if col in discrete
            else ks_complement(real[col].to_numpy(dtype=np.float64), synth[col].to_numpy(dtype=np.float64))
            for col in real.columns}


def pair_trends(real: pd.DataFrame, synth: pd.DataFrame, discrete: list[str]) -> dict[tuple[str, str], float]:
    continuous = {c for c in real.columns if c not in discrete}
    out = {}
    for a, b in combinations(real.columns, 2):
        if a in continuous and b in continuous:
            out[(a, b)] = correlation_similarity(real[[a, b]], synth[[a, b]])
        else:
            out[(a, b)] = contingency_similarity(real[[a, b]], synth[[a, b]], continuous)
    return out


# ---- machine-learning efficacy -------------------------------------------------------------------------------------

def _features(train: pd.DataFrame, test: pd.DataFrame, target: str, discrete: list[str]
              ) -> tuple[np.ndarray, np.ndarray]:
    """One-hot discrete features (categories of the training frame; unseen ones all-zero), standardised numbers."""
    cols = [c for c in train.columns if c != target]
    cat = [c for c in cols if c in discrete]
    num = [c for c in cols if c not in discrete]
    parts_tr, parts_te = [], []
    if num:
        a, b = train[num].to_numpy(dtype=np.float64), test[num].to_numpy(dtype=np.float64)
        mu, sd = a.mean(0), a.std(0)
        sd[sd == 0] = 1.0
        parts_tr.append((a - mu) / sd)
        parts_te.append((b - mu) / sd)
    for c in cat:
        levels = pd.unique(train[c].astype("object"))
        parts_tr.append((train[c].astype("object").to_numpy()[:, None] == levels[None]).astype(np.float64))
        parts_te.append((test[c].astype("object").to_numpy()[:, None] == levels[None]).astype(np.float64))
    return np.concatenate(parts_tr, 1), np.concatenate(parts_te, 1)


def ml_efficacy(train: pd.DataFrame, test: pd.DataFrame, target: str, discrete: list[str], seed: int = 0
                ) -> dict[str, float]:
    """Scores on ``test`` of models fitted on ``train``: logistic regression and a depth-limited decision tree
    (macro-F1) for a discrete target; linear regression and a decision tree (R²) for a continuous one."""
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.metrics import f1_score, r2_score
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    x_tr, x_te = _features(train, test, target, discrete)
    if target in discrete:
        y_tr = train[target].astype(str).to_numpy()
        y_te = test[target].astype(str).to_numpy()
        if len(np.unique(y_tr)) < 2:  # a synthetic table with one class: the constant predictor
            return {"f1_logreg": float(f1_score(y_te, np.full(len(y_te), y_tr[0]), average="macro")),
                    "f1_tree": float(f1_score(y_te, np.full(len(y_te), y_tr[0]), average="macro"))}
        models = {"f1_logreg": LogisticRegression(max_iter=500, class_weight="balanced"),
                  "f1_tree": DecisionTreeClassifier(max_depth=10, class_weight="balanced", random_state=seed)}
        return {k: float(f1_score(y_te, m.fit(x_tr, y_tr).predict(x_te), average="macro")) for k, m in models.items()}
    y_tr, y_te = train[target].to_numpy(dtype=np.float64), test[target].to_numpy(dtype=np.float64)
    models = {"r2_linear": LinearRegression(), "r2_tree": DecisionTreeRegressor(max_depth=10, random_state=seed)}
    return {k: float(r2_score(y_te, m.fit(x_tr, y_tr).predict(x_te))) for k, m in models.items()}


def evaluate_table(real: pd.DataFrame, synth: pd.DataFrame, test: pd.DataFrame, discrete: list[str], target: str,
                   seed: int = 0, real_efficacy: bool = True) -> dict[str, Any]:
    """Every metric: ``column_shapes``, ``pair_trends``, ``quality``, per-column shapes, and ML efficacy on the
    held-out rows (``efficacy/<model>`` on synthetic rows, ``efficacy_real/<model>`` on the real training rows)."""
    shapes = column_shapes(real, synth, discrete)
    pairs = pair_trends(real, synth, discrete)
    out: dict[str, Any] = {"column_shapes": float(np.mean(list(shapes.values()))),
                           "pair_trends": float(np.mean(list(pairs.values()))) if pairs else 1.0}
    out["quality"] = (out["column_shapes"] + out["pair_trends"]) / 2
    out.update({f"shape/{c}": v for c, v in shapes.items()})
    if target and len(test):
        out.update({f"efficacy/{k}": v for k, v in ml_efficacy(synth, test, target, discrete, seed).items()})
        if real_efficacy:
            out.update({f"efficacy_real/{k}": v for k, v in ml_efficacy(real, test, target, discrete, seed).items()})
    return out
