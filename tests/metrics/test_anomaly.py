"""Anomaly scoring, the sliding-window threshold and Orion's overlap F1 against hand-worked examples and scipy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from ganforge.metrics import anomaly as A


def test_window_median_and_series_from_windows() -> None:
    # 3 windows of width 3 over 5 points: point 2 is covered by (w0, j2), (w1, j1), (w2, j0)
    y_hat = np.array([[1.0, 2.0, 9.0], [5.0, 3.0, 4.0], [0.0, 7.0, 8.0]])
    assert A.window_median(y_hat).tolist() == [1.0, 3.5, 3.0, 5.5, 8.0]
    windows = np.array([[0, 1, 2], [1, 2, 3], [2, 3, 4]], dtype=float)
    assert A.windows_to_series(windows).tolist() == [0, 1, 2, 3, 4]


def test_kde_mode_matches_scipy() -> None:
    rng = np.random.default_rng(0)
    rows = np.concatenate([rng.normal(0, 1, (5, 7)), rng.normal(3, 0.1, (5, 7))], 1)
    got = A._kde_mode(rows)
    for row, value in zip(rows, got, strict=True):
        kde = stats.gaussian_kde(row)
        assert value == row[np.argmax(kde(row))]
    assert A._kde_mode(np.array([[2.0, 2.0, 2.0], [1.0, np.nan, np.nan]])).tolist() == [2.0, 1.0]


def _dtw_reference(a: list[float], b: list[float]) -> float:
    n = len(a)
    d = np.full((n + 1, n + 1), np.inf)
    d[0, 0] = 0
    for i in range(1, n + 1):
        for j in range(1, n + 1):
            d[i, j] = (a[i - 1] - b[j - 1]) ** 2 + min(d[i - 1, j], d[i, j - 1], d[i - 1, j - 1])
    return float(np.sqrt(d[n, n]))


def test_dtw_distance() -> None:
    assert A.dtw_distance(np.array([0.0, 0.0, 1.0]), np.array([0.0, 1.0, 1.0]))[0] == 0.0  # a warp aligns them
    assert A.dtw_distance(np.array([0.0, 0.0]), np.array([1.0, 3.0]))[0] == pytest.approx(np.sqrt(1 + 9))
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(4, 6)), rng.normal(size=(4, 6))
    np.testing.assert_allclose(A.dtw_distance(a, b), [_dtw_reference(x, y) for x, y in zip(a, b, strict=True)],
                               rtol=1e-12)


def test_reconstruction_errors_point_and_area() -> None:
    true, pred = np.zeros(8), np.array([0, 0, 0, 4.0, 0, 0, 0, 0])
    assert A.reconstruction_errors(true, pred, "point", smooth=False).tolist() == pred.tolist()
    # centred rolling mean of width 2, min_periods 1 (pandas: window [t-1, t])
    assert A.reconstruction_errors(true, pred, "point", smoothing_window=2).tolist() == [0, 0, 0, 2, 2, 0, 0, 0]
    area = A.reconstruction_errors(true, pred, "area", score_window=3, smooth=False)
    assert area[3] == pytest.approx(4.0)
    assert area[2] == pytest.approx(2.0)
    assert area[0] == 0.0
    with pytest.raises(ValueError, match="unknown rec_error_type"):
        A.reconstruction_errors(true, pred, "l1")


def test_critic_scores_and_combinations() -> None:
    c = np.array([0.0, 1.0, 2.0, 3.0, 10.0])
    mean = np.mean([1.0, 2.0, 3.0])  # inside [q25, q75] = [1, 3]
    np.testing.assert_allclose(A.critic_scores(c, 1), np.abs(c - mean) / c.std() + 1)
    rng = np.random.default_rng(2)
    windows = rng.normal(size=(30, 10))
    y_hat = windows + rng.normal(scale=0.1, size=windows.shape)
    critic = rng.normal(size=30)
    mult = A.score_anomalies(windows, y_hat, critic, "point", "mult")
    summed = A.score_anomalies(windows, y_hat, critic, "point", "sum", lambda_rec=0.25)
    rec = A.score_anomalies(windows, y_hat, critic, "point", "rec")
    crit = mult.score / rec.score  # critic z-scores (rec z-scores are >= 1)
    np.testing.assert_allclose(summed.score, 0.75 * (crit - 1) + 0.25 * (rec.score - 1), atol=1e-12)
    with pytest.raises(ValueError, match="unknown comb"):
        A.score_anomalies(windows, y_hat, critic, "point", "max")


def test_find_anomalies_single_window_hand_example() -> None:
    errors = np.zeros(30)
    errors[10] = 10.0
    mean, std = errors.mean(), errors.std()
    found = A.find_anomalies(errors, window_size_portion=1.0, window_step_size_portion=1.0, anomaly_padding=0)
    threshold = mean + 4 * std
    assert found == [(10, 10, pytest.approx((10.0 - threshold) / (mean + std)))]
    padded = A.find_anomalies(errors, window_size_portion=1.0, window_step_size_portion=1.0, anomaly_padding=2)
    assert [(a, b) for a, b, _ in padded] == [(8, 12)]


def test_prune_and_merge() -> None:
    # maxima 10 and 9.5 (drop 5 % < 10 %) then 9.5 → 1 (drop ≥ 10 %): both kept
    assert [s for s in A._prune([(0, 1), (5, 6)], [10.0, 9.5], 1.0, 0.1)] == [(0, 1, 10.0), (5, 6, 9.5)]
    # 10 → 2 is a big drop, 2 → 1.9 is not: only the first sequence is kept
    assert A._prune([(0, 1), (5, 6)], [10.0, 2.0], 1.9, 0.1) == [(0, 1, 10.0)]
    merged = A._merge([(0, 4, 1.0), (3, 9, 3.0), (20, 21, 5.0)])
    assert merged[0][:2] == (0, 9)
    assert merged[0][2] == pytest.approx((4 * 1 + 6 * 3) / 10)
    assert merged[1] == (20, 21, 5.0)


def test_overlap_f1_hand_examples() -> None:
    s = A.overlap_scores([(10, 20), (50, 60)], [(15, 16), (18, 30), (70, 80)])
    assert (s.tp, s.fp, s.fn) == (1, 1, 1)
    assert (s.precision, s.recall, s.f1) == (0.5, 0.5, 0.5)
    assert A.overlap_scores([(5, 5)], [(5, 5)]).tp == 1  # inclusive one-point intervals overlap (Orion pads +1)
    assert A.overlap_scores([(5, 5)], [(6, 8)]).fp == 1
    assert A.overlap_scores([(1, 2)], []).f1 == 0.0


def test_baselines() -> None:
    x = np.r_[np.zeros(5), 1.0, 2.0]
    z = A.moving_zscore(x, window=3)
    assert z[:5].tolist() == [0.0] * 5  # no history yet, then a zero-std history
    assert z[6] == pytest.approx(abs(2.0 - 1 / 3) / np.std([0, 0, 1.0]))
    rng = np.random.default_rng(3)
    series = np.zeros(3000)
    for t in range(2, 3000):
        series[t] = 0.6 * series[t - 1] - 0.3 * series[t - 2] + rng.normal(scale=0.1)
    coef = A.fit_ar(series, 2)
    np.testing.assert_allclose(coef, [-0.3, 0.6, 0.0], atol=0.05)  # [a_{t-2}, a_{t-1}, intercept]
    assert A.ar_errors(coef, series).shape == series.shape
