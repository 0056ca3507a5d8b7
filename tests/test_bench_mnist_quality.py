"""Smoke test of bench/mnist_quality.py on a tiny budget: it trains through the budgets, judges every generator, and
``--resume`` continues the saved run exactly where a straight run would be."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from helpers import load_bench

TINY = ["--set", "data.options={'limit': 64}", "--set", "train.batch_size=16", "--n-eval", "40"]


@pytest.fixture(scope="module")
def bench():
    return load_bench("mnist_quality")


def test_budgets_and_resume_match_a_straight_run(bench, tmp_path: Path) -> None:
    torch.set_num_threads(1)
    straight = bench.main(["gan-mlp-mnist", "--images", "32", "64", *TINY, "--run-root", str(tmp_path / "a"),
                           "--out", str(tmp_path / "a.json")])
    rows = straight["rows"]
    assert [(r["generator"], r["images_seen"], r["steps"]) for r in rows] == [
        ("ema", 32, 2), ("G", 32, 2), ("ema", 64, 4), ("G", 64, 4)]
    assert all(0.0 <= r["confident_percent"] <= 100.0 and 0.0 <= r["class_entropy"] <= 1.0 for r in rows)
    assert all(r["fid"] > 0 and 0.0 < r["pixel_std"] < 1.0 for r in rows)  # FID and pixel std beside confident %
    assert json.loads((tmp_path / "a.json").read_text())["rows"] == rows

    bench.main(["gan-mlp-mnist", "--images", "32", *TINY, "--run-root", str(tmp_path / "b"),
                "--out", str(tmp_path / "b.json")])
    resumed = bench.main(["gan-mlp-mnist", "--images", "32", "64", *TINY, "--run-root", str(tmp_path / "b"),
                          "--resume", "--out", str(tmp_path / "b2.json")])["rows"]
    assert [(r["generator"], r["images_seen"]) for r in resumed] == [("ema", 64), ("G", 64)]  # 32 was already seen
    for key in ("confident_percent", "class_entropy", "fid", "pixel_std"):
        assert [r[key] for r in resumed] == [r[key] for r in rows[2:]]
    a = torch.load(tmp_path / "a" / "gan-mlp-mnist" / "checkpoints" / "latest.pt", weights_only=False)
    b = torch.load(tmp_path / "b" / "gan-mlp-mnist" / "checkpoints" / "latest.pt", weights_only=False)
    for name, tensor in a["models"]["G"].items():
        assert torch.equal(tensor, b["models"]["G"][name]), name


def test_resume_without_a_saved_run_is_one_line(bench, tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match=r"no run of 'gan-mlp-mnist'.*run once without --resume first"):
        bench.main(["gan-mlp-mnist", "--images", "32", *TINY, "--run-root", str(tmp_path), "--resume",
                    "--out", str(tmp_path / "x.json")])
