"""Config contract: presets resolve, overrides are type-checked, bad keys/types are one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ganforge.config import RunConfig, config_from_dict, dump_yaml, parse_override, preset_names, resolve_config
from ganforge.data.base import Dataset
from ganforge.options import ConfigError


def test_every_preset_resolves_and_round_trips_through_yaml(tmp_path: Path) -> None:
    assert "ring8" in preset_names()
    for name in preset_names():
        cfg = resolve_config(name)
        assert cfg.name == name
        path = tmp_path / f"{name}.yaml"
        path.write_text(dump_yaml(cfg.to_dict()))
        assert resolve_config(str(path)) == cfg  # the resolved config is itself a loadable preset


def test_overrides_reach_their_fields_with_types() -> None:
    cfg = resolve_config("ring8", ["optim.d.lr=3e-4", "train.d_steps=5", "optim.g.betas=(0.0, 0.9)",
                                   "objective.options.g_cost=minimax", "log.tensorboard=false"], seed=7)
    assert cfg.optim.d.lr == 3e-4
    assert cfg.optim.g.lr == 1e-3  # untouched: TTUR keeps G and D separate
    assert cfg.train.d_steps == 5
    assert cfg.optim.g.betas == (0.0, 0.9)
    assert cfg.objective.options["g_cost"] == "minimax"
    assert cfg.log.tensorboard is False
    assert cfg.train.seed == 7


def test_int_is_accepted_for_float_but_not_the_reverse() -> None:
    assert resolve_config("ring8", ["optim.g.lr=1"]).optim.g.lr == 1.0
    with pytest.raises(ConfigError, match=r"'train.steps' expects int or null, got float 1.5"):
        resolve_config("ring8", ["train.steps=1.5"])


@pytest.mark.parametrize(("override", "pattern"), [
    ("train.stpes=5", r"unknown config key 'train.stpes'; valid here: \[.*'steps'"),
    ("optim.g.learning_rate=1", r"unknown config key 'optim.g.learning_rate'"),
    ("bogus=1", r"unknown config key 'bogus'"),
    ("train.batch_size=big", r"'train.batch_size' expects int, got str 'big'"),
    ("log.tensorboard=3", r"'log.tensorboard' expects bool"),
    ("train.steps=0", r"train.steps must be >= 1"),
    ("train.ema=1.0", r"train.ema must be in \[0, 1\)"),
    ("train=3", r"'train' is a section"),
    ("train.steps", r"--set expects KEY=VALUE"),
])
def test_bad_overrides_are_one_line_errors(override: str, pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern) as info:
        resolve_config("ring8", [override])
    assert "\n" not in str(info.value)


def test_unknown_preset_and_missing_file() -> None:
    with pytest.raises(ConfigError, match=r"unknown preset 'ring9'; choose from: .*ring8"):
        resolve_config("ring9")
    with pytest.raises(ConfigError, match=r"config file 'nope.yaml' not found"):
        resolve_config("nope.yaml")


def test_bad_yaml_files(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("train: {steps: [1,\n")
    with pytest.raises(ConfigError, match="is not valid YAML"):
        resolve_config(str(broken))
    listy = tmp_path / "list.yaml"
    listy.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        resolve_config(str(listy))


def test_parse_override_literals() -> None:
    assert parse_override("a.b=1e-4") == (["a", "b"], 1e-4)
    assert parse_override("a=[1, 2]") == (["a"], [1, 2])
    assert parse_override("a=true") == (["a"], True)
    assert parse_override("a=hello") == (["a"], "hello")
    assert parse_override("a=none") == (["a"], "none")  # a valid string value of several options
    assert parse_override("a=null") == (["a"], None)
    assert parse_override("a=None") == (["a"], None)


def test_none_is_a_string_option_value() -> None:
    from ganforge.builder import build_models, build_objective
    from ganforge.data.base import DataSpec

    cfg = resolve_config("dcgan-mnist", ["model.options.d_norm=none"])
    assert cfg.model.options["d_norm"] == "none"
    D = build_models(cfg, DataSpec((1, 28, 28)), build_objective(cfg))["D"]
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in D.modules())


def test_defaults_are_a_valid_config() -> None:
    assert config_from_dict({}) == RunConfig()


# ---- train.epochs ----------------------------------------------------------------------------------------------


class _Sized(Dataset):
    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n


def test_epochs_is_exactly_one_of_steps_and_epochs_and_the_later_override_wins() -> None:
    from ganforge.config import resolve_epochs

    cfg = resolve_config("ring8", ["train.epochs=3", "train.batch_size=32"])  # ring8's own train.steps gives way
    assert (cfg.train.steps, cfg.train.epochs) == (None, 3)
    assert resolve_epochs(cfg, _Sized(100)) == 10  # ceil(3 · 100 / 32) = ceil(9.375)
    assert (cfg.train.steps, cfg.train.epochs) == (10, None)  # what config.yaml records
    assert resolve_epochs(cfg, _Sized(100)) is None  # already steps
    cfg = resolve_config("ring8", ["train.epochs=3", "train.steps=7"])  # the later one wins
    assert (cfg.train.steps, cfg.train.epochs) == (7, None)
    assert config_from_dict({"train": {"epochs": 2}}).train.steps is None  # a YAML giving epochs only
    with pytest.raises(ConfigError, match=r"exactly one of train\.steps and train\.epochs"):
        config_from_dict({"train": {"epochs": 2, "steps": 5}})
    with pytest.raises(ConfigError, match="exactly one"):
        config_from_dict({"train": {"steps": None}})
    with pytest.raises(ConfigError, match=r"train\.epochs must be >= 1"):
        resolve_config("ring8", ["train.epochs=0"])
    with pytest.raises(ConfigError, match="fixed size"):  # ring8 samples its mixture without end
        resolve_epochs(resolve_config("ring8", ["train.epochs=1"]), Dataset())


def test_table_epochs_follow_ctgan() -> None:
    from ganforge.config import resolve_epochs
    from ganforge.data.tabular import n_steps

    class Table(_Sized):
        def steps_for_epochs(self, epochs: int, batch_size: int) -> int:
            return n_steps(len(self), batch_size, epochs)

    cfg = resolve_config("ring8", ["train.epochs=3", "train.batch_size=32"])
    assert resolve_epochs(cfg, Table(100)) == 3 * (100 // 32)  # ctgan: epochs · (rows // batch_size)


def test_the_renamed_eval_digits_key_is_refused_naming_the_new_one() -> None:
    from ganforge.config import upgrade_saved

    with pytest.raises(ConfigError, match=r"^log\.eval_digits is now called log\.eval_samples; rename the key$"):
        resolve_config("ring8", ["log.eval_digits=64"])
    assert resolve_config("ring8", ["log.eval_samples=64"]).log.eval_samples == 64
    saved = {"name": "old", "log": {"eval_digits": 64, "every": 5}}  # as an older run's checkpoint holds it
    assert upgrade_saved(saved) == {"name": "old", "log": {"eval_samples": 64, "every": 5}}
    assert saved["log"] == {"eval_digits": 64, "every": 5}  # a copy
    assert config_from_dict(upgrade_saved(saved)).log.eval_samples == 64
