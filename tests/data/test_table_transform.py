"""The table encoding's category codes: the vectorised lookup (one per distinct value) gives the per-row answer."""

from __future__ import annotations

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
