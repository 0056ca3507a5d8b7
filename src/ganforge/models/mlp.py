"""Multilayer-perceptron generator and discriminator (Goodfellow et al. 2014) for vectors: 1-D/2-D toys, flat data.

Images ``(C, H, W)`` are flattened on the way into D and reshaped on the way out of G, so the same family also runs
on MNIST as in the original paper. Options shared with the DCGAN family (same names, same meaning):

* ``conditioning`` none | concat | projection | acgan (labels needed):
  G always gets ``[z, embed(c)]`` (Mirza & Osindero 2014). D: "concat" sees ``[x, embed(c)]``; "projection" adds
  ``⟨embed(c), h⟩`` to the logit, ``D(x, c) = ψ(h) + ⟨V_c, h⟩`` (Miyato & Koyama 2018, eq. 3); "acgan" returns
  ``[N, 1 + K]`` = (adversarial logit, K class logits) and takes no labels (Odena et al. 2017).
  ``embedding`` onehot (``dim = K``) | learned (``nn.Embedding(K, embed_dim)``) for G and for D's concat input.
* ``spectral_norm``: every D linear / embedding divided by its largest singular value, ``W / σ(W)`` (Miyato et al.
  2018); ``g_spectral_norm`` does the same for G.
* ``pack``: PacGAN (Lin et al. 2018): D judges ``pack`` samples at once, ``[N, F] -> [N/m, m·F]``.
* ``minibatch_std``: one extra feature, the mean over features of the per-group std-dev, fed into D's last hidden
  layer (Karras et al. 2018, ProGAN §3).
* ``g_activation`` / ``d_activation`` ``maxout``: each hidden layer is ``Linear(in, width·k)`` → [BatchNorm] → the
  max over ``k = maxout_pieces`` pieces per unit (Goodfellow et al. 2013), as Blocks' ``LinearMaxout`` in the
  PacGAN / ALI / VEEGAN 2-D discriminators (3 × 200 units, 5 pieces).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn

from ganforge.data.base import DataSpec
from ganforge.models.base import Discriminator, Generator, ModelFamily, check_conditioning, finish_models
from ganforge.models.layers import ConditionalHead, LabelEmbedding, Maxout, MinibatchStdDev, pack
from ganforge.models.selfcond import SelfConditioned
from ganforge.registry import MODELS

ACTIVATIONS = {
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
    "tanh": nn.Tanh,
    "elu": nn.ELU,
    "softplus": nn.Softplus,
}
MAXOUT = "maxout"  # an activation with its own weights' shape: Linear(in, width · maxout_pieces) -> Maxout
OUTPUTS = {"linear": None, "tanh": (-1.0, 1.0), "sigmoid": (0.0, 1.0)}
CONDITIONINGS = ("none", "concat", "projection", "acgan")
EMBEDDINGS = ("onehot", "learned")


def _mlp(widths: list[int], activation: str, batchnorm: bool, dropout: float, pieces: int = 1) -> list[nn.Module]:
    """Hidden stack Linear → [BatchNorm] → act → [Dropout] for consecutive ``widths``; no output layer.

    With ``activation = "maxout"`` each Linear has ``width · pieces`` outputs (batch-normalised before the max) and
    ``Maxout(pieces)`` brings them back to ``width``.
    """
    layers: list[nn.Module] = []
    for w_in, w_out in itertools.pairwise(widths):
        if activation == MAXOUT:
            layers.append(nn.Linear(w_in, w_out * pieces))
            if batchnorm:
                layers.append(nn.BatchNorm1d(w_out * pieces))
            layers.append(Maxout(pieces))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            continue
        layers.append(nn.Linear(w_in, w_out))
        if batchnorm:
            layers.append(nn.BatchNorm1d(w_out))
        layers.append(ACTIVATIONS[activation]())
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
    return layers


class MLPGenerator(Generator):
    """z [N, z_dim] (+ labels c [N]) → hidden layers → sample [N, *shape] (images are reshaped to (C, H, W))."""

    def __init__(self, cfg: MLPConfig, spec: DataSpec, conditional: bool) -> None:
        super().__init__()
        self.z_dim, self.z_dist, self.shape = cfg.z_dim, cfg.z_dist, tuple(spec.shape)
        self.c_dim = spec.num_classes if conditional else 0
        self.output_range = OUTPUTS[cfg.g_output]
        self.embed = LabelEmbedding(spec.num_classes, cfg.embedding, cfg.embed_dim) if conditional else None
        z_in = cfg.z_dim + (self.embed.dim if self.embed is not None else 0)
        self.body = nn.Sequential(*_mlp([z_in, *cfg.g_hidden], cfg.g_activation, cfg.g_batchnorm, 0.0,
                                        cfg.maxout_pieces))
        self.out = nn.Linear(cfg.g_hidden[-1] if cfg.g_hidden else z_in, math.prod(spec.shape))

    def forward(self, z: Tensor, c: Tensor | None = None) -> Tensor:
        if self.embed is not None:
            z = torch.cat([z, self.embed(c, z.dtype)], 1)  # [N, z_dim + embed dim]
        x = self.out(self.body(z))
        if self.output_range == (-1.0, 1.0):
            x = torch.tanh(x)
        elif self.output_range == (0.0, 1.0):
            x = torch.sigmoid(x)
        return x.view(-1, *self.shape)


class MLPDiscriminator(ConditionalHead, Discriminator):
    """sample [N, *shape] (+ labels) → flatten → [pack] → hidden layers → logit [N / pack, 1] ([N, 1 + K] for acgan).

    With ``minibatch_std`` the std-dev feature is appended just before the last hidden layer (or before the output
    layer when there are no hidden layers), so a learned layer can mix it in, as in the DCGAN family.
    """

    def __init__(self, cfg: MLPConfig, spec: DataSpec, conditioning: str) -> None:
        super().__init__()
        K = spec.num_classes
        self.pack = cfg.pack
        self.embed = LabelEmbedding(K, cfg.embedding, cfg.embed_dim) if conditioning == "concat" else None
        d_in = cfg.pack * (math.prod(spec.shape) + (self.embed.dim if self.embed is not None else 0))

        widths = [d_in, *cfg.d_hidden]
        layers: list[nn.Module] = []
        if cfg.minibatch_std and len(widths) >= 2:
            layers += _mlp(widths[:-1], cfg.d_activation, False, cfg.d_dropout, cfg.maxout_pieces)
            layers.append(MinibatchStdDev(cfg.minibatch_std_group))
            layers += _mlp([widths[-2] + 1, widths[-1]], cfg.d_activation, False, cfg.d_dropout, cfg.maxout_pieces)
            features = widths[-1]
        else:
            layers += _mlp(widths, cfg.d_activation, False, cfg.d_dropout, cfg.maxout_pieces)
            features = widths[-1]
            if cfg.minibatch_std:  # no hidden layer: the output layer sees the extra feature
                layers.append(MinibatchStdDev(cfg.minibatch_std_group))
                features += 1
        self.body = nn.Sequential(*layers)  # [N / pack, F]
        self.num_features = features
        # ψ = Linear(F, 1) as `out` (+ projection embedding / acgan classifier): ConditionalHead
        self.init_head("out", nn.Linear(features, 1), features, K, conditioning)

    def forward(self, x: Tensor, c: Tensor | None = None) -> Tensor:
        h = x.flatten(1)  # [N, prod(shape)]
        if self.embed is not None:
            h = torch.cat([h, self.embed(c, h.dtype)], 1)  # [N, F + E]
        h = self.body(pack(h, self.pack))  # [N / pack, features]
        return self.head_output(h, c)  # [N / pack, 1] ([N, 1 + K] for acgan)


@MODELS.register("mlp")
@dataclass
class MLPConfig(ModelFamily):
    """Options of the MLP family; every field is a ``model.options`` key."""

    z_dim: int = 2
    z_dist: str = "normal"  # normal | uniform
    g_hidden: tuple[int, ...] = (128, 128)
    d_hidden: tuple[int, ...] = (128, 128)
    g_activation: str = "relu"  # relu | leaky_relu (slope 0.2) | tanh | elu | softplus | maxout
    d_activation: str = "leaky_relu"
    maxout_pieces: int = 5  # k for a "maxout" activation (PacGAN's 2-D discriminator: 5); unused otherwise
    g_batchnorm: bool = False
    d_dropout: float = 0.0  # dropout after each D hidden layer (Goodfellow et al. 2014 used dropout in D)
    g_output: str = "linear"  # linear (toys) | tanh | sigmoid (images)
    conditioning: str = "none"  # none | concat | projection | acgan (see the module docstring)
    embedding: str = "onehot"  # label embedding for G (and D with concat): onehot | learned
    embed_dim: int = 50  # size of a learned embedding
    spectral_norm: bool = False  # on every D linear / embedding (Miyato et al. 2018)
    g_spectral_norm: bool = False  # on G's layers too (Zhang et al. 2019)
    pack: int = 1  # PacGAN: D judges `pack` samples at once (Lin et al. 2018); batch must be divisible by it
    minibatch_std: bool = False  # std-dev feature before D's last hidden layer (Karras et al. 2018)
    minibatch_std_group: int = 4
    init: str = "default"  # default | dcgan | xavier
    # Self-conditioned GAN (Liu et al. 2020; models.selfcond): G trains on the data's labels (cluster ids,
    # data.options.clusters) but draws its own from their shares and is unconditional outside (c_dim 0)
    self_conditioning: bool = False

    def __post_init__(self) -> None:
        for name in ("g_activation", "d_activation"):
            if getattr(self, name) not in (*ACTIVATIONS, MAXOUT):
                raise ValueError(f"unknown {name} {getattr(self, name)!r}; choose from: "
                                 f"{', '.join([*ACTIVATIONS, MAXOUT])}")
        if self.g_output not in OUTPUTS:
            raise ValueError(f"unknown g_output {self.g_output!r}; choose from: {', '.join(OUTPUTS)}")
        if self.conditioning not in CONDITIONINGS:
            raise ValueError(f"unknown conditioning {self.conditioning!r}; choose from: {', '.join(CONDITIONINGS)}")
        if self.embedding not in EMBEDDINGS:
            raise ValueError(f"unknown embedding {self.embedding!r}; choose from: {', '.join(EMBEDDINGS)}")
        for name in ("z_dim", "embed_dim", "pack", "minibatch_std_group", "maxout_pieces"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if any(w < 1 for w in (*self.g_hidden, *self.d_hidden)):
            raise ValueError("g_hidden and d_hidden widths must be >= 1")
        if not 0.0 <= self.d_dropout < 1.0:
            raise ValueError("d_dropout must be in [0, 1)")
        if self.z_dist not in ("normal", "uniform"):
            raise ValueError(f"unknown z_dist {self.z_dist!r}; choose from: normal, uniform")
        if self.self_conditioning and self.conditioning not in ("concat", "projection"):
            raise ValueError(f"self_conditioning needs conditioning concat or projection (D judges each fake with "
                             f"the cluster G drew), got {self.conditioning!r}")
        if self.pack > 1 and self.conditioning in ("projection", "acgan"):
            raise ValueError(f"pack > 1 works with conditioning none or concat, not {self.conditioning!r}")

    networks: ClassVar[tuple[str, ...]] = ("G", "D")

    def packing(self) -> int:
        return self.pack

    def build(self, spec: DataSpec) -> dict[str, nn.Module]:
        """{"G", "D"} for ``spec`` (vectors or images), initialised by ``init``, spectral norm applied last."""
        check_conditioning(self.conditioning, spec)
        G: Generator = MLPGenerator(self, spec, conditional=self.conditioning != "none")
        if self.self_conditioning:
            G = SelfConditioned(G, spec)
        return finish_models(G, MLPDiscriminator(self, spec, self.conditioning), self.init, self.g_spectral_norm,
                             self.spectral_norm)
