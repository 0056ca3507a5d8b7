"""Smoke test of bench/stylegan2_nvlabs_ab.py without NVlabs' code: our G and D through the NVlabs-style loop to a
tiny CPU mark, judged and gridded; asking for NVlabs' nets without a checkout is one line, no traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from helpers import load_bench


@pytest.fixture(scope="module")
def bench():
    return load_bench("stylegan2_nvlabs_ab")


def test_ours_through_the_nvlabs_loop_writes_judged_rows_and_grids(bench, tmp_path: Path) -> None:
    torch.set_num_threads(1)
    bench.main(["--G", "ours", "--D", "ours", "--marks", "0.5", "--n-eval", "40", "--batch", "8", "--mbstd-group", "4",
                "--channel-max", "8", "--z-dim", "8", "--out", str(tmp_path)])
    rows = [json.loads(line) for line in (tmp_path / "G-ours_D-ours.jsonl").read_text().splitlines()]
    assert [r["generator"] for r in rows] == ["ema", "raw"]
    for r in rows:
        assert r["steps"] >= 1  # a step is finished before the CPU mark is checked again
        assert 0 <= r["class_entropy"] <= 1
        assert 0 <= r["pixel_std"] <= 0.5  # std of values in [0, 1]
        assert r["fid"] > 0
    assert (tmp_path / "G-ours_D-ours-ema-0s.png").is_file()


def test_nvlabs_nets_without_a_checkout_is_one_line(bench, tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        bench.main(["--G", "nv", "--nvlabs", str(tmp_path), "--out", str(tmp_path / "out")])
    msg = str(exc.value)
    assert msg.startswith("ganforge: error:")
    assert "\n" not in msg
    assert "stylegan2-ada-pytorch" in msg
