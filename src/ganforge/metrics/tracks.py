"""Storm-track metrics: per-storm summaries compared as distributions (generated vs real).

Per storm (a track ``[T, 4]`` of lat, long (degrees), wind (kt), pressure (hPa), and its lifetime in hours):
    displacement  great-circle distance start → end (km, haversine on a 6,371 km sphere)
    path_length   summed great-circle distance between consecutive points (km)
    max_wind      the intensity: highest wind (kt)
    min_pressure  lowest central pressure (hPa)
    lifetime      hours from first to last fix
Each is compared by the two-sample KS statistic and the Wasserstein-1 distance (scipy), lower is better.
``category_match``: the share of generated storms whose max wind lies in the Saffir-Simpson band of the category
they were asked for (0: < 64 kt, 1: 64-82, 2: 83-95, 3: 96-112, 4: 113-136, 5: ≥ 137), and ``category_chance``
beside it: the match of a generator that ignores the asked category but draws real storms, Σ_k P(asked k)·P(real
storm in band k) (≈ Σ_k p_k² when both mixes are the data's: about a third for the Atlantic mix).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

EARTH_RADIUS_KM = 6371.0
BANDS = np.array([0, 64, 83, 96, 113, 137, np.inf])  # kt; category k = [BANDS[k], BANDS[k+1])


def haversine_km(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    """Great-circle distance (km) between points given in degrees."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(lon2 - lon1)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def summaries(tracks: np.ndarray, lifetimes: np.ndarray) -> dict[str, np.ndarray]:
    """Per-storm summaries of ``tracks [S, T, 4]`` and ``lifetimes [S]``."""
    lat, lon = tracks[:, :, 0], tracks[:, :, 1]
    steps = haversine_km(lat[:, :-1], lon[:, :-1], lat[:, 1:], lon[:, 1:])
    return {"displacement": haversine_km(lat[:, 0], lon[:, 0], lat[:, -1], lon[:, -1]),
            "path_length": steps.sum(axis=1), "max_wind": tracks[:, :, 2].max(axis=1),
            "min_pressure": tracks[:, :, 3].min(axis=1), "lifetime": np.asarray(lifetimes, dtype=np.float64)}


def category_of(max_wind: np.ndarray) -> np.ndarray:
    """Saffir-Simpson category (0 = below hurricane strength) of each max wind (kt)."""
    return np.clip(np.searchsorted(BANDS, max_wind, side="right") - 1, 0, 5)


def compare_tracks(real: np.ndarray, real_life: np.ndarray, other: np.ndarray, other_life: np.ndarray,
                   other_labels: np.ndarray) -> dict[str, float]:
    """``ks/<summary>`` and ``w1/<summary>`` of ``other`` vs ``real``, and ``category_match`` (%) of ``other``."""
    a, b = summaries(real, real_life), summaries(other, other_life)
    out: dict[str, float] = {}
    for key in a:
        out[f"ks/{key}"] = float(stats.ks_2samp(a[key], b[key]).statistic)
        out[f"w1/{key}"] = float(stats.wasserstein_distance(a[key], b[key]))
    asked = np.asarray(other_labels)
    out["category_match"] = 100.0 * float(np.mean(category_of(b["max_wind"]) == asked))
    out["category_chance"] = category_chance(asked, category_of(a["max_wind"]))
    return out


def category_chance(asked: np.ndarray, real_categories: np.ndarray) -> float:
    """% match of categories drawn independently of ``asked`` from the real mix: 100·Σ_k P(asked = k)·P(real = k)."""
    k = len(BANDS) - 1
    p = np.bincount(asked, minlength=k) / max(1, len(asked))
    q = np.bincount(real_categories, minlength=k) / max(1, len(real_categories))
    return 100.0 * float(p @ q)
