"""Multilayer-perceptron generator and discriminator (Goodfellow et al. 2014) for vectors: 1-D/2-D toys, flat data.

Images are flattened on the way into D and reshaped on the way out of G, so the same family also runs on MNIST as in
the original paper. Conditional variants concatenate a one-hot label to G's input and D's input (Mirza & Osindero 2014).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganforge.models.base import DataSpec, Discriminator, Generator, init_weights
from ganforge.registry import MODELS

ACTIVATIONS = {
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
    "tanh": nn.Tanh,
    "elu": nn.ELU,
    "softplus": nn.Softplus,
}
OUTPUTS = {"linear": None, "tanh": (-1.0, 1.0), "sigmoid": (0.0, 1.0)}


def _mlp(widths: list[int], activation: str, batchnorm: bool, dropout: float) -> nn.Sequential:
    """Hidden stack Linear → [BatchNorm] → act → [Dropout] for consecutive ``widths``; no output layer."""
    layers: list[nn.Module] = []
    for w_in, w_out in itertools.pairwise(widths):
        layers.append(nn.Linear(w_in, w_out))
        if batchnorm:
            layers.append(nn.BatchNorm1d(w_out))
        layers.append(ACTIVATIONS[activation]())
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


class MLPGenerator(Generator):
    """z [N, z_dim] (+ one-hot c) → hidden layers → sample [N, *shape]."""

    def __init__(self, cfg: MLPConfig, spec: DataSpec, c_dim: int) -> None:
        super().__init__()
        self.z_dim, self.c_dim, self.z_dist, self.shape = cfg.z_dim, c_dim, cfg.z_dist, spec.shape
        self.output_range = OUTPUTS[cfg.g_output]
        self.body = _mlp([cfg.z_dim + c_dim, *cfg.g_hidden], cfg.g_activation, cfg.g_batchnorm, 0.0)
        self.out = nn.Linear(cfg.g_hidden[-1] if cfg.g_hidden else cfg.z_dim + c_dim, math.prod(spec.shape))

    def forward(self, z: Tensor, c: Tensor | None = None) -> Tensor:
        if self.c_dim:
            z = torch.cat([z, F.one_hot(c, self.c_dim).to(z.dtype)], 1)
        x = self.out(self.body(z))
        if self.output_range == (-1.0, 1.0):
            x = torch.tanh(x)
        elif self.output_range == (0.0, 1.0):
            x = torch.sigmoid(x)
        return x.view(-1, *self.shape)


class MLPDiscriminator(Discriminator):
    """sample [N, *shape] (+ one-hot c) → hidden layers (optional dropout) → logit [N, 1]."""

    def __init__(self, cfg: MLPConfig, spec: DataSpec, c_dim: int) -> None:
        super().__init__()
        self.c_dim = c_dim
        d_in = math.prod(spec.shape) + c_dim
        self.body = _mlp([d_in, *cfg.d_hidden], cfg.d_activation, False, cfg.d_dropout)
        self.out = nn.Linear(cfg.d_hidden[-1] if cfg.d_hidden else d_in, 1)

    def forward(self, x: Tensor, c: Tensor | None = None) -> Tensor:
        h = x.flatten(1)
        if self.c_dim:
            h = torch.cat([h, F.one_hot(c, self.c_dim).to(h.dtype)], 1)
        return self.out(self.body(h))


@MODELS.register("mlp")
@dataclass
class MLPConfig:
    """Options of the MLP family."""

    z_dim: int = 2
    z_dist: str = "normal"  # normal | uniform
    g_hidden: tuple[int, ...] = (128, 128)
    d_hidden: tuple[int, ...] = (128, 128)
    g_activation: str = "relu"
    d_activation: str = "leaky_relu"
    g_batchnorm: bool = False
    d_dropout: float = 0.0  # dropout after each D hidden layer (Goodfellow et al. 2014 used dropout in D)
    g_output: str = "linear"  # linear (toys) | tanh | sigmoid (images)
    conditional: bool = False  # concatenate one-hot labels to G's and D's inputs (needs a labelled dataset)
    init: str = "default"  # default | dcgan | xavier

    def __post_init__(self) -> None:
        for name in ("g_activation", "d_activation"):
            if getattr(self, name) not in ACTIVATIONS:
                raise ValueError(f"unknown {name} {getattr(self, name)!r}; choose from: {', '.join(ACTIVATIONS)}")
        if self.g_output not in OUTPUTS:
            raise ValueError(f"unknown g_output {self.g_output!r}; choose from: {', '.join(OUTPUTS)}")
        if self.z_dim < 1:
            raise ValueError("z_dim must be >= 1")
        if not 0.0 <= self.d_dropout < 1.0:
            raise ValueError("d_dropout must be in [0, 1)")
        if self.z_dist not in ("normal", "uniform"):
            raise ValueError(f"unknown z_dist {self.z_dist!r}; choose from: normal, uniform")

    def build(self, spec: DataSpec) -> tuple[MLPGenerator, MLPDiscriminator]:
        if self.conditional and spec.num_classes < 2:
            raise ValueError("model.options.conditional=true needs a labelled dataset (this one has no labels)")
        c_dim = spec.num_classes if self.conditional else 0
        G, D = MLPGenerator(self, spec, c_dim), MLPDiscriminator(self, spec, c_dim)
        init_weights(G, self.init)
        init_weights(D, self.init)
        return G, D
