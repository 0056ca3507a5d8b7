"""bench/stargan_v2.py's baseline rows, the two ends a translation's source correlation sits between: a real digit of
the target drawn independently of the source (chance) and the source itself (no translation)."""

from __future__ import annotations

import math

import pytest

from helpers import load_bench


@pytest.fixture(scope="module")
def bench():
    return load_bench("stargan_v2")


def test_baselines_bound_the_source_correlation(bench) -> None:
    n = 40  # per target domain: 400 (source, output) pairs in all
    rows = bench.baselines(n, seed=0)
    real, copy = rows["real"], rows["copy"]
    # no translation: the output is the source, so both correlations are 1 by construction, and the classifier reads
    # the sources (all from the other nine domains) as the target almost never
    assert copy["style_src_slant"] == 1.0
    assert copy["style_src_ink"] == 1.0
    assert copy["acc_latent"] < 5.0
    # a real digit of the target, drawn independently of the source: chance. Pearson's r of independent pairs has
    # standard deviation ≈ 1/√N; 4 of them bound the slant's. Ink is pooled over targets whose mean ink differs
    # (a 1 has little) while the sources of target k exclude k's digits, so its chance level is a small negative
    # class effect rather than 0: only bounded far below the copy's 1
    bound = 4.0 / math.sqrt(10 * n)
    assert abs(real["style_src_slant"]) < bound
    assert abs(real["style_src_ink"]) < 0.5
    assert real["acc_latent"] > 90.0  # the shipped classifier reads real test digits
    assert real["fid_latent"] < copy["fid_latent"]  # real digits of k are nearer to k than other digits are
