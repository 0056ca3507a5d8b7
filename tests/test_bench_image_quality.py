"""Smoke test of bench/image_quality.py: it trains to CPU marks, stops at the preset's end, judges the generator with
the same functions as the in-training evaluation, and rewrites the README table from its JSON files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from helpers import load_bench

# 3 steps end long before any CPU mark: the bench must stop at the preset's end and say so
TINY = ["--set", "data.options={'limit': 64}", "--set", "train.batch_size=16", "--set", "train.steps=3",
        "--n-eval", "40", "--minutes", "5", "10"]


@pytest.fixture(scope="module")
def bench():
    return load_bench("image_quality")


def test_runs_to_the_preset_end_and_rewrites_the_readme(bench, tmp_path: Path) -> None:
    torch.set_num_threads(1)
    out_dir = tmp_path / "results"
    bench.main(["gan-mlp-mnist", *TINY, "--out-dir", str(out_dir)])
    result = json.loads((out_dir / "gan-mlp-mnist.json").read_text())
    (row,) = result["rows"]  # the 5-minute mark is never reached: one row, at the preset's end
    assert row["steps"] == 3
    assert row["finished"]
    assert row["generator"] in ("G", "ema")
    assert 0 <= row["confident_percent"] <= 100
    assert 0 <= row["class_entropy"] <= 1
    assert row["fid"] > 0
    assert 0 <= row["pixel_std"] <= 0.5  # std of values in [0, 1]
    real = json.loads((out_dir / "real.json").read_text())
    assert real["confident_percent"] > 80  # real test digits: the classifier is ~99 % accurate
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{bench.BEGIN}\nold\n{bench.END}\ntail\n")
    bench.main(["--readme", str(readme), "--out-dir", str(out_dir)])
    text = readme.read_text()
    assert "old" not in text
    assert "`gan-mlp-mnist`" in text
    assert "real MNIST test digits" in text
    assert text.startswith("intro\n")
    assert text.endswith("tail\n")
    assert result["commit"] in text


def test_conditional_generators_get_label_accuracy(bench, tmp_path: Path) -> None:
    torch.set_num_threads(1)
    bench.main(["cgan-mnist", *TINY, "--out-dir", str(tmp_path)])
    (row,) = json.loads((tmp_path / "cgan-mnist.json").read_text())["rows"]
    assert 0.0 <= row["label_accuracy_percent"] <= 100.0  # n/10 samples of every class, judged by the classifier


def test_checkpoints_per_mark_and_readable_commands(bench, tmp_path: Path) -> None:
    torch.set_num_threads(1)
    bench.main(["gan-mlp-mnist", *TINY, "--out-dir", str(tmp_path / "r"), "--run-root", str(tmp_path / "runs"),
                "--save-checkpoints"])
    assert (tmp_path / "runs" / "gan-mlp-mnist" / "checkpoints" / "step-0000003.pt").is_file()
    command = json.loads((tmp_path / "r" / "gan-mlp-mnist.json").read_text())["command"]
    shown = bench.display_command(command)  # the README shows it without this machine's folders
    assert str(tmp_path) in command
    assert str(tmp_path) not in shown
    assert "--save-checkpoints" in shown
    (tmp_path / "r" / "probes.json").write_text('{"note": "no rows"}')  # non-result JSON beside the results
    readme = tmp_path / "README.md"
    readme.write_text(f"{bench.BEGIN}\n{bench.END}\n")
    bench.main(["--readme", str(readme), "--out-dir", str(tmp_path / "r")])
    assert "`gan-mlp-mnist`" in readme.read_text()


def test_grids_per_mark_and_the_readme_gallery(bench, tmp_path: Path) -> None:
    from PIL import Image

    torch.set_num_threads(1)
    grids, out_dir = tmp_path / "docs" / "img" / "image_quality", tmp_path / "r"
    bench.main(["cgan-mnist", *TINY, "--out-dir", str(out_dir), "--grids", str(grids)])
    (row,) = json.loads((out_dir / "cgan-mnist.json").read_text())["rows"]
    png = grids / bench.grid_name("cgan-mnist", row["minutes"])
    assert row["grid"] == png.name
    # 10×10 digits of 28 px + 2 px padding, upscaled 2×: (10·30 + 2)·2 = 604 px a side
    assert Image.open(png).size == (604, 604)
    readme = tmp_path / "README.md"
    readme.write_text(f"{bench.BEGIN}\n{bench.END}\n")
    bench.main(["--readme", str(readme), "--out-dir", str(out_dir)])
    assert f'src="docs/img/image_quality/{png.name}"' in readme.read_text()  # linked relative to the README


def test_grid_from_a_saved_checkpoint_is_the_grid_of_the_judged_generator(bench, tmp_path: Path) -> None:
    import numpy as np
    from PIL import Image

    torch.set_num_threads(1)
    runs, grids = tmp_path / "runs", tmp_path / "grids"
    bench.main(["cgan-mnist", *TINY, "--out-dir", str(tmp_path / "r"), "--run-root", str(runs), "--save-checkpoints",
                "--grids", str(grids)])
    during = np.asarray(Image.open(grids / bench.grid_name("cgan-mnist", 5)))
    (grids / bench.grid_name("cgan-mnist", 5)).unlink()
    checkpoint = runs / "cgan-mnist" / "checkpoints" / "step-0000003.pt"
    bench.main(["cgan-mnist", "--minutes", "5", "--grids", str(grids), "--grid-from", str(checkpoint)])
    after = np.asarray(Image.open(grids / bench.grid_name("cgan-mnist", 5)))
    # same weights (saved exactly), same seed, same code path: the same uint8 pixels
    assert np.array_equal(during, after)


def test_continue_extends_a_saved_run_exactly(bench, tmp_path: Path, monkeypatch) -> None:
    """A result continued from its run's checkpoint at its last mark equals the one measured in one go: exact resume,
    and a CPU clock that ticks 1 s per reading (so each mark is a fixed number of steps); the same code path on the
    same machine, so the figures compare with ==."""
    ticks = iter(range(10**6))
    monkeypatch.setattr(bench.time, "process_time", lambda: float(next(ticks)))
    torch.set_num_threads(1)
    base = ["gan-mlp-mnist", "--set", "data.options={'limit': 64}", "--set", "train.batch_size=16", "--n-eval", "40",
            "--save-checkpoints"]
    one, two = tmp_path / "one.json", tmp_path / "two.json"
    bench.main([*base, "--minutes", "0.05", "0.1", "--out", str(one), "--run-root", str(tmp_path / "a")])
    bench.main([*base, "--minutes", "0.05", "--out", str(two), "--run-root", str(tmp_path / "b")])
    bench.main([*base, "--minutes", "0.05", "0.1", "--out", str(two), "--run-root", str(tmp_path / "b"), "--continue"])
    rows_one, cont = json.loads(one.read_text())["rows"], json.loads(two.read_text())
    assert [r["steps"] for r in cont["rows"]] == [r["steps"] for r in rows_one]
    assert [r["fid"] for r in cont["rows"]] == [r["fid"] for r in rows_one]
    assert cont["continued"][-1]["from_step"] == rows_one[0]["steps"] < rows_one[1]["steps"]
    with pytest.raises(SystemExit, match="same"):  # another measurement cannot be continued
        bench.main([*base, "--n-eval", "50", "--minutes", "0.2", "--out", str(two), "--run-root", str(tmp_path / "b"),
                    "--continue"])
    # a run that ended at its train.steps continues with a larger one (train.steps only moves where it stops). It
    # ended before its CPU mark, so that mark is trained to again from the CPU it really spent (further than above)
    ended = tmp_path / "ended.json"
    stop = ["--set", f"train.steps={rows_one[0]['steps']}"]
    bench.main([*base, *stop, "--minutes", "0.2", "--out", str(ended), "--run-root", str(tmp_path / "e")])
    last = json.loads(ended.read_text())["rows"][-1]
    assert last["finished"]
    assert last["train_cpu_s"] < 12  # ended before its 0.2-minute mark
    bench.main([*base, "--set", "train.steps=100000", "--minutes", "0.2", "0.3", "--out", str(ended), "--run-root",
                str(tmp_path / "e"), "--continue"])
    longer = json.loads(ended.read_text())
    assert [r["minutes"] for r in longer["rows"]] == [0.2, 0.3]  # the ended 0.2 row replaced, not kept beside
    assert longer["rows"][0]["steps"] > last["steps"]
    assert longer["rows"][0]["train_cpu_s"] >= 12
    assert not any(r["finished"] for r in longer["rows"])
    assert longer["overrides"] == [base[2], base[4], stop[1]]  # the first rows'; the continuation's is in its command
    assert "train.steps=100000" in longer["continued"][-1]["command"]
    # continued again: both continuations stay on record, oldest first, and the rows name the commits they span
    bench.main([*base, "--set", "train.steps=100000", "--minutes", "0.2", "0.3", "0.4", "--out", str(ended),
                "--run-root", str(tmp_path / "e"), "--continue"])
    twice = json.loads(ended.read_text())
    assert [c["from_step"] for c in twice["continued"]] == [last["steps"], longer["rows"][-1]["steps"]]
    assert bench.commit_of(twice, twice["rows"][-1]).count("→") == 2
    assert bench.commit_of(twice, twice["rows"][0]).count("→") == 1
    with pytest.raises(SystemExit, match="same"):  # any other override is another measurement
        bench.main([*base, "--set", "train.batch_size=8", "--minutes", "0.4", "--out", str(ended), "--run-root",
                    str(tmp_path / "e"), "--continue"])
    with pytest.raises(SystemExit, match="no saved result"):
        bench.main([*base, "--minutes", "1", "--out", str(tmp_path / "none.json"), "--run-root", str(tmp_path / "c"),
                    "--continue"])


def test_a_result_saved_with_one_continuation_record_still_reads(bench) -> None:
    """Results saved before continuations were a list hold one dict (selfcond-mnist.json): the table reads both."""
    res = {"commit": "a", "continued": {"commit": "b", "from_step": 10, "command": "c"}}
    assert bench.continuations(res) == [res["continued"]]
    assert bench.commit_of(res, {"steps": 5}) == "a"
    assert bench.commit_of(res, {"steps": 20}) == "a → b (continued)"
