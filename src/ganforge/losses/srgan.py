"""The SRGAN objective (Ledig et al. 2017, §2.2) and its MSE-only special case, SRResNet.

Perceptual loss (eq. 3):  l_SR = l_X + 10⁻³ · l_Gen, with
  content loss  l_X = l_MSE = 1/(r²WH) Σ (I_HR − G(I_LR))²                                         (eq. 4), or
                l_X = l_VGG/i.j = 1/(W_ij H_ij) Σ (φ_ij(I_HR) − φ_ij(G(I_LR)))²                    (eq. 5),
  adversarial   l_Gen = Σ −log D(G(I_LR))                                                         (eq. 6)
and D trained with the logistic loss on HR images vs G(I_LR) (eq. 2).

VGG19 weights cannot be downloaded here, so φ is a pretrained network that ships offline (and we say so): the shipped
MNIST classifier (``metrics/classifier.py``) for digits, and the first layers of the FID Inception-v3
(``metrics/inception.py``; a shallow layer, the images are small crops at native resolution, not resized to 299)
for photographs. ``feature_scale`` rescales the features as the paper rescales VGG's (by 1/12.75) so the content loss
has the magnitude of an MSE.

Stages (the paper's protocol, §3.2): SRResNet is trained with ``content: mse`` and ``adversarial_weight: 0`` (only a
G phase, no D built: the ``srresnet-*`` presets); SRGAN then starts from that network — ``init_from`` names the
SRResNet run (its directory or a checkpoint) whose G initialises this run's G before its first step — and trains D
and G with the perceptual loss. The two stages are two runs, so each resumes exactly on its own (``init_from`` only
acts on a fresh start: a resumed run loads its own checkpoint over it).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganforge.losses import adversarial
from ganforge.losses.objectives import Batch, LossTerms, Nets, Objective, Phase, check_choice, check_weight
from ganforge.registry import OBJECTIVES

if TYPE_CHECKING:
    from ganforge.training.draws import Draws

FEATURE_NETS = ("auto", "mnist-classifier", "inception")
CONTENTS = ("features", "mse")
# named layers of each feature network, shallow to deep (shapes for 28×28 digits / 32×32 crops)
LAYERS = {
    "mnist-classifier": ("conv1", "conv2", "conv3", "conv4", "fc"),  # 16@28², 32@14², 64@5², 64@3², 128
    "inception": ("conv1", "conv2", "conv3", "conv5"),  # 32@15², 32@13², 64@13² (Conv2d_2b), 192@4² (Conv2d_4a)
}
DEFAULT_LAYER = {"mnist-classifier": "conv4", "inception": "conv3"}  # deepest conv (≈ VGG54) / a shallow layer
_CLASSIFIER_CUT = {"conv1": 1, "conv2": 3, "conv3": 5, "conv4": 6}
_INCEPTION_CUT = {"conv1": 1, "conv2": 2, "conv3": 3, "conv5": 6}


@functools.lru_cache(maxsize=4)
def _feature_network(name: str, device: str) -> nn.Module:
    """The frozen pretrained network (eval mode, no gradients to its weights), loaded once per device."""
    with torch.random.fork_rng(devices=[]):  # loading must not move the training RNG
        if name == "mnist-classifier":
            from ganforge.metrics.classifier import load_mnist_classifier

            return load_mnist_classifier(device=device)
        from ganforge.metrics.inception import load_inception

        return load_inception(device=device)


def resolve_feature_net(name: str, channels: int) -> str:
    """"auto" → the MNIST classifier for 1-channel images, the FID Inception for RGB."""
    if name != "auto":
        return name
    return "mnist-classifier" if channels == 1 else "inception"


def content_features(feature_net: str, layer: str, x: Tensor) -> Tensor:
    """φ(x): features of images ``x [N, C, H, W]`` in [-1, 1] at ``layer`` of ``feature_net`` (differentiable in x).

    MNIST classifier: input (x+1)/2 whitened like its training data; needs 28×28 for ``fc``. Inception: the TF
    scaling (u − 128)/128 of the uint8-equivalent u = 127.5(x + 1); grey images repeated to RGB."""
    feature_net = resolve_feature_net(feature_net, x.shape[1])
    layer = DEFAULT_LAYER[feature_net] if layer == "auto" else layer
    net = _feature_network(feature_net, str(x.device))
    if feature_net == "mnist-classifier":
        from ganforge.metrics.classifier import _MNIST_MEAN, _MNIST_STD

        if x.shape[1] != 1:
            raise ValueError("the MNIST classifier takes 1-channel images; use feature_net=inception for colour")
        h = ((x + 1) / 2 - _MNIST_MEAN) / _MNIST_STD
        if layer == "fc":
            return net.fc(net.convs(h))  # [N, 128]
        return net.convs[: _CLASSIFIER_CUT[layer]](h)
    h = ((x + 1) * 127.5 - 128.0) / 128.0
    h = h.expand(-1, 3, -1, -1) if h.shape[1] == 1 else h
    for module in list(net.net.layers.children())[: _INCEPTION_CUT[layer]]:
        h = module(h)
    return h


def init_file(path: str) -> Path:
    """The checkpoint ``init_from`` names: a run directory's ``checkpoints/latest.pt`` or the file itself."""
    p = Path(path)
    file = p / "checkpoints" / "latest.pt" if p.is_dir() else p
    if not file.is_file():
        raise ValueError(f"objective.options.init_from={path!r}: no checkpoint there; train the SRResNet stage first "
                         "(e.g. `ganforge train srresnet-mnist`) and pass its run directory")
    return file


def load_init(path: str, G: nn.Module) -> None:
    """G's weights from an SRResNet run (a run directory → its ``checkpoints/latest.pt``, or a checkpoint file)."""
    from ganforge.checkpoint import Checkpoint

    state = Checkpoint.load(init_file(path), map_location=next(G.parameters()).device)
    try:
        G.load_state_dict(state.weights("G"))
    except (KeyError, RuntimeError):
        raise ValueError(f"objective.options.init_from={path!r}: its G does not fit this generator (another "
                         "architecture or data); pass an SRResNet run of the same model.options and data") from None


@OBJECTIVES.register("srgan")
@dataclass
class SRGANObjective(Objective):
    """Options: the content loss (``features`` = φ-space MSE, eq. 5, or pixel ``mse``, eq. 4), the adversarial weight
    (10⁻³ in the paper; 0 = SRResNet, no discriminator), the feature network and layer, and ``init_from``."""

    content: str = "features"
    adversarial_weight: float = 1e-3
    feature_net: str = "auto"  # auto | mnist-classifier | inception
    content_layer: str = "auto"  # a name in LAYERS[feature_net]; auto = DEFAULT_LAYER
    feature_scale: float = 1.0  # φ is multiplied by this (the paper: 1/12.75 for VGG) before the squared error
    init_from: str = ""  # SRResNet run dir / checkpoint whose G initialises this run's G (fresh starts only)
    _initialised: ClassVar[bool] = False  # set on the instance once init_from is loaded (step 0 only)

    def __post_init__(self) -> None:
        check_choice("content", self.content, CONTENTS)
        check_choice("feature_net", self.feature_net, FEATURE_NETS)
        check_weight("adversarial_weight", self.adversarial_weight)
        check_weight("feature_scale", self.feature_scale, positive=True)
        if self.content_layer != "auto":
            nets = LAYERS if self.feature_net == "auto" else {self.feature_net: LAYERS[self.feature_net]}
            if not any(self.content_layer in names for names in nets.values()):
                choices = sorted({n for names in nets.values() for n in names})
                raise ValueError(f"unknown content_layer {self.content_layer!r}; choose from: auto, "
                                 f"{', '.join(choices)}")
        if self.content == "mse" and self.adversarial_weight == 0 and self.init_from:
            raise ValueError("init_from starts the GAN stage from an SRResNet run; this objective is SRResNet itself "
                             "(content=mse, adversarial_weight=0): drop init_from")

    @property
    def uses_discriminator(self) -> bool:  # type: ignore[override]
        return self.adversarial_weight > 0

    def phases(self, nets: Nets, d_steps: int) -> list[Phase]:
        G, D = nets["G"], nets.get("D")
        if self.init_from:
            init_file(self.init_from)  # refused before the run directory is touched (loaded at step 0)
        phases = []
        if self.uses_discriminator:
            phases.append(Phase("D", ("d",), lambda b: self.d_loss(G, D, b), repeats=d_steps))
        phases.append(Phase("G", ("g",), lambda b: self.g_loss(G, D, b)))  # reads HR and LR
        return phases

    def make_batch(self, draw: Draws, nets: Nets, phase: Phase, step: int) -> Batch:
        """HR images (``real``) and their LR versions (``extras["lr"]``) from the paired source; no z.

        At step 0 (a fresh start: a resumed run is past it) G is first loaded from ``init_from``."""
        if step == 0 and self.init_from and not self._initialised:
            load_init(self.init_from, nets["G"])
            self._initialised = True
        sample = draw.sample()
        if "lr" not in sample:
            raise ValueError("srgan needs paired low-res images (field 'lr'); use data.name=superres-mnist or "
                             "superres-photos")
        return Batch(real=sample["x"], z=None, generator=draw.rng, rank=draw.rank, world_size=draw.world_size,
                     step=step, extras={"lr": sample["lr"]})

    # ---- losses --------------------------------------------------------------------------------------------------
    def content_loss(self, sr: Tensor, hr: Tensor) -> Tensor:
        """l_MSE (eq. 4) or l_φ (eq. 5): the mean squared error in pixel or (scaled) feature space."""
        if self.content == "mse":
            return F.mse_loss(sr, hr)
        with torch.no_grad():
            target = content_features(self.feature_net, self.content_layer, hr) * self.feature_scale
        return F.mse_loss(content_features(self.feature_net, self.content_layer, sr) * self.feature_scale, target)

    def d_loss(self, G: nn.Module, D: nn.Module, batch: Batch) -> LossTerms:
        """eq. 2: −log D(I_HR) − log(1 − D(G(I_LR))) = softplus(−D(HR)) + softplus(D(SR))."""
        with torch.no_grad():
            sr = G(batch.extras["lr"]).float()
        real, fake = D(batch.real).float(), D(sr).float()
        loss = adversarial.d_logistic(real, fake)
        return LossTerms(loss, {"loss/d": loss.detach(), "score/real": torch.sigmoid(real.detach()).mean(),
                                "score/fake": torch.sigmoid(fake.detach()).mean()})

    def g_loss(self, G: nn.Module, D: nn.Module | None, batch: Batch) -> LossTerms:
        """eq. 3: l_X + w·l_Gen with l_Gen = −log D(G(I_LR)) = softplus(−D(SR)) (eq. 6)."""
        sr = G(batch.extras["lr"]).float()
        content = self.content_loss(sr, batch.real)
        logs = {"loss/content": content.detach(), "loss/mse": F.mse_loss(sr.detach(), batch.real)}
        total = content
        if self.uses_discriminator:
            adv = adversarial.g_nonsaturating(D(sr).float())
            logs["loss/adversarial"] = adv.detach()
            total = content + self.adversarial_weight * adv
        logs["loss/g"] = total.detach()
        return LossTerms(total, logs)
