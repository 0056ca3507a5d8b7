"""From a resolved ``RunConfig`` to objects: dataset, G, D, objective. Shared by train, sample, eval and the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

import ganforge.data
import ganforge.hooks
import ganforge.losses
import ganforge.models  # noqa: F401  (registers models, objectives, datasets and the run hooks of each data kind)
from ganforge.config import RunConfig
from ganforge.data.base import TensorData
from ganforge.data.toy import Distribution
from ganforge.losses.objectives import Objective
from ganforge.models.base import DataSpec
from ganforge.options import ConfigError, build_options
from ganforge.registry import DATASETS, MODELS, OBJECTIVES


@dataclass
class Components:
    data: TensorData | Distribution
    spec: DataSpec
    nets: dict[str, nn.Module]  # the networks the objective uses, by name ("G", "D", "E", ...)
    objective: Objective

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


def build_dataset(cfg: RunConfig, split: str | None = None) -> TensorData | Distribution:
    dataset_cls = _get(DATASETS, cfg.data.name, "data.name")
    dataset = build_options(dataset_cls, cfg.data.options, "data.options")
    return dataset.load(split or cfg.data.split)


def data_spec(data: TensorData | Distribution) -> DataSpec:
    if isinstance(data, Distribution):
        return DataSpec(shape=(data.dim,), num_classes=0)
    return DataSpec(shape=data.shape, num_classes=data.num_classes)


def build_models(cfg: RunConfig, spec: DataSpec, objective: Objective) -> dict[str, nn.Module]:
    """The family's named networks that ``objective`` uses (e.g. GMMN drops D), checked against each other."""
    model_cfg = build_options(_get(MODELS, cfg.model.name, "model.name"), cfg.model.options, "model.options")
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


def build_objective(cfg: RunConfig) -> Objective:
    return build_options(_get(OBJECTIVES, cfg.objective.name, "objective.name"), cfg.objective.options,
                         "objective.options")


def build_components(cfg: RunConfig, device: torch.device | str = "cpu", data: Any = None) -> Components:
    """Build everything a run needs. Model weights are initialised from ``train.seed``."""
    data = data if data is not None else build_dataset(cfg)
    spec = data_spec(data)
    objective = build_objective(cfg)
    torch.manual_seed(cfg.train.seed)  # weight init is reproducible
    nets = build_models(cfg, spec, objective)
    for net in nets.values():
        net.to(device)
    return Components(data, spec, nets, objective)


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
