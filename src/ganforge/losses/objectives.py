"""Objectives own the maths of one discriminator step and one generator step.

They know G and D, but not optimisers, schedules, devices or the loop: each returns ``LossTerms`` (what to
backpropagate plus detached scalars to report) and never calls ``backward()``. Options are the dataclass fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from ganforge.losses import adversarial
from ganforge.registry import OBJECTIVES


@dataclass
class Batch:
    """One step's inputs: real samples and labels, latent codes and the labels to generate for."""

    real: Tensor  # [N, *shape] in the generator's output range
    z: Tensor  # [N, z_dim]
    labels: Tensor | None = None  # [N] int64 labels of ``real`` (None when unlabelled / unconditional)
    fake_labels: Tensor | None = None  # [N] labels G is asked to generate (conditional models only)
    generator: torch.Generator | None = None  # RNG for any randomness inside the loss (label noise, GP interpolates)
    rank: int = 0  # this process's shard of the global batch (training.distributed): rows [rank·N, (rank+1)·N)
    world_size: int = 1

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
    total: Tensor  # scalar the trainer backpropagates
    logs: dict[str, Tensor] = field(default_factory=dict)  # detached scalars for reporting ("loss/d", "score/real")


class Objective:
    """Base class. Subclasses are dataclasses registered in ``OBJECTIVES``; their fields are their config.

    Phases the trainer builds from an objective (see ``training.phases.build_phases``):
      D      ``d_loss``  repeated ``train.d_steps`` times per step (Goodfellow's Algorithm 1, k)
             when ``uses_discriminator``
      D_reg  ``d_reg``   every ``reg_every`` steps when ``reg_every > 0`` (lazy regularisation, Karras et al. 2020)
      G      ``g_loss``  once per step
    ``after_d_step`` runs after each D optimiser step (e.g. WGAN weight clipping).
    """

    uses_discriminator: bool = True
    reg_every: int = 0  # 0 = no separate regularisation phase

    def d_loss(self, G: nn.Module, D: nn.Module, batch: Batch) -> LossTerms:
        raise NotImplementedError

    def g_loss(self, G: nn.Module, D: nn.Module | None, batch: Batch) -> LossTerms:
        raise NotImplementedError

    def d_reg(self, G: nn.Module, D: nn.Module, batch: Batch) -> LossTerms:
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
