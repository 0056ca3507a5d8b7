"""A conditional DCGAN for physical fields with a continuous condition vector (Radford et al. 2016's layout; the
condition enters G by concatenation with z — Mirza & Osindero 2014 — and D by projection — Miyato & Koyama 2018,
eq. 3, with a linear embedding of the continuous vector instead of a class embedding):

    G: [z, c] [N, z_dim + K] → Dense → [ch·2^(n−1), h0, w0] → n × (ConvT 4/2/1 → BN → ReLU) → Conv3×3 → [N, C, H', W']
       → centre crop to [N, C, H, W]          (h0 = ceil(H / 2^n), w0 = ceil(W / 2^n): any grid, e.g. 37×49 → 40×56)
    D: [x·m, m] [N, C + 1, H, W] → zero-pad to [H', W'] → n × (Conv 4/2/1 → LeakyReLU(0.2)) → φ(x) [N, F]
       → ψ(φ) + ⟨V c, φ⟩                      (the mask m marks valid cells: missing cells are zero and flagged)

G's output is linear (fields are standardised per channel, unbounded). D has no batch norm (WGAN-GP penalises each
sample's gradient; Gulrajani et al. 2017 §4).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganforge.data.base import DataSpec
from ganforge.models.base import Discriminator, Generator, ModelFamily, init_weights
from ganforge.registry import MODELS


def grid_plan(h: int, w: int, layers: int) -> tuple[int, int, int, int]:
    """(h0, w0, H', W'): the smallest grid that ``layers`` stride-2 stages turn into one covering (h, w)."""
    h0, w0 = math.ceil(h / 2**layers), math.ceil(w / 2**layers)
    return h0, w0, h0 * 2**layers, w0 * 2**layers


class FieldGenerator(Generator):
    """(z ``[N, z_dim]``, c ``[N, K]``) → normalised fields ``[N, C, H, W]``."""

    output_range = None  # standardised physical values: unbounded

    def __init__(self, cfg: FieldGANConfig, spec: DataSpec) -> None:
        super().__init__()
        c, h, w = spec.shape
        self.z_dim, self.cond_dim, self.shape = cfg.z_dim, spec.fields["cond"][0], (c, h, w)
        self.h0, self.w0, self.hp, self.wp = grid_plan(h, w, cfg.layers)
        top = cfg.channels * 2 ** (cfg.layers - 1)
        self.top = top
        self.dense = nn.Sequential(nn.Linear(cfg.z_dim + self.cond_dim, top * self.h0 * self.w0),
                                   nn.BatchNorm1d(top * self.h0 * self.w0), nn.ReLU())
        blocks: list[nn.Module] = []
        ch = top
        for i in range(cfg.layers):
            out = max(cfg.channels, top // 2 ** (i + 1))
            blocks += [nn.ConvTranspose2d(ch, out, 4, 2, 1, bias=False), nn.BatchNorm2d(out), nn.ReLU()]
            ch = out
        blocks.append(nn.Conv2d(ch, c, 3, 1, 1))
        self.body = nn.Sequential(*blocks)

    def forward(self, z: Tensor, cond: Tensor) -> Tensor:
        h = self.dense(torch.cat([z, cond], 1)).view(-1, self.top, self.h0, self.w0)
        x = self.body(h)  # [N, C, H', W']
        top, left = (self.hp - self.shape[1]) // 2, (self.wp - self.shape[2]) // 2
        return x[:, :, top : top + self.shape[1], left : left + self.shape[2]]


class FieldDiscriminator(Discriminator):
    """(x ``[N, C, H, W]``, mask ``[N, 1, H, W]``, c ``[N, K]``) → score ``[N, 1]`` (projection on c)."""

    def __init__(self, cfg: FieldGANConfig, spec: DataSpec) -> None:
        super().__init__()
        c, h, w = spec.shape
        _, _, self.hp, self.wp = grid_plan(h, w, cfg.layers)
        self.shape = (c, h, w)
        blocks: list[nn.Module] = []
        ch = c + 1
        for i in range(cfg.layers):
            out = cfg.channels * 2**i
            blocks += [nn.Conv2d(ch, out, 4, 2, 1), nn.LeakyReLU(0.2)]
            ch = out
        self.body = nn.Sequential(*blocks)
        features = ch * (self.hp // 2**cfg.layers) * (self.wp // 2**cfg.layers)
        self.psi = nn.Linear(features, 1)
        self.embed = nn.Linear(spec.fields["cond"][0], features, bias=False)  # V: c → feature space

    def forward(self, x: Tensor, mask: Tensor, cond: Tensor) -> Tensor:
        h = torch.cat([x * mask, mask], 1)  # missing cells: 0, and flagged in the mask channel
        top, left = (self.hp - self.shape[1]) // 2, (self.wp - self.shape[2]) // 2
        h = F.pad(h, (left, self.wp - self.shape[2] - left, top, self.hp - self.shape[1] - top))
        phi = self.body(h).flatten(1)  # [N, F]
        return self.psi(phi) + (self.embed(cond) * phi).sum(1, keepdim=True)


@MODELS.register("field-dcgan")
@dataclass
class FieldGANConfig(ModelFamily):
    """Options of the conditional field DCGAN (``model.options``). Networks: G, D."""

    z_dim: int = 64
    channels: int = 32  # width of the last G stage / first D stage (doubles per stage towards the coarse grid)
    layers: int = 3  # stride-2 stages
    init: str = "dcgan"

    def __post_init__(self) -> None:
        if self.z_dim < 1 or self.channels < 1 or not 1 <= self.layers <= 6:
            raise ValueError(f"field-dcgan needs z_dim >= 1, channels >= 1 and 1 <= layers <= 6, got z_dim="
                             f"{self.z_dim}, channels={self.channels}, layers={self.layers}")

    def build(self, spec: DataSpec) -> dict[str, nn.Module]:
        if len(spec.shape) != 3 or "cond" not in spec.fields or "mask" not in spec.fields:
            raise ValueError(f"field-dcgan models conditioned fields [C, H, W] with mask and cond; this data has "
                             f"samples of shape {list(spec.shape)}: use a field dataset (a1b-fields, wind-fields, "
                             "field-npz)")
        G, D = FieldGenerator(self, spec), FieldDiscriminator(self, spec)
        init_weights(G, self.init)
        init_weights(D, self.init)
        return {"G": G, "D": D}

    def generate(self, nets: dict[str, nn.Module], z: Tensor, labels: Tensor | None = None,
                 inputs: Tensor | None = None, truncation: float | None = None) -> Tensor:
        """G(z, c): ``labels`` carries the continuous condition vectors ``[N, K]``."""
        G = nets["G"]
        if labels is None or labels.dim() != 2 or labels.shape[1] != G.cond_dim:
            raise ValueError(f"field-dcgan generates for a condition vector per sample ([N, {G.cond_dim}]); pass "
                             "conditions (ganforge sample draws them from the training data)")
        return G(z, labels.float())
