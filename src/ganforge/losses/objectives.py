"""Objectives own the maths of a GAN's steps, and declare what the trainer runs: phases, optimiser groups, batches.

An objective knows the named networks (``G``, ``D``, ``E``, …) but not optimisers, schedules, devices or the loop:
each loss returns ``LossTerms`` (what to backpropagate plus detached scalars to report) and never calls
``backward()``. Options are the dataclass fields. What the generic trainer asks of an objective:

- ``networks()``  the names of the family's networks it uses (the builder drops the others, e.g. D for GMMN);
- ``groups()``    optimiser groups ``{"g": ("G",), "d": ("D",)}``: ``optim.<group>`` builds one optimiser over the
                  parameters of those networks (BiGAN trains E and G as one group);
- ``phases(nets, d_steps)``  what to run each step (``Phase``): the default is Goodfellow's Algorithm 1 — D ×k, a lazy
                  D_reg every k steps, G, a lazy G_reg — and a *simultaneous* phase trains several groups from one
                  forward pass (``LossTerms.totals``);
- ``make_batch(draw, nets, phase, step)``  the step's inputs from the data source and the trainer's RNG;
- ``ema_networks()``  the networks that get an exponential-moving-average copy when ``train.ema > 0``;
- ``state_dict()`` / ``load_state_dict()``  objective state saved in the checkpoint (image pools, running means).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from ganforge.losses import adversarial
from ganforge.registry import OBJECTIVES

if TYPE_CHECKING:
    from ganforge.training.draws import Draws

Nets = dict[str, nn.Module]


@dataclass
class Batch:
    """One step's inputs: real samples and labels, latent codes and the labels to generate for, plus any named
    fields a family needs (paired inputs, reference images, target domains, windows) in ``fields``."""

    real: Tensor | None  # [N, *shape] in the generator's output range (None for phases that read no data)
    z: Tensor | None  # [N, z_dim]
    labels: Tensor | None = None  # [N] int64 labels of ``real`` (None when unlabelled / unconditional)
    fake_labels: Tensor | None = None  # [N] labels G is asked to generate (conditional models only)
    generator: torch.Generator | None = None  # RNG for any randomness inside the loss (label noise, GP interpolates)
    rank: int = 0  # this process's shard of the global batch (training.distributed): rows [rank·N, (rank+1)·N)
    world_size: int = 1
    step: int = 0  # the training step (completed G updates): schedules inside a loss read it (e.g. λ_ds decay)
    fields: dict[str, Tensor] = field(default_factory=dict)  # family-specific named tensors

    def uniform(self, shape: tuple[int, ...] | torch.Size) -> Tensor:
        """U[0, 1) noise of ``shape = [N, ...]`` for this batch's N samples, on the generator's device.

        Drawn for the whole global batch ``[world_size·N, ...]`` and sliced, so that W processes use exactly the
        numbers one process would (and every rank's RNG stays in step).
        """
        n = shape[0]
        device = self.generator.device if self.generator is not None else torch.device("cpu")
        full = torch.rand((n * self.world_size, *shape[1:]), generator=self.generator, device=device)
        return full[self.rank * n : (self.rank + 1) * n]


@dataclass
class LossTerms:
    total: Tensor | None  # scalar the trainer backpropagates into the phase's (single) group
    logs: dict[str, Tensor] = field(default_factory=dict)  # detached scalars for reporting ("loss/d", "score/real")
    totals: dict[str, Tensor] | None = None  # simultaneous phases: one scalar per optimiser group, same forward


@dataclass
class Phase:
    """What the trainer runs: ``loss_fn(batch)`` then a step of the optimisers of ``groups``. It never looks inside.

    One group: backpropagate ``LossTerms.total``. Several groups (a *simultaneous* phase, e.g. the TF DCGAN
    tutorial's ``train_step``): ``LossTerms.totals[group]`` is differentiated w.r.t. that group's parameters only,
    all from the same forward pass and the same weights, then every group's optimiser steps.
    """

    name: str  # "D", "D_reg", "G", "G_reg", "DG", "EG", ...
    groups: tuple[str, ...]  # optimiser groups it updates (keys of Objective.groups())
    loss_fn: Callable[[Batch], LossTerms]
    repeats: int = 1  # k D-steps per G-step
    every: int = 1  # run on every n-th step (lazy regularisation)
    needs_real: bool = True  # whether the loss reads real samples (the G phase of a GAN does not)
    after_step: Callable[[], None] | None = None  # e.g. WGAN weight clipping
    double_backward: bool = False  # the loss differentiates through a gradient (GP, R1): never CUDA-graph captured


class Objective:
    """Base class. Subclasses are dataclasses registered in ``OBJECTIVES``; their fields are their config.

    The default schedule (``phases``) is the adversarial one, for objectives with ``d_loss``/``g_loss``:
      D      ``d_loss``  repeated ``train.d_steps`` times per step (Goodfellow's Algorithm 1, k)
             when ``uses_discriminator``
      D_reg  ``d_reg``   every ``reg_every`` steps when ``reg_every > 0`` (lazy regularisation, Karras et al. 2020)
      G      ``g_loss``  once per step
      G_reg  ``g_reg``   every ``g_reg_every`` steps when ``g_reg_every > 0`` (e.g. path-length regularisation)
    ``after_d_step`` runs after each D optimiser step (e.g. WGAN weight clipping). Families with other networks
    override ``networks``/``groups``/``phases``/``make_batch`` (see ``losses/bigan.py``).
    """

    uses_discriminator: bool = True
    reg_every: int = 0  # 0 = no separate D regularisation phase
    g_reg_every: int = 0  # 0 = no separate G regularisation phase
    g_needs_real: bool = False  # the G phase reads a real batch (GMMN's MMD)

    # ---- what the trainer asks ----------------------------------------------------------------------------------
    def networks(self) -> tuple[str, ...]:
        return ("G", "D") if self.uses_discriminator else ("G",)

    def groups(self) -> dict[str, tuple[str, ...]]:
        return {"g": ("G",), "d": ("D",)} if self.uses_discriminator else {"g": ("G",)}

    def ema_networks(self) -> tuple[str, ...]:
        return ("G",)

    def phases(self, nets: Nets, d_steps: int) -> list[Phase]:
        G, D = nets["G"], nets.get("D")
        phases: list[Phase] = []
        if self.uses_discriminator:
            phases.append(Phase("D", ("d",), lambda b: self.d_loss(G, D, b), repeats=d_steps,
                                after_step=lambda: self.after_d_step(D),
                                double_backward=self.needs_double_backward and self.reg_every == 0))
            if self.reg_every > 0:
                phases.append(Phase("D_reg", ("d",), lambda b: self.d_reg(G, D, b), every=self.reg_every,
                                    after_step=lambda: self.after_d_step(D), double_backward=True))
        phases.append(Phase("G", ("g",), lambda b: self.g_loss(G, D, b), needs_real=self.g_needs_real))
        if self.g_reg_every > 0:
            phases.append(Phase("G_reg", ("g",), lambda b: self.g_reg(G, D, b), every=self.g_reg_every,
                                needs_real=False, double_backward=True))
        return phases

    def make_batch(self, draw: Draws, nets: Nets, phase: Phase, step: int) -> Batch:
        """Real data (when the phase reads it), z for G, and the labels to generate for a conditional G — drawn
        in this order from the trainer's RNGs for the global batch, then sharded (``Draws``)."""
        real, labels = draw.real() if phase.needs_real else (None, None)
        G = nets["G"]
        z = draw.latent(G)
        fake_labels = None
        c_dim = getattr(G, "c_dim", 0)
        if c_dim:
            fake_labels = labels if draw.fake_labels == "real" and labels is not None else draw.labels(c_dim)
        return Batch(real=real, z=z, labels=labels, fake_labels=fake_labels, generator=draw.rng, rank=draw.rank,
                     world_size=draw.world_size, step=step)

    def state_dict(self) -> dict[str, Any]:
        """Objective state that exact resume needs (none by default)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore ``state_dict()``'s output."""

    # ---- the adversarial default's losses -----------------------------------------------------------------------
    def d_loss(self, G: nn.Module, D: nn.Module, batch: Batch) -> LossTerms:
        raise NotImplementedError

    def g_loss(self, G: nn.Module, D: nn.Module | None, batch: Batch) -> LossTerms:
        raise NotImplementedError

    def d_reg(self, G: nn.Module, D: nn.Module, batch: Batch) -> LossTerms:
        raise NotImplementedError

    def g_reg(self, G: nn.Module, D: nn.Module | None, batch: Batch) -> LossTerms:
        raise NotImplementedError

    def after_d_step(self, D: nn.Module) -> None:
        """Hook after each D update (no-op by default)."""

    @property
    def needs_double_backward(self) -> bool:
        """True when a phase differentiates through a gradient (GP, R1): such phases can't be CUDA-graph captured."""
        return False


def full_precision(x: Tensor) -> Tensor:
    """float16/bfloat16 → float32 (what autocast returns from G and D); float32/float64 unchanged."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def generate(G: nn.Module, batch: Batch) -> Tensor:
    """G(z) or G(z, c) for conditional generators, never in half precision (under bf16 autocast G computes in bf16)."""
    if getattr(G, "c_dim", 0):
        return full_precision(G(batch.z, batch.fake_labels))
    return full_precision(G(batch.z))


def discriminate(D: nn.Module, x: Tensor, labels: Tensor | None) -> Tensor:
    """D(x) or D(x, c) for conditional discriminators; logits [N, 1] in full precision (losses are never bf16)."""
    if getattr(D, "c_dim", 0):
        return full_precision(D(x, labels))
    return full_precision(D(x))


@OBJECTIVES.register("logistic")
@dataclass
class LogisticObjective(Objective):
    """Goodfellow GAN: logistic D loss with a choice of generator cost.

    g_cost: "minimax" log(1 − D(G(z))), "nonsaturating" −log D(G(z)), "max_likelihood" −½ exp(σ⁻¹(D(G(z)))).
    """

    g_cost: str = "nonsaturating"
    label_smoothing: float = 0.0  # one-sided: real target = 1 − label_smoothing (Salimans et al. 2016 use 0.1)
    label_noise: float = 0.0  # keras.io GAN trick: targets += label_noise · U(0, 1) (that example uses 0.05)

    def __post_init__(self) -> None:
        if self.g_cost not in adversarial.G_COSTS:
            raise ValueError(f"unknown g_cost {self.g_cost!r}; choose from: {', '.join(adversarial.G_COSTS)}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")
        if self.label_noise < 0:
            raise ValueError(f"label_noise must be >= 0, got {self.label_noise}")

    def d_loss(self, G: nn.Module, D: nn.Module, batch: Batch) -> LossTerms:
        with torch.no_grad():
            fake = generate(G, batch)
        real_logits = discriminate(D, batch.real, batch.labels)  # [N, 1]
        fake_logits = discriminate(D, fake, batch.fake_labels)  # [N, 1]
        real_noise = fake_noise = None
        if self.label_noise > 0:
            # keras.io "GAN overriding train_step": labels += 0.05 * tf.random.uniform(shape)
            real_noise = self.label_noise * batch.uniform(real_logits.shape).to(real_logits.device)
            fake_noise = self.label_noise * batch.uniform(fake_logits.shape).to(fake_logits.device)
        loss = adversarial.d_logistic(real_logits, fake_logits, 1.0 - self.label_smoothing, real_noise, fake_noise)
        return LossTerms(loss, {
            "loss/d": loss.detach(),
            "score/real": torch.sigmoid(real_logits.detach()).mean(),  # mean D(x): the lectures' equilibrium signal
            "score/fake": torch.sigmoid(fake_logits.detach()).mean(),  # mean D(G(z))
        })

    def g_loss(self, G: nn.Module, D: nn.Module | None, batch: Batch) -> LossTerms:
        fake_logits = discriminate(D, generate(G, batch), batch.fake_labels)
        loss = adversarial.G_COSTS[self.g_cost](fake_logits)
        return LossTerms(loss, {"loss/g": loss.detach()})
