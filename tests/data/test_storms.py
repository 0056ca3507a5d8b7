"""Storm tracks: resampling, the encoding and its inverse, the loader and its options, and the track metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ganforge.data.storms import Normalisation, StormTracks, decode, encode, resample_tracks
from ganforge.kinds.tracks import tracks_frame
from ganforge.metrics.tracks import category_chance, category_of, compare_tracks, haversine_km, summaries


def test_resample_encode_decode_round_trip() -> None:
    t = pd.to_datetime(["2000-08-01 00:00", "2000-08-01 06:00", "2000-08-01 18:00"])
    df = pd.DataFrame({"storm": 0, "time": t, "lat": [10.0, 11.0, 14.0], "long": [-50.0, -52.0, -56.0],
                       "wind": [30, 50, 90], "pressure": [1010, 1000, 970], "category": [np.nan, np.nan, 2.0]})
    tracks, life, cats = resample_tracks(df, steps=4)
    assert tracks.shape == (1, 4, 4)
    assert life.tolist() == [18.0]
    assert cats.tolist() == [2]
    np.testing.assert_allclose(tracks[0, :, 0], [10.0, 11.0, 12.5, 14.0])  # hours 0, 6, 12, 18 interpolated
    v = encode(tracks, life)
    assert v.shape == (1, 5 + 4 * 3)
    back, back_life = decode(v, 4)
    np.testing.assert_allclose(back, tracks, atol=1e-12)
    np.testing.assert_allclose(back_life, life)
    norm = Normalisation.fit(np.concatenate([v, v + 1]), 4)
    np.testing.assert_allclose(norm.invert(norm.apply(v)), v, atol=1e-12)
    frame = tracks_frame(tracks, life, cats)
    assert list(frame.columns) == ["storm", "category", "step", "hour", "lat", "long", "wind", "pressure"]


def test_storms_load_split_and_options() -> None:
    train, test = StormTracks(steps=8).load(), StormTracks(steps=8).load("test")
    assert len(train) + len(test) == 655
    assert len(test) == 131
    assert train.x.shape == (524, 5 + 4 * 7)
    assert train.num_classes == 6
    assert train.kind == "tracks"
    assert set(train.y.tolist()) == set(range(6))
    assert abs(float(train.x.mean())) < 0.1  # standardised
    tracks, life = train.decode(train.x)
    assert (life >= 6).all()
    assert tracks[:, :, 2].max() <= 165
    assert tracks[:, :, 3].min() >= 880
    assert train.spec().fields == {"static": (5,), "sequence": (4, 7)}
    with pytest.raises(ValueError, match="steps must be >= 3"):
        StormTracks(steps=2)
    with pytest.raises(ValueError, match="test_fraction must be in"):
        StormTracks(test_fraction=1.5)
    with pytest.raises(ValueError, match="no split 'valid'"):
        StormTracks().load("valid")


def test_track_metrics() -> None:
    # one degree of latitude ≈ 111.19 km on a 6,371 km sphere
    assert haversine_km(np.array(0.0), np.array(0.0), np.array(1.0), np.array(0.0)) == pytest.approx(111.195, 1e-4)
    np.testing.assert_array_equal(category_of(np.array([30, 63.9, 64, 95, 96, 136, 137, 160])),
                                  [0, 0, 1, 2, 3, 4, 5, 5])
    rng = np.random.default_rng(0)
    tracks = np.stack([np.linspace(10, 20, 6), np.linspace(-40, -60, 6), np.full(6, 70.0), np.full(6, 990.0)], 1)
    tracks = tracks[None] + rng.normal(0, 0.1, (50, 6, 4))
    s = summaries(tracks, np.full(50, 120.0))
    assert s["path_length"].min() >= s["displacement"].min()
    same = compare_tracks(tracks, np.full(50, 120.0), tracks, np.full(50, 120.0), np.ones(50, int))
    assert same["ks/max_wind"] == 0.0
    assert same["w1/lifetime"] == 0.0
    assert same["category_match"] == 100.0
    assert same["category_chance"] == 100.0  # every storm asked and real in category 1
    # chance = Σ_k P(asked k)·P(real k): asked half 0 / half 1 against real all 1 → 50 %; a 1/2, 1/4, 1/4 mix
    # against itself → ¼ + 1/16 + 1/16 = 37.5 % (exact binary fractions)
    assert category_chance(np.array([0, 1] * 5), np.ones(7, int)) == 50.0
    mix = np.array([0, 0, 3, 5])
    assert category_chance(mix, mix) == 37.5
