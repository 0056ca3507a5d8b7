"""Optimisers and learning-rate schedules from config (separate ones for G and D: TTUR)."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from ganforge.config import OptimizerConfig
from ganforge.options import ConfigError

OPTIMIZERS = ("adam", "sgd", "rmsprop")


def build_optimizer(params: Iterable[nn.Parameter], cfg: OptimizerConfig, device: torch.device,
                    where: str) -> torch.optim.Optimizer:
    params = list(params)
    fast = {"fused": True} if device.type == "cuda" else {}  # fused Adam: one kernel for all parameters
    if cfg.name == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, betas=cfg.betas, eps=cfg.eps, weight_decay=cfg.weight_decay, **fast)
    if cfg.name == "sgd":  # Goodfellow et al. (2014) used SGD with momentum
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    if cfg.name == "rmsprop":  # WGAN with clipping (Arjovsky et al. 2017)
        return torch.optim.RMSprop(params, lr=cfg.lr, momentum=cfg.momentum, eps=cfg.eps,
                                   weight_decay=cfg.weight_decay)
    raise ConfigError(f"unknown optimizer '{where}.name={cfg.name}'; choose from: {', '.join(OPTIMIZERS)}")


def build_scheduler(opt: torch.optim.Optimizer, cfg: OptimizerConfig) -> torch.optim.lr_scheduler.LRScheduler:
    """lr_t = lr · lr_decay^max(0, t − lr_decay_start) per generator step (constant when lr_decay = 1)."""
    return torch.optim.lr_scheduler.LambdaLR(opt, DelayedExponential(cfg.lr_decay, cfg.lr_decay_start))


class DelayedExponential:
    """The LambdaLR factor; a class (not a lambda) so the scheduler's state_dict stays picklable and exact."""

    def __init__(self, decay: float, start: int) -> None:
        self.decay, self.start = decay, start

    def __call__(self, step: int) -> float:
        return self.decay ** max(0, step - self.start)
