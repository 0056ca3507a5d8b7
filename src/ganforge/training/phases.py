"""Phases: what the trainer runs each step. Built from an objective; the trainer itself knows no GAN.

Goodfellow et al. (2014), Algorithm 1: k discriminator updates, then one generator update. Lazy regularisation
(Karras et al. 2020, §B) is a phase that runs every ``reg_every`` steps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from torch import nn
from torch.optim import Optimizer

from ganforge.losses.objectives import Batch, LossTerms, Objective


@dataclass
class Phase:
    name: str  # "D", "D_reg", "G"
    module: nn.Module  # whose parameters this phase updates
    optimizer: Optimizer
    loss_fn: Callable[[Batch], LossTerms]
    repeats: int = 1  # k D-steps per G-step
    every: int = 1  # run on every n-th step (lazy regularisation)
    needs_real: bool = True  # whether the loss reads real samples (the G phase of a GAN does not)
    after_step: Callable[[], None] | None = None  # e.g. WGAN weight clipping
    double_backward: bool = False  # the loss differentiates through a gradient (GP, R1): never CUDA-graph captured


def build_phases(objective: Objective, G: nn.Module, D: nn.Module | None, opt_g: Optimizer,
                 opt_d: Optimizer | None, d_steps: int) -> list[Phase]:
    phases: list[Phase] = []
    if objective.uses_discriminator:
        assert D is not None
        assert opt_d is not None
        phases.append(Phase("D", D, opt_d, partial(objective.d_loss, G, D), repeats=d_steps,
                            after_step=partial(objective.after_d_step, D),
                            double_backward=objective.needs_double_backward and objective.reg_every == 0))
        if objective.reg_every > 0:
            phases.append(Phase("D_reg", D, opt_d, partial(objective.d_reg, G, D), every=objective.reg_every,
                                after_step=partial(objective.after_d_step, D), double_backward=True))
    phases.append(Phase("G", G, opt_g, partial(objective.g_loss, G, D),
                        needs_real=getattr(objective, "g_needs_real", False)))
    return phases
