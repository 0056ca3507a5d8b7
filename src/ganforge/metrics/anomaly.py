"""Anomaly scores, thresholds and interval metrics for time series (TadGAN, Geiger et al. 2020, §III-C; Orion).

From window reconstructions to scored intervals, as Orion's TadGAN pipeline does it:

1. ``window_median``: every point is covered by up to W windows; its reconstruction is the median of their
   predictions (Orion ``reconstruction_errors``), its critic value the mode of a Gaussian KDE over the Cx scores of
   those windows (``critic_per_point``; Orion ``score_anomalies``).
2. ``reconstruction_errors``: point-wise |x − x̂|, area (difference of trapezoid areas over ``score_window``), or DTW
   (over windows of ``score_window`` + 1 points), then a centred rolling mean over 1 % of the number of windows N
   (Orion ``score_anomalies``: ``math.trunc(y.shape[0] * 0.01)`` with ``y`` the windows ``[N, W]``, not the series).
3. ``score_anomalies``: z-scores — reconstruction z-scores clipped at 0 plus 1, critic |z| + 1 (the mean taken
   over the inter-quartile range), smoothed — combined by product (``mult``) or convex sum with weight α
   (``sum``: (1 − α)·(critic − 1) + α·(rec − 1)), paper §III-C eq. for a(x).
4. ``find_anomalies``: the sliding-window threshold: windows of 1/3 of the series moved by 1/10 of that, threshold
   mean + k·std (k = 4) in each, sequences above it padded by 50 points, pruned by ``min_percent``, merged.
5. ``overlap_scores``: Orion's overlapping-segment precision / recall / F1 (``contextual_f1_score`` with the
   overlap-segment method, i.e. ``weighted=False``): a labelled interval is a true positive when any detected
   interval overlaps it; a detected interval overlapping none is a false positive.

Intervals are inclusive index pairs ``(start, end)`` throughout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import integrate

from ganforge.lazy import pandas as pd

Interval = tuple[int, int]

REC_ERROR_TYPES = ("point", "area", "dtw")
COMBINATIONS = ("mult", "sum", "rec")


# ---- from windows to points -----------------------------------------------------------------------------------------


def _diagonals(values: np.ndarray) -> np.ndarray:
    """``[N, W]`` window values (step 1) → ``[N + W − 1, W]`` per point, NaN where no window covers it:
    row t holds ``values[t − j, j]`` for every window t − j that contains point t."""
    n, w = values.shape
    out = np.full((n + w - 1, w), np.nan)
    rows = np.arange(n)[:, None] + np.arange(w)[None, :]  # point index of values[i, j]
    out[rows, np.broadcast_to(np.arange(w), (n, w))] = values
    return out


def window_median(y_hat: np.ndarray) -> np.ndarray:
    """Per-point median of the overlapping window predictions ``y_hat [N, W]`` → ``[N + W − 1]``."""
    return np.nanmedian(_diagonals(np.asarray(y_hat, dtype=np.float64)), axis=1)


def windows_to_series(windows: np.ndarray) -> np.ndarray:
    """The series ``[N + W − 1]`` that step-1 windows ``[N, W]`` were cut from (first column, then the last window)."""
    return np.concatenate([windows[:, 0], windows[-1, 1:]])


def _kde_mode(values: np.ndarray) -> np.ndarray:
    """For each row of ``values [M, n]`` (NaN = absent), the sample with the highest Gaussian-KDE density among the
    row's samples (scipy ``gaussian_kde`` with Scott's bandwidth h = σ·n^(−1/5), σ with ddof 1); the median for a row
    of one sample or zero spread (where scipy raises LinAlgError and Orion takes the median)."""
    out = np.empty(len(values))
    counts = np.sum(~np.isnan(values), axis=1)
    for n in np.unique(counts):
        rows = np.flatnonzero(counts == n)
        v = np.sort(values[rows], axis=1)[:, :n]  # the n present samples (NaN sort last)
        if n < 2:
            out[rows] = v[:, 0]
            continue
        std = v.std(axis=1, ddof=1)
        flat = std <= 0
        h = np.where(flat, 1.0, std * n ** (-1.0 / 5.0))[:, None, None]
        diff = (v[:, :, None] - v[:, None, :]) / h  # [m, n, n]
        density = np.exp(-0.5 * diff**2).sum(axis=2)  # ∝ KDE at each sample (same h and n within the row)
        out[rows] = np.where(flat, np.median(v, axis=1), v[np.arange(len(rows)), density.argmax(axis=1)])
    return out


def critic_per_point(critic: np.ndarray, window: int) -> np.ndarray:
    """Cx scores of the windows ``[N]`` → one value per point ``[N + W − 1]``: the KDE mode over the windows that
    cover the point (Orion ``score_anomalies``' ``critic_kde_max``)."""
    per_window = np.repeat(np.asarray(critic, dtype=np.float64)[:, None], window, axis=1)
    return _kde_mode(_diagonals(per_window))


# ---- reconstruction errors ------------------------------------------------------------------------------------------


def dtw_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dynamic-time-warping distance of each row pair of ``a, b [M, L]`` (or two 1-D arrays): the classic DTW with
    squared point costs, D(i, j) = (a_i − b_j)² + min(D(i−1, j), D(i, j−1), D(i−1, j−1)), returning sqrt(D(L, L))
    (pyts ``metrics.dtw(dist="square", method="classic")``, which Orion uses)."""
    a, b = np.atleast_2d(np.asarray(a, dtype=np.float64)), np.atleast_2d(np.asarray(b, dtype=np.float64))
    m, length = a.shape
    acc = np.full((m, length + 1, length + 1), np.inf)
    acc[:, 0, 0] = 0.0
    for i in range(1, length + 1):
        cost = (a[:, i - 1, None] - b) ** 2  # [M, L]: (a_i − b_j)² for every j
        for j in range(1, length + 1):
            acc[:, i, j] = cost[:, j - 1] + np.minimum(np.minimum(acc[:, i - 1, j], acc[:, i, j - 1]),
                                                       acc[:, i - 1, j - 1])
    out = np.sqrt(acc[:, length, length])
    return out if out.shape[0] > 1 else out[:1]


def _dtw_error(y: np.ndarray, y_hat: np.ndarray, score_window: int) -> np.ndarray:
    """Orion ``_dtw_error``: DTW over centred windows of ``score_window // 2 · 2 + 1`` points of the zero-padded
    signals, one per point; the last ``length`` points (which Orion's loop does not reach) and the first half-window
    are 0."""
    length = (score_window // 2) * 2 + 1
    half = length // 2
    y_pad, y_hat_pad = np.pad(y, half), np.pad(y_hat, half)
    count = max(0, len(y) - length)
    out = np.zeros(len(y))
    if count:
        a = np.lib.stride_tricks.sliding_window_view(y_pad, length)[:count]
        b = np.lib.stride_tricks.sliding_window_view(y_hat_pad, length)[:count]
        out[half : half + count] = dtw_distance(a, b)
    return out


def _rolling_mean(x: np.ndarray, window: int) -> np.ndarray:
    """pandas' centred rolling mean with ``min_periods = window // 2`` (Orion's smoothing)."""
    return pd.Series(x).rolling(window, center=True, min_periods=window // 2).mean().to_numpy()


def reconstruction_errors(true: np.ndarray, pred: np.ndarray, rec_error_type: str = "point", score_window: int = 10,
                          smoothing_window: int | None = None, smooth: bool = True) -> np.ndarray:
    """Per-point reconstruction error ``[T]`` (Orion ``reconstruction_errors``); the smoothing window defaults to
    min(1 % of T, 200) (Orion's float default); ``score_anomalies`` passes an integer, 1 % of the window count."""
    if rec_error_type not in REC_ERROR_TYPES:
        raise ValueError(f"unknown rec_error_type {rec_error_type!r}; choose from: {', '.join(REC_ERROR_TYPES)}")
    true, pred = np.asarray(true, dtype=np.float64), np.asarray(pred, dtype=np.float64)
    if rec_error_type == "point":
        errors = np.abs(true - pred)
    elif rec_error_type == "area":
        def area(x: np.ndarray) -> np.ndarray:
            return pd.Series(x).rolling(score_window, center=True, min_periods=score_window // 2).apply(
                integrate.trapezoid, raw=True).to_numpy()
        errors = np.abs(area(true) - area(pred))
    else:
        errors = _dtw_error(true, pred, score_window)
    if smooth:
        window = smoothing_window or min(math.trunc(len(true) * 0.01), 200)
        errors = _rolling_mean(errors, max(1, window))
    return errors


# ---- the anomaly score ----------------------------------------------------------------------------------------------


def critic_scores(critic: np.ndarray, smooth_window: int) -> np.ndarray:
    """Orion ``_compute_critic_score``: |c − mean of the inter-quartile values| / std + 1, smoothed."""
    critic = np.asarray(critic, dtype=np.float64)
    lo, hi = np.quantile(critic, 0.25), np.quantile(critic, 0.75)
    mean = critic[(critic >= lo) & (critic <= hi)].mean()
    std = critic.std()
    z = np.abs(critic - mean) / (std if std > 0 else 1.0) + 1
    return _rolling_mean(z, max(1, smooth_window))


def zscore(x: np.ndarray) -> np.ndarray:
    """scipy.stats.zscore (ddof 0); zeros for a constant input instead of NaN."""
    std = x.std()
    return (x - x.mean()) / std if std > 0 else np.zeros_like(x)


@dataclass
class Scores:
    """Per-point outputs of ``score_anomalies`` (all ``[T]``)."""

    score: np.ndarray  # the combined anomaly score a(x)
    reconstruction: np.ndarray  # median reconstruction, in the scaled units of the windows
    rec_error: np.ndarray  # smoothed reconstruction error
    critic: np.ndarray  # per-point critic value (KDE mode)


def score_anomalies(windows: np.ndarray, y_hat: np.ndarray, critic: np.ndarray, rec_error_type: str = "dtw",
                    comb: str = "mult", lambda_rec: float = 0.5, score_window: int = 10,
                    smooth_window: int | None = None) -> Scores:
    """The TadGAN anomaly score from windows ``[N, W]``, their reconstructions ``[N, W]`` and Cx scores ``[N]``.

    ``comb``: "mult" = critic z-score × reconstruction z-score; "sum" = (1 − α)(critic − 1) + α(rec − 1) with
    α = ``lambda_rec``; "rec" = the reconstruction z-score alone. Both smoothing windows default to
    ⌊0.01·N⌋ for N windows (Orion: ``math.trunc(y.shape[0] * 0.01)``; at least 1 here, where Orion's pandas
    rolling(0) would give NaN), not 1 % of the T = N + W − 1 points.
    """
    if comb not in COMBINATIONS:
        raise ValueError(f"unknown comb {comb!r}; choose from: {', '.join(COMBINATIONS)}")
    if not 0.0 <= lambda_rec <= 1.0:
        raise ValueError(f"lambda_rec must be in [0, 1], got {lambda_rec}")
    windows, y_hat = np.asarray(windows, dtype=np.float64), np.asarray(y_hat, dtype=np.float64)
    true, pred = windows_to_series(windows), window_median(y_hat)
    smooth = smooth_window or math.trunc(len(windows) * 0.01)  # 1 % of the number of windows N (Orion)
    crit = critic_per_point(critic, windows.shape[1])
    c_scores = critic_scores(crit, smooth)
    rec = reconstruction_errors(true, pred, rec_error_type, score_window, smoothing_window=max(1, smooth))
    r_scores = np.clip(zscore(rec), 0, None) + 1
    if comb == "mult":
        score = c_scores * r_scores
    elif comb == "sum":
        score = (1 - lambda_rec) * (c_scores - 1) + lambda_rec * (r_scores - 1)
    else:
        score = r_scores
    return Scores(score, pred, rec, crit)


# ---- thresholds: the sliding-window rule ----------------------------------------------------------------------------


def _find_sequences(errors: np.ndarray, epsilon: float, padding: int) -> tuple[list[Interval], float]:
    """Runs of ``errors > epsilon``, each point widened by ``padding`` on both sides; and the largest error left
    outside them (0 when every point is inside)."""
    above = errors > epsilon
    padded = above.copy()
    for idx in np.flatnonzero(above):
        padded[max(0, idx - padding) : idx + padding + 1] = True
    max_below = float(errors[~padded].max()) if (~padded).any() else 0.0
    return [(a, b) for a, b in _runs(padded)], max_below


def _runs(flags: np.ndarray) -> list[Interval]:
    edges = np.flatnonzero(np.diff(np.concatenate([[0], flags.astype(np.int8), [0]])))
    return [(int(a), int(b) - 1) for a, b in edges.reshape(-1, 2)]


def _prune(sequences: list[Interval], maxima: list[float], max_below: float, min_percent: float
           ) -> list[tuple[int, int, float]]:
    """Orion ``_prune_anomalies``: sort the sequence maxima (and the largest normal error) descending; keep the
    sequences down to the last one whose relative drop to the next value is at least ``min_percent``."""
    rows = sorted(zip(maxima, sequences, strict=True), key=lambda r: -r[0])
    values = [m for m, _ in rows] + [max_below]
    keep = -1
    for i in range(len(rows)):
        if values[i] > 0 and (values[i] - values[i + 1]) / values[i] >= min_percent:
            keep = i
    return [(s[0], s[1], m) for m, s in rows[: keep + 1]]


def _merge(sequences: list[tuple[int, int, float]]) -> list[tuple[int, int, float]]:
    """Orion ``_merge_sequences``: merge overlapping or adjacent sequences; the score is the length-weighted mean
    (a plain mean when every length weight is 0, where Orion's np.average would divide by zero)."""
    if not sequences:
        return []
    ordered = sorted(sequences, key=lambda s: s[0])
    merged = [ordered[0]]
    scores, weights = [ordered[0][2]], [ordered[0][1] - ordered[0][0]]
    for seq in ordered[1:]:
        prev = merged[-1]
        if seq[0] <= prev[1] + 1:
            scores.append(seq[2])
            weights.append(seq[1] - seq[0])
            score = float(np.average(scores, weights=weights)) if sum(weights) > 0 else float(np.mean(scores))
            merged[-1] = (prev[0], max(prev[1], seq[1]), score)
        else:
            scores, weights = [seq[2]], [seq[1] - seq[0]]
            merged.append(seq)
    return merged


def find_anomalies(errors: np.ndarray, window_size_portion: float = 0.33, window_step_size_portion: float = 0.1,
                   k: float = 4.0, min_percent: float = 0.1, anomaly_padding: int = 50
                   ) -> list[tuple[int, int, float]]:
    """Anomalous intervals ``[(start, end, score), ...]`` of a score series ``[T]`` (Orion ``find_anomalies`` with
    ``fixed_threshold=True``; Hundman et al. 2018's windowed thresholding as TadGAN §III-C uses it).

    Windows of ``ceil(T · window_size_portion)`` points, moved by ``ceil(window · window_step_size_portion)``; in each,
    threshold = mean + k·std of the window, sequences above it padded by ``anomaly_padding``, pruned, and scored
    (max − threshold) / (mean + std); overlapping results of all windows are merged.
    """
    errors = np.asarray(errors, dtype=np.float64)
    if errors.ndim != 1 or len(errors) == 0 or not np.isfinite(errors).all():
        raise ValueError("find_anomalies needs a non-empty 1-D array of finite scores")
    size = max(1, math.ceil(len(errors) * window_size_portion))
    step = max(1, math.ceil(size * window_step_size_portion))
    found: list[tuple[int, int, float]] = []
    start, end = 0, 0
    while end < len(errors):
        end = start + size
        window = errors[start:end]
        mean, std = window.mean(), window.std()
        threshold = mean + k * std
        sequences, max_below = _find_sequences(window, threshold, anomaly_padding)
        maxima = [float(window[a : b + 1].max()) for a, b in sequences]
        denominator = mean + std
        for a, b, m in _prune(sequences, maxima, max_below, min_percent):
            found.append((a + start, b + start, (m - threshold) / denominator if denominator else 0.0))
        start += step
    return _merge(found)


# ---- evaluation -----------------------------------------------------------------------------------------------------


@dataclass
class OverlapScores:
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict[str, float]:
        return {"f1": self.f1, "precision": self.precision, "recall": self.recall, "tp": float(self.tp),
                "fp": float(self.fp), "fn": float(self.fn)}


def overlap_scores(expected: list[Interval], observed: list[Interval]) -> OverlapScores:
    """Orion's overlapping-segment confusion counts for inclusive intervals (``contextual`` with the overlap-segment
    method): each interval is padded to (start, end + 1) and two overlap when (e₀ − o₁)·(e₁ − o₀) < 0. A labelled
    interval that any detection overlaps is one TP (else one FN); detections that overlap no label are FPs."""
    exp = [(a, b + 1) for a, b, *_ in expected]
    obs = [(a, b + 1) for a, b, *_ in observed]
    unmatched = list(obs)
    tp = fn = 0
    for e in exp:
        found = False
        for o in obs:
            if (e[0] - o[1]) * (e[1] - o[0]) < 0:
                found = True
                if o in unmatched:
                    unmatched.remove(o)
        tp, fn = tp + found, fn + (not found)
    return OverlapScores(tp, len(unmatched), fn)


# ---- baselines ------------------------------------------------------------------------------------------------------


def moving_zscore(values: np.ndarray, window: int = 100) -> np.ndarray:
    """|x_t − mean(x_{t−w..t−1})| / std(x_{t−w..t−1}) per point ``[T]`` (0 for the first w points): the trailing
    moving-window z-score detector's score."""
    x = pd.Series(np.asarray(values, dtype=np.float64))
    mean, std = x.rolling(window).mean().shift(1), x.rolling(window).std(ddof=0).shift(1)
    z = ((x - mean).abs() / std.where(std > 0)).fillna(0.0).to_numpy()
    return z


def fit_ar(train: np.ndarray, order: int) -> np.ndarray:
    """Least-squares AR(p) coefficients ``[p + 1]`` (intercept last): x_t ≈ Σ_i a_i x_{t−p+i} + c."""
    train = np.asarray(train, dtype=np.float64)
    if len(train) <= order + 1:
        raise ValueError(f"AR({order}) needs more than {order + 1} training points, got {len(train)}")
    lags = np.lib.stride_tricks.sliding_window_view(train[:-1], order)
    design = np.hstack([lags, np.ones((len(lags), 1))])
    coef, *_ = np.linalg.lstsq(design, train[order:], rcond=None)
    return coef


def ar_errors(coef: np.ndarray, values: np.ndarray, smoothing: float = 0.01) -> np.ndarray:
    """One-step-ahead AR prediction errors |x_t − x̂_t| ``[T]`` (0 for the first p points), smoothed by an EWMA with
    span 1 % of T (Orion ``regression_errors``, the LSTM-DT protocol with a linear predictor)."""
    values = np.asarray(values, dtype=np.float64)
    order = len(coef) - 1
    lags = np.lib.stride_tricks.sliding_window_view(values[:-1], order)
    pred = lags @ coef[:-1] + coef[-1]
    errors = np.concatenate([np.zeros(order), np.abs(values[order:] - pred)])
    span = max(1, int(len(values) * smoothing))
    return pd.Series(errors).ewm(span=span).mean().to_numpy()


# ---- the whole pipeline ---------------------------------------------------------------------------------------------


@dataclass
class DetectOptions:
    """Orion's TadGAN post-processing settings (``score_anomalies`` + ``find_anomalies``)."""

    rec_error_type: str = "dtw"
    comb: str = "mult"
    lambda_rec: float = 0.5
    score_window: int = 10
    k: float = 4.0
    window_size_portion: float = 0.33
    window_step_size_portion: float = 0.1
    min_percent: float = 0.1
    anomaly_padding: int = 50


@dataclass
class Detection:
    scores: Scores
    intervals: list[tuple[int, int, float]]  # (start, end, score), inclusive indices

    def metrics(self, expected: list[Interval]) -> dict[str, float]:
        out = overlap_scores(expected, [(a, b) for a, b, _ in self.intervals]).as_dict()
        return {**out, "detected": float(len(self.intervals)), "labelled": float(len(expected))}


def detect_windows(windows: np.ndarray, y_hat: np.ndarray, critic: np.ndarray,
                   options: DetectOptions | None = None) -> Detection:
    """Scores and thresholded intervals from windows ``[N, W]``, reconstructions ``[N, W]`` and Cx scores ``[N]``."""
    o = options or DetectOptions()
    scores = score_anomalies(windows, y_hat, critic, o.rec_error_type, o.comb, o.lambda_rec, o.score_window)
    intervals = find_anomalies(scores.score, o.window_size_portion, o.window_step_size_portion, o.k, o.min_percent,
                               o.anomaly_padding)
    return Detection(scores, intervals)


def detect_with_scores(score: np.ndarray, options: DetectOptions | None = None) -> list[tuple[int, int, float]]:
    """The same thresholding for any per-point score (the baselines)."""
    o = options or DetectOptions()
    return find_anomalies(score, o.window_size_portion, o.window_step_size_portion, o.k, o.min_percent,
                          o.anomaly_padding)
