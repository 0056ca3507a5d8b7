"""The progressive-growing objective (Karras et al. 2018, "Progressive Growing of GANs"): WGAN-GP with the ε-drift
term, and the growing schedule — which resolution, which fade-in α and which batch size at every step.

Loss (§A.1 and the released code's ``G_wgan`` / ``D_wgangp_acgan``), with x̃ = G(z) and x̂ = εx + (1 − ε)x̃, ε ~ U[0, 1]
per sample (Gulrajani et al. 2017, Algorithm 1):

    L_D = E[D(x̃)] − E[D(x)] + λ · E[(‖∇_x̂ D(x̂)‖₂ − γ)²] / γ² + ε_drift · E[D(x)²]      λ = 10, γ = 1, ε_drift = 0.001
    L_G = −E[D(x̃)]

one D step per G step (n_critic = 1), Adam(0.001, β = (0, 0.99), ε = 1e-8) in the paper.

Schedule (§3; the released code's ``TrainingSchedule``): stage 0 trains G and D at 4x4; every later stage k first
fades in the 2^(k+2) block for ``fade_images`` real images (α rises linearly from 0 to 1) and then trains it stable
for ``stable_images`` (α = 1). The last stage stays stable for the rest of training. Stage k runs at its own batch
size ``batch_sizes[k]`` (the paper lowers it at high resolutions to fit memory), so its phases take
ceil(images / batch_size) steps. The schedule is a pure function of the step (``progress_at``): a resumed run
recomputes the stage and α from the checkpoint's step, and a run stopped in the middle of a fade-in resumes exactly.

Per-stage batch sizes need no trainer support: ``make_batch`` draws ``batch_sizes[k]`` real images and latent codes
from the trainer's streams (``Draws.real(n)`` / ``Draws.latent(G, n)``), so ``images_seen`` counts what D really saw
and the data position in the checkpoint stays exact. ``train.batch_size`` is the batch of every stage when
``batch_sizes`` is empty.

Real images are shown to D at the current resolution (box-filtered down: the mean of each f×f block) and, during a
fade-in, blended like G's output: x_r ← (1 − α)·up(down(x_r)) + α·x_r (the released code's ``FadeLOD``), so real and
fake images go through the same crossfade.

Logged per step (``LossTerms.logs`` → metrics.jsonl, means over ``log.every`` steps): ``loss/d``, ``loss/g``,
``wasserstein``, ``reg/gp``, ``reg/drift``, ``score/real``, ``score/fake``, ``pggan/resolution``, ``pggan/alpha``,
``pggan/batch_size``. The checkpoint holds the stage: G's and D's ``level``/``alpha`` buffers and this objective's
``state_dict`` (step, level, resolution, α of the last batch).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from ganforge.losses import adversarial, penalties
from ganforge.losses.objectives import Batch, LossTerms, Nets, Objective, Phase, check_weight, full_precision
from ganforge.models.pggan import PGGANDiscriminator, PGGANGenerator, downsample, upsample
from ganforge.registry import OBJECTIVES

if TYPE_CHECKING:
    from ganforge.training.draws import Draws


# ---- the growing schedule: a pure function of the step ------------------------------------------------------------


@dataclass(frozen=True)
class Stage:
    """One resolution of the ladder: ``fade_steps`` of fade-in (0 for 4x4), then ``stable_steps`` at α = 1."""

    level: int  # 0 = 4x4, 1 = 8x8, ...
    resolution: int
    batch_size: int
    start: int  # first step of the stage
    fade_steps: int
    stable_steps: int

    @property
    def end(self) -> int:
        return self.start + self.fade_steps + self.stable_steps


@dataclass(frozen=True)
class Progress:
    """Where training is at one step."""

    level: int
    resolution: int
    alpha: float  # fade-in weight of the newest block: (step − fade start) / fade_steps during a fade, else 1
    batch_size: int


def stage_schedule(resolutions: tuple[int, ...], batch_sizes: tuple[int, ...], fade_images: int,
                   stable_images: int) -> tuple[Stage, ...]:
    """The stages of the ladder; stage k lasts ceil(fade_images / b_k) (k > 0) + ceil(stable_images / b_k) steps."""
    if len(batch_sizes) != len(resolutions):
        raise ValueError(f"objective.options.batch_sizes needs one batch size per resolution "
                         f"{'/'.join(map(str, resolutions))} ({len(resolutions)} values), got {list(batch_sizes)}")
    stages, start = [], 0
    for level, (res, batch) in enumerate(zip(resolutions, batch_sizes, strict=True)):
        fade = math.ceil(fade_images / batch) if level else 0
        stable = math.ceil(stable_images / batch)
        stages.append(Stage(level, res, batch, start, fade, stable))
        start += fade + stable
    return tuple(stages)


def progress_at(step: int, stages: tuple[Stage, ...]) -> Progress:
    """The stage, α and batch size at ``step`` (0-based); after the last stage's end, the last stage at α = 1."""
    if step < 0:
        raise ValueError(f"step must be >= 0, got {step}")
    stage = next((s for s in stages if step < s.end), stages[-1])
    into = step - stage.start
    alpha = into / stage.fade_steps if into < stage.fade_steps else 1.0
    return Progress(stage.level, stage.resolution, alpha, stage.batch_size)


def schedule_steps(stages: tuple[Stage, ...]) -> int:
    """Steps until the last stage's stable phase ends (what a preset's ``train.steps`` is set to)."""
    return stages[-1].end


def real_at(x: Tensor, resolution: int, alpha: float) -> Tensor:
    """Real images ``[N, C, H, W]`` as D sees them at ``resolution`` with fade-in weight α: box-filtered down to
    ``[N, C, r, r]``, then (α < 1) x_r ← (1 − α)·up(down(x_r)) + α·x_r (ProGAN's ``FadeLOD`` crossfade)."""
    x_r = downsample(x, x.shape[-1] // resolution)
    if alpha < 1.0:
        low = upsample(downsample(x_r))  # the previous resolution, pixel-replicated back to r × r
        x_r = low + (x_r - low) * alpha
    return x_r


# ---- the objective ----------------------------------------------------------------------------------------------


@OBJECTIVES.register("pggan")
@dataclass
class PGGANObjective(Objective):
    """WGAN-GP + ε-drift (Karras et al. 2018, §A.1) on progressively grown G and D (``model: pggan``)."""

    gp_weight: float = 10.0  # λ
    gp_target: float = 1.0  # γ: the penalty is (‖∇‖ − γ)² / γ² (released code's wgan_target; the paper uses 1)
    drift: float = 0.001  # ε_drift
    fade_images: int = 600_000  # real images per fade-in (paper: 600k)
    stable_images: int = 600_000  # real images per stable phase (paper: 600k)
    batch_sizes: tuple[int, ...] = ()  # one per resolution 4, 8, ...; () = train.batch_size at every stage

    def __post_init__(self) -> None:
        check_weight("gp_weight", self.gp_weight)
        check_weight("gp_target", self.gp_target, positive=True)
        check_weight("drift", self.drift)
        if self.fade_images < 1 or self.stable_images < 1:
            raise ValueError(f"fade_images and stable_images must be >= 1, got {self.fade_images} and "
                             f"{self.stable_images}")
        if any(b < 1 for b in self.batch_sizes):
            raise ValueError(f"objective.options.batch_sizes must be >= 1, got {list(self.batch_sizes)}")
        self._stages: tuple[Stage, ...] | None = None
        self._last: dict[str, Any] = {}

    @property
    def needs_double_backward(self) -> bool:
        return self.gp_weight > 0

    # ---- schedule ------------------------------------------------------------------------------------------------
    def schedule(self, resolutions: tuple[int, ...], batch_size: int) -> tuple[Stage, ...]:
        """The stages for G's ladder; ``batch_size`` (``train.batch_size``) fills in empty ``batch_sizes``."""
        sizes = self.batch_sizes or (batch_size,) * len(resolutions)
        return stage_schedule(resolutions, tuple(sizes), self.fade_images, self.stable_images)

    def progress(self, nets: Nets, step: int, batch_size: int) -> Progress:
        if self._stages is None:
            self._stages = self.schedule(nets["G"].resolutions, batch_size)
        return progress_at(step, self._stages)

    def phases(self, nets: Nets, d_steps: int) -> list[Phase]:
        G, D = nets["G"], nets["D"]
        if not isinstance(G, PGGANGenerator) or not isinstance(D, PGGANDiscriminator):  # the growing networks
            raise ValueError("objective pggan grows its networks stage by stage and needs model pggan; "
                             "set model.name=pggan")
        if self.batch_sizes and len(self.batch_sizes) != len(G.resolutions):
            stage_schedule(G.resolutions, self.batch_sizes, self.fade_images, self.stable_images)  # raises
        # Both phases are marked double_backward (the D phase truly is: GP) so a CUDA graph never captures them: the
        # stage changes the graph's shapes and layers, which a captured replay would freeze.
        return [Phase("D", ("d",), lambda b: self.d_loss(G, D, b), repeats=d_steps, double_backward=True),
                Phase("G", ("g",), lambda b: self.g_loss(G, D, b), needs_real=False, double_backward=True)]

    def make_batch(self, draw: Draws, nets: Nets, phase: Phase, step: int) -> Batch:
        """Sets G's and D's stage from ``step``, then draws this stage's batch: real images (D phase) at the
        current resolution and fade-in, and latent codes, ``batch_sizes[level]`` of each."""
        p = self.progress(nets, step, draw.batch_size)
        for name in ("G", "D"):
            nets[name].set_progress(p.level, p.alpha)
        real = None
        if phase.needs_real:
            real = real_at(draw.real(p.batch_size)[0], p.resolution, p.alpha)  # [n, C, r, r]
        z = draw.latent(nets["G"], p.batch_size)  # [n, z_dim]
        self._last = {"step": step, "level": p.level, "resolution": p.resolution, "alpha": p.alpha,
                      "batch_size": p.batch_size}
        return Batch(real=real, z=z, generator=draw.rng, rank=draw.rank, world_size=draw.world_size, step=step)

    @staticmethod
    def _progress_logs(D: nn.Module, batch: Batch) -> dict[str, Tensor]:
        """The stage of D (set by ``make_batch``) as device scalars: no host read per step."""
        size = batch.real.shape[0] * batch.world_size  # the global batch of this stage
        return {"pggan/resolution": (D.resolutions[0] * torch.pow(2, D.level)).float(),
                "pggan/alpha": D.alpha.detach().clone(),
                "pggan/batch_size": torch.full((), float(size), device=D.alpha.device)}

    # ---- losses ------------------------------------------------------------------------------------------------
    def d_loss(self, G: nn.Module, D: nn.Module, batch: Batch) -> LossTerms:
        with torch.no_grad():
            fake = full_precision(G.synthesize(batch.z))  # [N, C, r, r]
        real_scores, fake_scores = full_precision(D(batch.real)), full_precision(D(fake))  # [N, 1] each
        loss = adversarial.d_wasserstein(real_scores, fake_scores)  # E[D(x̃)] − E[D(x)]
        logs = {"loss/d": loss.detach(), "wasserstein": -loss.detach(), "score/real": real_scores.detach().mean(),
                "score/fake": fake_scores.detach().mean(), **self._progress_logs(D, batch)}
        total = loss
        if self.gp_weight > 0:
            eps = batch.uniform(penalties.per_sample_shape(batch.real))  # one ε per sample
            gp = penalties.gradient_penalty(lambda x: full_precision(D(x)), batch.real, fake, center=self.gp_target,
                                            eps=eps) / self.gp_target**2
            total = total + self.gp_weight * gp
            logs["reg/gp"] = gp.detach()
        drift = real_scores.square().mean()  # E[D(x)²]: keeps the critic's scores near 0 (§A.1)
        logs["reg/drift"] = drift.detach()
        return LossTerms(total + self.drift * drift, logs)

    def g_loss(self, G: nn.Module, D: nn.Module | None, batch: Batch) -> LossTerms:
        loss = adversarial.g_wasserstein(full_precision(D(full_precision(G.synthesize(batch.z)))))  # −E[D(G(z))]
        return LossTerms(loss, {"loss/g": loss.detach()})

    # ---- checkpoint ----------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The stage of the last batch (informative: the schedule recomputes it from the trainer's step)."""
        return dict(self._last)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._last = dict(state)
