"""The table encoding: category codes (the vectorised lookup gives the per-row answer), learned rounding and range
clipping of decoded continuous values, and older transformer JSON."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ganforge.data.table_transform import TableTransformer, _plain


def per_row_codes(categories: list, values: pd.Series) -> np.ndarray:
    """The definition, one Python lookup per row: NaN → the None category, unseen → −1."""
    lookup = {v: i for i, v in enumerate(categories) if v is not None}
    missing = categories.index(None) if None in categories else -1
    return np.array([missing if _plain(v) is None else lookup.get(_plain(v), -1) for v in values.tolist()])


def test_codes_match_the_per_row_lookup_with_nan_unseen_and_mixed_types() -> None:
    rng = np.random.default_rng(0)
    train = pd.DataFrame({"s": rng.choice(["a", "b", "c"], 200), "i": rng.integers(0, 5, 200),
                          "f": rng.choice([0.5, 1.5, np.nan], 200), "b": rng.random(200) < 0.3,
                          "o": pd.Series(rng.choice(["x", "y"], 200), dtype=object).where(rng.random(200) < 0.8)})
    tf, _, codes = TableTransformer.fit(train, [], list(train.columns), seed=0)
    for j, col in enumerate(train.columns):
        assert np.array_equal(codes[:, j], per_row_codes(tf.categories[col], train[col])), col
        assert np.array_equal(np.bincount(codes[:, j]), tf.counts[col])
    assert None in tf.categories["f"]  # NaN kept as a category of its own
    assert None in tf.categories["o"]
    new = pd.DataFrame({"s": ["c", "z", "a"], "i": [4, 9, 0], "f": [np.nan, 2.5, 0.5], "b": [True, False, True],
                        "o": pd.Series([None, "x", "w"], dtype=object)})
    for col in new.columns:  # unseen values → −1, NaN → the None category
        assert np.array_equal(tf.codes(col, new[col]), per_row_codes(tf.categories[col], new[col])), col
    assert tf.codes("s", new["s"]).tolist() == [2, -1, 0]
    assert tf.codes("s", new["s"].iloc[:0]).shape == (0,)


def test_learned_rounding_and_range_clip_apply_on_decode_and_survive_json(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    n = 300
    df = pd.DataFrame({"year": rng.integers(1960, 2000, n).astype(np.float64),  # integer-valued float (NaN upstream)
                       "price": np.round(rng.gamma(2.0, 10.0, n), 2),  # cents
                       "ratio": rng.random(n) / 3.0,  # no finite number of decimals ≤ 15 holds these
                       "kind": rng.choice(["a", "b"], n)})
    cont = ["year", "price", "ratio"]
    tf, x, _ = TableTransformer.fit(df, cont, ["kind"], seed=0, clip_range=True, learn_rounding=True)
    assert [tf.normalizers[c].digits for c in cont] == [0, 2, None]
    # Decode α = ±1 (the extremes G can reach) and every mode: values leave the training range before the clip.
    rows = np.repeat(x[:1], 8, axis=0)
    for col, st, ed in tf.spans():
        if col in tf.normalizers:
            rows[:, st] = np.linspace(-1.0, 1.0, 8)
            rows[:, st + 1:ed] = np.eye(ed - st - 1)[np.arange(8) % (ed - st - 1)]
    out = tf.decode(rows)
    unclipped = TableTransformer.fit(df, cont, ["kind"], seed=0)[0].decode(rows)  # neither option
    for col in cont:
        lo, hi = df[col].min(), df[col].max()
        assert out[col].between(lo, hi).all(), col
        assert not unclipped[col].between(lo, hi).all(), col  # the test reaches outside the range
    assert np.array_equal(out["year"], np.round(out["year"]))
    assert np.array_equal(out["price"], np.round(out["price"], 2))
    # ratio: clipped only; inside the range it equals the unrounded decode (the same float64 arithmetic, then np.clip)
    inside = unclipped["ratio"].between(df["ratio"].min(), df["ratio"].max())
    assert np.array_equal(out["ratio"][inside], unclipped["ratio"][inside])
    tf.save(tmp_path / "tf.json")
    back = TableTransformer.load(tmp_path / "tf.json")
    assert back.decode(rows).equals(out)


def test_older_transformer_json_without_range_or_digits_decodes_as_before(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    df = pd.DataFrame({"v": rng.normal(0, 1, 200), "k": rng.choice(["a", "b"], 200)})
    tf, x, _ = TableTransformer.fit(df, ["v"], ["k"], seed=0, clip_range=True, learn_rounding=True)
    d = tf.to_dict()
    for key in ("low", "high", "digits"):
        del d["normalizers"]["v"][key]
    old = TableTransformer.from_dict(d)
    plain = TableTransformer.fit(df, ["v"], ["k"], seed=0)[0]  # neither option: what older runs decoded
    rows = x.copy()
    rows[:, 0] = 1.0  # α at its extreme: beyond the training max for some modes
    assert old.decode(rows).equals(plain.decode(rows))
