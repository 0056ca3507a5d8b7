"""Equalised learning rate (Karras et al. 2018, "Progressive Growing of GANs", §4.1): layers whose weights are
initialised N(0, 1) and scaled at *run time* by the He constant c = gain / sqrt(fan_in):

    ŵ_i = w_i · c,   c = gain / sqrt(fan_in),   gain = sqrt(2) (He et al. 2015) for layers followed by a ReLU-like
                                                 nonlinearity, 1 for linear outputs (toRGB, the last D layer)

Because Adam-like optimisers normalise each update by a running gradient magnitude, scaling inside the forward pass
(not at initialisation) makes the effective learning rate the same for every weight whatever its fan-in.

``lr_multiplier`` (StyleGAN, Karras et al. 2019, App. C; the mapping network uses 0.01) lowers the effective learning
rate of a layer further: the stored weight is N(0, 1/lr_multiplier²) and the runtime scale is multiplied by
lr_multiplier, so the initial ŵ is unchanged while every update to ŵ is lr_multiplier times smaller. The bias is
stored as ``bias_init / lr_multiplier`` and multiplied by lr_multiplier, so it starts at ``bias_init``.

Shapes: ``EqualizedLinear`` [N, in] -> [N, out]; ``EqualizedConv2d`` [N, C_in, H, W] -> [N, C_out, H', W'].
The scale is a plain float (not a buffer), so state dicts hold only ``weight`` and ``bias``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

HE_GAIN = math.sqrt(2.0)  # He et al. 2015: Var[w] = 2 / fan_in for ReLU / leaky ReLU layers


def he_scale(fan_in: int, gain: float = HE_GAIN) -> float:
    """The runtime He constant c = gain / sqrt(fan_in) (ProGAN §4.1)."""
    if fan_in < 1:
        raise ValueError(f"fan_in must be >= 1, got {fan_in}")
    return gain / math.sqrt(fan_in)


def _check_lr_multiplier(lr_multiplier: float) -> None:
    if not (math.isfinite(lr_multiplier) and lr_multiplier > 0):
        raise ValueError(f"lr_multiplier must be a finite number > 0, got {lr_multiplier}")


class EqualizedLinear(nn.Module):
    """y = x ŵᵀ + b·lr_multiplier, ŵ = w · gain / sqrt(in_features) · lr_multiplier; w ~ N(0, 1/lr_multiplier²)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, gain: float = HE_GAIN,
                 lr_multiplier: float = 1.0, bias_init: float = 0.0) -> None:
        super().__init__()
        _check_lr_multiplier(lr_multiplier)
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)  # [out, in]
        self.bias = nn.Parameter(torch.full((out_features,), bias_init / lr_multiplier)) if bias else None
        self.scale = he_scale(in_features, gain) * lr_multiplier  # c, applied at every forward pass
        self.lr_multiplier = lr_multiplier

    def forward(self, x: Tensor) -> Tensor:
        bias = self.bias * self.lr_multiplier if self.bias is not None else None
        return F.linear(x, self.weight * self.scale, bias)  # [N, out]

    def extra_repr(self) -> str:
        return f"{self.in_features}, {self.out_features}, scale={self.scale:.4g}, lr_multiplier={self.lr_multiplier}"


class EqualizedConv2d(nn.Module):
    """2-D convolution with ŵ = w · gain / sqrt(C_in·k·k) · lr_multiplier (w ~ N(0, 1/lr_multiplier²)), stride 1,
    ``padding`` (default k // 2: "same" for odd k)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, padding: int | None = None,
                 bias: bool = True, gain: float = HE_GAIN, lr_multiplier: float = 1.0) -> None:
        super().__init__()
        _check_lr_multiplier(lr_multiplier)
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, kernel_size
        self.padding = kernel_size // 2 if padding is None else padding
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size) / lr_multiplier)
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.scale = he_scale(in_channels * kernel_size * kernel_size, gain) * lr_multiplier
        self.lr_multiplier = lr_multiplier

    def forward(self, x: Tensor) -> Tensor:
        bias = self.bias * self.lr_multiplier if self.bias is not None else None
        return F.conv2d(x, self.weight * self.scale, bias, padding=self.padding)  # [N, C_out, H', W']

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, padding={self.padding}, "
                f"scale={self.scale:.4g}, lr_multiplier={self.lr_multiplier}")
