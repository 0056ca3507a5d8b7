"""Objectives of image-to-image translation: pix2pix / colourisation (cGAN + λ·L1) and CycleGAN (LSGAN + cycle +
identity, with a history pool of generated images for the discriminators).

pix2pix (Isola et al. 2017, eqs. 1–4), x = input (field ``x_a``), y = target (``batch.real``):
    L_cGAN(G, D) = E[log D(x, y)] + E[log(1 − D(x, G(x)))]                     (D on patches, mean over them)
    L_L1(G)      = E‖y − G(x)‖₁
    G* = arg min_G max_D L_cGAN + λ·L_L1,  λ = 100
  trained as the paper: D's loss halved (§3.3 "we divide the objective by 2 while optimizing D"), G with the
  non-saturating −log D(x, G(x)). ``gan_weight = 0`` is the paper's "L1 alone" ablation (no D at all).

CycleGAN (Zhu et al. 2017, eqs. 1–3 and §4 "Implementation"), G: A → B, F: B → A:
    L_GAN(G, D_B) with least squares (Mao et al. 2017): D_B minimises ½[(D_B(b) − 1)² + D_B(G(a))²] (averaged as
      the authors' code, which halves D's loss), G minimises (D_B(G(a)) − 1)²; the same for F and D_A
    L_cyc = E‖F(G(a)) − a‖₁ + E‖G(F(b)) − b‖₁,  weight λ = 10
    L_identity = E‖G(b) − b‖₁ + E‖F(a) − a‖₁,   weight 0.5·λ (§5.2, photo ↔ painting; the authors' default)
  D sees a generated image drawn from a history of the 50 last ones (Shrivastava et al. 2017): ``ImagePool``,
  whose contents are saved in the checkpoint (``state_dict``), so an interrupted run resumes bit for bit.
  Each step: G and F first (one group, ``optim.g``), then D_A and D_B (``optim.d``) on the pooled fakes of that
  same G step, as the authors' ``optimize_parameters``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from ganforge.losses import adversarial
from ganforge.losses.objectives import Batch, LossTerms, Nets, Objective, Phase, check_choice, check_weight
from ganforge.models.pix2pix import PAIRED_FIELD, UNPAIRED_FIELD
from ganforge.registry import OBJECTIVES

if TYPE_CHECKING:
    from ganforge.training.draws import Draws

GAN_LOSSES = ("bce", "lsgan")


def d_adversarial(real_logits: Tensor, fake_logits: Tensor, kind: str) -> Tensor:
    """D's loss over patch logits, halved as both papers' code: ½[BCE(real, 1) + BCE(fake, 0)] or
    ½[mean (D(real) − 1)² + mean D(fake)²]."""
    if kind == "bce":
        return 0.5 * adversarial.d_logistic(real_logits, fake_logits)
    return adversarial.d_least_squares(real_logits, fake_logits, scale=0.5)


def g_adversarial(fake_logits: Tensor, kind: str) -> Tensor:
    """G's loss: −log D(G(x)) (non-saturating) or (D(G(x)) − 1)²."""
    if kind == "bce":
        return adversarial.g_nonsaturating(fake_logits)
    return adversarial.g_least_squares(fake_logits, scale=1.0)


def _batch(draw: Draws, data: dict[str, Tensor], step: int) -> Batch:
    extras = {k: v for k, v in data.items() if k not in ("x", "y")}
    return Batch(real=data["x"], z=None, generator=draw.rng, rank=draw.rank, world_size=draw.world_size, step=step,
                 extras=extras)


# ---- pix2pix and colourisation ----------------------------------------------------------------------------------


@OBJECTIVES.register("pix2pix")
@dataclass
class Pix2PixObjective(Objective):
    """cGAN + λ·L1 (options: ``l1_weight`` λ, ``gan_weight`` 0 for the L1-only U-Net, ``gan_loss`` bce | lsgan)."""

    l1_weight: float = 100.0
    gan_weight: float = 1.0
    gan_loss: str = "bce"

    def __post_init__(self) -> None:
        check_weight("l1_weight", self.l1_weight)
        check_weight("gan_weight", self.gan_weight)
        check_choice("gan_loss", self.gan_loss, GAN_LOSSES)
        if self.l1_weight == 0 and self.gan_weight == 0:
            raise ValueError("l1_weight and gan_weight are both 0: nothing to train; set one of them > 0")

    @property
    def uses_discriminator(self) -> bool:  # type: ignore[override]
        return self.gan_weight > 0

    def phases(self, nets: Nets, d_steps: int) -> list[Phase]:
        G, D = nets["G"], nets.get("D")
        phases = []
        if self.uses_discriminator:
            phases.append(Phase("D", ("d",), lambda b: self.d_loss(G, D, b), repeats=d_steps))
        phases.append(Phase("G", ("g",), lambda b: self.g_loss(G, D, b), needs_real=True))
        return phases

    def make_batch(self, draw: Draws, nets: Nets, phase: Phase, step: int) -> Batch:
        """The pairs of this step: drawn by the first D repeat (or by G without D) and reused by G."""
        data = self.step_draw().get(step, draw.sample, fresh=phase.name == "D" or not self.uses_discriminator)
        if PAIRED_FIELD not in data:
            raise ValueError(f"{type(self).__name__} needs paired data (field {PAIRED_FIELD!r}); got fields "
                             f"{sorted(data)}: use a paired dataset")
        return _batch(draw, data, step)

    @staticmethod
    def _pair(x: Tensor, y: Tensor) -> Tensor:
        return torch.cat([x, y], 1)  # D(x, y) sees the input and the output: [N, C_a + C_out, H, W]

    def d_loss(self, G: nn.Module, D: nn.Module, batch: Batch) -> LossTerms:
        x = batch.extras[PAIRED_FIELD]
        with torch.no_grad():
            fake = G(x).float()
        real_logits = D(self._pair(x, G.target(batch.real))).float()
        fake_logits = D(self._pair(x, fake)).float()
        loss = self.gan_weight * d_adversarial(real_logits, fake_logits, self.gan_loss)
        return LossTerms(loss, {"loss/d": loss.detach(), "score/real": torch.sigmoid(real_logits.detach()).mean(),
                                "score/fake": torch.sigmoid(fake_logits.detach()).mean()})

    def g_loss(self, G: nn.Module, D: nn.Module | None, batch: Batch) -> LossTerms:
        x = batch.extras[PAIRED_FIELD]
        fake = G(x).float()
        l1 = (G.target(batch.real) - fake).abs().mean()
        loss = self.l1_weight * l1
        logs = {"loss/l1": l1.detach()}
        if self.uses_discriminator:
            adv = g_adversarial(D(self._pair(x, fake)).float(), self.gan_loss)
            loss = loss + self.gan_weight * adv
            logs["loss/g_gan"] = adv.detach()
        logs["loss/g"] = loss.detach()
        return LossTerms(loss, logs)


@OBJECTIVES.register("colorize")
@dataclass
class ColorizeObjective(Pix2PixObjective):
    """Colourisation as a conditional GAN with an L1 term (pix2pix's objective, Isola et al. 2017 §4.7 train their
    colouriser with it): D on (L, ab) or (grey, RGB), L1 on ab or RGB (the model's ``color_space``)."""


# ---- CycleGAN ---------------------------------------------------------------------------------------------------


class ImagePool:
    """History of generated images (Shrivastava et al. 2017 §2.3; CycleGAN §4): up to ``size`` past fakes.

    ``query(images)``, per image: while the pool is not full, store it and return it; afterwards, with probability
    ½ return a stored image chosen uniformly and put the new one in its place, else return the new one. Random
    numbers come from the trainer's RNG (``generator``), so training and resume draw the same ones.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.images: list[Tensor] = []

    def query(self, images: Tensor, generator: torch.Generator | None) -> Tensor:
        if self.size == 0:
            return images
        out = []
        for image in images.detach():
            if len(self.images) < self.size:
                self.images.append(image.clone())
                out.append(image)
                continue
            dev = generator.device if generator is not None else torch.device("cpu")
            if float(torch.rand((), generator=generator, device=dev)) < 0.5:
                i = int(torch.randint(self.size, (), generator=generator, device=dev))
                out.append(self.images[i].to(image.device))
                self.images[i] = image.clone()
            else:
                out.append(image)
        return torch.stack(out)

    def state_dict(self) -> Tensor:
        return torch.stack([t.cpu() for t in self.images]) if self.images else torch.empty(0)

    def load_state_dict(self, state: Tensor, device: torch.device | str = "cpu") -> None:
        self.images = [t.clone().to(device) for t in state] if state.numel() else []


@OBJECTIVES.register("cyclegan")
@dataclass
class CycleGANObjective(Objective):
    """LSGAN + λ·cycle + 0.5λ·identity with image pools (options: ``lambda_cycle`` λ, ``lambda_identity`` as a
    fraction of λ, ``cycle_b_weight``, ``pool_size``, ``gan_loss``).

    L_G = L_GAN(G, D_B) + L_GAN(F, D_A) + λ·(‖F(G(a)) − a‖₁ + w_B·‖G(F(b)) − b‖₁) + λ·λ_idt·(‖G(b) − b‖₁ + ‖F(a) − a‖₁)
    (Zhu et al. 2017, eqs. 2–3, with the authors' code's identity term). ``cycle_b_weight`` w_B (1 in the paper, as
    the authors' separate --lambda_A / --lambda_B allow) weighs the B → A → B cycle apart: when B carries
    information that A has not (MNIST-M's photo background around an MNIST digit), that cycle asks F(b) to hide the
    background in the digit image for G to restore it, which fights F's own job (a clean digit); a smaller w_B
    relieves it."""

    lambda_cycle: float = 10.0
    lambda_identity: float = 0.5  # × lambda_cycle (the authors' --lambda_identity 0.5)
    cycle_b_weight: float = 1.0  # × lambda_cycle on the B → A → B cycle (the authors' lambda_B / lambda_A)
    pool_size: int = 50
    gan_loss: str = "lsgan"

    def __post_init__(self) -> None:
        check_weight("lambda_cycle", self.lambda_cycle)
        check_weight("lambda_identity", self.lambda_identity)
        check_weight("cycle_b_weight", self.cycle_b_weight)
        check_choice("gan_loss", self.gan_loss, GAN_LOSSES)
        if self.pool_size < 0:
            raise ValueError(f"pool_size must be >= 0 (0 = no history), got {self.pool_size}")
        self.pool_a, self.pool_b = ImagePool(self.pool_size), ImagePool(self.pool_size)

    def networks(self) -> tuple[str, ...]:
        return ("G", "F", "D_A", "D_B")

    def groups(self) -> dict[str, tuple[str, ...]]:
        return {"g": ("G", "F"), "d": ("D_A", "D_B")}

    def ema_networks(self) -> tuple[str, ...]:
        return ("G", "F")

    def phases(self, nets: Nets, d_steps: int) -> list[Phase]:
        if d_steps != 1:
            raise ValueError(f"cyclegan trains D_A and D_B once per step on that step's generated images; "
                             f"train.d_steps must be 1, got {d_steps}")
        G, F_BA = nets["G"], nets["F"]  # G: A → B and the inverse F: B → A (Zhu et al. 2017, §3)
        if self.lambda_identity > 0 and G.in_ch != G.out_ch:
            raise ValueError(f"the identity loss feeds B images to G: A → B, which needs the same channels in both "
                             f"domains (A has {G.in_ch}, B has {G.out_ch}); set objective.options.lambda_identity=0")
        return [Phase("G", ("g",), lambda b: self.g_loss_cycle(G, F_BA, nets["D_A"], nets["D_B"], b)),
                Phase("D", ("d",), lambda b: self.d_loss_pools(G, F_BA, nets["D_A"], nets["D_B"], b))]

    def make_batch(self, draw: Draws, nets: Nets, phase: Phase, step: int) -> Batch:
        """One unpaired draw per step (a from field ``x_a_unpaired`` or ``x_a``, b from ``x``), shared by G and D."""
        data = self.step_draw().get(step, draw.sample, fresh=phase.name == "G")
        batch = _batch(draw, data, step)
        key = UNPAIRED_FIELD if UNPAIRED_FIELD in batch.extras else PAIRED_FIELD
        if key not in batch.extras:
            raise ValueError(f"cyclegan needs two image domains; got fields {sorted(data)}: use unpaired data")
        batch.extras["a"] = batch.extras[key]
        return batch

    def g_loss_cycle(self, G: nn.Module, F_BA: nn.Module, D_A: nn.Module, D_B: nn.Module, batch: Batch) -> LossTerms:
        a, b = batch.extras["a"], batch.real
        fake_b, fake_a = G(a).float(), F_BA(b).float()  # G(a) ∈ B, F(b) ∈ A
        adv_g = g_adversarial(D_B(fake_b).float(), self.gan_loss)
        adv_f = g_adversarial(D_A(fake_a).float(), self.gan_loss)
        cyc_a = (F_BA(fake_b).float() - a).abs().mean()  # ‖F(G(a)) − a‖₁
        cyc_b = (G(fake_a).float() - b).abs().mean()  # ‖G(F(b)) − b‖₁
        loss = adv_g + adv_f + self.lambda_cycle * (cyc_a + self.cycle_b_weight * cyc_b)
        logs = {"loss/g_gan": adv_g.detach(), "loss/f_gan": adv_f.detach(), "loss/cycle_a": cyc_a.detach(),
                "loss/cycle_b": cyc_b.detach()}
        if self.lambda_identity > 0:
            idt = (G(b).float() - b).abs().mean() + (F_BA(a).float() - a).abs().mean()
            loss = loss + self.lambda_cycle * self.lambda_identity * idt
            logs["loss/identity"] = idt.detach()
        logs["loss/g"] = loss.detach()
        self.step_draw("fakes").keep(batch.step, (fake_b.detach(), fake_a.detach()))  # for this step's D phase
        return LossTerms(loss, logs)

    def d_loss_pools(self, G: nn.Module, F_BA: nn.Module, D_A: nn.Module, D_B: nn.Module, batch: Batch) -> LossTerms:
        a, b = batch.extras["a"], batch.real
        fakes = self.step_draw("fakes").take(batch.step)  # (G(a), F(b)) of this step's G phase
        if fakes is not None:
            fake_b, fake_a = fakes
        else:  # a D phase run on its own (tests): this batch's fakes
            with torch.no_grad():
                fake_b, fake_a = G(a).float(), F_BA(b).float()
        fake_b = self.pool_b.query(fake_b, batch.generator)
        fake_a = self.pool_a.query(fake_a, batch.generator)
        real_b, gen_b = D_B(b).float(), D_B(fake_b).float()
        real_a, gen_a = D_A(a).float(), D_A(fake_a).float()
        loss_b = d_adversarial(real_b, gen_b, self.gan_loss)
        loss_a = d_adversarial(real_a, gen_a, self.gan_loss)
        loss = loss_a + loss_b  # each term reaches only its own D: the same as two optimisers
        return LossTerms(loss, {"loss/d": loss.detach(), "loss/d_a": loss_a.detach(), "loss/d_b": loss_b.detach()})

    def state_dict(self) -> dict[str, Any]:
        return {"pool_a": self.pool_a.state_dict(), "pool_b": self.pool_b.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "pool_a" in state:
            self.pool_a.load_state_dict(state["pool_a"])
            self.pool_b.load_state_dict(state["pool_b"])
