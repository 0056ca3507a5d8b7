"""The StyleGAN2 objective (Karras et al. 2020, App. B; the official ``StyleGAN2Loss``) with adaptive discriminator
augmentation (ADA; Karras et al. 2020b, §3).

Phases (the core's adversarial default: D, D_reg every ``r1_every`` steps, G, G_reg every ``pl_every`` steps):
    D      L_D = softplus(D(A(G(z)))) + softplus(−D(A(x)))              non-saturating logistic loss
    D_reg  ½ γ · r1_every · E‖∇_x D(A(x))‖²                             lazy R1 (Mescheder et al. 2018), scaled by
                                                                         the interval (App. B "lazy regularization")
    G      L_G = softplus(−D(A(G(z))))
    G_reg  pl_weight · pl_every · E[(‖J_wᵀ y‖₂ − a)²]                   lazy path-length regularisation (§3.2, eq. 4)
           on a batch shrunk by ``pl_batch_shrink``, y ~ N(0, I)/√(HW), ‖J_wᵀ y‖ averaged over the ws rows as the
           official code does (sqrt of the mean over layers of the squared per-layer norms), a ← a + β (mean − a)
           with β = ``pl_decay`` (``pl_mean`` in the checkpoint).
A is the ADA pipeline (``models/augment.py``) with probability p; every G call uses style mixing regularisation
(StyleGAN §3.1): with probability ``style_mixing``, ws[:, c:] come from a second z, c ~ U{1, …, num_ws − 1}, one c per
batch as the official code draws it. Every random number (z₂, c, noise inputs, augmentations, y) comes from the
trainer's RNG (``batch.generator``), so a run resumes bit-exactly.

ADA's p (§3, "Adaptive discriminator augmentation"): r_t = E[sign(D(A(x)))] over the real logits of the last
``ada_interval`` D steps; then p ← clamp(p + sign(r_t − target) · n / (ada_kimg · 1000), 0, 1), n = real images in
the interval (batch · interval: p can go 0 → 1 in ``ada_kimg`` thousand images). p and the accumulators are objective
state (checkpoint), logged as ``ada/p`` and ``ada/rt``. ``augment_p`` is the initial p (0 in the paper);
``ada_target = 0`` turns the adaptation off and keeps p = ``augment_p`` fixed (0 = no augmentation: plain StyleGAN2).

G's EMA (``train.ema`` = β, half-life B·ln 0.5/ln β images) is ramped up as StyleGAN2-ADA does: at step t
β_t = min(β, 0.5^(1 / (ema_rampup · t))), i.e. the half-life is at most ``ema_rampup`` × the images seen so far.

The paper's lazy-regularisation optimiser correction (lr · c, β₁ᶜ, β₂ᶜ with c = k/(k+1)) is in the presets' optim
settings; this objective does not change the optimisers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from ganforge.losses import adversarial, penalties
from ganforge.losses.objectives import (
    Batch,
    LossTerms,
    Nets,
    Objective,
    Phase,
    check_weight,
    discriminate,
    full_precision,
)
from ganforge.models.augment import augment, check_pipeline
from ganforge.models.base import conditioning_dim
from ganforge.registry import OBJECTIVES


def path_lengths(img: Tensor, ws: Tensor, y: Tensor) -> Tensor:
    """‖J_wᵀ y‖ per sample ``[N]`` for images ``img [N, C, H, W]`` made from ``ws [N, L, w_dim]`` (in the graph) and
    the projection ``y`` (same shape as img): the gradient of Σ img·y w.r.t. ws, squared norm summed over w_dim,
    averaged over the L layers, square-rooted (the official ``pl_lengths``). Built with ``create_graph``."""
    (grads,) = torch.autograd.grad((img * y).sum(), ws, create_graph=True)  # [N, L, w_dim] = J_wᵀ y
    return grads.square().sum(dim=2).mean(dim=1).sqrt()


def ada_adjust(p: Tensor, rt: Tensor, target: float, images: Tensor | int, ada_kimg: float) -> Tensor:
    """One ADA step: clamp(p + sign(r_t − target) · images / (ada_kimg · 1000), 0, 1)."""
    return (p + torch.sign(rt - target) * (images / (ada_kimg * 1000))).clamp(0.0, 1.0)


def mode_seeking_penalty(images: Tensor, z: Tensor, eps: float = 1e-5) -> Tensor:
    """MSGAN's term (Mao et al. 2019, eq. 3; HelenMao/MSGAN): 1 / (mean|x₁ − x₂| / mean|z₁ − z₂| + eps) with
    (x₁, z₁), (x₂, z₂) the first and second half of the batch ``[N, …]``; large when G maps different z alike."""
    h = images.shape[0] // 2
    if h == 0:
        raise ValueError("the mode-seeking term needs a batch of at least 2 (two halves to compare)")
    ratio = (images[:h] - images[h: 2 * h]).abs().mean() / (z[:h] - z[h: 2 * h]).abs().mean()
    return 1.0 / (ratio + eps)


@OBJECTIVES.register("stylegan2")
@dataclass
class StyleGAN2Objective(Objective):
    """Options (paper values in brackets): ``r1_gamma`` γ [10 at FFHQ 1024; ADA's heuristic 0.0002·R²/batch],
    ``r1_every`` [16], ``pl_weight`` [2], ``pl_every`` [4], ``pl_batch_shrink`` [2], ``pl_decay`` [0.01],
    ``style_mixing`` [0.9], ``ema_rampup`` [0.05], ``ada_target`` [0.6; 0 = off], ``ada_interval`` [4],
    ``ada_kimg`` [500], ``augment_p`` (fixed p without ADA), ``augment_pipeline`` ["bgc"], ``mode_seeking``
    [0 = off; not in StyleGAN2]: λ of MSGAN's mode-seeking term (Mao et al. 2019, eq. 3, as their code:
    G's loss += λ / (mean|G(z₁) − G(z₂)| / mean|z₁ − z₂| + 1e-5), the batch's two halves as the pairs)."""

    r1_gamma: float = 10.0
    r1_every: int = 16
    pl_weight: float = 2.0
    pl_every: int = 4
    pl_batch_shrink: int = 2
    pl_decay: float = 0.01
    style_mixing: float = 0.9
    ema_rampup: float = 0.05
    ada_target: float = 0.0
    ada_interval: int = 4
    ada_kimg: float = 500.0
    augment_p: float = 0.0
    augment_pipeline: str = "bgc"
    mode_seeking: float = 0.0

    def __post_init__(self) -> None:
        check_weight("r1_gamma", self.r1_gamma)
        check_weight("mode_seeking", self.mode_seeking)
        check_weight("pl_weight", self.pl_weight)
        for name in ("r1_every", "pl_every", "pl_batch_shrink", "ada_interval"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("pl_decay", "style_mixing", "augment_p", "ada_target"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        check_weight("ema_rampup", self.ema_rampup)
        check_weight("ada_kimg", self.ada_kimg, positive=True)
        self.ops = check_pipeline(self.augment_pipeline)
        self._state = {"p": torch.tensor(float(self.augment_p)), "pl_mean": torch.zeros(()),
                       "ada_signs": torch.zeros(()), "ada_count": torch.zeros((), dtype=torch.int64)}

    # ---- the schedule -------------------------------------------------------------------------------------------
    @property
    def reg_every(self) -> int:  # type: ignore[override]
        return self.r1_every if self.r1_gamma > 0 else 0

    @property
    def g_reg_every(self) -> int:  # type: ignore[override]
        return self.pl_every if self.pl_weight > 0 else 0

    @property
    def needs_double_backward(self) -> bool:
        return True

    @property
    def augments(self) -> bool:
        return self.ada_target > 0 or self.augment_p > 0

    def phases(self, nets: Nets, d_steps: int) -> list[Phase]:
        phases = super().phases(nets, d_steps)
        for ph in phases:
            if ph.name == "D":
                ph.double_backward = False
        return phases

    def ema_decay(self, decay: float, step: int, batch_size: int) -> float:
        """β_t = min(β, 0.5^(B / (ema_rampup · t · B))) (StyleGAN2-ADA's ramp-up; t·B = images seen, t = 0 copies)."""
        if self.ema_rampup <= 0:
            return decay
        if step == 0:
            return 0.0
        return min(decay, 0.5 ** (1.0 / (self.ema_rampup * step)))

    # ---- state --------------------------------------------------------------------------------------------------
    @property
    def p(self) -> Tensor:
        return self._state["p"]

    @property
    def pl_mean(self) -> Tensor:
        return self._state["pl_mean"]

    def state_dict(self) -> dict[str, Any]:
        return {k: v.detach().clone().cpu() for k, v in self._state.items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for k in self._state:
            if k in state:
                self._state[k] = state[k].detach().clone()

    def _on(self, device: torch.device) -> None:
        for k, v in self._state.items():
            if v.device != device:
                self._state[k] = v.to(device)

    # ---- helpers ------------------------------------------------------------------------------------------------
    @staticmethod
    def _rand(batch: Batch, *shape: int, normal: bool = False) -> Tensor:
        """Random numbers for this rank's rows of the global batch (drawn for all ranks, then sliced)."""
        n = shape[0]
        gen = batch.generator
        device = gen.device if gen is not None else torch.device("cpu")
        full_shape = (n * batch.world_size, *shape[1:])
        full = (torch.randn if normal else torch.rand)(full_shape, generator=gen, device=device)
        return full[batch.rank * n: (batch.rank + 1) * n]

    def run_G(self, G: nn.Module, z: Tensor, batch: Batch, c: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """(images, ws) for z (and class c ``int64 [N]`` of a class-conditional G) with style mixing; ws
        ``[N, num_ws, w_dim]`` is part of the graph (path length). The mixing source z₂ keeps z's class, as
        NVlabs' loss maps it with the same c (a self-conditioned G: z's cluster k(u), not z₂'s)."""
        ws = G.styles(z, update_w_avg=True, c=c)
        z2 = self._rand(batch, *z.shape, normal=True).to(z.device, z.dtype)
        gen = batch.generator
        u = torch.rand(2, generator=gen, device=gen.device if gen is not None else "cpu")  # [cutoff, gate]: per batch
        if self.style_mixing > 0 and G.num_ws > 1:
            cutoff = 1 + torch.floor(u[0] * (G.num_ws - 1)).long()  # c ~ U{1, …, num_ws − 1}
            cutoff = torch.where(u[1] < self.style_mixing, cutoff, torch.full_like(cutoff, G.num_ws))
            mixed = (torch.arange(G.num_ws, device=cutoff.device) >= cutoff).to(z.device)[None, :, None]
            c2 = c if c is not None else G.latent_labels(z)  # None for an unconditional G
            ws = torch.where(mixed, G.styles(z2, update_w_avg=False, c=c2), ws)
        return G.synthesis(ws, "random", batch.generator), ws

    def run_D(self, D: nn.Module, img: Tensor, batch: Batch, labels: Tensor | None = None) -> Tensor:
        """D(A(img)) or D(A(img), labels) for a conditional D (``objectives.discriminate``), ``[N, 1]`` float32; A
        is the identity while no augmentation is configured."""
        if self.augments:
            img = augment(img, self.p, self.ops, batch.generator)
        return discriminate(D, img, labels)

    @staticmethod
    def _labels(G: nn.Module, labels: Tensor | None) -> Tensor | None:
        """``labels`` when G takes classes (class-conditional), else None (a self-conditioned G draws its own)."""
        return labels if conditioning_dim(G) else None

    # ---- losses -------------------------------------------------------------------------------------------------
    def d_loss(self, G: nn.Module, D: nn.Module, batch: Batch) -> LossTerms:
        self._on(batch.real.device)
        with torch.no_grad():
            fake, _ = self.run_G(G, batch.z, batch, self._labels(G, batch.fake_labels))
        # a conditional D judges each fake with the class it was made for (a self-conditioned G's k(u): make_batch
        # asks G.latent_labels) and each real with its own (cluster) label
        fake_logits = self.run_D(D, fake, batch, batch.fake_labels)
        real_logits = self.run_D(D, batch.real, batch, batch.labels)
        loss = adversarial.d_logistic(real_logits, fake_logits)
        logs = {"loss/d": loss.detach(), "score/real": torch.sigmoid(real_logits.detach()).mean(),
                "score/fake": torch.sigmoid(fake_logits.detach()).mean()}
        if self.ada_target > 0:
            self._ada_update(real_logits.detach(), batch, logs)
        if self.augments:
            logs["ada/p"] = self.p.clone()
        return LossTerms(loss, logs)

    def _ada_update(self, real_logits: Tensor, batch: Batch, logs: dict[str, Tensor]) -> None:
        """Accumulate sign(D(A(x))); every ``ada_interval`` steps move p towards r_t = ``ada_target``."""
        if batch.world_size > 1:
            raise ValueError("ADA's p is adapted from this process's real logits only; train with one process or "
                             "set objective.options.ada_target=0 (fixed augment_p)")
        s = self._state
        s["ada_signs"] = s["ada_signs"] + torch.sign(real_logits).sum()
        s["ada_count"] = s["ada_count"] + real_logits.shape[0]
        logs["ada/rt"] = torch.sign(real_logits).mean()
        if (batch.step + 1) % self.ada_interval == 0:
            n = s["ada_count"].clamp_min(1)
            rt = s["ada_signs"] / n
            s["p"] = ada_adjust(s["p"], rt, self.ada_target, n, self.ada_kimg)
            s["ada_signs"], s["ada_count"] = torch.zeros_like(s["ada_signs"]), torch.zeros_like(s["ada_count"])

    def d_reg(self, G: nn.Module, D: nn.Module, batch: Batch) -> LossTerms:
        """½ γ k · R1 on augmented reals; the gradient is taken w.r.t. the un-augmented x (through A)."""
        self._on(batch.real.device)
        real = batch.real.detach().requires_grad_(True)
        r1 = penalties.r1_penalty(real, self.run_D(D, real, batch, batch.labels))  # R1 on D(x, c)
        return LossTerms(0.5 * self.r1_gamma * self.r1_every * r1, {"reg/r1": r1.detach()})

    def g_loss(self, G: nn.Module, D: nn.Module | None, batch: Batch) -> LossTerms:
        self._on(batch.z.device)
        fake, _ = self.run_G(G, batch.z, batch, self._labels(G, batch.fake_labels))
        loss = adversarial.g_nonsaturating(self.run_D(D, fake, batch, batch.fake_labels))
        logs = {"loss/g": loss.detach()}
        if self.mode_seeking > 0:
            ms = mode_seeking_penalty(fake, batch.z)
            loss = loss + self.mode_seeking * ms
            logs["reg/mode_seeking"] = ms.detach()
        return LossTerms(loss, logs)

    def g_reg(self, G: nn.Module, D: nn.Module | None, batch: Batch) -> LossTerms:
        """Path-length penalty on N / ``pl_batch_shrink`` samples; updates the running mean a (``pl_mean``)."""
        self._on(batch.z.device)
        n = max(1, batch.z.shape[0] // self.pl_batch_shrink)
        c = self._labels(G, batch.fake_labels)
        img, ws = self.run_G(G, batch.z[:n], batch, None if c is None else c[:n])
        h, w = img.shape[-2:]
        y = self._rand(batch, *img.shape, normal=True).to(img.device, img.dtype) / math.sqrt(h * w)
        lengths = path_lengths(full_precision(img), ws, y)  # [n]
        pl_mean = self.pl_mean.lerp(lengths.mean().detach(), self.pl_decay)
        self._state["pl_mean"] = pl_mean
        penalty = (lengths - pl_mean).square().mean()
        return LossTerms(penalty * self.pl_weight * self.pl_every,
                         {"reg/pl": penalty.detach(), "reg/pl_mean": pl_mean.detach()})
