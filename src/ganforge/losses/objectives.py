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

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

import torch
from torch import Tensor, nn

from ganforge.data.base import DataSpec
from ganforge.losses import adversarial, penalties
from ganforge.models.base import Discriminator, Generator, conditioning_dim
from ganforge.registry import OBJECTIVES

if TYPE_CHECKING:
    from ganforge.training.draws import Draws

Nets = dict[str, nn.Module]
T = TypeVar("T")


@dataclass
class Batch:
    """One step's inputs: real samples and labels, latent codes and the labels to generate for, plus any named
    tensors a family needs (paired inputs, reference images, target domains, windows) in ``extras``."""

    real: Tensor | None  # [N, *shape] in the generator's output range (None for phases that read no data)
    z: Tensor | None  # [N, z_dim]
    labels: Tensor | None = None  # [N] int64 labels of ``real`` (None when unlabelled / unconditional)
    fake_labels: Tensor | None = None  # [N] labels G is asked to generate (conditional models only)
    generator: torch.Generator | None = None  # RNG for any randomness inside the loss (label noise, GP interpolates)
    rank: int = 0  # this process's shard of the global batch (training.distributed): rows [rank·N, (rank+1)·N)
    world_size: int = 1
    step: int = 0  # the training step (completed G updates): schedules inside a loss read it (e.g. λ_ds decay)
    extras: dict[str, Tensor] = field(default_factory=dict)  # family-specific named tensors (the source's extra fields)

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

    ``LossTerms.total`` only: it is backpropagated once and the optimisers of every group in ``groups`` step (one
    group, or several minimising the same loss — StarGAN v2's G, F and E with their own learning rates).
    ``LossTerms.totals`` (a *simultaneous* phase, e.g. the TF DCGAN tutorial's ``train_step``): ``totals[group]`` is
    differentiated w.r.t. that group's parameters only, all from the same forward pass and the same weights, then
    every group's optimiser steps.
    """

    name: str  # "D", "D_reg", "G", "G_reg", "DG", "EG", ...
    groups: tuple[str, ...]  # optimiser groups it updates (keys of Objective.groups())
    loss_fn: Callable[[Batch], LossTerms]
    repeats: int = 1  # k D-steps per G-step
    every: int = 1  # run on every n-th step (lazy regularisation)
    needs_real: bool = True  # whether the loss reads real samples (the G phase of a GAN does not)
    after_step: Callable[[], None] | None = None  # e.g. WGAN weight clipping
    double_backward: bool = False  # the loss differentiates through a gradient (GP, R1): never CUDA-graph captured


class StepDraw(Generic[T]):
    """One draw per training step shared by the step's phases (pix2pix's D and G see the same pairs, StarGAN v2's
    four phases one batch, the G phase may reuse the D phase's z, CycleGAN's D judges the G phase's fakes).

    The value is kept only within its step, and a checkpoint is only written between steps, so exact resume needs
    nothing saved. Two ways to share: ``get`` (draw on the step's first request, reuse after) and ``keep``/``take``
    (one phase hands its draw to a later phase of the same step)."""

    def __init__(self) -> None:
        self.step: int | None = None
        self.value: T | None = None

    def get(self, step: int, make: Callable[[], T], fresh: bool = False) -> T:
        """This step's value: ``make()`` when ``fresh`` or nothing was drawn at ``step`` yet, else the kept one."""
        if fresh or self.value is None or self.step != step:
            self.step, self.value = step, make()
        return self.value

    def keep(self, step: int, value: T) -> None:
        """Hand ``value`` to a later phase of ``step``."""
        self.step, self.value = step, value

    def take(self, step: int) -> T | None:
        """What a phase of ``step`` kept (None if nothing, or only a value from another step); forgets it."""
        value = self.value if self.step == step else None
        self.step, self.value = None, None
        return value


@dataclass(frozen=True)
class Settings:
    """How ``Objective.check``'s errors name the settings involved (``builder`` fills it from the config and family)."""

    objective: str  # "objective.name=acgan"
    data: str  # "data.name=ring8"
    conditioning: str  # "model.options.conditioning=concat" (…=none for a family without that option)
    critic_norm: str | None = None  # the family's setting that puts batch norm in D ("model.options.d_norm=batch")


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
    shared_z: bool = False  # the G phase reuses the z (and fake labels) of this step's last D batch (``make_batch``)
    reads_class_logits: ClassVar[bool] = False  # D must return [N, 1 + K]: real/fake and class logits (AC-GAN)

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
        in this order from the trainer's RNGs for the global batch, then sharded (``Draws``).

        ``shared_z``: the G phase reuses the z and fake labels drawn for this step's last D batch instead of drawing
        new ones (the GradientTape loop of lecture 004 feeds one ``z`` to ``fake_loss`` and ``gen_loss``). The z is
        kept only from the D phase to the G phase of the same step, and a checkpoint is only written between steps,
        so exact resume needs nothing saved (``state_dict`` stays empty).
        """
        real, labels = draw.real() if phase.needs_real else (None, None)
        shared = self.step_draw().take(step) if self.shared_z and phase.name == "G" else None
        if shared is not None:
            z, fake_labels = shared
        else:
            G = nets["G"]
            z = draw.latent(G)
            fake_labels = None
            c_dim = conditioning_dim(G)
            if c_dim:
                fake_labels = labels if draw.fake_labels == "real" and labels is not None else draw.labels(c_dim)
            elif isinstance(G, Generator) and conditioning_dim(nets.get("D")):
                fake_labels = G.latent_labels(z)  # an unconditional G that picks its own class from z (selfcond)
            if self.shared_z and phase.name == "D":
                self.step_draw().keep(step, (z, fake_labels))
        return Batch(real=real, z=z, labels=labels, fake_labels=fake_labels, generator=draw.rng, rank=draw.rank,
                     world_size=draw.world_size, step=step)

    def step_draw(self, key: str = "batch") -> StepDraw[Any]:
        """This objective's per-step shared draw ``key`` (``StepDraw``; one per objective and key, made on first
        use, never saved)."""
        draws = self.__dict__.setdefault("_step_draws", {})
        return draws.setdefault(key, StepDraw())

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

    def ema_decay(self, decay: float, step: int, batch_size: int) -> float:
        """The generator EMA's decay at ``step`` (``train.ema`` unchanged by default; StyleGAN2-ADA ramps it up)."""
        return decay

    def after_d_step(self, D: nn.Module) -> None:
        """Hook after each D update (no-op by default)."""

    @property
    def needs_double_backward(self) -> bool:
        """True when a phase differentiates through a gradient (GP, R1): such phases can't be CUDA-graph captured."""
        return False

    @property
    def penalises_sample_gradients(self) -> bool:
        """True when a loss penalises each sample's gradient of D (WGAN-GP): batch norm in D would mix samples."""
        return False

    # ---- compatibility -----------------------------------------------------------------------------------------------
    def check(self, spec: DataSpec, nets: Nets, names: Settings) -> None:
        """Model ↔ objective ↔ data combinations that build but would fail at the first step, or train something
        else than asked: a one-line ``ValueError`` naming both settings (``names``) and the fix. Reads only what the
        objective and the networks declare (``reads_class_logits``, ``penalises_sample_gradients``, D's
        ``conditioning``/``aux_classes``, G's ``c_dim``)."""
        obj, cond = names.objective, names.conditioning
        D = nets.get("D")
        head, aux = (D.conditioning, D.aux_classes) if isinstance(D, Discriminator) else ("none", 0)
        if self.reads_class_logits:
            if spec.num_classes < 2:
                raise ValueError(f"{obj} needs a labelled dataset (num_classes >= 2); {names.data} has "
                                 f"{spec.num_classes} classes; use labelled data or another objective (e.g. logistic)")
            if not aux:
                gives = {"projection": "a projection score D(x, c) and no class logits",
                         "concat": "D(x, c) with the label as input and no class logits"}.get(head, "no class logits")
                raise ValueError(f"{obj} needs a discriminator that predicts the class (logits [N, 1 + K]), but "
                                 f"{cond} gives {gives}; set model.options.conditioning=acgan")
        elif aux:
            raise ValueError(f"{cond} makes D return [N, 1 + {aux}] logits (real/fake + class) that {obj} cannot use; "
                             "use objective.name=acgan, or model.options.conditioning=concat or projection")
        if D is None and conditioning_dim(nets["G"]):
            raise ValueError(f"{cond} makes G conditional, but {obj} has no discriminator to make samples follow their "
                             "labels; set model.options.conditioning=none")
        if (self.penalises_sample_gradients and D is not None
                and any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in D.modules())):
            where = names.critic_norm or "its batch norm"
            fix = "set model.options.d_norm=none or layer" if names.critic_norm else "use a critic without batch norm"
            raise ValueError(f"{obj} penalises each sample's gradient, but a batch-norm critic ({where}) mixes the "
                             f"samples of a batch (Gulrajani et al. 2017, §4: no batch norm in the critic); {fix}")


def full_precision(x: Tensor) -> Tensor:
    """float16/bfloat16 → float32 (what autocast returns from G and D); float32/float64 unchanged."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def generate(G: nn.Module, batch: Batch) -> Tensor:
    """G(z) or G(z, c) for conditional generators, never in half precision (under bf16 autocast G computes in bf16)."""
    if conditioning_dim(G):
        return full_precision(G(batch.z, batch.fake_labels))
    return full_precision(G(batch.z))


def discriminate(D: nn.Module, x: Tensor, labels: Tensor | None) -> Tensor:
    """D(x) or D(x, c) for conditional discriminators; logits [N, 1] in full precision (losses are never bf16)."""
    if conditioning_dim(D):
        return full_precision(D(x, labels))
    return full_precision(D(x))


def check_weight(name: str, value: float, positive: bool = False) -> None:
    """One-line ValueError unless ``value`` is finite and >= 0 (> 0 with ``positive``); catches NaN and inf too."""
    ok = math.isfinite(value) and (value > 0 if positive else value >= 0)
    if not ok:
        raise ValueError(f"{name} must be a finite number {'>' if positive else '>='} 0, got {value}")


def check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    """One-line ValueError unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; choose from: {', '.join(choices)}")


# ---- R1 (Mescheder et al. 2018), eager or lazy: an option of every objective whose D has a real/fake logit -------


def r1_terms(D: nn.Module, batch: Batch, weight: float, logits_fn: Callable[[Tensor], Tensor] | None = None
             ) -> LossTerms:
    """A stand-alone R1 step: ``weight · ½ E‖∇_x D(x)‖²`` on ``batch.real`` with its own forward pass of D.

    ``logits_fn(x)`` gives the real/fake logit ``[N, 1]`` (default ``discriminate(D, x, batch.labels)``; AC-GAN
    passes its column 0). For a lazy ``D_reg`` phase every k steps pass ``weight = r1_weight · k`` (StyleGAN2 lazy
    regularisation, Karras et al. 2020, App. B: the penalty is applied k times less often, so it is made k times
    stronger). Logs the unweighted penalty as ``reg/r1``.
    """
    real = batch.real.detach().requires_grad_(True)
    real_logits = logits_fn(real) if logits_fn is not None else discriminate(D, real, batch.labels)
    r1 = penalties.r1_penalty(real, real_logits)
    return LossTerms(0.5 * weight * r1, {"reg/r1": r1.detach()})


@dataclass
class R1Regularised:
    """Mixin: ``r1_weight`` (γ) and ``r1_every`` (k) options for objectives whose D gives a real/fake logit.

    ``r1_weight == 0``: no R1 (the default: the objective is exactly what it is without the mixin).
    ``r1_every`` in {0, 1}: ½γ·R1 is added inside ``d_loss`` (one extra backward through D per step).
    ``r1_every = k > 1``: lazy regularisation; ``reg_every = k`` and ``d_reg`` returns ½γk·R1, so the default
    phases become D, D_reg every k steps, G — StyleGAN2's recipe with the logistic objective (γ = r1_weight, k = 16).
    The trainer may also rescale the D optimiser's lr and betas by k/(k+1) as StyleGAN2 does; that is its business.
    Used by logistic, hinge, lsgan and acgan (``_r1_logits`` picks the logit the penalty differentiates).
    """

    r1_weight: float = 0.0  # γ in Mescheder et al. (2018); StyleGAN2 uses 10 (FFHQ 1024) down to 0.01 (CIFAR-10)
    r1_every: int = 0  # k: 0 or 1 = inside every d_loss; k > 1 = separate lazy phase every k steps (StyleGAN2: 16)

    def _check_r1(self) -> None:
        check_weight("r1_weight", self.r1_weight)
        if self.r1_every < 0:
            raise ValueError(f"r1_every must be >= 0 (0 or 1 = every D step, k > 1 = lazy), got {self.r1_every}")

    @property
    def _r1_eager(self) -> bool:
        return self.r1_weight > 0 and self.r1_every <= 1

    @property
    def reg_every(self) -> int:  # type: ignore[override]
        """k > 1 when lazy R1 is on, else 0 (no separate D_reg phase)."""
        return self.r1_every if self.r1_weight > 0 and self.r1_every > 1 else 0

    @property
    def needs_double_backward(self) -> bool:
        return self.r1_weight > 0

    def _r1_logits(self, D: nn.Module, real: Tensor, batch: Batch) -> Tensor:
        """The real/fake logit ``[N, 1]`` that R1 differentiates (the whole D output by default)."""
        return discriminate(D, real, batch.labels)

    def _real_input(self, batch: Batch) -> Tensor:
        """``batch.real``, made to require grad when the R1 penalty is computed inside ``d_loss``."""
        return batch.real.detach().requires_grad_(self._r1_eager)

    def _with_r1(self, loss: Tensor, logs: dict[str, Tensor], real: Tensor, real_logits: Tensor) -> Tensor:
        """``loss + ½γ·R1`` (logging ``reg/r1``) when R1 is eager; ``loss`` unchanged otherwise."""
        if not self._r1_eager:
            return loss
        r1 = penalties.r1_penalty(real, real_logits)
        logs["reg/r1"] = r1.detach()
        return loss + 0.5 * self.r1_weight * r1

    def d_reg(self, G: nn.Module, D: nn.Module, batch: Batch) -> LossTerms:
        """The lazy R1 phase: ½·γ·k·R1 (``reg_every = k``)."""
        if self.reg_every == 0:
            raise RuntimeError(f"d_reg is only used for lazy R1 (r1_weight > 0 and r1_every > 1); got "
                               f"r1_weight={self.r1_weight}, r1_every={self.r1_every}")
        return r1_terms(D, batch, self.r1_weight * self.r1_every, lambda x: self._r1_logits(D, x, batch))


# ---- the logistic GAN and the lectures' training steps ------------------------------------------------------------

UPDATES = ("alternating", "simultaneous")
D_BATCHES = ("separate", "concat")
D_FAKES = ("train", "eval")


@OBJECTIVES.register("logistic")
@dataclass
class LogisticObjective(R1Regularised, Objective):
    """Goodfellow GAN: logistic D loss with a choice of generator cost, and the options that reproduce the lectures'
    training steps exactly. Every option's default is the plain alternating GAN (Goodfellow's Algorithm 1).

    g_cost: "minimax" log(1 − D(G(z))), "nonsaturating" −log D(G(z)), "max_likelihood" −½ exp(σ⁻¹(D(G(z)))).
    update: "alternating" = phases D (×k), G, each with its own z and forward passes; "simultaneous" = one phase
        ``DG``: one z, ONE forward of G (in training mode, so batch-norm statistics move once per step), D(x) and
        D(G(z)), and d_loss and g_loss from that same forward; each is differentiated w.r.t. its own network at the
        same weights and both optimisers step (the TensorFlow DCGAN tutorial's ``train_step`` with two tapes).
    d_batch: "separate" = D(x) and D(G(z)) are two forward passes and the D loss is the sum of the two BCE means
        (the tutorial's ``real_loss + fake_loss``); "concat" = ONE forward of D over ``[G(z); x]`` and ONE BCE mean
        over the 2N rows (= half the sum form), as keras.io's ``train_step`` and SciNet's ``D.train_on_batch`` do:
        batch norm and dropout in D then see the concatenated batch.
    d_fakes_from: "train" = the D step's fakes come from G in training mode (batch statistics, dropout; BN running
        statistics move); "eval" = G in inference mode (running statistics, no dropout), like Keras ``G.predict``.
    shared_z: the G phase reuses the z of this step's last D batch (lecture 004's GradientTape loop) instead of a
        new one (see ``Objective.make_batch``).
    r1_weight / r1_every: R1 on real data, eager or lazy (``R1Regularised``); logistic + r1_every 16 is StyleGAN2's.
    """

    g_cost: str = "nonsaturating"
    label_smoothing: float = 0.0  # one-sided: real target = 1 − label_smoothing (Salimans et al. 2016 use 0.1)
    # keras.io GAN trick, labels += label_noise · U(0, 1) (that example uses 0.05). d_batch=separate: added to our
    # targets (one draw for the real rows, then one for the fakes); d_batch=concat: the keras.io draw exactly, one
    # U(0, 1) over [generated; real] added to *Keras* labels, i.e. subtracted from ours (see _d_loss_from_logits)
    label_noise: float = 0.0
    update: str = "alternating"  # or "simultaneous" (one DG phase)
    d_batch: str = "separate"  # or "concat"
    d_fakes_from: str = "train"  # or "eval"
    shared_z: bool = False

    def __post_init__(self) -> None:
        if self.g_cost not in adversarial.G_COSTS:
            raise ValueError(f"unknown g_cost {self.g_cost!r}; choose from: {', '.join(adversarial.G_COSTS)}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")
        if self.label_noise < 0:
            raise ValueError(f"label_noise must be >= 0, got {self.label_noise}")
        check_choice("update", self.update, UPDATES)
        check_choice("d_batch", self.d_batch, D_BATCHES)
        check_choice("d_fakes_from", self.d_fakes_from, D_FAKES)
        self._check_r1()
        if self.update == "simultaneous" and self.d_fakes_from != "train":
            raise ValueError("update=simultaneous takes D's fakes from the one training-mode forward of G that G also "
                             "learns from; d_fakes_from=eval needs update=alternating")
        if self.update == "simultaneous" and self.shared_z:
            raise ValueError("update=simultaneous already uses one z per step; shared_z is for update=alternating")

    # ---- phases --------------------------------------------------------------------------------------------------
    def phases(self, nets: Nets, d_steps: int) -> list[Phase]:
        if self.update == "alternating":
            return super().phases(nets, d_steps)
        if d_steps != 1:
            raise ValueError(f"objective.options.update=simultaneous trains D and G once each per step from one "
                             f"forward pass; train.d_steps must be 1, got {d_steps}")
        G, D = nets["G"], nets["D"]
        phases = [Phase("DG", ("d", "g"), lambda b: self.dg_loss(G, D, b), double_backward=self._r1_eager)]
        if self.reg_every > 0:
            phases.append(Phase("D_reg", ("d",), lambda b: self.d_reg(G, D, b), every=self.reg_every,
                                double_backward=True))
        return phases

    # ---- forward passes ------------------------------------------------------------------------------------------
    def _fakes_for_d(self, G: nn.Module, batch: Batch) -> Tensor:
        """G(z) for the D step, without a graph into G; in inference mode with ``d_fakes_from = "eval"``."""
        with torch.no_grad():
            if self.d_fakes_from == "eval" and G.training:
                G.eval()  # Keras G.predict: BN running statistics (not updated), no dropout
                try:
                    return generate(G, batch)
                finally:
                    G.train()
            return generate(G, batch)

    def _d_logits(self, D: nn.Module, real: Tensor, fake: Tensor, batch: Batch) -> tuple[Tensor, Tensor]:
        """(D(x), D(G(z))), each ``[N, 1]``: two forward passes, or one over ``[G(z); x]`` with ``d_batch=concat``."""
        if self.d_batch == "separate":
            return discriminate(D, real, batch.labels), discriminate(D, fake, batch.fake_labels)
        labels = None
        if batch.labels is not None and batch.fake_labels is not None:
            labels = torch.cat([batch.fake_labels, batch.labels])
        logits = discriminate(D, torch.cat([fake, real]), labels)  # [2N, 1]: generated first
        n = fake.shape[0]
        return logits[n:], logits[:n]

    def _concat_noise(self, batch: Batch, like: Tensor) -> tuple[Tensor, Tensor]:
        """keras.io's ``0.05 * tf.random.uniform(labels.shape)`` for labels ``[generated; real]``: one draw for the
        global batch (rows 0..W·N−1 generated, W·N..2W·N−1 real), this rank's rows of each half (fake, real)."""
        n, w, r = like.shape[0], batch.world_size, batch.rank
        device = batch.generator.device if batch.generator is not None else torch.device("cpu")
        full = torch.rand((2 * n * w, *like.shape[1:]), generator=batch.generator, device=device)
        full = self.label_noise * full.to(like.device)
        return full[r * n : (r + 1) * n], full[(w + r) * n : (w + r + 1) * n]

    def _d_loss_from_logits(self, real_logits: Tensor, fake_logits: Tensor, batch: Batch
                            ) -> tuple[Tensor, dict[str, Tensor]]:
        """The D loss on the logits of one D step and its logs (``loss/d``, ``score/real``, ``score/fake``)."""
        t_real = 1.0 - self.label_smoothing
        if self.d_batch == "separate":
            real_noise = fake_noise = None
            if self.label_noise > 0:
                real_noise = self.label_noise * batch.uniform(real_logits.shape).to(real_logits.device)
                fake_noise = self.label_noise * batch.uniform(fake_logits.shape).to(fake_logits.device)
            loss = adversarial.d_logistic(real_logits, fake_logits, t_real, real_noise, fake_noise)
        else:
            # keras.io's D step, label for label. Keras: logit k with σ(k) = P(fake), labels y = 1 for generated and
            # 0 for real, y += 0.05·u, loss = mean over the 2N rows of BCE(y, k) = y·softplus(−k) + (1−y)·softplus(k).
            # Ours: logit l = −k (σ(l) = P(real); a D whose last Dense has its weights and bias negated, which
            # Glorot-uniform / zero-bias init draws with the same probability) and target t = 1 − y. Then
            #   t·softplus(−l) + (1−t)·softplus(l) = (1−y)·softplus(k) + y·softplus(−k) = Keras' BCE, row for row,
            # with t = −0.05·u on generated rows and t = 1 − 0.05·u on real rows: Keras' added noise is subtracted
            # here. Keras' G step (misleading labels y = 0) is BCE(0, k) = softplus(k) = softplus(−l): non-saturating.
            # SciNet's 2-way softmax (fake = class 0, real = class 1) is our convention already: l = out1 − out0.
            t_fake = torch.zeros_like(fake_logits)
            t_real_rows = torch.full_like(real_logits, t_real)
            if self.label_noise > 0:
                fake_noise, real_noise = self._concat_noise(batch, fake_logits)
                t_fake, t_real_rows = t_fake - fake_noise, t_real_rows - real_noise
            loss = adversarial.bce_with_logits(torch.cat([fake_logits, real_logits]),
                                               torch.cat([t_fake, t_real_rows]))  # one mean over [generated; real]
        return loss, {
            "loss/d": loss.detach(),
            "score/real": torch.sigmoid(real_logits.detach()).mean(),  # mean D(x): the lectures' equilibrium signal
            "score/fake": torch.sigmoid(fake_logits.detach()).mean(),  # mean D(G(z))
        }

    # ---- losses --------------------------------------------------------------------------------------------------
    def d_loss(self, G: nn.Module, D: nn.Module, batch: Batch) -> LossTerms:
        fake = self._fakes_for_d(G, batch)
        real = self._real_input(batch) if self._r1_eager else batch.real
        real_logits, fake_logits = self._d_logits(D, real, fake, batch)  # [N, 1] each
        loss, logs = self._d_loss_from_logits(real_logits, fake_logits, batch)
        return LossTerms(self._with_r1(loss, logs, real, real_logits), logs)

    def g_loss(self, G: nn.Module, D: nn.Module | None, batch: Batch) -> LossTerms:
        fake_logits = discriminate(D, generate(G, batch), batch.fake_labels)
        loss = adversarial.G_COSTS[self.g_cost](fake_logits)
        return LossTerms(loss, {"loss/g": loss.detach()})

    def dg_loss(self, G: nn.Module, D: nn.Module, batch: Batch) -> LossTerms:
        """The simultaneous step: one G(z) (with its graph), D's logits, and both losses from that one forward.

        The trainer backpropagates ``totals["d"]`` into D only and ``totals["g"]`` into G only, so both gradients
        are taken at the same weights (TF tutorial: ``disc_tape.gradient(disc_loss, D)``, ``gen_tape.gradient(
        gen_loss, G)``, then both ``apply_gradients``).
        """
        fake = generate(G, batch)  # generator(noise, training=True): BN batch statistics, running statistics move
        real = self._real_input(batch) if self._r1_eager else batch.real
        real_logits, fake_logits = self._d_logits(D, real, fake, batch)
        d_loss, logs = self._d_loss_from_logits(real_logits, fake_logits, batch)
        d_total = self._with_r1(d_loss, logs, real, real_logits)
        g_loss = adversarial.G_COSTS[self.g_cost](fake_logits)  # generator_loss(fake_output): the same D(G(z))
        logs["loss/g"] = g_loss.detach()
        return LossTerms(None, logs, totals={"d": d_total, "g": g_loss})
