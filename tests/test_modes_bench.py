"""The mode-collapse suite: method specs, per-run configs, the table writers and a tiny end-to-end bench."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch

from ganforge.bench import modes as modes_bench
from ganforge.bench.modes import (
    PUBLISHED,
    Method,
    format_markdown,
    main,
    method_config,
    run_mode_bench,
    write_csv,
)
from ganforge.models.base import Generator

TINY = ["model.options.g_hidden=[8]", "model.options.d_hidden=[8]", "train.batch_size=16"]


def test_method_spec_parsing() -> None:
    assert Method.parse("gmmn-ring8") == Method("gmmn-ring8", "gmmn-ring8", [])
    m = Method.parse("pacgan2:ring8;model.options.pack=2;train.steps=10")
    assert m == Method("pacgan2", "ring8", ["model.options.pack=2", "train.steps=10"])
    assert Method.parse("ring8;objective.options={'g_cost': 'minimax'}").label == "ring8"  # '=' before any ':'
    with pytest.raises(ValueError, match="no preset"):
        Method.parse("label:")


def test_method_config_swaps_dataset_and_applies_overrides() -> None:
    cfg = method_config(Method.parse("x:gmmn-ring8;optim.g.lr=0.01"), "grid25", seed=3, steps=7)
    assert cfg.data.name == "grid25"
    assert cfg.data.options == {}
    assert (cfg.train.seed, cfg.train.steps, cfg.optim.g.lr) == (3, 7, 0.01)
    assert cfg.objective.name == "gmmn"
    assert not cfg.log.tensorboard
    assert not cfg.log.progress
    same = method_config(Method.parse("gmmn-ring8"), None, seed=0, steps=None, overrides=["data.options.std=0.02"])
    assert same.data.name == "ring8"
    assert same.data.options == {"std": 0.02}
    stacked = method_config(Method.parse("pacdcgan2-stacked-mnist"), None, seed=1, steps=2)
    assert stacked.model.name == "dcgan"
    assert stacked.model.options["pack"] == 2
    assert stacked.data.name == "stacked-mnist"


def _rows() -> list[dict]:
    return [
        {"dataset": "ring8", "method": "gmmn", "source": "measured", "seeds": 2, "steps": 5, "modes": (7.5, 0.7071),
         "modes_20": (6.5, 0.7071), "hq_percent": (30.0, 1.0), "kl": (0.02, 0.01), "seconds": (12.0, 1.0)},
        {"dataset": "ring8", "source": "published", "seeds": None, "steps": None, "seconds": None,
         **PUBLISHED["ring8"][0]},
    ]


def test_markdown_and_csv(tmp_path: Path) -> None:
    md = format_markdown(_rows())
    assert "| modes | modes (≥ 20) | high quality (%) |" in md
    assert "| ring8 | gmmn | measured | 2 | 5 | 7.5 ± 0.7 | 6.5 ± 0.7 | 30.0 ± 1.0 | 0.02 ± 0.01 | 12 ± 1 |" in md
    assert "| ring8 | GAN (PacGAN Table 1) | published |  |  | 6.3 ± 0.5 |  | 98.2 |  |  |" in md
    write_csv(_rows(), tmp_path / "t.csv")
    with open(tmp_path / "t.csv") as fh:
        lines = list(csv.DictReader(fh))
    assert lines[0]["modes_mean"] == "7.5"
    assert lines[0]["modes_std"] == "0.7071"
    assert lines[0]["modes_20_mean"] == "6.5"
    assert lines[1]["modes_20_mean"] == ""  # the published rows use the one-sample rule only
    assert lines[1]["hq_percent_mean"] == "98.2"
    assert lines[1]["hq_percent_std"] == ""
    assert lines[1]["kl_mean"] == ""


def test_bench_aggregates_seeds_and_writes_outputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def fake_run_one(cfg, run_dir, n_stacked_eval):  # training is covered by test_main_cli; here: the bookkeeping
        calls.append((cfg.name, cfg.data.name, cfg.train.seed, cfg.train.steps, run_dir))
        modes = 6.0 + cfg.train.seed
        return {"modes": modes, "modes_20": modes - 1, "hq_percent": 50.0, "kl": 0.1}, torch.randn(50, 2).numpy(), 1.0

    monkeypatch.setattr(modes_bench, "run_one", fake_run_one)
    rows = run_mode_bench(["gmmn-ring8", "gan:ring8"], ["grid25", "ring8"], [0, 2], 9, tmp_path, verbose=False)
    assert len(calls) == 8
    assert {c[3] for c in calls} == {9}
    assert calls[0][4] == tmp_path / "runs" / "grid25" / "gmmn-ring8" / "seed-0"
    measured = [(r["dataset"], r["method"]) for r in rows if r["source"] == "measured"]
    assert measured == [("grid25", "gmmn-ring8"), ("grid25", "gan"), ("ring8", "gmmn-ring8"), ("ring8", "gan")]
    row = rows[0]
    assert row["seeds"] == 2
    assert row["modes"] == pytest.approx((7.0, 2**0.5))
    assert row["modes_20"] == pytest.approx((6.0, 2**0.5))
    assert row["hq_percent"] == (50.0, 0.0)
    assert [r["source"] for r in rows[:4]] == ["measured", "measured", "published", "published"]
    assert sum(r["source"] == "published" for r in rows) == len(PUBLISHED["ring8"]) + len(PUBLISHED["grid25"])
    for name in ("modes.md", "modes.csv", "modes.png", "results.json"):
        assert (tmp_path / name).stat().st_size > 0


def test_stacked_protocol_counts_classifier_modes(monkeypatch: pytest.MonkeyPatch) -> None:
    # a "generator" that outputs fixed digit-like images: the protocol must classify 3 channels and histogram modes
    seen = {}

    def fake_modes(model, images):
        seen["shape"] = tuple(images.shape)
        return torch.arange(images.shape[0]) % 4

    monkeypatch.setattr("ganforge.metrics.classifier.stacked_mnist_modes", fake_modes)

    class G(Generator):
        z_dim, output_range = 2, (-1.0, 1.0)

        def forward(self, z):
            return torch.zeros(z.shape[0], 3, 28, 28)

    out = modes_bench._stacked_metrics(G(), 0, torch.device("cpu"), 40)
    assert seen["shape"] == (40, 3, 28, 28)
    assert out["modes"] == 4.0
    assert out["kl"] == pytest.approx(torch.log(torch.tensor(250.0)).item())


def test_main_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--presets", "gmmn-ring8", "--seeds", "0", "--steps", "2", "--out-dir", str(tmp_path), "--no-picture"]
    for o in TINY:
        argv += ["--set", o]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "| ring8 | gmmn-ring8 | measured | 1 | 2 |" in out
    runs = json.loads((tmp_path / "results.json").read_text())[0]["runs"]
    assert set(runs[0]) >= {"modes", "modes_20", "hq_percent", "kl"}
    assert 0 <= runs[0]["modes_20"] <= runs[0]["modes"] <= 8
    assert "modes.md" in out
    assert not (tmp_path / "modes.png").exists()
    assert (tmp_path / "runs" / "ring8" / "gmmn-ring8" / "seed-0" / "eval" / "final.json").is_file()
