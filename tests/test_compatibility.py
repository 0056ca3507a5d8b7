"""Model ↔ objective ↔ data compatibility (``builder.check_compatibility``) and option validation by
``ganforge config`` (``builder.check_options``): combinations that would fail at step 1, or train something other
than asked, are refused when the components are built, on one line naming both settings and the fix, before the run
directory is touched."""

from __future__ import annotations

from pathlib import Path

import pytest

from ganforge.builder import build_components, check_compatibility
from ganforge.cli import main
from ganforge.config import preset_names, resolve_config
from helpers import MNIST_STANDIN, one_line_error

DIGITS = ["--set", "data.name=digits", "--set", "data.options={}", "--set", "train.batch_size=16", "--set",
          "train.steps=1"]
CRITIC = "'width': 8, 'd_channels': [8, 8], 'd_strides': [2, 1]"  # 8×8 digits: two conv layers, the second normed
SMALL_MLP = ["--set", "model.options.g_hidden=[16]", "--set", "model.options.d_hidden=[16]"]


def train(preset: str, run_dir: Path, *sets: str) -> int:
    args = [a for s in sets for a in ("--set", s)]
    return main(["train", preset, *DIGITS, *SMALL_MLP, *args, "--run-dir", str(run_dir), "--no-progress"])


@pytest.mark.parametrize(("preset", "sets", "contains"), [
    # the acgan objective needs D's class logits
    ("acgan-mnist", ["model.options.conditioning=concat"],
     "objective.name=acgan needs a discriminator that predicts the class (logits [N, 1 + K]), but "
     "model.options.conditioning=concat gives D(x, c)"),
    ("acgan-mnist", ["model.options.conditioning=projection"], "model.options.conditioning=projection gives a "
     "projection score D(x, c) and no class logits; set model.options.conditioning=acgan"),
    ("acgan-mnist", ["model.options.conditioning=none"], "set model.options.conditioning=acgan"),
    # ... and only it can read them
    ("acgan-mnist", ["objective={'name': 'logistic'}"], "model.options.conditioning=acgan makes D return "
     "[N, 1 + 10] logits (real/fake + class) that objective.name=logistic cannot use; use objective.name=acgan"),
    ("acgan-mnist", ["objective={'name': 'hinge'}"], "objective.name=hinge cannot use"),
    # labels with no discriminator to enforce them
    ("cgan-mnist", ["objective={'name': 'gmmn'}", "optim={'g': {'name': 'adam'}}"],
     "model.options.conditioning=concat makes G conditional, but objective.name=gmmn has no discriminator"),
    # WGAN-GP: no batch norm in the critic (Gulrajani et al. 2017)
    ("wgan-gp-mnist", [f"model.options={{{CRITIC}, 'd_norm': 'batch'}}"],
     "objective.name=wgan-gp penalises each sample's gradient, but a batch-norm critic (model.options.d_norm=batch)"),
    ("wgan-gp-mnist", [f"model.options={{{CRITIC}}}", "model.options.d_norm=batch"], "set model.options.d_norm=none "
     "or layer"),
    ("wgan-gp-mnist", ["model.options={'width': 8, 'd_norm': 'batch', 'd_norm_first': True}"], "d_norm=batch"),
])
def test_incompatible_model_and_objective_fail_before_anything_is_written(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], preset: str, sets: list[str], contains: str) -> None:
    if preset == "wgan-gp-mnist":  # a DCGAN: drop the MLP widths
        rc = main(["train", preset, *DIGITS, *[a for s in sets for a in ("--set", s)], "--run-dir",
                   str(tmp_path / "run"), "--no-progress"])
    else:
        rc = train(preset, tmp_path / "run", *sets)
    one_line_error(capsys, rc, contains)
    assert not (tmp_path / "run").exists()


def test_the_acgan_objective_on_unlabelled_data(capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["train", "ring8", "--set", "objective={'name': 'acgan'}", "--dry-run"])
    one_line_error(capsys, rc, "objective.name=acgan needs a labelled dataset (num_classes >= 2); data.name=ring8 "
                               "has 0 classes")


def test_a_conditional_model_on_unlabelled_data(capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["train", "ring8", "--set", "model.options.conditioning=concat", "--dry-run"])
    one_line_error(capsys, rc, "model.options.conditioning='concat' needs a labelled dataset")


@pytest.mark.parametrize("sets", [[], [f"model.options={{{CRITIC}, 'd_norm': 'layer'}}"],
                                  [f"model.options={{{CRITIC}}}", "objective.options={'gp_weight': 0.0}"]])
def test_compatible_wgan_gp_critics_pass(capsys: pytest.CaptureFixture[str], sets: list[str]) -> None:
    """layer norm (per sample), none, or a batch-norm critic without the penalty."""
    args = [a for s in sets for a in ("--set", s)]
    if sets and "gp_weight" in sets[-1]:
        args += ["--set", "model.options.d_norm=batch"]
    assert main(["train", "wgan-gp-mnist", *DIGITS, *args, "--dry-run"]) == 0
    capsys.readouterr()


@pytest.mark.parametrize("preset", preset_names())
def test_every_preset_is_compatible(preset: str) -> None:
    cfg = resolve_config(preset)
    c = build_components(cfg, data=MNIST_STANDIN if cfg.data.name == "mnist" else None)
    check_compatibility(cfg, c.spec, c.objective, c.nets)


@pytest.mark.parametrize(("sets", "contains"), [
    (["model.options.foo=1"], "unknown config key 'model.options.foo'; valid here: ["),
    (["model.options.conditional=true"], "unknown config key 'model.options.conditional'; valid here: ['conditioning'"),
    (["objective.options.foo=1"], "unknown config key 'objective.options.foo'"),
    (["data.options.foo=1"], "unknown config key 'data.options.foo'"),
    (["model.options.z_dim=0"], "model.options: z_dim must be >= 1"),
    (["model.options.z_dim=two"], "config key 'model.options.z_dim' expects int"),
    (["optim.e.lr=0.1"], "objective 'logistic' has no optimiser group 'e'"),
])
def test_config_validates_component_options(capsys: pytest.CaptureFixture[str], sets: list[str],
                                            contains: str) -> None:
    rc = main(["config", "ring8", *[a for s in sets for a in ("--set", s)]])
    assert rc == 2
    one_line_error(capsys, rc, contains)


def test_config_still_prints_a_valid_preset(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "acgan-mnist", "--set", "model.options.embed_dim=8"]) == 0
    assert "embed_dim: 8" in capsys.readouterr().out
