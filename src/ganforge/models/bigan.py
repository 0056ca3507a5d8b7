"""BiGAN / ALI networks (Donahue et al. 2017, "Adversarial Feature Learning"; Dumoulin et al. 2017, "Adversarially
Learned Inference" — lecture 002 lists ALI): a generator G: z → x, an encoder E: x → z, and a joint discriminator
D(x, z) that tells (x, E(x)) from (G(z), z).

Shapes: z ``[N, z_dim]``; x ``[N, *shape]`` (images are flattened inside); D returns logits ``[N, 1]``.
The paper's permutation-invariant MNIST networks are fully connected (1024-unit layers, z ∈ U(−1, 1)^50, BN in G);
the defaults here are narrower (512) so the preset trains on a CPU, and the widths are options.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn

from ganforge.data.base import DataSpec
from ganforge.models.base import Discriminator, Generator, ModelFamily, init_weights
from ganforge.models.mlp import ACTIVATIONS, OUTPUTS, _mlp
from ganforge.registry import MODELS


class BiGANGenerator(Generator):
    """z ``[N, z_dim]`` → MLP (BN + act) → x ``[N, *shape]`` in ``output_range``."""

    def __init__(self, cfg: BiGANConfig, spec: DataSpec) -> None:
        super().__init__()
        self.z_dim, self.z_dist, self.shape = cfg.z_dim, cfg.z_dist, tuple(spec.shape)
        self.output_range = OUTPUTS[cfg.g_output]
        self.body = nn.Sequential(*_mlp([cfg.z_dim, *cfg.g_hidden], cfg.g_activation, True, 0.0))
        self.out = nn.Linear(cfg.g_hidden[-1], math.prod(spec.shape))

    def forward(self, z: Tensor) -> Tensor:
        x = self.out(self.body(z))
        x = torch.tanh(x) if self.output_range == (-1.0, 1.0) else torch.sigmoid(x)
        return x.view(-1, *self.shape)


class BiGANEncoder(nn.Module):
    """x ``[N, *shape]`` → MLP → z ``[N, z_dim]`` (deterministic, as BiGAN's; linear output: D judges the pairs)."""

    def __init__(self, cfg: BiGANConfig, spec: DataSpec) -> None:
        super().__init__()
        self.z_dim = cfg.z_dim
        self.body = nn.Sequential(*_mlp([math.prod(spec.shape), *cfg.e_hidden], cfg.e_activation, cfg.e_batchnorm,
                                        0.0))
        self.out = nn.Linear(cfg.e_hidden[-1], cfg.z_dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.out(self.body(x.flatten(1)))


class JointDiscriminator(Discriminator):
    """(x ``[N, *shape]``, z ``[N, z_dim]``) → logit ``[N, 1]``: an MLP on the concatenation [x_flat, z]."""

    def __init__(self, cfg: BiGANConfig, spec: DataSpec) -> None:
        super().__init__()
        self.body = nn.Sequential(*_mlp([math.prod(spec.shape) + cfg.z_dim, *cfg.d_hidden], cfg.d_activation,
                                        False, cfg.d_dropout))
        self.out = nn.Linear(cfg.d_hidden[-1], 1)

    def forward(self, x: Tensor, z: Tensor) -> Tensor:
        return self.out(self.body(torch.cat([x.flatten(1), z], 1)))


@MODELS.register("bigan")
@dataclass
class BiGANConfig(ModelFamily):
    """Options of the BiGAN family (``model.options``). Networks: G, E, D."""

    networks: ClassVar[tuple[str, ...]] = ("G", "E", "D")

    z_dim: int = 50
    z_dist: str = "uniform"  # BiGAN: z ~ U(−1, 1)^50
    g_hidden: tuple[int, ...] = (512, 512)
    e_hidden: tuple[int, ...] = (512, 512)
    d_hidden: tuple[int, ...] = (512, 512)
    g_activation: str = "relu"
    e_activation: str = "leaky_relu"
    d_activation: str = "leaky_relu"
    e_batchnorm: bool = True
    d_dropout: float = 0.2
    g_output: str = "tanh"  # tanh (data in [−1, 1]) | sigmoid
    init: str = "default"  # default | dcgan | xavier

    def __post_init__(self) -> None:
        for name in ("g_activation", "e_activation", "d_activation"):
            if getattr(self, name) not in ACTIVATIONS:
                raise ValueError(f"unknown {name} {getattr(self, name)!r}; choose from: {', '.join(ACTIVATIONS)}")
        if self.g_output not in ("tanh", "sigmoid"):
            raise ValueError(f"g_output must be tanh or sigmoid, got {self.g_output!r}")
        if self.z_dim < 1:
            raise ValueError(f"z_dim must be >= 1, got {self.z_dim}")
        for name in ("g_hidden", "e_hidden", "d_hidden"):
            if not getattr(self, name) or min(getattr(self, name)) < 1:
                raise ValueError(f"{name} needs at least one layer of width >= 1, got {list(getattr(self, name))}")
        if not 0.0 <= self.d_dropout < 1.0:
            raise ValueError(f"d_dropout must be in [0, 1), got {self.d_dropout}")
        if self.z_dist not in ("normal", "uniform"):
            raise ValueError(f"unknown z_dist {self.z_dist!r}; choose from: normal, uniform")

    def build(self, spec: DataSpec) -> dict[str, nn.Module]:
        nets: dict[str, nn.Module] = {"G": BiGANGenerator(self, spec), "E": BiGANEncoder(self, spec),
                                      "D": JointDiscriminator(self, spec)}
        for net in nets.values():
            init_weights(net, self.init)
        return nets
