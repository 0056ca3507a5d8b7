"""BigGAN, scaled down (Brock et al. 2019, "Large Scale GAN Training for High Fidelity Natural Image Synthesis").

What is kept from the paper (§3, App. B, Fig. 15), at MNIST scale:

- residual up-blocks in G, ``BN -> ReLU -> up ×2 -> Conv3 -> BN -> ReLU -> Conv3`` plus an (up ×2 -> Conv1)
  shortcut, and residual down-blocks in D, ``ReLU -> Conv3 -> ReLU -> Conv3 -> avg-pool`` plus a (Conv1 -> pool)
  shortcut (the first D block has no leading ReLU and pools before its shortcut conv);
- class-conditional BN in every G block whose gain and bias are linear maps of a condition vector, with ONE class
  embedding shared by all blocks (``shared``, "shared embeddings", §3);
- the hierarchical latent ("skip-z", §3): z is split into one chunk per block plus one for the dense layer;
  block i's conditional BNs get ``[shared(y), z_{i+1}]``;
- a self-attention block (SAGAN's, ``models/attention.py``) in G and D at a middle resolution;
- spectral norm in G and D, orthogonal initialisation, a projection discriminator with global sum pooling (SN and
  the init are options: ``configs/biggan-mnist.yaml`` replaces SN by batch norm in D, ``d_norm``, at CPU length —
  issue 24, docs/sagan_biggan.md);
- the orthogonal regularisation, EMA of G and the truncation trick live in ``losses/biggan.py``, the trainer
  (``train.ema``) and ``Sampler`` (``ganforge sample --truncation``).

Shapes for 28×28 MNIST with the defaults (``z_dim = 60`` in 3 chunks of 20, ``g_channels = (64, 32, 16)``):

    G: z_0 [N, 20] -> SNLinear -> [N, 64, 7, 7]
       -> GBlock(64 -> 32, cond [shared(y) ⊕ z_1]) [N, 32, 14, 14] -> SelfAttention(14×14)
       -> GBlock(32 -> 16, cond [shared(y) ⊕ z_2]) [N, 16, 28, 28] -> BN -> ReLU -> SNConv3 -> tanh [N, 1, 28, 28]
    D: x -> DBlock(1 -> 16, down) [N, 16, 14, 14] -> SelfAttention(14×14) -> DBlock(16 -> 32, down) [N, 32, 7, 7]
       -> DBlock(32 -> 32) [N, 32, 7, 7] -> ReLU -> sum over H, W [N, 32] -> ψ + ⟨V_y, h⟩ [N, 1]

The paper's 128×128 network is G ch = 96 with five up-blocks, z ∈ R^120 in six chunks of 20, a 128-d shared
embedding (``--set``s in ``configs/biggan-mnist.yaml``'s header). Not kept: the attention's 2×2 max-pooled keys and
values (a memory saving at 64×64), batch sizes of 2048, and "standing statistics" for BN at sampling time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganforge.data.base import DataSpec
from ganforge.models.attention import SelfAttention
from ganforge.models.base import Discriminator, Generator, ModelFamily, check_conditioning
from ganforge.models.layers import ConditionalHead
from ganforge.models.sagan import (
    D_NORMS,
    INITS,
    ConditionalBatchNorm2d,
    finish_networks,
    image_shape,
    middle_resolution,
)
from ganforge.registry import MODELS

CONDITIONINGS = ("none", "projection")


class GBlock(nn.Module):
    """BigGAN's up-block (Fig. 15b): ``[N, c_in, h, w] -> [N, c_out, 2h, 2w]``, conditioned on ``cond [N, cond_dim]``
    (plain BN with its own affine parameters when ``cond_dim = 0``)."""

    def __init__(self, c_in: int, c_out: int, cond_dim: int, bn_eps: float) -> None:
        super().__init__()
        self.conditional = cond_dim > 0

        def norm(c: int) -> nn.Module:
            return ConditionalBatchNorm2d(c, cond_dim=cond_dim, eps=bn_eps) if cond_dim else nn.BatchNorm2d(c, bn_eps)

        self.bn1, self.bn2 = norm(c_in), norm(c_out)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.shortcut = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def _norm(self, bn: nn.Module, h: Tensor, cond: Tensor | None) -> Tensor:
        return bn(h, cond) if self.conditional else bn(h)

    def forward(self, x: Tensor, cond: Tensor | None = None) -> Tensor:
        h = F.relu(self._norm(self.bn1, x, cond))
        h = F.interpolate(h, scale_factor=2.0, mode="nearest")  # [N, c_in, 2h, 2w]
        h = self.conv1(h)  # [N, c_out, 2h, 2w]
        h = self.conv2(F.relu(self._norm(self.bn2, h, cond)))
        return h + self.shortcut(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class DBlock(nn.Module):
    """BigGAN's down-block (Fig. 15c): ``[N, c_in, h, w] -> [N, c_out, h/2, w/2]`` (``h, w`` with ``down=False``).
    ``preactivation=False`` is the first block (no ReLU on the image; pool before the shortcut conv)."""

    def __init__(self, c_in: int, c_out: int, down: bool, preactivation: bool, batch_norm: bool = False) -> None:
        super().__init__()
        self.down, self.preactivation = down, preactivation
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        # batch_norm (d_norm: batch, not the paper): BN before each ReLU of the residual branch, as G's blocks
        self.bn1 = nn.BatchNorm2d(c_in) if batch_norm and preactivation else nn.Identity()
        self.bn2 = nn.BatchNorm2d(c_out) if batch_norm else nn.Identity()
        self.shortcut = nn.Conv2d(c_in, c_out, 1) if (c_in != c_out or down) else None

    def _pool(self, x: Tensor) -> Tensor:
        return F.avg_pool2d(x, 2) if self.down else x

    def forward(self, x: Tensor) -> Tensor:
        h = F.relu(self.bn1(x)) if self.preactivation else x
        h = self._pool(self.conv2(F.relu(self.bn2(self.conv1(h)))))  # [N, c_out, h', w']
        sc = x
        if self.shortcut is not None:
            sc = self._pool(self.shortcut(sc)) if self.preactivation else self.shortcut(self._pool(sc))
        return h + sc


@MODELS.register("biggan")
@dataclass
class BigGANConfig(ModelFamily):
    """Options of the (scaled-down) BigGAN family (``model.options``).

    ``g_channels = (c0, …, c_B)``: the dense layer makes ``[c0, H/2^B, W/2^B]``, then B up-blocks. With
    ``hierarchical``, ``z_dim`` is split into B + 1 equal chunks (it must be divisible by B + 1). ``d_channels``: one
    residual block per entry; all but the last halve the resolution. ``attention_res``: the feature-map height that
    gets self-attention in G and D (0 = nearest H/2, −1 = none).
    """

    networks: ClassVar[tuple[str, ...]] = ("G", "D")

    z_dim: int = 60  # paper: 120 = 6 chunks of 20 at 128×128; here 3 chunks of 20
    hierarchical: bool = True  # skip-z: one z chunk per G block (§3)
    shared_dim: int = 32  # the shared class embedding (paper: 128)
    label_input: bool = False  # the dense layer also gets shared(y): [shared(y), z_0] (BigGAN-deep's G input)
    g_channels: tuple[int, ...] = (64, 32, 16)
    d_channels: tuple[int, ...] = (16, 32, 32)
    attention_res: int = 0
    key_ratio: int = 8  # BigGAN's attention: θ, φ with C/8 channels
    value_ratio: int = 2  # ... and g with C/2 (BigGAN-PyTorch's Attention)
    attention_pool: bool = False  # keys / values 2×2 max-pooled (both references' code; P/4 keys)
    conditioning: str = "projection"  # projection (class-conditional BN + projection D) | none
    d_norm: str = "none"  # batch: BN before each ReLU in D's residual branches but the first block's (not the paper)
    bn_eps: float = 1e-5
    g_spectral_norm: bool = True  # BigGAN keeps SAGAN's spectral norm in G
    spectral_norm: bool = True
    init: str = "orthogonal"  # §3: orthogonal initialisation; default | dcgan | xavier for ablations

    def __post_init__(self) -> None:
        for name, allowed in (("conditioning", CONDITIONINGS), ("init", INITS), ("d_norm", D_NORMS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"unknown {name} {getattr(self, name)!r}; choose from: {', '.join(allowed)}")
        for name in ("z_dim", "shared_dim", "key_ratio", "value_ratio"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if len(self.g_channels) < 2 or min(self.g_channels) < 1:
            raise ValueError(f"g_channels needs two or more widths >= 1 (dense + one block), got "
                             f"{list(self.g_channels)}")
        if not self.d_channels or min(self.d_channels) < 1:
            raise ValueError(f"d_channels needs one or more widths >= 1, got {list(self.d_channels)}")
        slots = len(self.g_channels)
        if self.hierarchical and self.z_dim % slots:
            raise ValueError(f"hierarchical z: z_dim {self.z_dim} must split into {slots} equal chunks (one for the "
                             f"dense layer, one per G block); use a multiple of {slots}, e.g. {slots * 20}")
        if self.attention_res < -1:
            raise ValueError(f"attention_res must be -1 (none), 0 (middle) or a feature-map size, got "
                             f"{self.attention_res}")
        if not self.bn_eps > 0:
            raise ValueError(f"bn_eps must be > 0, got {self.bn_eps}")

    def build(self, spec: DataSpec) -> dict[str, nn.Module]:
        """{"G", "D"}: orthogonal init, spectral norm in both (the shared embedding stays plain, as in BigGAN)."""
        image_shape(spec, "biggan")
        check_conditioning(self.conditioning, spec)
        G, D = BigGANGenerator(self, spec), BigGANDiscriminator(self, spec)
        plain = (G.shared,) if G.shared is not None else ()  # plain, N(0, I) rows (init_class_embedding)
        return finish_networks({"G": G, "D": D}, self.init, {"G": self.g_spectral_norm, "D": self.spectral_norm},
                               plain)


class BigGANGenerator(Generator):
    """``z [N, z_dim]`` (+ labels ``c [N]``) -> images ``[N, C, H, W]`` in (−1, 1)."""

    def __init__(self, cfg: BigGANConfig, spec: DataSpec) -> None:
        super().__init__()
        C, H, W = image_shape(spec, "biggan")
        blocks = len(cfg.g_channels) - 1
        if H % 2**blocks or W % 2**blocks:
            raise ValueError(f"biggan generator: {blocks} up-blocks upsample by {2**blocks}, but the data is {H}×{W}; "
                             "use fewer g_channels (28×28 takes three: two blocks from 7×7)")
        K = spec.num_classes if cfg.conditioning == "projection" else 0
        self.z_dim, self.z_dist, self.c_dim, self.output_range = cfg.z_dim, "normal", K, (-1.0, 1.0)
        self.hierarchical = cfg.hierarchical
        self.chunk = cfg.z_dim // (blocks + 1) if cfg.hierarchical else cfg.z_dim  # z_0's size
        self.shared = nn.Embedding(K, cfg.shared_dim) if K else None  # one class embedding for every block
        cond_dim = (cfg.shared_dim if K else 0) + (self.chunk if cfg.hierarchical else 0)
        h0, w0 = H // 2**blocks, W // 2**blocks
        self.start = (cfg.g_channels[0], h0, w0)
        # label_input: [shared(y), z_0] -> dense, as BigGAN-deep's G (BigGAN-PyTorch BigGANdeep.py: linear(cat[z, y]))
        self.label_input = bool(K) and cfg.label_input
        dense_in = self.chunk + (cfg.shared_dim if self.label_input else 0)
        self.dense = nn.Linear(dense_in, cfg.g_channels[0] * h0 * w0)
        self.blocks = nn.ModuleList(GBlock(a, b, cond_dim, cfg.bn_eps)
                                    for a, b in zip(cfg.g_channels[:-1], cfg.g_channels[1:], strict=True))
        sizes = [h0 * 2 ** (i + 1) for i in range(blocks)]  # heights after each block
        self.attention_at = -1 if cfg.attention_res == -1 else middle_resolution(
            sizes, cfg.attention_res, "generator", H)
        channels = cfg.g_channels[self.attention_at + 1] if self.attention_at >= 0 else 0
        self.attention = (SelfAttention(channels, cfg.key_ratio, cfg.value_ratio, cfg.attention_pool)
                          if channels else None)
        self.out_bn = nn.BatchNorm2d(cfg.g_channels[-1], cfg.bn_eps)
        self.out = nn.Conv2d(cfg.g_channels[-1], C, 3, padding=1)

    def split_latent(self, z: Tensor) -> list[Tensor]:
        """Hierarchical z: ``[z_0, z_1, …, z_B]``, each ``[N, z_dim / (B + 1)]`` (``[z]`` when not hierarchical)."""
        if z.dim() != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"biggan generator expects z [N, {self.z_dim}], got {tuple(z.shape)}")
        return list(z.split(self.chunk, dim=1)) if self.hierarchical else [z]

    def conditions(self, z: Tensor, c: Tensor | None = None) -> tuple[Tensor, list[Tensor | None]]:
        """(the dense layer's input, one condition vector per block): block i gets ``[shared(c), z_{i+1}]``; the
        dense layer ``z_0`` (``[shared(c), z_0]`` with ``label_input``)."""
        chunks = self.split_latent(z)
        parts: list[Tensor] = []
        if self.shared is not None:
            if c is None:
                raise ValueError("this generator is class-conditional: pass labels c [N] (int64)")
            parts.append(self.shared(c.long()))  # [N, shared_dim], the same for every block
        conds: list[Tensor | None] = []
        for i in range(len(self.blocks)):
            block_parts = parts + ([chunks[i + 1]] if self.hierarchical else [])
            conds.append(torch.cat(block_parts, dim=1) if block_parts else None)  # [N, cond_dim]
        dense_in = torch.cat([parts[0], chunks[0]], dim=1) if self.label_input else chunks[0]  # [N, (shared +) chunk]
        return dense_in, conds

    def forward(self, z: Tensor, c: Tensor | None = None) -> Tensor:
        z0, conds = self.conditions(z, c)
        h = self.dense(z0).view(-1, *self.start)  # [N, c0, h0, w0]
        for i, (block, cond) in enumerate(zip(self.blocks, conds, strict=True)):
            h = block(h, cond)  # [N, c_{i+1}, 2h, 2w]
            if i == self.attention_at:
                h = self.attention(h)
        return torch.tanh(self.out(F.relu(self.out_bn(h))))  # [N, C, H, W]


class BigGANDiscriminator(ConditionalHead, Discriminator):
    """Images ``[N, C, H, W]`` (+ labels for projection) -> logits ``[N, 1]``."""

    def __init__(self, cfg: BigGANConfig, spec: DataSpec) -> None:
        super().__init__()
        C, H, W = image_shape(spec, "biggan")
        K = spec.num_classes if cfg.conditioning == "projection" else 0
        last = len(cfg.d_channels) - 1
        self.blocks = nn.ModuleList()
        sizes, h, c_in = [], H, C
        for i, c_out in enumerate(cfg.d_channels):
            down = i < last
            # d_norm batch: no BN in the first block (DCGAN: none on the first layer's output either)
            norm = cfg.d_norm == "batch" and i > 0
            self.blocks.append(DBlock(c_in, c_out, down, preactivation=i > 0, batch_norm=norm))
            h = h // 2 if down else h
            if h < 1:
                raise ValueError(f"biggan discriminator: {last} down-blocks shrink {H}×{W} below 1×1; use fewer "
                                 "d_channels")
            sizes.append(h)
            c_in = c_out
        self.attention_at = -1 if cfg.attention_res == -1 else middle_resolution(
            sizes, cfg.attention_res, "discriminator", H)
        channels = cfg.d_channels[self.attention_at] if self.attention_at >= 0 else 0
        self.attention = (SelfAttention(channels, cfg.key_ratio, cfg.value_ratio, cfg.attention_pool)
                          if channels else None)
        self.init_head("head", nn.Linear(c_in, 1), c_in, K, "projection" if K else "none")

    def forward(self, x: Tensor, c: Tensor | None = None) -> Tensor:
        h = x
        for i, block in enumerate(self.blocks):
            h = block(h)
            if i == self.attention_at:
                h = self.attention(h)
        h = F.relu(h).sum(dim=(2, 3))  # global sum pooling [N, F]
        return self.head_output(h, c)  # ψ(h) (+ ⟨V_c, h⟩)  [N, 1]
