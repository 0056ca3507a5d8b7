"""Exponential moving average of the generator's weights (Yazıcı et al. 2019; Karras et al. 2018).

θ_ema ← β θ_ema + (1 − β) θ after every generator update. Floating-point buffers (BatchNorm running mean / var)
are copied as they are by default (``buffers="copy"``, NVlabs' stylegan2-ada), or averaged the same way as the
weights (``buffers="average"``, BigGAN-PyTorch's ``utils.ema`` over the whole ``state_dict``: copying G's running
statistics pairs the averaged weights with statistics of the raw weights' activations); ``train.ema_buffers``
chooses. Integer buffers (``num_batches_tracked``) and the buffers of parametrizations (spectral
norm's power-iteration vectors u, v, which must stay unit vectors of the current weight) are always copied.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn


def make_ema(G: nn.Module) -> nn.Module:
    G_ema = copy.deepcopy(G).eval()
    G_ema.requires_grad_(False)
    return G_ema


def _averaged(name: str, buffer: Tensor) -> bool:
    """True for the buffers the EMA averages: floating point, not a parametrization's state."""
    return buffer.is_floating_point() and ".parametrizations." not in f".{name}"


@torch.no_grad()
def update_ema(G_ema: nn.Module, G: nn.Module, decay: float, buffers: str = "copy") -> None:
    """In-place EMA update of the parameters (and of floating-point buffers with ``buffers="average"``);
    ``decay = 0`` copies G."""
    if buffers not in ("copy", "average"):
        raise ValueError(f"EMA buffers must be 'copy' or 'average', got {buffers!r}")
    ema_params = list(G_ema.parameters())
    params = list(G.parameters())
    if decay == 0.0:
        torch._foreach_copy_(ema_params, params)
    else:
        torch._foreach_lerp_(ema_params, params, 1.0 - decay)  # p_ema + (1-β)(p - p_ema) = β p_ema + (1-β) p
    for (name, b_ema), (_, b) in zip(G_ema.named_buffers(), G.named_buffers(), strict=True):
        if buffers == "average" and decay != 0.0 and _averaged(name, b):
            b_ema.lerp_(b, 1.0 - decay)  # BN running statistics: β s_ema + (1 − β) s
        else:
            b_ema.copy_(b)
