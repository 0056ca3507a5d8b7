"""Table metrics against scipy / numpy / pandas references, and ML efficacy on tables with a known answer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from ganforge.metrics.tabular import (
    column_shapes,
    contingency_similarity,
    correlation_similarity,
    evaluate_table,
    ks_complement,
    ml_efficacy,
    pair_trends,
    tv_complement,
)


def frames(seed: int = 0, n: int = 500) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)

    def one(shift: float) -> pd.DataFrame:
        a = rng.normal(shift, 1, n)
        return pd.DataFrame({"a": a, "b": 2 * a + rng.normal(0, 1 + shift, n),
                             "c": rng.choice(["x", "y", "z"], n, p=[0.5, 0.3 + shift / 10, 0.2 - shift / 10])})

    return one(0.0), one(0.5)


def test_column_shapes_match_scipy_and_hand_counts() -> None:
    real, synth = frames()
    assert ks_complement(real["a"].to_numpy(), synth["a"].to_numpy()) == pytest.approx(
        1 - stats.ks_2samp(real["a"], synth["a"]).statistic, abs=1e-12)
    p = real["c"].value_counts(normalize=True)
    q = synth["c"].value_counts(normalize=True).reindex(p.index, fill_value=0)
    assert tv_complement(real["c"], synth["c"]) == pytest.approx(1 - 0.5 * (p - q).abs().sum(), abs=1e-12)
    assert tv_complement(pd.Series(["u", "v"]), pd.Series(["w", "w"])) == 0.0  # disjoint supports
    shapes = column_shapes(real, real, ["c"])
    assert shapes == {"a": 1.0, "b": 1.0, "c": 1.0}


def test_pair_trends_match_numpy_and_crosstab() -> None:
    real, synth = frames()
    r1, r2 = np.corrcoef(real["a"], real["b"])[0, 1], np.corrcoef(synth["a"], synth["b"])[0, 1]
    assert correlation_similarity(real[["a", "b"]], synth[["a", "b"]]) == pytest.approx(1 - abs(r1 - r2) / 2)
    # continuous × discrete: the continuous column in 10 equal-width bins of the real range, outer bins open
    edges = np.histogram_bin_edges(real["a"], bins=10)
    edges[0], edges[-1] = -np.inf, np.inf
    jr = pd.crosstab(np.digitize(real["a"], edges), real["c"].to_numpy(), normalize=True)
    js = pd.crosstab(np.digitize(synth["a"], edges), synth["c"].to_numpy(), normalize=True)
    jr, js = jr.align(js, fill_value=0)
    expected = 1 - 0.5 * (jr - js).abs().to_numpy().sum()
    assert contingency_similarity(real[["a", "c"]], synth[["a", "c"]], {"a", "b"}) == pytest.approx(expected)


def test_ml_efficacy_and_the_quality_score() -> None:
    rng = np.random.default_rng(0)
    n = 600
    x = rng.normal(size=n)
    table = pd.DataFrame({"x": x, "g": rng.choice(["p", "q"], n), "y": np.where(x > 0, "pos", "neg"),
                          "v": 3 * x + 0.01 * rng.normal(size=n)})
    train, test = table.iloc[:400], table.iloc[400:]
    scores = ml_efficacy(train.drop(columns="v"), test.drop(columns="v"), "y", ["g", "y"])
    assert scores["f1_logreg"] > 0.97
    assert scores["f1_tree"] > 0.95
    flipped = train.drop(columns="v").assign(y=np.where(train["x"] > 0, "neg", "pos"))
    assert ml_efficacy(flipped, test.drop(columns="v"), "y", ["g", "y"])["f1_logreg"] < 0.05  # wrong-way synthetic
    r2 = ml_efficacy(train.drop(columns="y"), test.drop(columns="y"), "v", ["g"])
    assert r2["r2_linear"] > 0.999
    out = evaluate_table(train, train, test, ["g", "y"], "y")
    assert out["column_shapes"] == 1.0
    assert out["pair_trends"] == pytest.approx(1.0)
    assert out["quality"] == 1.0
    assert out["efficacy/f1_logreg"] == out["efficacy_real/f1_logreg"]


def test_pair_scores_equal_sdmetrics_metrics() -> None:
    """Our pair scores are sdmetrics' own CorrelationSimilarity / ContingencySimilarity (same binning), pair by pair.
    (sdmetrics' QualityReport averages them after its own preprocessing, which can drop pairs: see docs/tabular.md.)"""
    cps = pytest.importorskip("sdmetrics.column_pairs")
    rng = np.random.default_rng(0)
    n = 500
    real = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "c": rng.choice(list("xyz"), n)})
    real["b"] += 0.8 * real["a"]
    synth = pd.DataFrame({"a": 1.3 * rng.normal(size=n), "b": rng.normal(size=n),
                          "c": rng.choice(list("xyz"), n, p=[0.5, 0.3, 0.2])})
    ours = pair_trends(real, synth, ["c"])
    assert ours[("a", "b")] == pytest.approx(cps.CorrelationSimilarity.compute(real[["a", "b"]], synth[["a", "b"]]),
                                             abs=1e-12)
    for col in ("a", "b"):
        want = cps.ContingencySimilarity.compute(real[[col, "c"]], synth[[col, "c"]], continuous_column_names=[col])
        assert ours[(col, "c")] == pytest.approx(want, abs=1e-12)
