"""Metrics for generated physical fields against real ones, in physical units, over valid cells only.

- per-cell moments: RMSE over cells between the real and generated per-cell mean maps, and between the std maps;
- radially averaged power spectra: P(k) = mean over samples of |FFT2(x − per-sample mean)|² averaged over rings of
  integer radius k (cycles per domain); distance = mean over k ≥ 1 of |log10 P_fake(k) − log10 P_real(k)|;
- extremes: the 1-Wasserstein distance between the distributions of per-sample maxima (and minima), and the rate
  at which generated cells exceed the real per-cell 99th percentile (real data: 1 % by construction);
- conditioning: RMSE between the spatial mean of each generated field and that of the real field whose condition
  it was generated for (the seasonal/scenario signal; 0 is only reachable without intra-condition variability).
"""

from __future__ import annotations

import numpy as np
from scipy import stats


def _masked(fields: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """``[N, C, H, W]`` with NaN outside ``valid [N, H, W]``."""
    return np.where(valid[:, None], fields, np.nan)


def cell_moment_errors(real: np.ndarray, fake: np.ndarray, valid: np.ndarray) -> dict[str, float]:
    """RMSE (over cells and channels) of the per-cell mean and std maps; NaN-aware (``valid [N, H, W]``)."""
    keep = valid.any(0)  # cells valid in at least one sample
    r, f = _masked(real, valid)[:, :, keep], _masked(fake, valid)[:, :, keep]  # [N, C, cells]
    mean_err = np.nanmean(r, 0) - np.nanmean(f, 0)
    std_err = np.nanstd(r, 0) - np.nanstd(f, 0)
    return {"cell_mean_rmse": float(np.sqrt(np.mean(mean_err**2))),
            "cell_std_rmse": float(np.sqrt(np.mean(std_err**2)))}


def radial_spectrum(fields: np.ndarray) -> np.ndarray:
    """Radially averaged power spectrum ``[K]`` of fields ``[N, H, W]`` (NaN cells set to the sample's mean)."""
    x = np.asarray(fields, dtype=np.float64)
    mean = np.nanmean(x, axis=(1, 2), keepdims=True)
    x = np.where(np.isnan(x), mean, x) - mean
    power = (np.abs(np.fft.fft2(x)) ** 2).mean(0)  # [H, W]
    h, w = power.shape
    ky, kx = np.fft.fftfreq(h) * h, np.fft.fftfreq(w) * w
    radius = np.rint(np.hypot(ky[:, None], kx[None, :])).astype(int)
    sums = np.bincount(radius.ravel(), power.ravel())
    counts = np.bincount(radius.ravel())
    return sums[: min(h, w) // 2 + 1] / counts[: min(h, w) // 2 + 1]


def spectrum_distance(real: np.ndarray, fake: np.ndarray) -> float:
    """Mean over k ≥ 1 of |log10 P_fake(k) − log10 P_real(k)| for fields ``[N, H, W]``."""
    pr, pf = radial_spectrum(real)[1:], radial_spectrum(fake)[1:]
    tiny = 1e-30
    return float(np.mean(np.abs(np.log10(pf + tiny) - np.log10(pr + tiny))))


def extreme_metrics(real: np.ndarray, fake: np.ndarray, valid: np.ndarray, q: float = 0.99) -> dict[str, float]:
    """W1 between per-sample maxima and minima (channel 0..C−1 averaged) and the exceedance rate of the real
    per-cell ``q`` quantile by generated cells."""
    keep = valid.any(0)
    r, f = _masked(real, valid)[:, :, keep], _masked(fake, valid)[:, :, keep]  # [N, C, cells]
    w_max, w_min, rate = [], [], []
    for c in range(real.shape[1]):
        w_max.append(stats.wasserstein_distance(np.nanmax(r[:, c], 1), np.nanmax(f[:, c], 1)))
        w_min.append(stats.wasserstein_distance(np.nanmin(r[:, c], 1), np.nanmin(f[:, c], 1)))
        threshold = np.nanquantile(r[:, c], q, axis=0)  # [cells]
        rate.append(float(np.nanmean(np.where(np.isnan(f[:, c]), np.nan, f[:, c] > threshold[None]))))
    return {"max_w1": float(np.mean(w_max)), "min_w1": float(np.mean(w_min)),
            f"exceed_q{round(q * 100)}": float(np.mean(rate))}


def field_metrics(real: np.ndarray, fake: np.ndarray, valid: np.ndarray) -> dict[str, float]:
    """Every metric above for ``real``/``fake [N, C, H, W]`` (physical units; fake[i] generated for real[i]'s
    condition) and ``valid [N, H, W]``."""
    if real.shape != fake.shape:
        raise ValueError(f"real and generated fields differ in shape: {list(real.shape)} vs {list(fake.shape)}")
    out = cell_moment_errors(real, fake, valid)
    out["spectrum_log10_distance"] = float(np.mean([spectrum_distance(_masked(real, valid)[:, c],
                                                                       _masked(fake, valid)[:, c])
                                                     for c in range(real.shape[1])]))
    out.update(extreme_metrics(real, fake, valid))
    r_mean = np.nanmean(_masked(real, valid), axis=(2, 3))  # [N, C]
    f_mean = np.nanmean(_masked(fake, valid), axis=(2, 3))
    out["cond_mean_rmse"] = float(np.sqrt(np.mean((r_mean - f_mean) ** 2)))
    return out
