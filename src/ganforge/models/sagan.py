"""SAGAN (Zhang et al. 2019, "Self-Attention Generative Adversarial Networks"): a DCGAN-style G and D with a
self-attention block (``models/attention.py``) at a middle resolution, spectral norm in *both* G and D (§4.1), and —
for the class-conditional version — conditional batch norm in G and a projection discriminator (Miyato & Koyama 2018)
in D (§5). The paper trains with the hinge loss and TTUR (D 4e-4, G 1e-4, Adam β = (0, 0.9));
``configs/sagan-mnist.yaml`` keeps the hinge loss and, at CPU length, takes the conditional DCGAN's D
(``d_norm: batch``, no spectral norm) and optimiser instead (issue 24, docs/sagan_biggan.md).

Shapes for 28×28 MNIST with the defaults (``g_channels = (128, 64)``, ``d_channels = (64, 128)``):

    G: z [N, 128] -> SNLinear -> [N, 128, 7, 7] -> (C)BN -> ReLU
       -> SNConvT(4, s2) [N, 64, 14, 14] -> (C)BN -> ReLU -> SelfAttention (14×14: 196 positions)
       -> SNConvT(4, s2) [N, 1, 28, 28] -> tanh
    D: x [N, 1, 28, 28] -> SNConv(4, s2) [N, 64, 14, 14] -> LReLU(0.1) -> SelfAttention (14×14)
       -> SNConv(4, s2) [N, 128, 7, 7] -> LReLU(0.1) -> sum over H, W [N, 128] -> ψ + ⟨V_y, h⟩ [N, 1]

The paper's 128×128 ImageNet networks are ResNets with attention at 32×32/64×64; this keeps SAGAN's ingredients at
MNIST scale so it trains on a CPU, and the widths are options. ``ConditionalBatchNorm2d`` and ``finish_networks``
are shared with BigGAN (``models/biggan.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from ganforge.data.base import DataSpec
from ganforge.models.attention import SelfAttention
from ganforge.models.base import Discriminator, Generator, ModelFamily, check_conditioning, init_weights
from ganforge.models.layers import SN_TYPES, ConditionalHead, has_spectral_norm
from ganforge.registry import MODELS

CONDITIONINGS = ("none", "projection")
D_POOLS = ("sum", "flatten")
D_NORMS = ("none", "batch")
INITS = ("default", "dcgan", "xavier", "orthogonal")


# ---- building blocks shared with BigGAN -----------------------------------------------------------------------------


class ConditionalBatchNorm2d(nn.Module):
    """Batch norm whose gain and bias depend on the condition (de Vries et al. 2017; Miyato & Koyama 2018 §4):

        y = BN(x) · γ(c) + β(c),   BN without its own affine parameters.

    ``num_classes > 0``: per-class tables, γ = Γ[c], β = B[c] with Γ = 1, B = 0 at init (SAGAN's class-conditional
    BN; ``c`` are int labels ``[N]``). ``cond_dim > 0``: linear maps of a condition vector ``c [N, cond_dim]``,
    γ = 1 + W_γ c, β = W_β c (BigGAN §3 / App. B: ``c`` = [shared class embedding, z chunk]).
    """

    def __init__(self, channels: int, num_classes: int = 0, cond_dim: int = 0, eps: float = 1e-5,
                 momentum: float = 0.1) -> None:
        super().__init__()
        if (num_classes > 0) == (cond_dim > 0):
            raise ValueError(f"conditional batch norm needs exactly one of num_classes ({num_classes}) and "
                             f"cond_dim ({cond_dim}) > 0")
        self.bn = nn.BatchNorm2d(channels, eps=eps, momentum=momentum, affine=False)
        self.per_class = num_classes > 0
        if self.per_class:
            self.gain: nn.Module = nn.Embedding(num_classes, channels)
            self.bias: nn.Module = nn.Embedding(num_classes, channels)
        else:
            self.gain = nn.Linear(cond_dim, channels, bias=False)
            self.bias = nn.Linear(cond_dim, channels, bias=False)
        self.reset_tables()

    def reset_tables(self) -> None:
        """Per-class tables start as the identity (Γ = 1, B = 0); the linear version is 1 + W_γ c by construction."""
        if self.per_class:
            nn.init.ones_(self.gain.weight)
            nn.init.zeros_(self.bias.weight)

    def plain_modules(self) -> list[nn.Module]:
        """Modules that keep plain weights (no spectral norm): the per-class tables are not linear maps of a
        feature, so SAGAN/BigGAN's code leaves them unnormalised."""
        return [self.gain, self.bias] if self.per_class else []

    def forward(self, x: Tensor, c: Tensor) -> Tensor:
        if c is None:
            raise ValueError("this generator is conditional: pass class labels c [N] (int64)")
        if self.per_class:
            gain, bias = self.gain(c.long()), self.bias(c.long())  # [N, C]
        else:
            gain, bias = 1 + self.gain(c), self.bias(c)  # [N, C]
        return self.bn(x) * gain[:, :, None, None] + bias[:, :, None, None]


def init_orthogonal(module: nn.Module) -> None:
    """Orthogonal initialisation (Saxe et al. 2014) of every conv / linear / embedding weight, zero biases — BigGAN's
    init (Brock et al. 2019 §3, "we employ Orthogonal Initialization")."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)):
            nn.init.orthogonal_(m.weight)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)


def init_class_embedding(embedding: nn.Embedding) -> None:
    """Class-embedding rows ~ N(0, I): each row has norm ≈ √dim, the norm of a z of the same size, so the label's
    part of a layer's input is as strong as the latent's at init. (An orthogonal or Xavier init of a [K, dim] table
    gives rows of norm ≤ 1: next to a 20-d z chunk of norm √20 the label then moves G ~4× less than z does, and
    with few training steps it never catches up.)"""
    nn.init.normal_(embedding.weight, 0.0, 1.0)


def finish_networks(nets: dict[str, nn.Module], init: str, spectral: dict[str, bool],
                    plain: tuple[nn.Module, ...] = ()) -> dict[str, nn.Module]:
    """Initialise every network (``init``), reset the conditional-BN tables, then wrap conv / linear / embedding
    layers in spectral norm where ``spectral[name]`` — except the CBN tables and ``plain`` modules (class
    embeddings: BigGAN's shared one, SAGAN's input one), which get ``init_class_embedding``. Spectral norm comes
    last: afterwards ``.weight`` is a computed tensor."""
    for name, net in nets.items():
        if init == "orthogonal":
            init_orthogonal(net)
        else:
            init_weights(net, init)
        for m in plain:
            if isinstance(m, nn.Embedding) and any(m is sub for sub in net.modules()):
                init_class_embedding(m)
        skip = {id(m) for m in plain}
        for m in net.modules():
            if isinstance(m, ConditionalBatchNorm2d):
                m.reset_tables()
                skip.update(id(t) for t in m.plain_modules())
        if spectral.get(name, False):
            for m in list(net.modules()):
                if isinstance(m, SN_TYPES) and id(m) not in skip and not has_spectral_norm(m):
                    spectral_norm(m)
    return nets


def middle_resolution(sizes: list[int], attention_res: int, where: str, height: int) -> int:
    """Index in ``sizes`` (feature-map heights where an attention block can go) for the block: the one that is
    ``attention_res`` high, or (``attention_res = 0``) the one nearest the middle resolution ``height / 2`` (SAGAN's
    and BigGAN's placement: 32/64 of 128, i.e. between the coarse and the fine layers)."""
    if attention_res == 0:
        return min(range(len(sizes)), key=lambda i: abs(sizes[i] - height / 2))
    if attention_res not in sizes:
        raise ValueError(f"attention_res {attention_res} is not a feature-map size of the {where} (sizes "
                         f"{sizes}); choose one of them, 0 for the middle, or -1 for no attention")
    return sizes.index(attention_res)


# ---- SAGAN ----------------------------------------------------------------------------------------------------------


def image_shape(spec: DataSpec, family: str) -> tuple[int, int, int]:
    if len(spec.shape) != 3:
        raise ValueError(f"the {family} model needs images (C, H, W), got data of shape {spec.shape}; use mlp for "
                         "vectors")
    C, H, W = spec.shape
    return C, H, W


@MODELS.register("sagan")
@dataclass
class SAGANConfig(ModelFamily):
    """Options of the SAGAN family (``model.options``).

    ``g_channels = (c0, c1, …, c_L)``: the dense layer makes ``[c0, H/2^L, W/2^L]``, then one ConvT(4, s2) block per
    further entry, then the output ConvT(4, s2) to the data's channels (H, W must be divisible by 2^L).
    ``g_strides``: 1 makes the conv reading that entry a 3×3 ConvT at the same size (DCGAN-mnist's stride-1 layer at
    7×7: ``g_channels [256, 128, 64]``, ``g_strides [1, 2, 2]`` is the conditional DCGAN's G shape).
    ``d_channels``: one Conv(4, s2) + LeakyReLU(0.1) per entry. ``attention_res``: height of the feature map that
    gets a self-attention block in G and in D (0 = the middle block; −1 = none, i.e. an SN-DCGAN: the ablation).
    """

    networks: ClassVar[tuple[str, ...]] = ("G", "D")

    z_dim: int = 128  # the paper's z ∈ R^128, N(0, I)
    g_channels: tuple[int, ...] = (128, 64)
    g_strides: tuple[int, ...] = ()  # stride (1 or 2) of the conv reading each g_channels entry; () = all 2
    d_channels: tuple[int, ...] = (64, 128)
    attention_res: int = 0
    key_ratio: int = 8  # C̄ = C / 8 for the query / key convs (paper §3)
    value_ratio: int = 8  # channels of h(x): C / 8 as eq. 2 (the released code: 2)
    attention_pool: bool = False  # keys / values 2×2 max-pooled (both references' code; P/4 keys)
    conditioning: str = "projection"  # projection: CBN in G + projection D (class-conditional SAGAN) | none
    label_dim: int = 0  # > 0: a learned N(0, I) class embedding of this size is concatenated to z at G's input
    d_pool: str = "sum"  # sum over H, W (the projection discriminator's global sum pooling) | flatten
    d_norm: str = "none"  # batch: BN after every D conv but the first (DCGAN's D; not the paper, issue 24)
    leaky_slope: float = 0.1  # SAGAN's D uses LeakyReLU(0.1)
    g_spectral_norm: bool = True  # §4.1: spectral norm in G as well as D
    spectral_norm: bool = True
    init: str = "xavier"  # default | dcgan | xavier | orthogonal

    def __post_init__(self) -> None:
        for name, allowed in (("conditioning", CONDITIONINGS), ("d_pool", D_POOLS), ("d_norm", D_NORMS),
                              ("init", INITS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"unknown {name} {getattr(self, name)!r}; choose from: {', '.join(allowed)}")
        if self.z_dim < 1 or self.key_ratio < 1 or self.value_ratio < 1:
            raise ValueError("z_dim, key_ratio and value_ratio must be >= 1")
        if self.label_dim < 0:
            raise ValueError(f"label_dim must be >= 0 (0 = labels only through conditional BN), got {self.label_dim}")
        for name in ("g_channels", "d_channels"):
            value = getattr(self, name)
            if len(value) < (2 if name == "g_channels" else 1) or min(value) < 1:
                raise ValueError(f"{name} needs {'two' if name == 'g_channels' else 'one'} or more widths >= 1, "
                                 f"got {list(value)}")
        if self.g_strides and (len(self.g_strides) != len(self.g_channels) or set(self.g_strides) - {1, 2}):
            raise ValueError(f"g_strides needs one stride (1 or 2) per g_channels entry ({len(self.g_channels)}), "
                             f"got {list(self.g_strides)}")
        if self.attention_res < -1:
            raise ValueError(f"attention_res must be -1 (none), 0 (middle) or a feature-map size, got "
                             f"{self.attention_res}")
        if self.leaky_slope < 0:
            raise ValueError(f"leaky_slope must be >= 0, got {self.leaky_slope}")

    def build(self, spec: DataSpec) -> dict[str, nn.Module]:
        """{"G", "D"} for images ``spec.shape = (C, H, W)``; spectral norm on both (``g_spectral_norm``)."""
        image_shape(spec, "sagan")
        check_conditioning(self.conditioning, spec)
        G = SAGANGenerator(self, spec)
        nets: dict[str, nn.Module] = {"G": G, "D": SAGANDiscriminator(self, spec)}
        plain = (G.label_embed,) if G.label_embed is not None else ()
        return finish_networks(nets, self.init, {"G": self.g_spectral_norm, "D": self.spectral_norm}, plain)


class SAGANGenerator(Generator):
    """``z [N, z_dim]`` (+ labels ``c [N]``) -> images ``[N, C, H, W]`` in (−1, 1)."""

    def __init__(self, cfg: SAGANConfig, spec: DataSpec) -> None:
        super().__init__()
        C, H, W = image_shape(spec, "sagan")
        strides = cfg.g_strides or (2,) * len(cfg.g_channels)  # of the conv that reads g_channels[i]
        ups = strides.count(2)  # upsampling convs (the output layer's included)
        if H % 2**ups or W % 2**ups:
            raise ValueError(f"sagan generator: {ups} stride-2 g_channels entries upsample by {2**ups}, but "
                             f"the data is {H}×{W}; use fewer g_channels (28×28 takes two)")
        K = spec.num_classes if cfg.conditioning == "projection" else 0
        self.z_dim, self.z_dist, self.c_dim, self.output_range = cfg.z_dim, "normal", K, (-1.0, 1.0)
        h0, w0 = H // 2**ups, W // 2**ups
        # label_dim > 0: [z, e_c] -> dense, e_c ~ N(0, I) learned (not the paper: see docs/sagan_biggan.md)
        self.label_embed = nn.Embedding(K, cfg.label_dim) if K and cfg.label_dim else None
        z_in = cfg.z_dim + (cfg.label_dim if self.label_embed is not None else 0)
        self.dense = nn.Linear(z_in, cfg.g_channels[0] * h0 * w0)
        self.start = (cfg.g_channels[0], h0, w0)
        # height of the map with g_channels[i] channels: the dense layer's, times 2 per stride-2 conv before it
        sizes = [h0 * 2 ** strides[:i].count(2) for i in range(len(strides))]
        self.attention_at = -1 if cfg.attention_res == -1 else middle_resolution(
            sizes, cfg.attention_res, "generator", H)
        self.norms = nn.ModuleList()
        self.convs = nn.ModuleList()
        for i, c in enumerate(cfg.g_channels):
            self.norms.append(ConditionalBatchNorm2d(c, num_classes=K) if K else nn.BatchNorm2d(c))
            c_out = cfg.g_channels[i + 1] if i + 1 < len(strides) else C
            if strides[i] == 2:
                self.convs.append(nn.ConvTranspose2d(c, c_out, 4, 2, 1))  # [N, c_out, 2h, 2w]
            else:  # stride 1: a 3×3 "same" ConvT (= a 3×3 conv with the kernel flipped)  [N, c_out, h, w]
                self.convs.append(nn.ConvTranspose2d(c, c_out, 3, 1, 1))
        channels = cfg.g_channels[self.attention_at] if self.attention_at >= 0 else 0
        self.attention = (SelfAttention(channels, cfg.key_ratio, cfg.value_ratio, cfg.attention_pool)
                          if channels else None)

    def forward(self, z: Tensor, c: Tensor | None = None) -> Tensor:
        if self.label_embed is not None:
            if c is None:
                raise ValueError("this generator is conditional: pass class labels c [N] (int64)")
            z = torch.cat([z, self.label_embed(c.long())], dim=1)  # [N, z_dim + label_dim]
        h = self.dense(z).view(-1, *self.start)  # [N, c0, h0, w0]
        for i, (norm, conv) in enumerate(zip(self.norms, self.convs, strict=True)):
            h = torch.relu(norm(h, c) if self.c_dim else norm(h))
            if i == self.attention_at:
                h = self.attention(h)  # [N, c_i, h_i, w_i]
            h = conv(h)
        return torch.tanh(h)  # [N, C, H, W]


class SAGANDiscriminator(ConditionalHead, Discriminator):
    """Images ``[N, C, H, W]`` (+ labels ``c [N]`` for projection) -> logits ``[N, 1]``."""

    def __init__(self, cfg: SAGANConfig, spec: DataSpec) -> None:
        super().__init__()
        C, H, W = image_shape(spec, "sagan")
        K = spec.num_classes if cfg.conditioning == "projection" else 0
        sizes, h, w = [], H, W
        for _ in cfg.d_channels:
            h, w = h // 2, w // 2  # Conv(4, s2, p1): floor(h / 2)
            if h < 1 or w < 1:
                raise ValueError(f"sagan discriminator: {len(cfg.d_channels)} stride-2 convs shrink {H}×{W} below "
                                 "1×1; use fewer d_channels")
            sizes.append(h)
        self.attention_at = -1 if cfg.attention_res == -1 else middle_resolution(
            sizes, cfg.attention_res, "discriminator", H)
        self.convs = nn.ModuleList()
        self.norms = nn.ModuleList()  # d_norm batch: BN after every conv but the first (Radford et al. 2016 §3)
        c_in = C
        for i, c_out in enumerate(cfg.d_channels):
            self.convs.append(nn.Conv2d(c_in, c_out, 4, 2, 1))  # [N, c_out, h/2, w/2]
            self.norms.append(nn.BatchNorm2d(c_out) if cfg.d_norm == "batch" and i > 0 else nn.Identity())
            c_in = c_out
        self.act = nn.LeakyReLU(cfg.leaky_slope)
        channels = cfg.d_channels[self.attention_at] if self.attention_at >= 0 else 0
        self.attention = (SelfAttention(channels, cfg.key_ratio, cfg.value_ratio, cfg.attention_pool)
                          if channels else None)
        self.pool = cfg.d_pool
        features = c_in if cfg.d_pool == "sum" else c_in * h * w
        self.init_head("head", nn.Linear(features, 1), features, K, "projection" if K else "none")

    def forward(self, x: Tensor, c: Tensor | None = None) -> Tensor:
        h = x
        for i, (conv, norm) in enumerate(zip(self.convs, self.norms, strict=True)):
            h = self.act(norm(conv(h)))
            if i == self.attention_at:
                h = self.attention(h)
        h = h.sum(dim=(2, 3)) if self.pool == "sum" else h.flatten(1)  # [N, F]
        return self.head_output(h, c)  # ψ(h) (+ ⟨V_c, h⟩)  [N, 1]
