"""The direct-method presets: they resolve, build without a discriminator and train a few steps end to end."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ganforge.builder import build_components
from ganforge.config import preset_names, resolve_config
from ganforge.data.base import TensorData
from ganforge.training.run import Run

QUIET = ["log.tensorboard=False", "log.progress=False", "log.sample_every=0", "train.checkpoint_every=1000"]
PRESETS = {"gmmn-ring8": "ring8", "gmmn-grid25": "grid25", "gmmn-mnist": "mnist",
           "inverse-transform-1d": "gaussian-mixture-1d"}


@pytest.mark.parametrize(("preset", "dataset"), PRESETS.items())
def test_preset_resolves_to_gmmn(preset: str, dataset: str) -> None:
    assert preset in preset_names()
    cfg = resolve_config(preset)
    assert cfg.objective.name == "gmmn"
    assert cfg.data.name == dataset
    assert cfg.train.batch_size >= 64  # MMD needs reasonably large batches (Li et al. 2015 used 1000)


def test_inverse_transform_preset_has_a_scalar_latent() -> None:
    cfg = resolve_config("inverse-transform-1d")
    assert cfg.model.options["z_dim"] == 1
    assert cfg.model.options["z_dist"] in ("uniform", "normal")


@pytest.mark.parametrize("preset", ["gmmn-ring8", "gmmn-grid25", "inverse-transform-1d"])
def test_toy_presets_train_without_discriminator(preset: str, tmp_path: Path) -> None:
    cfg = resolve_config(preset, ["train.steps=3", "train.batch_size=16", *QUIET])
    run = Run(cfg, tmp_path / preset, progress=False)
    assert run.components.D is None
    assert run.opt_d is None
    summary = run.train()
    assert summary["status"] == "finished"
    assert summary["step"] == 3
    assert ("modes" in summary["metrics"]) == (preset != "inverse-transform-1d")


def test_mnist_preset_builds_pixel_space_gmmn() -> None:
    cfg = resolve_config("gmmn-mnist")
    c = build_components(cfg, data=TensorData(torch.zeros(8, 1, 28, 28, dtype=torch.uint8), name="mnist-like"))
    assert c.D is None
    assert tuple(c.spec.shape) == (1, 28, 28)
    assert c.G.output_range == (0.0, 1.0)  # pixels in [0, 1]: the σ's of the preset are in those units
    assert min(c.objective.bandwidths) >= 1.0  # pixel-space σ's (784-d distances are several units)
