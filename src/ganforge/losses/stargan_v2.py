"""The StarGAN v2 objective (Choi et al. 2020, §2.2, eq. 1–5; lecture 004's second half), over G, F, E and D.

With x of domain y, a target domain ỹ, latent codes z (z₁, z₂) and s̃ = F_ỹ(z) (latent-guided) or s̃ = E_ỹ(x_ref)
(reference-guided, x_ref of domain ỹ):

    L_adv = E_{x,y}[log D_y(x)] + E_{x,ỹ,z}[log(1 − D_ỹ(G(x, s̃)))]                         (eq. 1)
    L_sty = E_{x,ỹ,z}[‖s̃ − E_ỹ(G(x, s̃))‖₁]                                                   (eq. 2)
    L_ds  = E_{x,ỹ,z₁,z₂}[‖G(x, s̃₁) − G(x, s̃₂)‖₁]                                           (eq. 3)
    L_cyc = E_{x,y,ỹ,z}[‖x − G(G(x, s̃), ŝ)‖₁],  ŝ = E_y(x)                                   (eq. 4)
    min_{G,F,E} max_D  L_adv + λ_sty L_sty − λ_ds L_ds + λ_cyc L_cyc                           (eq. 5)

As the paper's code does (and the lecture's GradientTape step): D maximises L_adv as the logistic loss
softplus(−D_y(x)) + softplus(D_ỹ(G(x, s̃))) plus R1 = ½γ E‖∇_x D_y(x)‖² on real images (γ = 1, Mescheder et al. 2018);
G uses the non-saturating softplus(−D_ỹ(G(x, s̃))); the L1 norms are means over elements (‖·‖₁ / dim, the constant
folded into λ); G(x, s̃₂) is detached in L_ds; λ_ds decays linearly from its initial value to 0 over ``ds_steps``
training steps (the paper: "we linearly decay λ_ds to zero", 100k iterations), read from ``Batch.step``.

Each training step draws one batch — sources x, y; references x_ref, x_ref2 of ỹ; z₁, z₂ — and runs the official
loop's four updates on it: D latent-guided, D reference-guided, G latent-guided (G, F and E step: one backward, three
optimisers), G reference-guided (G only). Optimiser groups ``g`` (G), ``f`` (F), ``e`` (E), ``d`` (D), so that F gets
its own learning rate (the paper: 1e-6 for F, 1e-4 for G, E, D at 256²): every StarGAN v2 config needs ``optim.f``
and ``optim.e`` (the presets have them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from ganforge.losses import adversarial, penalties
from ganforge.losses.objectives import Batch, LossTerms, Nets, Objective, Phase, check_weight, full_precision
from ganforge.registry import OBJECTIVES

if TYPE_CHECKING:
    from ganforge.training.draws import Draws

MODES = ("latent", "reference")


# ---- the losses as pure functions ------------------------------------------------------------------------------------


def d_adversarial(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """−L_adv for D (eq. 1, maximised by D): softplus(−D_y(x)) + softplus(D_ỹ(G(x, s̃))), means over the batch."""
    return adversarial.d_logistic(real_logits, fake_logits)


def g_adversarial(fake_logits: Tensor) -> Tensor:
    """G's non-saturating adversarial loss: −log σ(D_ỹ(G(x, s̃))) = softplus(−D_ỹ(G(x, s̃))), batch mean."""
    return adversarial.g_nonsaturating(fake_logits)


def style_reconstruction(s: Tensor, s_pred: Tensor) -> Tensor:
    """L_sty (eq. 2): mean |s̃ − E_ỹ(G(x, s̃))| over ``[N, style_dim]``."""
    return (s - s_pred).abs().mean()


def diversity(fake1: Tensor, fake2: Tensor) -> Tensor:
    """L_ds (eq. 3): mean |G(x, s̃₁) − G(x, s̃₂)|, with the second output detached (the official code)."""
    return (fake1 - fake2.detach()).abs().mean()


def cycle(x: Tensor, x_rec: Tensor) -> Tensor:
    """L_cyc (eq. 4): mean |x − G(G(x, s̃), E_y(x))|."""
    return (x - x_rec).abs().mean()


def lambda_ds_at(step: int, initial: float, ds_steps: int) -> float:
    """λ_ds at training step ``step`` (0-based, = completed steps): initial · max(0, 1 − step / ds_steps), i.e. the
    official ``lambda_ds -= initial / ds_iter`` after every iteration; ``ds_steps = 0`` keeps it constant."""
    if ds_steps <= 0:
        return initial
    return initial * max(0.0, 1.0 - step / ds_steps)


# ---- the objective ---------------------------------------------------------------------------------------------------


@OBJECTIVES.register("stargan-v2")
@dataclass
class StarGANv2Objective(Objective):
    """Options (``objective.options``); defaults are the paper's (AFHQ uses lambda_ds 2, CelebA-HQ 1)."""

    lambda_sty: float = 1.0
    lambda_ds: float = 1.0  # initial λ_ds; 0 = the "without L_ds" ablation
    lambda_cyc: float = 1.0  # 0 = the "without L_cyc" ablation
    ds_steps: int = 100_000  # λ_ds reaches 0 at this step (paper: 100k iterations); 0 = constant λ_ds
    r1_weight: float = 1.0  # γ of R1 on real images
    reference_guided: bool = True  # also the reference-guided D and G steps (the paper alternates both)

    def __post_init__(self) -> None:
        for name in ("lambda_sty", "lambda_ds", "lambda_cyc", "r1_weight"):
            check_weight(name, getattr(self, name))
        if self.ds_steps < 0:
            raise ValueError(f"ds_steps must be >= 0 (0 = constant lambda_ds), got {self.ds_steps}")

    # ---- what the trainer asks ----------------------------------------------------------------------------------
    def networks(self) -> tuple[str, ...]:
        return ("G", "F", "E", "D")

    def groups(self) -> dict[str, tuple[str, ...]]:
        return {"g": ("G",), "f": ("F",), "e": ("E",), "d": ("D",)}

    def ema_networks(self) -> tuple[str, ...]:
        return ("G", "F", "E")

    @property
    def needs_double_backward(self) -> bool:
        return self.r1_weight > 0

    def phases(self, nets: Nets, d_steps: int) -> list[Phase]:
        if d_steps != 1:
            raise ValueError(f"StarGAN v2 runs one D and one G update per mode and step on one batch (the paper's "
                             f"loop); train.d_steps must be 1, got {d_steps}")
        modes = MODES if self.reference_guided else MODES[:1]
        r1 = self.r1_weight > 0
        phases = [Phase(f"D_{m}", ("d",), lambda b, m=m: self.d_loss_mode(nets, b, m), double_backward=r1)
                  for m in modes]
        # the latent-guided G step trains G, F and E: one backward of the total into all three, then each group's
        # optimiser steps (the trainer backpropagates ``total`` once and steps every group of the phase)
        phases.append(Phase("G_latent", ("g", "f", "e"), lambda b: self.g_loss_mode(nets, b, "latent")))
        if self.reference_guided:  # the reference-guided G step updates G only (official: optims.generator.step())
            phases.append(Phase("G_reference", ("g",), lambda b: self.g_loss_mode(nets, b, "reference")))
        return phases

    def make_batch(self, draw: Draws, nets: Nets, phase: Phase, step: int) -> Batch:
        """One draw per step, shared by the step's phases: source x, y and references x_ref, x_ref2 of ỹ from the
        data (``DomainSource``), then z₁, z₂ from the trainer's RNG. A checkpoint is written between steps, so the
        shared draw needs no saved state."""
        def make() -> dict[str, Tensor]:
            data = draw.sample()
            missing = [k for k in ("y", "x_ref", "x_ref2", "y_ref") if k not in data]
            if missing:
                raise ValueError(f"StarGAN v2 needs multi-domain data with reference images (missing {missing}); "
                                 "use data.name=mnist-domains or image-domains")
            G = nets["G"]
            return {**data, "z": draw.latent(G), "z2": draw.latent(G)}

        d = self.step_draw().get(step, make)  # this step's batch, shared by its four phases
        lam = torch.tensor(lambda_ds_at(step, self.lambda_ds, self.ds_steps), device=d["x"].device)
        return Batch(real=d["x"], z=d["z"], labels=d["y"], fake_labels=d["y_ref"], generator=draw.rng,
                     rank=draw.rank, world_size=draw.world_size, step=step,
                     extras={"z2": d["z2"], "x_ref": d["x_ref"], "x_ref2": d["x_ref2"], "lambda_ds": lam})

    # ---- the losses of one mode ----------------------------------------------------------------------------------
    @staticmethod
    def _style(nets: Nets, batch: Batch, mode: str, second: bool = False) -> Tensor:
        """s̃ = F_ỹ(z) (latent-guided) or E_ỹ(x_ref) (reference-guided); ``second``: s̃₂ from z₂ / x_ref2."""
        if mode == "latent":
            return full_precision(nets["F"](batch.extras["z2"] if second else batch.z, batch.fake_labels))
        return full_precision(nets["E"](batch.extras["x_ref2" if second else "x_ref"], batch.fake_labels))

    def d_loss_mode(self, nets: Nets, batch: Batch, mode: str) -> LossTerms:
        """D's step: softplus(−D_y(x)) + softplus(D_ỹ(G(x, s̃))) + ½γ R1(x), with G, F, E not trained."""
        G, D = nets["G"], nets["D"]
        x = batch.real.detach().requires_grad_(self.r1_weight > 0)
        real_logits = full_precision(D(x, batch.labels))  # [N, 1]
        with torch.no_grad():
            fake = full_precision(G(batch.real, self._style(nets, batch, mode)))
        fake_logits = full_precision(D(fake, batch.fake_labels))
        loss = d_adversarial(real_logits, fake_logits)
        logs = {f"loss/d_{mode}": loss.detach(), "score/real": torch.sigmoid(real_logits.detach()).mean(),
                "score/fake": torch.sigmoid(fake_logits.detach()).mean()}
        if self.r1_weight > 0:
            r1 = penalties.r1_penalty(x, real_logits)
            logs["reg/r1"] = r1.detach()
            loss = loss + 0.5 * self.r1_weight * r1
        return LossTerms(loss, logs)

    def g_loss_mode(self, nets: Nets, batch: Batch, mode: str) -> LossTerms:
        """G's step: L_adv(G) + λ_sty L_sty − λ_ds L_ds + λ_cyc L_cyc (eq. 5) for s̃ from ``mode``."""
        G, E, D = nets["G"], nets["E"], nets["D"]
        x = batch.real
        s = self._style(nets, batch, mode)
        fake = full_precision(G(x, s))
        adv = g_adversarial(full_precision(D(fake, batch.fake_labels)))
        sty = style_reconstruction(s, full_precision(E(fake, batch.fake_labels)))
        total = adv + self.lambda_sty * sty
        logs = {f"loss/g_{mode}": adv.detach(), f"loss/sty_{mode}": sty.detach()}
        if self.lambda_ds > 0:
            fake2 = full_precision(G(x, self._style(nets, batch, mode, second=True)))
            ds = diversity(fake, fake2)
            lam = batch.extras["lambda_ds"]
            total = total - lam * ds
            logs.update({f"loss/ds_{mode}": ds.detach(), "lambda_ds": lam.detach()})
        if self.lambda_cyc > 0:
            s_org = full_precision(E(x, batch.labels))  # ŝ = E_y(x)
            cyc = cycle(x, full_precision(G(fake, s_org)))
            total = total + self.lambda_cyc * cyc
            logs[f"loss/cyc_{mode}"] = cyc.detach()
        logs[f"loss/g_total_{mode}"] = total.detach()
        return LossTerms(total, logs)

    def state_dict(self) -> dict[str, Any]:
        """Nothing beyond the trainer's step: λ_ds is a function of ``Batch.step``, which the checkpoint holds."""
        return {}

