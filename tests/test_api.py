"""``ganforge`` as a library: the README's notebook example (train tiny -> sample -> evaluate for images, a table and
a series), ``ganforge.CTGAN`` against the CLI preset at equal settings, ``TadGAN.fit_detect`` on a DataFrame, the
overrides, errors and the lazy import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import ganforge
from ganforge.api import _flatten
from ganforge.cli import main
from ganforge.options import ConfigError
from kind_runs import TADGAN_TINY, small_table, spiky_series

MNIST_TINY = {"data.options": {"limit": 64}, "log.eval_samples": 64, "train.batch_size": 16, "train.steps": 4,
              "train.checkpoint_every": 4, "log.sample_every": 0, "log.tensorboard": False,
              "model.options": {"z_dim": 4, "g_hidden": [16], "d_hidden": [16]}}


def test_notebook_example(tmp_path: Path) -> None:
    """The README's example, with tiny settings (the README trains the presets' budgets)."""
    # images
    run = ganforge.train("gan-mlp-mnist", tmp_path / "mnist", quiet=True, **MNIST_TINY)
    model = ganforge.load(run.run_dir)
    digits = model.sample(16, seed=0)
    assert digits.dtype == torch.uint8
    assert digits.shape == (16, 1, 28, 28)
    assert torch.equal(digits, model.sample(16, seed=0))  # a seed names its samples
    scores = ganforge.evaluate(model)
    assert set(scores) >= {"confident_percent", "class_entropy", "fid"}
    assert scores == pytest.approx(run.metrics)  # what training wrote to eval/final.json, recomputed from the files

    # a table, with ctgan's interface
    df = small_table()
    ctgan = ganforge.CTGAN(epochs=2, batch_size=20, pac=2, embedding_dim=8, generator_dim=(16,),
                           discriminator_dim=(16,), run_dir=tmp_path / "ctgan").fit(df, discrete_columns=["colour"])
    synthetic = ctgan.sample(50)
    assert list(synthetic.columns) == list(df.columns)
    assert (synthetic.dtypes == df.dtypes).all()
    assert set(synthetic["colour"]) <= {"red", "green", "blue"}
    quality = ganforge.evaluate(synthetic, real=df, discrete_columns=["colour", "y"])
    assert 0.0 <= quality["quality"] <= 1.0
    assert set(quality) >= {"column_shapes", "pair_trends"}

    # a series, with Orion's interface
    anomalies = ganforge.TadGAN(steps=4, window_size=16, batch_size=4, run_dir=tmp_path / "tadgan",
                                **TADGAN_TINY).fit_detect(spiky_series(), rec_error_type="point")
    assert list(anomalies.columns[:3]) == ["start", "end", "severity"]


def test_ctgan_estimator_matches_the_cli_preset(tmp_path: Path) -> None:
    """The estimator trains exactly what ``ganforge train ctgan-health-insurance --set ...`` trains: the same
    samples of the same seed and the same quality report."""
    df = small_table(n=100)
    table = tmp_path / "t.parquet"
    df.to_parquet(table, index=False)
    est = ganforge.CTGAN(epochs=3, batch_size=20, pac=2, embedding_dim=8, generator_dim=(16,),
                         discriminator_dim=(16,), run_dir=tmp_path / "api", **{"data.options.target": "y"})
    est.fit(table, ["colour"])
    steps = 3 * (80 // 20)  # ctgan's epochs over the 80 training rows (20 % held out): 3 · 80 // 20
    sets = ["data.name=table", f"data.options={{'path': '{table}', 'discrete': ['colour'], 'target': 'y', "
            "'test_fraction': 0.2, 'seed': 0}", "model.options.z_dim=8", "model.options.g_hidden=[16]",
            "model.options.d_hidden=[16]", "model.options.pac=2", "train.batch_size=20", f"train.steps={steps}",
            f"train.checkpoint_every={steps}", "log.every=4", "log.sample_every=0", "train.device=cpu"]
    cli_run = tmp_path / "cli"
    assert main(["train", "ctgan-health-insurance", *[a for s in sets for a in ("--set", s)], "--run-dir",
                 str(cli_run), "--no-progress"]) == 0
    assert est.run.summary["step"] == steps
    a, b = est.sample(200, seed=5), ganforge.load(cli_run).sample(200, seed=5)
    pd.testing.assert_frame_equal(a[["colour", "y"]], b[["colour", "y"]])
    # Same functions, same seeds, same process and thread count: the numbers agree to float32 rounding. The decoded
    # columns are float64 sums of a few float32 network outputs scaled by the column's std: allow 64 float32 ulps.
    rtol = 64 * float(np.finfo(np.float32).eps)
    np.testing.assert_allclose(a["x"].to_numpy(), b["x"].to_numpy(), rtol=rtol, atol=rtol * df["x"].abs().max())
    np.testing.assert_allclose(a["count"].to_numpy(), b["count"].to_numpy(), rtol=rtol, atol=1)
    cli_quality = ganforge.evaluate(cli_run)
    for key in ("column_shapes", "pair_trends", "quality"):
        assert est.metrics[key] == pytest.approx(cli_quality[key], rel=1e-6), key


def test_tadgan_fit_detect_returns_the_spike(tmp_path: Path) -> None:
    series = spiky_series(at=200)
    est = ganforge.TadGAN(steps=4, window_size=16, batch_size=4, run_dir=tmp_path / "r", **TADGAN_TINY)
    found = est.fit_detect(series, rec_error_type="point", k=2.0)
    assert len(found) >= 1
    spike = 1000 + 10 * 200  # the spike's first timestamp
    assert ((found["start"] <= spike) & (spike <= found["end"])).any(), found
    assert set(found["start"]) <= set(series["timestamp"])  # Orion's shape: timestamps of the input
    assert (tmp_path / "r" / "train-series.csv").is_file()  # the run holds what it was trained on
    refit = est.fit(spiky_series(at=100)).detect(spiky_series(at=100), rec_error_type="point", k=2.0)
    assert list(refit.columns) == list(found.columns)  # fit again: the run is replaced (sklearn's refit)
    with pytest.raises(ConfigError, match="not fitted"):
        ganforge.TadGAN().detect(series)


def test_overrides_dotted_keys_and_sections() -> None:
    assert _flatten({"train.steps": 5, "log": {"every": 2}, "data.options": {"path": "x"}}) == [
        (["train", "steps"], 5), (["log", "every"], 2), (["data", "options"], {"path": "x"})]
    cfg = ganforge.resolve("ring8", {"train": {"steps": 7}, "optim.g.lr": 1e-3})
    assert cfg.train.steps == 7
    assert cfg.optim.g.lr == 1e-3
    assert cfg.train.batch_size == ganforge.resolve("ring8").train.batch_size  # the rest of train kept
    with pytest.raises(ConfigError, match="unknown"):
        ganforge.resolve("ring8", {"train.stepz": 3})


def test_sample_errors_are_one_line(tmp_path: Path) -> None:
    run = ganforge.train("ring8", tmp_path / "r", quiet=True, **{"train.steps": 2, "train.checkpoint_every": 2,
                                                                 "log.sample_every": 0, "log.tensorboard": False})
    model = run.load()
    assert model.sample(3).shape == (3, 2)
    with pytest.raises(ConfigError, match="unconditional"):
        model.sample(3, labels=1)
    with pytest.raises(ConfigError, match="does not translate"):
        model.translate(torch.zeros(1, 1, 8, 8, dtype=torch.uint8))
    with pytest.raises(ConfigError, match="does not detect"):
        model.detect(np.zeros(50))


def test_import_and_version_stay_light() -> None:
    code = "import sys, ganforge; print('torch' in sys.modules, ganforge.__version__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", ganforge.__version__]
    code = "import sys; from ganforge.entry import main; main(['--version']); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["ganforge", ganforge.__version__, "False"]
    assert "train" in dir(ganforge)
