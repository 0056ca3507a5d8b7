"""Optimisers and learning-rate schedules from config (separate ones for G and D: TTUR)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor, nn

from ganforge.config import OPTIMIZERS, OptimizerConfig
from ganforge.options import ConfigError

CAPTURABLE = ("adam", "rmsprop")  # optimisers whose step can be recorded in a CUDA graph


def build_optimizer(params: Iterable[nn.Parameter], cfg: OptimizerConfig, device: torch.device,
                    where: str, capturable: bool = False) -> torch.optim.Optimizer:
    """``capturable`` (CUDA graphs, Adam/RMSprop only): device-side step counters and a tensor learning rate that
    LR schedules update in place, so a captured step sees every schedule change."""
    params = list(params)
    capturable = capturable and device.type == "cuda" and cfg.name in CAPTURABLE
    lr: float | Tensor = torch.tensor(cfg.lr, device=device) if capturable else cfg.lr
    graph = {"capturable": True} if capturable else {}
    fast = {"fused": True} if device.type == "cuda" else {}  # fused Adam: one kernel for all parameters
    if cfg.name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=cfg.betas, eps=cfg.eps, weight_decay=cfg.weight_decay,
                                **fast, **graph)
    if cfg.name == "sgd":  # Goodfellow et al. (2014) used SGD with momentum
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    if cfg.name == "rmsprop":  # WGAN with clipping (Arjovsky et al. 2017)
        return torch.optim.RMSprop(params, lr=lr, momentum=cfg.momentum, eps=cfg.eps,
                                   weight_decay=cfg.weight_decay, **graph)
    raise ConfigError(f"unknown optimizer '{where}.name={cfg.name}'; choose from: {', '.join(OPTIMIZERS)}")


def build_scheduler(opt: torch.optim.Optimizer, cfg: OptimizerConfig) -> torch.optim.lr_scheduler.LRScheduler:
    """Per generator step t: exponential lr_t = lr · lr_decay^max(0, t − lr_decay_start) (constant when lr_decay = 1),
    or with ``lr_decay_end`` > 0 linear lr_t = lr · clip(1 − (t − start) / (end − start), 0, 1): constant until
    ``lr_decay_start``, then linearly to 0 at ``lr_decay_end`` (CycleGAN, Zhu et al. 2017 §4: 100 + 100 epochs)."""
    if cfg.lr_decay_end:
        if cfg.lr_decay != 1.0 or cfg.lr_decay_end <= cfg.lr_decay_start:
            raise ConfigError(f"lr_decay_end={cfg.lr_decay_end} (linear decay to 0) needs lr_decay_end > "
                              f"lr_decay_start={cfg.lr_decay_start} and lr_decay = 1 (not both schedules)")
        factor: Any = DelayedLinear(cfg.lr_decay_start, cfg.lr_decay_end)
    else:
        factor = DelayedExponential(cfg.lr_decay, cfg.lr_decay_start)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
    float_base_lrs(sched)
    return sched


def float_base_lrs(sched: Any) -> None:
    """Base learning rates as Python floats (a tensor lr would otherwise leak into them and into checkpoints)."""
    sched.base_lrs = [float(x) for x in sched.base_lrs]


def load_optimizer_state(opt: torch.optim.Optimizer, state: dict[str, Any]) -> None:
    """``opt.load_state_dict(state)`` that keeps this optimiser's own execution flags.

    ``load_state_dict`` copies the saved param-group options, including ``capturable``/``fused``/``foreach`` and the
    lr's type, so a checkpoint from a CUDA-graph run would turn a CPU run's optimiser capturable and vice versa.
    Training state (moments, step counts, lr values) is restored; how the step executes stays as built.
    """
    keep = [{k: g[k] for k in ("capturable", "fused", "foreach") if k in g} | {"lr_tensor": isinstance(g["lr"], Tensor)}
            for g in opt.param_groups]
    opt.load_state_dict(state)
    for group, flags in zip(opt.param_groups, keep, strict=True):
        lr_tensor = flags.pop("lr_tensor")
        group.update(flags)
        device = group["params"][0].device
        lr = float(group["lr"])
        group["lr"] = torch.tensor(lr, device=device) if lr_tensor else lr
        if "initial_lr" in group:
            group["initial_lr"] = float(group["initial_lr"])
        on_device = group.get("capturable", False) or group.get("fused", False)
        for p in group["params"]:
            st = opt.state.get(p, {})
            if isinstance(st.get("step"), Tensor):  # device step for capturable/fused, host step otherwise
                st["step"] = st["step"].to(dtype=torch.float32, device=device if on_device else "cpu")


class DelayedExponential:
    """The LambdaLR factor; a class (not a lambda) so the scheduler's state_dict stays picklable and exact."""

    def __init__(self, decay: float, start: int) -> None:
        self.decay, self.start = decay, start

    def __call__(self, step: int) -> float:
        return self.decay ** max(0, step - self.start)


class DelayedLinear:
    """The LambdaLR factor of a constant-then-linear-to-zero schedule (picklable, like ``DelayedExponential``)."""

    def __init__(self, start: int, end: int) -> None:
        self.start, self.end = start, end

    def __call__(self, step: int) -> float:
        return min(1.0, max(0.0, 1.0 - (step - self.start) / (self.end - self.start)))
