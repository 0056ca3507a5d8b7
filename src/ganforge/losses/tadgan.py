"""The TadGAN objective (Geiger et al. 2020, §III-B), as Orion's ``TadGAN.train_step`` computes it.

Two Wasserstein critics with gradient penalty (Gulrajani et al. 2017) and a cycle-consistency loss:

    V_X(Cx, G) = E_x[Cx(x)] − E_z[Cx(G(z))]            Cx tells real windows from generated ones
    V_Z(Cz, E) = E_z[Cz(z)] − E_x[Cz(E(x))]            Cz tells prior codes z ~ N(0, I) from encoded ones
    V_L2(E, G) = E_x[‖x − G(E(x))‖²]                    the cycle x → z → x (Orion: mean squared error)

    min_{E,G} max_{Cx,Cz}  V_X + V_Z + λ·V_L2,  λ = 10 (``cycle_weight``)

Critic losses (one optimiser group ``d`` over Cx and Cz; their parameters are disjoint, so the sum's gradient is
each critic's own), each with GP weight 10 on interpolates x̂ = εx + (1 − ε)G(z) and ẑ = εz + (1 − ε)E(x):

    L_Cx = −E[Cx(x)] + E[Cx(G(z))] + 10·GP_x          L_Cz = −E[Cz(z)] + E[Cz(E(x))] + 10·GP_z

Encoder/generator loss (group ``g`` over E and G):  L_EG = −E[Cx(G(z))] − E[Cz(E(x))] + λ·MSE(G(E(x)), x).

Phases as Orion: the critics ×``train.d_steps`` (5) per E/G step, each on its own mini-batch of ``train.batch_size``
windows (64: Orion slices a minibatch of batch_size · iterations_critic into one batch per critic step) and its own
z; the E/G step reuses the last critic mini-batch and its z (``eg_batch="last_critic"``), as Orion's loop does.
Orion's Adam(5e-4) with Keras' defaults (β = 0.9, 0.999) is set in the preset.

``recon_warmup`` (not in Orion; 0 = off): the first ``recon_warmup`` steps train E and G on λ·V_L2 alone and skip
the critics (their loss is a constant, so they get no gradient and Adam leaves them untouched) — a plain LSTM
autoencoder warm start, for CPU budgets too small for the adversarial game to reach a usable reconstruction.
``recon_after`` (0 = never): from that step on, the same reconstruction-only steps (critics frozen) — the game first,
then E and G fine-tuned as an autoencoder while Cx keeps what the game taught it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from ganforge.losses import adversarial, penalties
from ganforge.losses.objectives import Batch, LossTerms, Nets, Objective, Phase, check_choice, check_weight
from ganforge.registry import OBJECTIVES

if TYPE_CHECKING:
    from ganforge.training.draws import Draws


def critic_loss(C: torch.nn.Module, real: Tensor, fake: Tensor, gp_weight: float, eps: Tensor, space: str
                ) -> tuple[Tensor, dict[str, Tensor]]:
    """WGAN-GP loss of one TadGAN critic: ``space`` "x" — Cx on real windows ``x [N, W, 1]`` vs generated
    ``G(z)`` — or "z" — Cz on prior codes ``z [N, z_dim]`` ("real" for Cz) vs encoded ``E(x)``; ``fake`` detached,
    GP interpolation weights ``eps``. Logs ``loss/c<space>``, ``reg/gp_<space>``, ``wasserstein/<space>``."""
    real_s, fake_s = C(real), C(fake)
    gp = penalties.gradient_penalty(C, real, fake, eps=eps)
    loss = adversarial.d_wasserstein(real_s, fake_s)  # E[C(fake)] − E[C(real)]
    return loss + gp_weight * gp, {f"loss/c{space}": loss.detach(), f"reg/gp_{space}": gp.detach(),
                                   f"wasserstein/{space}": (real_s.mean() - fake_s.mean()).detach()}


@OBJECTIVES.register("tadgan")
@dataclass
class TadGANObjective(Objective):
    """Options: ``gp_weight`` (10), ``cycle_weight`` λ (10), ``eg_batch`` ("last_critic" as Orion, or "new"),
    ``recon_warmup`` (reconstruction-only steps before the adversarial game; 0 as Orion)."""

    gp_weight: float = 10.0
    cycle_weight: float = 10.0
    eg_batch: str = "last_critic"
    recon_warmup: int = 0
    recon_after: int = 0

    def __post_init__(self) -> None:
        check_weight("gp_weight", self.gp_weight)
        check_weight("cycle_weight", self.cycle_weight)
        check_choice("eg_batch", self.eg_batch, ("last_critic", "new"))
        for name in ("recon_warmup", "recon_after"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0 steps, got {getattr(self, name)}")

    def recon_only(self, step: int) -> bool:
        """Whether ``step`` is a reconstruction-only step (warm-up, or after ``recon_after``)."""
        return step < self.recon_warmup or 0 < self.recon_after <= step

    def networks(self) -> tuple[str, ...]:
        return ("E", "G", "Cx", "Cz")

    def groups(self) -> dict[str, tuple[str, ...]]:
        return {"g": ("E", "G"), "d": ("Cx", "Cz")}

    def ema_networks(self) -> tuple[str, ...]:
        return ("E", "G")

    @property
    def needs_double_backward(self) -> bool:
        return self.gp_weight > 0

    def phases(self, nets: Nets, d_steps: int) -> list[Phase]:
        E, G, Cx, Cz = nets["E"], nets["G"], nets["Cx"], nets["Cz"]
        return [Phase("C", ("d",), lambda b: self.critic_loss(E, G, Cx, Cz, b), repeats=d_steps,
                      double_backward=self.needs_double_backward),
                Phase("EG", ("g",), lambda b: self.eg_loss(E, G, Cx, Cz, b))]

    def make_batch(self, draw: Draws, nets: Nets, phase: Phase, step: int) -> Batch:
        """Critic phase: a new mini-batch of windows and z ~ N(0, I). E/G phase: the last critic batch (Orion) —
        kept only within a step, and checkpoints are written between steps, so exact resume needs no state."""
        last = self.step_draw().take(step) if phase.name == "EG" and self.eg_batch == "last_critic" else None
        if last is not None:
            x, z = last  # (x, z) of this step's last critic batch
        else:
            x, _ = draw.real()
            z = draw.latent(nets["G"])
            if phase.name == "C":
                self.step_draw().keep(step, (x, z))
        return Batch(real=x, z=z, generator=draw.rng, rank=draw.rank, world_size=draw.world_size, step=step)

    def critic_loss(self, E: torch.nn.Module, G: torch.nn.Module, Cx: torch.nn.Module, Cz: torch.nn.Module,
                    batch: Batch) -> LossTerms:
        x, z = batch.real, batch.z
        if self.recon_only(batch.step):  # no critic update (a constant loss has no gradient)
            return LossTerms(x.new_zeros((), requires_grad=True), {})
        with torch.no_grad():  # the critics' step trains Cx and Cz only
            fake, encoded = G(z).float(), E(x).float()
        eps_x = batch.uniform(penalties.per_sample_shape(x))
        eps_z = batch.uniform(penalties.per_sample_shape(z))
        lx, logs = critic_loss(Cx, x, fake, self.gp_weight, eps_x, "x")
        lz, logs_z = critic_loss(Cz, z, encoded, self.gp_weight, eps_z, "z")
        total = lx + lz
        return LossTerms(total, {"loss/d": total.detach(), **logs, **logs_z})

    def eg_loss(self, E: torch.nn.Module, G: torch.nn.Module, Cx: torch.nn.Module, Cz: torch.nn.Module,
                batch: Batch) -> LossTerms:
        x, z = batch.real, batch.z
        if self.recon_only(batch.step):  # the autoencoder x → E → G alone
            cycle = (G(E(x)).float() - x).square().mean()
            return LossTerms(self.cycle_weight * cycle, {"loss/cycle": cycle.detach()})
        fake, encoded = G(z).float(), E(x).float()
        cycled = G(encoded).float()  # x → z → x
        x_cost, z_cost = -Cx(fake).float().mean(), -Cz(encoded).float().mean()
        cycle = (cycled - x).square().mean()  # Orion: tf.keras.losses.MeanSquaredError
        total = x_cost + z_cost + self.cycle_weight * cycle
        return LossTerms(total, {"loss/g": total.detach(), "loss/eg_x": x_cost.detach(),
                                 "loss/eg_z": z_cost.detach(), "loss/cycle": cycle.detach()})
