"""One parametrised DCGAN family (Radford et al. 2016): a dense projection, transposed-conv G and strided-conv D.

The options dataclass ``DCGANConfig`` expresses, layer for layer, the three lecture networks (the presets
``configs/dcgan-{tf,keras,scinet}-mnist.yaml``: the TensorFlow-tutorial DCGAN, the keras.io GAN, the SciNet 4-conv
DCGAN) and a modern default whose widths follow the resolution. It builds networks only: no loss, optimiser or
training code lives here.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn

from ganforge.data.base import DataSpec
from ganforge.models.base import Discriminator, Generator, ModelFamily, check_conditioning, finish_models
from ganforge.models.layers import (
    SAME_PADDINGS,
    ConditionalHead,
    LabelEmbedding,
    MinibatchStdDev,
    TwoClassLogit,
    pack,
    same_conv2d,
    same_conv_transpose2d,
)
from ganforge.registry import MODELS

ACTIVATIONS = ("relu", "leaky_relu", "elu", "gelu", "silu")
NORMS = ("none", "batch", "instance", "layer")
DENSE_NORMS = ("none", "batch", "batch-flat")
G_OUTS = ("convT", "conv")
OUTPUT_ACTIVATIONS = {"tanh": (-1.0, 1.0), "sigmoid": (0.0, 1.0), "none": None}
D_POOLS = ("flatten", "global_max", "global_avg")
D_HEADS = ("linear", "softmax2")
CONDITIONINGS = ("none", "concat", "projection", "acgan")
EMBEDDINGS = ("onehot", "learned")
INITS = ("default", "dcgan", "xavier")
Z_DISTS = ("normal", "uniform")


@MODELS.register("dcgan")
@dataclass
class DCGANConfig(ModelFamily):
    """Options of the DCGAN family; every field is a ``model.options`` key.

    Generator: ``[z, embed(c)] -> Linear -> [norm] -> act -> reshape (g_dense_channels, h0, w0)``, then one block
    ``ConvT(g_kernel, stride) -> [norm] -> act`` per entry of ``g_channels``/``g_strides``, then the output layer
    (``ConvT`` or stride-1 ``Conv``, ``g_out_kernel``) and ``output_activation``; ``h0 = H / (prod(g_strides) ·
    g_out_stride)``. Discriminator: ``[x ⊕ label maps] -> pack -> Conv(d_kernel, stride) -> [norm] -> act ->
    [dropout]`` per entry of ``d_channels``/``d_strides``, then pooling, then the head. Empty ``g_channels`` /
    ``d_channels`` mean "derive from the resolution": ``depth`` stride-2 stages (0 = halve H, W while even and > 4)
    with widths ``width·2^i`` (the DCGAN paper's 64×64 G is 512-256-128-64 for width 64).

    Labels (``spec.num_classes > 0`` and ``conditioning != "none"``): G always gets ``embed(c)`` concatenated to ``z``
    (Mirza & Osindero 2014). D: "concat" appends ``embed(c)`` broadcast to H×W as extra input channels (one-hot:
    ``num_classes`` maps, learned: ``embed_dim`` maps); "projection" adds ``⟨embed(c), h⟩`` to the logit (Miyato &
    Koyama 2018); "acgan" returns ``[N, 1 + K]`` = (adversarial logit, K class logits) and ignores ``c``
    (Odena et al. 2017).
    """

    z_dim: int = 100
    z_dist: str = "normal"  # normal N(0, I) | uniform U(-1, 1)
    # discrete latent: K > 0 reads a code k = argmax(z[:, :K]) (uniform over K: the z dims are iid) and feeds
    # z_code_scale · one-hot(k) to G's dense layer beside z, i.e. a mixture of K shifted latents: G can map codes to
    # disconnected modes (digits) instead of spreading mass between them. 0 = off (G unchanged). Scale 1 is how the
    # conditional DCGAN feeds its one-hot label; √z_dim (the code as long as z) made each code one fixed image at
    # 869 steps (z ignored; configs/dcgan-code-mnist.yaml)
    z_code: int = 0
    z_code_scale: float = 1.0
    width: int = 64  # base channel count for the derived (empty g_channels / d_channels) architecture
    depth: int = 0  # stride-2 stages of the derived architecture; 0 = from the resolution (28: 2, 32: 3, 64: 4)
    # --- generator
    g_dense_channels: int = 0  # channels of the reshaped dense output; 0 = derived (width · 2^hidden layers)
    g_dense_bias: bool = False  # bias before batch norm is redundant
    g_dense_norm: str = "batch"  # none | batch (per channel, after reshape) | batch-flat (per unit, before reshape)
    g_channels: tuple[int, ...] = ()  # hidden ConvT widths; () = derived
    g_strides: tuple[int, ...] = ()  # one per g_channels entry
    g_kernel: int = 4
    g_bias: bool = False  # bias in hidden ConvT layers (redundant before batch norm)
    g_norm: str = "batch"  # none | batch | instance | layer
    g_activation: str = "relu"  # relu | leaky_relu | elu | gelu | silu (also used after the dense layer)
    g_out: str = "convT"  # output layer: convT | conv (stride 1)
    g_out_kernel: int = 4
    g_out_stride: int = 2
    g_out_bias: bool = True
    output_activation: str = "tanh"  # tanh (data in [-1, 1]) | sigmoid (data in [0, 1]) | none
    g_spectral_norm: bool = False  # spectral norm on G's layers too (Zhang et al. 2019, SAGAN)
    # --- discriminator
    d_channels: tuple[int, ...] = ()  # conv widths; () = derived
    d_strides: tuple[int, ...] = ()  # one per d_channels entry
    d_kernel: int = 4
    d_bias: bool = True
    d_norm: str = "batch"  # none | batch | instance | layer
    d_norm_first: bool = False  # DCGAN leaves the first D layer unnormalised
    d_activation: str = "leaky_relu"
    d_dropout: float = 0.0  # after every D activation (Keras order: conv -> act -> dropout)
    d_pool: str = "flatten"  # flatten | global_max | global_avg
    d_head: str = "linear"  # linear: Linear(F, 1) | softmax2: Linear(F, 2) read as σ(out1 − out0)
    spectral_norm: bool = False  # on every D conv / linear / embedding (Miyato et al. 2018)
    minibatch_std: bool = False  # std-dev channel before D's last conv block (Karras et al. 2018)
    minibatch_std_group: int = 4
    pack: int = 1  # PacGAN: D judges `pack` samples at once (Lin et al. 2018); batch must be divisible by it
    # --- shared
    leaky_slope: float = 0.2  # LeakyReLU negative slope (Keras 2 default 0.3)
    same_padding: str = "torch"  # torch (PyTorch symmetric) | tf (Keras/TF 'same': odd pixel bottom/right)
    bn_momentum: float = 0.1  # PyTorch convention; Keras momentum 0.99 == 0.01 here
    bn_eps: float = 1e-5  # Keras default 1e-3
    init: str = "dcgan"  # default (PyTorch) | dcgan N(0, 0.02) | xavier (Keras glorot_uniform)
    conditioning: str = "none"  # none | concat | projection | acgan (used only when the data has labels)
    embedding: str = "onehot"  # label embedding for G (and D with concat): onehot | learned
    embed_dim: int = 50  # size of a learned embedding

    def __post_init__(self) -> None:
        choices: dict[str, tuple[str, ...]] = {
            "z_dist": Z_DISTS,
            "g_dense_norm": DENSE_NORMS,
            "g_norm": NORMS,
            "d_norm": NORMS,
            "g_activation": ACTIVATIONS,
            "d_activation": ACTIVATIONS,
            "g_out": G_OUTS,
            "output_activation": tuple(OUTPUT_ACTIVATIONS),
            "d_pool": D_POOLS,
            "d_head": D_HEADS,
            "same_padding": SAME_PADDINGS,
            "init": INITS,
            "conditioning": CONDITIONINGS,
            "embedding": EMBEDDINGS,
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"unknown {name} {getattr(self, name)!r}; choose from: {', '.join(allowed)}")
        for name in ("z_dim", "width", "g_kernel", "g_out_kernel", "g_out_stride", "d_kernel", "pack", "embed_dim"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("depth", "g_dense_channels", "z_code"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.z_code > self.z_dim or self.z_code == 1:
            raise ValueError(f"z_code must be 0 (off) or in [2, z_dim={self.z_dim}], got {self.z_code}")
        if not self.z_code_scale > 0:
            raise ValueError(f"z_code_scale must be > 0, got {self.z_code_scale}")
        if self.minibatch_std_group < 1:
            raise ValueError(f"minibatch_std_group must be >= 1, got {self.minibatch_std_group}")
        for role in ("g", "d"):
            channels, strides = getattr(self, f"{role}_channels"), getattr(self, f"{role}_strides")
            if channels and len(channels) != len(strides):
                raise ValueError(
                    f"{role}_channels {channels} and {role}_strides {strides} need one stride per layer "
                    f"(got {len(channels)} channels, {len(strides)} strides)"
                )
            if not channels and strides:
                raise ValueError(f"{role}_strides {strides} given without {role}_channels; give both or neither")
            if any(c < 1 for c in channels) or any(s < 1 for s in strides):
                raise ValueError(f"{role}_channels and {role}_strides must be >= 1")
        if self.g_out == "conv" and self.g_out_stride != 1:
            raise ValueError("g_out='conv' is a stride-1 output conv; set g_out_stride=1 (or g_out='convT')")
        if not 0.0 <= self.d_dropout < 1.0:
            raise ValueError(f"d_dropout must be in [0, 1), got {self.d_dropout}")
        if self.leaky_slope < 0:
            raise ValueError(f"leaky_slope must be >= 0, got {self.leaky_slope}")
        if self.pack > 1 and self.conditioning in ("projection", "acgan"):
            raise ValueError(f"pack > 1 works with conditioning none or concat, not {self.conditioning!r}")

    def resolve(self, spec: DataSpec) -> DCGANConfig:
        """A copy with the derived fields (depth, g_/d_channels, g_/d_strides, g_dense_channels) filled for ``spec``.

        Raises ``ValueError`` when the strides cannot produce the spec's H×W exactly.
        """
        _, H, W = _image_shape(spec)
        cfg = dataclasses.replace(self)
        if cfg.depth == 0 and (not cfg.g_channels or not cfg.d_channels):
            cfg.depth = _halvings(H, W)
        if not cfg.g_channels:
            up_out = 1 if cfg.g_out_stride == 1 else 2
            if cfg.g_out_stride not in (1, 2):
                raise ValueError("derived generator layers need g_out_stride 1 or 2; or give g_channels/g_strides")
            hidden = cfg.depth - (up_out == 2)
            if hidden < 0:
                raise ValueError(f"depth {cfg.depth} is too small for a stride-{cfg.g_out_stride} output layer")
            cfg.g_channels = tuple(cfg.width * 2 ** (hidden - 1 - i) for i in range(hidden))
            cfg.g_strides = (2,) * hidden
            if cfg.g_dense_channels == 0:
                cfg.g_dense_channels = cfg.width * 2**hidden
        if cfg.g_dense_channels == 0:
            cfg.g_dense_channels = 2 * cfg.g_channels[0] if cfg.g_channels else cfg.width
        if not cfg.d_channels:
            cfg.d_channels = tuple(cfg.width * 2**i for i in range(cfg.depth))
            cfg.d_strides = (2,) * cfg.depth
        up = math.prod(cfg.g_strides) * cfg.g_out_stride
        if H % up or W % up:
            raise ValueError(
                f"generator: g_strides {cfg.g_strides} and g_out_stride {cfg.g_out_stride} upsample by {up} from the "
                f"dense layer, but the data is {H}×{W}, not a multiple of {up}; choose strides whose product divides "
                f"both (e.g. (2, 2) for a {H // 4 if H % 4 == 0 else '?'}×{W // 4 if W % 4 == 0 else '?'} dense "
                f"start, or (1, 2, 2) to add a stride-1 layer)"
            )
        if cfg.g_out == "convT":
            same_conv_transpose_check(cfg.g_out_kernel, cfg.g_out_stride)
        for s in cfg.g_strides:
            same_conv_transpose_check(cfg.g_kernel, s)
        return cfg

    networks: ClassVar[tuple[str, ...]] = ("G", "D")

    def packing(self) -> int:
        return self.pack

    def build(self, spec: DataSpec) -> dict[str, nn.Module]:
        """{"G", "D"} for ``spec`` (C, H, W), initialised by ``init``, spectral norm applied last."""
        _image_shape(spec)
        check_conditioning(self.conditioning, spec)
        cfg = self.resolve(spec)
        return finish_models(DCGANGenerator(cfg, spec), DCGANDiscriminator(cfg, spec), cfg.init, cfg.g_spectral_norm,
                             cfg.spectral_norm)


def same_conv_transpose_check(kernel: int, stride: int) -> None:
    if kernel < stride:
        raise ValueError(f"a 'same' transposed conv needs kernel >= stride, got kernel {kernel} with stride {stride}")


def _image_shape(spec: DataSpec) -> tuple[int, int, int]:
    if len(spec.shape) != 3:
        raise ValueError(f"the dcgan model needs images (C, H, W), got data of shape {spec.shape}; use mlp for vectors")
    C, H, W = spec.shape
    return C, H, W


def _halvings(H: int, W: int) -> int:
    """Stride-2 stages from H×W down to the DCGAN start size: halve while both are even and > 4 (28 -> 7: 2)."""
    n = 0
    while H % 2 == 0 and W % 2 == 0 and H > 4 and W > 4:
        H, W, n = H // 2, W // 2, n + 1
    if n == 0:
        raise ValueError(f"cannot derive a DCGAN for {H}×{W}; give g_channels/g_strides and d_channels/d_strides")
    return n


def _activation(name: str, slope: float) -> nn.Module:
    if name == "leaky_relu":
        return nn.LeakyReLU(slope)
    return {"relu": nn.ReLU, "elu": nn.ELU, "gelu": nn.GELU, "silu": nn.SiLU}[name]()


def _norm(name: str, channels: int, cfg: DCGANConfig) -> list[nn.Module]:
    if name == "none":
        return []
    if name == "batch":
        return [nn.BatchNorm2d(channels, eps=cfg.bn_eps, momentum=cfg.bn_momentum)]
    if name == "instance":
        return [nn.InstanceNorm2d(channels, affine=True)]
    return [nn.GroupNorm(1, channels)]  # "layer": normalise over (C, H, W) per sample


class DCGANGenerator(Generator):
    """``z [N, z_dim]`` (+ labels ``c [N]``) -> images ``[N, C, H, W]`` in ``output_range``."""

    def __init__(self, cfg: DCGANConfig, spec: DataSpec) -> None:
        super().__init__()
        C, H, W = spec.shape
        conditional = cfg.conditioning != "none" and spec.num_classes > 0
        self.z_dim, self.z_dist = cfg.z_dim, cfg.z_dist
        self.c_dim = spec.num_classes if conditional else 0
        self.output_range = OUTPUT_ACTIVATIONS[cfg.output_activation]
        self.embed = LabelEmbedding(spec.num_classes, cfg.embedding, cfg.embed_dim) if conditional else None
        self.z_code, self.code_scale = cfg.z_code, cfg.z_code_scale
        z_in = cfg.z_dim + (self.embed.dim if self.embed is not None else 0) + cfg.z_code

        up = math.prod(cfg.g_strides) * cfg.g_out_stride
        c0, h0, w0 = cfg.g_dense_channels, H // up, W // up

        def act() -> nn.Module:
            return _activation(cfg.g_activation, cfg.leaky_slope)

        layers: list[nn.Module] = [nn.Linear(z_in, c0 * h0 * w0, bias=cfg.g_dense_bias)]
        if cfg.g_dense_norm == "batch":  # per channel, DCGAN style: Linear -> reshape -> BN2d -> act
            layers += [nn.Unflatten(1, (c0, h0, w0)), *_norm("batch", c0, cfg), act()]
        else:  # Keras order Dense -> BatchNormalization (one per unit) -> act -> Reshape
            if cfg.g_dense_norm == "batch-flat":
                layers.append(nn.BatchNorm1d(c0 * h0 * w0, eps=cfg.bn_eps, momentum=cfg.bn_momentum))
            layers += [act(), nn.Unflatten(1, (c0, h0, w0))]
        c_in = c0
        for c_out, stride in zip(cfg.g_channels, cfg.g_strides, strict=True):
            layers += same_conv_transpose2d(c_in, c_out, cfg.g_kernel, stride, cfg.g_bias, cfg.same_padding)
            layers += [*_norm(cfg.g_norm, c_out, cfg), act()]
            c_in = c_out
        if cfg.g_out == "convT":
            out_args = (cfg.g_out_kernel, cfg.g_out_stride, cfg.g_out_bias, cfg.same_padding)
            layers += same_conv_transpose2d(c_in, C, *out_args)
        else:
            layers += same_conv2d(c_in, C, cfg.g_out_kernel, 1, (H, W), cfg.g_out_bias, cfg.same_padding)
        if cfg.output_activation == "tanh":
            layers.append(nn.Tanh())
        elif cfg.output_activation == "sigmoid":
            layers.append(nn.Sigmoid())
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor, c: Tensor | None = None) -> Tensor:
        parts = [z]
        if self.embed is not None:
            parts.append(self.embed(c, z.dtype))  # [N, embed dim]
        if self.z_code:
            k = z[:, : self.z_code].argmax(dim=1)  # [N] in [0, K): P(k) = 1/K for iid z dims
            parts.append(self.code_scale * nn.functional.one_hot(k, self.z_code).to(z.dtype))  # [N, K]
        return self.net(torch.cat(parts, dim=1) if len(parts) > 1 else z)  # [N, C, H, W]


class DCGANDiscriminator(ConditionalHead, Discriminator):
    """Images ``[N, C, H, W]`` (+ labels) -> logits ``[N / pack, 1]`` (``[N, 1 + K]`` for acgan)."""

    def __init__(self, cfg: DCGANConfig, spec: DataSpec) -> None:
        super().__init__()
        C, H, W = spec.shape
        K = spec.num_classes if cfg.conditioning != "none" else 0
        conditioning = cfg.conditioning if K else "none"
        self.pack = cfg.pack
        self.embed = LabelEmbedding(K, cfg.embedding, cfg.embed_dim) if conditioning == "concat" else None

        c_in = cfg.pack * (C + (self.embed.dim if self.embed is not None else 0))
        size = (H, W)
        layers: list[nn.Module] = []
        last = len(cfg.d_channels) - 1
        for i, (c_out, stride) in enumerate(zip(cfg.d_channels, cfg.d_strides, strict=True)):
            if cfg.minibatch_std and i == last:  # one extra channel into the last conv block, which can mix it in
                layers.append(MinibatchStdDev(cfg.minibatch_std_group))
                c_in += 1
            layers += same_conv2d(c_in, c_out, cfg.d_kernel, stride, size, cfg.d_bias, cfg.same_padding)
            if i > 0 or cfg.d_norm_first:
                layers += _norm(cfg.d_norm, c_out, cfg)
            layers.append(_activation(cfg.d_activation, cfg.leaky_slope))
            if cfg.d_dropout > 0:
                layers.append(nn.Dropout(cfg.d_dropout))
            c_in, size = c_out, (-(-size[0] // stride), -(-size[1] // stride))
        if cfg.d_pool == "flatten":
            features = c_in * size[0] * size[1]
        else:
            layers.append(nn.AdaptiveMaxPool2d(1) if cfg.d_pool == "global_max" else nn.AdaptiveAvgPool2d(1))
            features = c_in
        layers.append(nn.Flatten())
        self.features = nn.Sequential(*layers)  # [N, F]
        self.num_features = features

        psi: nn.Module = nn.Linear(features, 1) if cfg.d_head == "linear" else TwoClassLogit(features)
        self.init_head("head", psi, features, K, conditioning)  # ψ as `head` (+ projection / acgan): ConditionalHead

    def forward(self, x: Tensor, c: Tensor | None = None) -> Tensor:
        if self.embed is not None:
            x = torch.cat([x, self.embed.maps(c, tuple(x.shape[2:]), x.dtype)], dim=1)  # [N, C + E, H, W]
        h = self.features(pack(x, self.pack))  # [N / pack, F]
        return self.head_output(h, c)  # [N / pack, 1] ([N, 1 + K] for acgan)
