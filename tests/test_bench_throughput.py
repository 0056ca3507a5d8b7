"""The throughput harness (bench/throughput.py) still runs: one tiny CPU measurement, no timing asserted."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import torch

BENCH = Path(__file__).resolve().parents[1] / "bench" / "throughput.py"


def test_throughput_harness_runs_and_writes_json(tmp_path: Path, capsys) -> None:
    spec = importlib.util.spec_from_file_location("bench_throughput", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    torch.set_num_threads(1)
    out = tmp_path / "tp.json"
    assert module.main(["--batch-sizes", "8", "--steps", "2", "--warmup", "1", "--sample-every", "1", "--no-keras",
                        "--device", "cpu", "--set", "data.options.limit=64", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    (row,) = result["rows"]
    assert row["preset"] == "dcgan-tf-mnist"
    assert row["batch"] == 8
    assert row["ganforge"] > 0
    assert row["eager"] > 0
    assert "| dcgan-tf-mnist | 8 |" in capsys.readouterr().out
