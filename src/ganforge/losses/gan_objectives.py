"""GAN objectives beyond the logistic one: WGAN (clipping), WGAN-GP, hinge, least squares and AC-GAN.

R1 (``R1Regularised``, eager or lazy) is an option of logistic, hinge, lsgan and acgan; it lives in ``objectives``.

Each composes the pure losses of ``adversarial`` and the unweighted penalties of ``penalties``, applies the weights,
and returns ``LossTerms``; none calls ``backward()`` or knows about optimisers. Log keys: ``loss/d`` and ``loss/g`` are
the adversarial parts (regularisers are reported unweighted under ``reg/*``), ``score/real`` / ``score/fake`` are mean
raw D outputs (a critic score, not a probability, except for AC-GAN where they are mean σ(logit)); the Wasserstein
objectives also log ``wasserstein`` = E[D(x)] − E[D(G(z))].
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganforge.losses import adversarial, penalties
from ganforge.losses.objectives import (  # R1 lives with the base classes: logistic uses it too
    Batch,
    LossTerms,
    Objective,
    R1Regularised,
    discriminate,
    generate,
    r1_terms,
)
from ganforge.losses.objectives import check_weight as _check_weight
from ganforge.registry import OBJECTIVES

__all__ = ["ACGANObjective", "HingeObjective", "LeastSquaresObjective", "R1Regularised", "WGANGPObjective",
           "WGANObjective", "r1_terms"]


def _scores(real_scores: Tensor, fake_scores: Tensor) -> dict[str, Tensor]:
    """Detached mean raw D outputs on real and fake samples."""
    return {"score/real": real_scores.detach().mean(), "score/fake": fake_scores.detach().mean()}


def _fake_and_scores(G: nn.Module, D: nn.Module, batch: Batch, real: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """One D step's forward passes: fake = G(z) without a graph into G, then D(real) and D(fake)."""
    with torch.no_grad():
        fake = generate(G, batch)
    real_scores = discriminate(D, real, batch.labels)  # [N, 1]
    fake_scores = discriminate(D, fake, batch.fake_labels)  # [N, 1]
    return fake, real_scores, fake_scores


# ---- Wasserstein GAN (Arjovsky et al. 2017; Gulrajani et al. 2017) ------------------------------------------------


@OBJECTIVES.register("wgan")
@dataclass
class WGANObjective(Objective):
    """WGAN with weight clipping: critic loss E[D(G(z))] − E[D(x)], generator loss −E[D(G(z))].

    D is a critic returning unbounded scores ``[N, 1]``. After every critic update its weights are clipped to
    [−clip, clip] (``after_d_step``). The paper trains with n_critic = 5 D steps per G step and RMSProp(lr 5e-5);
    those are ``train.d_steps`` and optimiser settings, not options here.
    Logs ``wasserstein`` = E[D(x)] − E[D(G(z))] (= −loss/d), the critic's estimate of W(P_r, P_g) up to the Lipschitz
    constant K (WGAN eq. 3): the progress signal that should fall as G improves (Arjovsky et al. 2017, §4.2).
    """

    clip: float = 0.01  # c in Arjovsky et al. (2017), Algorithm 1

    def __post_init__(self) -> None:
        _check_weight("clip", self.clip, positive=True)

    def d_loss(self, G: nn.Module, D: nn.Module, batch: Batch) -> LossTerms:
        _, real_scores, fake_scores = _fake_and_scores(G, D, batch, batch.real)
        loss = adversarial.d_wasserstein(real_scores, fake_scores)
        return LossTerms(loss, {"loss/d": loss.detach(), "wasserstein": -loss.detach(),
                                **_scores(real_scores, fake_scores)})

    def g_loss(self, G: nn.Module, D: nn.Module | None, batch: Batch) -> LossTerms:
        loss = adversarial.g_wasserstein(discriminate(D, generate(G, batch), batch.fake_labels))
        return LossTerms(loss, {"loss/g": loss.detach()})

    def after_d_step(self, D: nn.Module) -> None:
        penalties.clip_weights_(D, self.clip)


@OBJECTIVES.register("wgan-gp")
@dataclass
class WGANGPObjective(Objective):
    """WGAN-GP: E[D(G(z))] − E[D(x)] + λ·E[(‖∇D(x̂)‖ − 1)²] (+ ε_drift·E[D(x)²]), generator loss −E[D(G(z))].

    The penalty is taken on random interpolates x̂ = ε x + (1 − ε) G(z), with ε drawn from ``batch.generator``
    (Gulrajani et al. 2017, Algorithm 1; λ = 10, n_critic = 5, Adam(1e-4, β=(0, 0.9)) in the paper). For a
    conditional critic only the samples are interpolated and the *real* labels are passed with them. The critic
    should not use batch norm (the penalty is per sample); layer norm or none. ``drift`` is the small term that
    keeps critic scores from drifting far from 0 (Karras et al. 2018, §A.1, ε_drift = 0.001).
    """

    gp_weight: float = 10.0  # λ
    one_sided: bool = False  # penalise only ‖∇‖ > 1
    drift: float = 0.0  # ε_drift; ProGAN uses 0.001

    def __post_init__(self) -> None:
        _check_weight("gp_weight", self.gp_weight)
        _check_weight("drift", self.drift)

    @property
    def needs_double_backward(self) -> bool:
        return self.gp_weight > 0

    @property
    def penalises_sample_gradients(self) -> bool:
        return self.gp_weight > 0

    def d_loss(self, G: nn.Module, D: nn.Module, batch: Batch) -> LossTerms:
        fake, real_scores, fake_scores = _fake_and_scores(G, D, batch, batch.real)
        loss = adversarial.d_wasserstein(real_scores, fake_scores)
        logs = {"loss/d": loss.detach(), "wasserstein": -loss.detach(), **_scores(real_scores, fake_scores)}
        total = loss
        if self.gp_weight > 0:
            eps = batch.uniform(penalties.per_sample_shape(batch.real))  # one ε per sample
            gp = penalties.gradient_penalty(lambda x: discriminate(D, x, batch.labels), batch.real, fake,
                                            one_sided=self.one_sided, eps=eps)
            total = total + self.gp_weight * gp
            logs["reg/gp"] = gp.detach()
        if self.drift > 0:
            drift = real_scores.square().mean()  # E[D(x)²]
            total = total + self.drift * drift
            logs["reg/drift"] = drift.detach()
        return LossTerms(total, logs)

    def g_loss(self, G: nn.Module, D: nn.Module | None, batch: Batch) -> LossTerms:
        loss = adversarial.g_wasserstein(discriminate(D, generate(G, batch), batch.fake_labels))
        return LossTerms(loss, {"loss/g": loss.detach()})


# ---- hinge and least squares, with optional R1 --------------------------------------------------------------------


# (D loss of real and fake scores, G loss of fake scores)
ScoreLosses = tuple[Callable[[Tensor, Tensor], Tensor], Callable[[Tensor], Tensor]]


class _ScoreObjective(R1Regularised, Objective):
    """D and G losses that are pure functions of D's raw scores (``d_fn(real, fake)``, ``g_fn(fake)``), plus R1."""

    d_fn: ClassVar[Callable[[Tensor, Tensor], Tensor]]
    g_fn: ClassVar[Callable[[Tensor], Tensor]]

    def __post_init__(self) -> None:
        self._check_r1()

    def score_losses(self) -> ScoreLosses:
        """(D loss, G loss): the class's pair; an objective whose options choose the pair overrides this."""
        return type(self).d_fn, type(self).g_fn

    def d_loss(self, G: nn.Module, D: nn.Module, batch: Batch) -> LossTerms:
        real = self._real_input(batch)
        _, real_logits, fake_logits = _fake_and_scores(G, D, batch, real)
        loss = self.score_losses()[0](real_logits, fake_logits)
        logs = {"loss/d": loss.detach(), **_scores(real_logits, fake_logits)}
        return LossTerms(self._with_r1(loss, logs, real, real_logits), logs)

    def g_loss(self, G: nn.Module, D: nn.Module | None, batch: Batch) -> LossTerms:
        loss = self.score_losses()[1](discriminate(D, generate(G, batch), batch.fake_labels))
        return LossTerms(loss, {"loss/g": loss.detach()})


@OBJECTIVES.register("hinge")
@dataclass
class HingeObjective(_ScoreObjective):
    """Hinge loss (Lim & Ye 2017; Miyato et al. 2018): D minimises E[max(0, 1 − D(x))] + E[max(0, 1 + D(G(z)))],
    G minimises −E[D(G(z))]. D returns raw scores ``[N, 1]``. Optional R1 (see ``R1Regularised``)."""

    d_fn = staticmethod(adversarial.d_hinge)
    g_fn = staticmethod(adversarial.g_hinge)


@OBJECTIVES.register("lsgan")
@dataclass
class LeastSquaresObjective(_ScoreObjective):
    """Least-squares GAN (Mao et al. 2017, eq. 9 with a = 0, b = c = 1): D minimises ½E[(D(x) − 1)²] + ½E[D(G(z))²],
    G minimises ½E[(D(G(z)) − 1)²]. D returns raw outputs ``[N, 1]`` (no sigmoid). Optional R1."""

    d_fn = staticmethod(adversarial.d_least_squares)
    g_fn = staticmethod(adversarial.g_least_squares)


# ---- auxiliary classifier GAN (Odena et al. 2017) -----------------------------------------------------------------


def _split_acgan_logits(logits: Tensor) -> tuple[Tensor, Tensor]:
    """[N, 1 + K] -> (real/fake logit [N, 1], class logits [N, K])."""
    if logits.dim() != 2 or logits.shape[1] < 2:
        raise ValueError(f"AC-GAN discriminator must return logits [N, 1 + K] with K >= 1 classes, "
                         f"got shape {tuple(logits.shape)}")
    return logits[:, :1], logits[:, 1:]


@OBJECTIVES.register("acgan")
@dataclass
class ACGANObjective(R1Regularised, Objective):
    """Auxiliary-classifier GAN (Odena et al. 2017): D also predicts the class of real and generated samples.

    Discriminator contract: ``D(x) -> logits [N, 1 + K]``, called *without* labels (it must predict them). Column 0
    is the real/fake logit (D(x) = σ(l₀)); columns 1..K are class logits for K classes. G is conditional:
    ``G(z, fake_labels)``. With L_S the logistic source loss and L_C the class cross-entropy (minimised forms of the
    paper's log-likelihoods):
      D minimises L_S(real, fake) + class_weight · [CE(D_cls(x), labels) + CE(D_cls(G(z, c)), c)]
      G minimises −E log D(G(z, c)) (non-saturating) + class_weight · CE(D_cls(G(z, c)), c)
    ``batch.labels`` and ``batch.fake_labels`` (int64 ``[N]``) are required. Logs the parts and class accuracies.
    Optional R1 (``R1Regularised``, eager or lazy) on the real/fake logit l₀ only: ½γ E‖∇_x l₀(x)‖².
    """

    reads_class_logits: ClassVar[bool] = True

    class_weight: float = 1.0  # weight of the auxiliary classification terms (1 in the paper)

    def __post_init__(self) -> None:
        _check_weight("class_weight", self.class_weight)
        self._check_r1()

    def _r1_logits(self, D: nn.Module, real: Tensor, batch: Batch) -> Tensor:
        return _split_acgan_logits(D(real))[0]  # l₀ [N, 1]: R1 regularises the real/fake decision, not the classes

    @staticmethod
    def _require_labels(batch: Batch, need_real: bool) -> None:
        if batch.fake_labels is None or (need_real and batch.labels is None):
            raise ValueError("acgan needs class labels: batch.labels (real) and batch.fake_labels (to generate)")

    def d_loss(self, G: nn.Module, D: nn.Module, batch: Batch) -> LossTerms:
        self._require_labels(batch, need_real=True)
        with torch.no_grad():
            fake = generate(G, batch)
        real = self._real_input(batch) if self._r1_eager else batch.real
        real_adv, real_cls = _split_acgan_logits(D(real))
        fake_adv, fake_cls = _split_acgan_logits(D(fake))
        adv = adversarial.d_logistic(real_adv, fake_adv)  # L_S: −log D(x) − log(1 − D(G(z, c)))
        cls = F.cross_entropy(real_cls, batch.labels) + F.cross_entropy(fake_cls, batch.fake_labels)  # L_C
        loss = adv + self.class_weight * cls
        logs = {
            "loss/d": loss.detach(),
            "loss/d_adv": adv.detach(),
            "loss/d_class": cls.detach(),
            "score/real": torch.sigmoid(real_adv.detach()).mean(),
            "score/fake": torch.sigmoid(fake_adv.detach()).mean(),
            "class/acc_real": (real_cls.detach().argmax(1) == batch.labels).float().mean(),
            "class/acc_fake": (fake_cls.detach().argmax(1) == batch.fake_labels).float().mean(),
        }
        return LossTerms(self._with_r1(loss, logs, real, real_adv), logs)

    def g_loss(self, G: nn.Module, D: nn.Module | None, batch: Batch) -> LossTerms:
        self._require_labels(batch, need_real=False)
        fake_adv, fake_cls = _split_acgan_logits(D(generate(G, batch)))
        adv = adversarial.g_nonsaturating(fake_adv)
        cls = F.cross_entropy(fake_cls, batch.fake_labels)
        loss = adv + self.class_weight * cls
        return LossTerms(loss, {"loss/g": loss.detach(), "loss/g_adv": adv.detach(), "loss/g_class": cls.detach()})
