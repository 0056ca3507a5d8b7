"""The PacGAN-exact presets (Lin et al. 2018, §5.1 / Table 1, the authors' released 2-D configs): they resolve to the
published architecture and optimiser, a batch is 100 packed D inputs, and each trains a few steps end to end."""

from __future__ import annotations

from pathlib import Path

import pytest
from torch import nn

from ganforge.builder import build_components
from ganforge.config import preset_names, resolve_config
from ganforge.models.layers import Maxout
from ganforge.training.run import Run

QUIET = ["log.tensorboard=False", "log.progress=False", "log.sample_every=0", "train.checkpoint_every=1000"]
PACKS = {"gan": 1, "pac2": 2, "pac4": 4}
PRESETS = [(f"pacgan-paper-{data}-{v}", data, k) for data in ("ring8", "grid25") for v, k in PACKS.items()]


@pytest.mark.parametrize(("preset", "dataset", "pack"), PRESETS)
def test_preset_follows_the_published_setup(preset: str, dataset: str, pack: int) -> None:
    assert preset in preset_names()
    cfg = resolve_config(preset)
    assert cfg.data.name == dataset
    assert cfg.data.options == {}  # ring8 / grid25 defaults are the paper's mixtures (radius 1 std 0.01; std 0.05)
    o = cfg.model.options
    assert (o["g_hidden"], o["g_activation"], o["g_batchnorm"]) == ([400] * 4, "relu", True)
    assert (o["d_hidden"], o["d_activation"], o["maxout_pieces"]) == ([200] * 3, "maxout", 5)
    assert (o["z_dim"], o["pack"], o["init"]) == (2, pack, "dcgan")
    assert cfg.objective.name == "logistic"
    assert cfg.objective.options == {"g_cost": "nonsaturating", "update": "simultaneous"}
    for group in ("g", "d"):
        opt = cfg.optim[group]
        assert (opt.name, opt.lr, opt.betas, opt.lr_decay) == ("adam", 1e-4, (0.8, 0.999), 1.0)
    assert cfg.train.batch_size == 100 * pack  # 100 packed D inputs per step, as in the paper
    assert cfg.train.steps == 400 * 100_000 // 100  # 400 epochs of 100,000 examples
    assert cfg.train.ema == 0.0


def test_networks_have_the_published_shapes() -> None:
    c = build_components(resolve_config("pacgan-paper-grid25-pac2"))
    linears = [(m.in_features, m.out_features) for m in c.D.modules() if isinstance(m, nn.Linear)]
    assert linears == [(4, 1000), (200, 1000), (200, 1000), (200, 1)]
    assert sum(isinstance(m, Maxout) for m in c.D.modules()) == 3
    g_linears = [(m.in_features, m.out_features) for m in c.G.modules() if isinstance(m, nn.Linear)]
    assert g_linears == [(2, 400), (400, 400), (400, 400), (400, 400), (400, 2)]
    assert sum(isinstance(m, nn.BatchNorm1d) for m in c.G.modules()) == 4


@pytest.mark.parametrize("preset", ["pacgan-paper-ring8-gan", "pacgan-paper-grid25-pac4"])
def test_preset_trains_and_reports_both_coverage_counts(preset: str, tmp_path: Path) -> None:
    pack = resolve_config(preset).model.options["pack"]
    cfg = resolve_config(preset, ["train.steps=2", f"train.batch_size={8 * pack}", *QUIET])
    summary = Run(cfg, tmp_path / preset, progress=False).train()
    assert summary["status"] == "finished"
    assert {"modes", "modes_20", "hq_percent", "reverse_kl"} <= set(summary["metrics"])
    assert summary["metrics"]["modes_20"] <= summary["metrics"]["modes"]
