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


# ---- parity with Orion's published algorithm --------------------------------------------------------------------
# A line-by-line numpy/pandas/scipy transcription of Orion's ``orion.primitives.tadgan.score_anomalies``,
# ``timeseries_errors.reconstruction_errors`` / ``_dtw_error`` and ``timeseries_anomalies.find_anomalies`` (fixed
# threshold), written with loops as Orion writes them, so that ganforge's vectorised code is checked against it.


def _orion_dtw(a: np.ndarray, b: np.ndarray) -> float:
    d = np.full((len(a) + 1, len(b) + 1), np.inf)
    d[0, 0] = 0.0
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i, j] = (a[i - 1] - b[j - 1]) ** 2 + min(d[i - 1, j], d[i, j - 1], d[i - 1, j - 1])
    return float(np.sqrt(d[-1, -1]))


def _orion_score_anomalies(y: np.ndarray, y_hat: np.ndarray, critic: np.ndarray, comb: str, lambda_rec: float,
                           score_window: int = 10) -> np.ndarray:
    import math

    import pandas as pd

    smooth_window = math.trunc(y.shape[0] * 0.01)  # y: the windows [N, W] -> 1 % of N
    true = [row[0] for row in y] + list(y[-1][1:])
    n, w = y_hat.shape
    num = w + (n - 1)
    kde_max, preds = [], []
    for i in range(num):
        cols = range(max(0, i - num + w), min(i + 1, w))
        c = np.asarray([critic[i - j] for j in cols])
        preds.append(np.median([y_hat[i - j, j] for j in cols]))
        if len(c) > 1:
            try:
                kde_max.append(c[np.argmax(stats.gaussian_kde(c)(c))])
            except np.linalg.LinAlgError:
                kde_max.append(np.median(c))
        else:
            kde_max.append(np.median(c))
    kde_max = np.asarray(kde_max)
    lo, hi = np.quantile(kde_max, 0.25), np.quantile(kde_max, 0.75)
    mean = kde_max[(kde_max >= lo) & (kde_max <= hi)].mean()
    c_scores = np.abs((kde_max - mean) / kde_max.std()) + 1
    c_scores = pd.Series(c_scores).rolling(smooth_window, center=True, min_periods=smooth_window // 2).mean().values
    length = (score_window // 2) * 2 + 1
    half = length // 2
    y_pad, p_pad = np.pad(np.asarray(true), half), np.pad(np.asarray(preds), half)
    sim = [_orion_dtw(y_pad[i : i + length], p_pad[i : i + length]) for i in range(len(true) - length)]
    errors = [0.0] * half + sim + [0.0] * (len(true) - len(sim) - half)
    rec = pd.Series(errors).rolling(smooth_window, center=True, min_periods=smooth_window // 2).mean().values
    rec = np.clip(stats.zscore(rec), 0, None) + 1
    if comb == "mult":
        return c_scores * rec
    return (1 - lambda_rec) * (c_scores - 1) + lambda_rec * (rec - 1)


def _orion_find_anomalies(errors: np.ndarray, size_portion: float = 0.33, step_portion: float = 0.1, k: float = 4.0,
                          min_percent: float = 0.1, padding: int = 50) -> list[tuple[int, int]]:
    size = int(np.ceil(len(errors) * size_portion))
    step = int(np.ceil(size * step_portion))
    found: list[list[float]] = []
    start = end = 0
    while end < len(errors):
        end = start + size
        win = errors[start:end]
        threshold = win.mean() + k * win.std()
        above = win > threshold
        for idx in np.flatnonzero(win > threshold):
            above[max(0, idx - padding) : idx + padding + 1] = True
        max_below = 0.0 if above.all() else win[~above].max()
        shifted = np.concatenate([[False], above[:-1]])
        starts = np.flatnonzero(above & (above != shifted)).tolist()
        ends = (np.flatnonzero(~above & (above != shifted)) - 1).tolist()
        if len(ends) == len(starts) - 1:
            ends.append(len(above) - 1)
        rows = sorted([(max_below, -1, -1)] + [(win[a : b + 1].max(), a, b) for a, b in zip(starts, ends, strict=True)],
                      key=lambda r: -r[0])
        last = -1
        for i in range(len(rows) - 1):
            if (rows[i][0] - rows[i + 1][0]) / rows[i][0] >= min_percent:
                last = i
        denominator = win.mean() + win.std()
        found += [[a + start, b + start, (m - threshold) / denominator] for m, a, b in rows[: last + 1]]
        start += step
    merged: list[list[float]] = []
    for seq in sorted(found, key=lambda s: s[0]):
        if merged and seq[0] <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], seq[1])
        else:
            merged.append(list(seq))
    return [(int(a), int(b)) for a, b, *_ in merged]


def _hand_made_windows() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A sine of period 25 over 309 points with a bump at 200-206, cut into N = 260 windows of W = 50; the
    "reconstruction" is the sine without the bump plus small noise, the critic a noisy value lower on the bump.
    N = 260 is chosen so that 1 % of N (2) differs from 1 % of the T = 309 points (3)."""
    rng = np.random.default_rng(0)
    t = np.arange(309)
    clean = np.sin(2 * np.pi * t / 25)
    series = clean.copy()
    series[200:207] += 1.5
    windows = np.lib.stride_tricks.sliding_window_view(series, 50).copy()  # [260, 50]
    y_hat = np.lib.stride_tricks.sliding_window_view(clean, 50) + rng.normal(scale=0.05, size=windows.shape)
    critic = rng.normal(scale=0.1, size=260)
    critic[150:207] -= 1.0  # windows covering the bump
    return series, windows, y_hat, critic


@pytest.mark.parametrize("comb", ["mult", "sum"])
def test_score_and_find_anomalies_equal_orions_published_algorithm(comb: str) -> None:
    series, windows, y_hat, critic = _hand_made_windows()
    np.testing.assert_array_equal(A.windows_to_series(windows), series)
    ours = A.score_anomalies(windows, y_hat, critic, "dtw", comb, lambda_rec=0.5)
    orion = _orion_score_anomalies(windows, y_hat, critic, comb, 0.5)
    # Same float64 formulas, summed in other orders (vectorised DTW/KDE vs loops, pandas rolling sums): the
    # differences are a few ulps of values O(1-10) accumulated over <= 121 DTW terms: 1e-9 is ~10^6 ulps (2.2e-16)
    # of slack, and far below the 1e-2 differences the window-count vs series-length smoothing makes (checked below).
    assert np.isfinite(ours.score).all()
    assert np.isfinite(orion).all()
    np.testing.assert_allclose(ours.score, orion, rtol=0, atol=1e-9)
    # the smoothing window is 1 % of the N = 260 windows (2 points), not of the 309-point series (3 points)
    by_length = A.score_anomalies(windows, y_hat, critic, "dtw", comb, lambda_rec=0.5, smooth_window=3)
    assert np.abs(by_length.score - orion).max() > 1e-2
    found = [(a, b) for a, b, _ in A.find_anomalies(ours.score)]
    assert found == _orion_find_anomalies(orion)
    assert found
    if comb == "mult":  # the product peaks where both the critic and the reconstruction error do: on the bump
        assert any(a <= 206 and b >= 200 for a, b in found)
