"""From a resolved ``RunConfig`` to objects: dataset, G, D, objective. Shared by train, sample, eval and the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

import ganforge.data
import ganforge.losses
import ganforge.models  # registers models and objectives (datasets and run hooks: register_all below)
from ganforge.config import RunConfig
from ganforge.data.base import Dataset, DataSpec
from ganforge.losses.objectives import Objective, Settings
from ganforge.models.base import ModelFamily
from ganforge.options import ConfigError, build_options
from ganforge.registry import DATASETS, MODELS, OBJECTIVES

ganforge.data.register_all()  # datasets (the data kinds register on use: ganforge.kinds.hooks_for)


@dataclass
class Components:
    data: Dataset
    spec: DataSpec
    nets: dict[str, nn.Module]  # the networks the objective uses, by name ("G", "D", "E", ...)
    objective: Objective
    family: ModelFamily  # the model family's options: builds the networks and generates (the sampling contract)

    @property
    def G(self) -> nn.Module:
        return self.nets["G"]

    @property
    def D(self) -> nn.Module | None:
        return self.nets.get("D")


def _get(registry: Any, name: str, where: str) -> Any:
    try:
        return registry.get(name)
    except KeyError as exc:
        raise ConfigError(f"{where}: {exc.args[0]}") from None


def build_dataset(cfg: RunConfig, split: str | None = None) -> Dataset:
    dataset_cls = _get(DATASETS, cfg.data.name, "data.name")
    dataset = build_options(dataset_cls, cfg.data.options, "data.options")
    return dataset.load(split or cfg.data.split)


def data_spec(data: Dataset) -> DataSpec:
    """What the networks are built for: the data kind's own ``spec()``."""
    return data.spec()


def build_family(cfg: RunConfig) -> ModelFamily:
    """The model family's options dataclass (``model.options`` checked): it builds networks and generates."""
    return build_options(_get(MODELS, cfg.model.name, "model.name"), cfg.model.options, "model.options")


def build_models(cfg: RunConfig, spec: DataSpec, objective: Objective,
                 family: ModelFamily | None = None) -> dict[str, nn.Module]:
    """The family's named networks that ``objective`` uses (e.g. GMMN drops D), checked against each other
    (``family``: the already built ``build_family(cfg)``, else it is built here)."""
    model_cfg = family if family is not None else build_family(cfg)
    try:
        nets = model_cfg.build(spec)
    except ValueError as exc:
        raise ConfigError(f"model {cfg.model.name!r}: {exc}") from None
    missing = [n for n in objective.networks() if n not in nets]
    if missing:
        raise ConfigError(f"objective {cfg.objective.name!r} needs networks {missing} that model {cfg.model.name!r} "
                          f"does not build (it builds {sorted(nets)}); pick a model family with them")
    check_groups(cfg, objective)
    return {name: nets[name] for name in objective.networks()}


def check_groups(cfg: RunConfig, objective: Objective) -> None:
    """``optim.<group>`` must name a group the objective trains (``g``/``d`` are always allowed: defaults)."""
    groups = objective.groups()
    extra = [g for g in cfg.optim if g not in groups and g not in cfg.optim.DEFAULT_GROUPS]
    if extra:
        raise ConfigError(f"optim.{extra[0]}: objective {cfg.objective.name!r} has no optimiser group {extra[0]!r}; "
                          f"its groups are {sorted(groups)}")
    missing = [g for g in groups if g not in cfg.optim]
    if missing:  # g and d always have defaults; a family's own groups (StarGAN v2's f, e) are set by its preset
        raise ConfigError(f"objective {cfg.objective.name!r} trains optimiser group {missing[0]!r} but the config has "
                          f"no optim.{missing[0]}; add it (e.g. --set optim.{missing[0]}.lr=1e-4) or start from the "
                          "family's preset")


def build_objective(cfg: RunConfig) -> Objective:
    return build_options(_get(OBJECTIVES, cfg.objective.name, "objective.name"), cfg.objective.options,
                         "objective.options")


def check_batch(batch_size: int, world_size: int, family: ModelFamily) -> None:
    """One-line ``ValueError`` unless the global batch splits evenly over ranks, and each rank's shard into whole
    packs of the family's PacGAN packing (``ModelFamily.packing``; its option is named in the fix)."""
    if batch_size % world_size:
        raise ValueError(f"train.batch_size={batch_size} is the global batch and must be divisible by the "
                         f"{world_size} processes; set train.batch_size to a multiple of {world_size}")
    pack = family.packing()
    if pack > 1 and (batch_size // world_size) % pack:
        raise ValueError(f"each process gets {batch_size // world_size} samples, not a multiple of "
                         f"{family.setting(family.packing_option)}; set train.batch_size to a multiple of "
                         f"{world_size * pack}")


def check_options(cfg: RunConfig) -> None:
    """Build the model, objective and dataset options dataclasses (unknown keys, wrong types, bad values: one-line
    ``ConfigError``) and check the optimiser groups, without loading data or building networks (``ganforge config``).
    """
    family = build_family(cfg)
    check_groups(cfg, build_objective(cfg))
    build_options(_get(DATASETS, cfg.data.name, "data.name"), cfg.data.options, "data.options")
    try:  # as Run checks it (one process here; torchrun's world size is checked when it starts)
        check_batch(cfg.train.batch_size, 1, family)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if cfg.train.device != "auto":  # the spelling; whether this machine has the device is train's question
        try:
            torch.device(cfg.train.device)
        except RuntimeError:
            raise ConfigError(f"train.device={cfg.train.device!r} is not a device; use auto, cpu, cuda or cuda:N") \
                from None


def check_compatibility(cfg: RunConfig, spec: DataSpec, objective: Objective, nets: dict[str, nn.Module],
                        family: ModelFamily | None = None) -> None:
    """Model ↔ objective ↔ data combinations that build but would fail at the first step (``Objective.check``), as a
    one-line ``ConfigError`` naming the settings. Called by ``build_components``, before anything is written
    (``train`` and ``train --dry-run``); loading a trained run does not repeat it."""
    family = family if family is not None else build_family(cfg)
    names = Settings(objective=f"objective.name={cfg.objective.name}", data=f"data.name={cfg.data.name}",
                     conditioning=family.setting("conditioning") or "model.options.conditioning=none",
                     critic_norm=family.setting("d_norm"))
    try:
        objective.check(spec, nets, names)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def build_components(cfg: RunConfig, device: torch.device | str = "cpu", data: Any = None) -> Components:
    """Build everything a run needs. Model weights are initialised from ``train.seed``."""
    data = data if data is not None else build_dataset(cfg)
    try:  # a data kind's own limits on the batch (tables: its rows; Dataset.check_batch)
        data.check_batch(cfg.train.batch_size)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    spec = data_spec(data)
    objective = build_objective(cfg)
    torch.manual_seed(cfg.train.seed)  # weight init is reproducible
    family = build_family(cfg)
    nets = build_models(cfg, spec, objective, family)
    check_compatibility(cfg, spec, objective, nets, family)
    for net in nets.values():
        net.to(device)
    return Components(data, spec, nets, objective, family)


def resolve_device(name: str, where: str = "train.device") -> torch.device:
    """"auto" → CUDA when available, else CPU. ``where`` names the setting in errors ("train.device", "--device")."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"{where}={name} but CUDA is not available; use {where}=cpu or auto")
    try:
        return torch.device(name)
    except RuntimeError:
        raise ConfigError(f"{where}={name!r} is not a device; use auto, cpu, cuda or cuda:N") from None
