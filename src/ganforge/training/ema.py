"""Exponential moving average of the generator's weights (Yazıcı et al. 2019; Karras et al. 2018).

θ_ema ← β θ_ema + (1 − β) θ after every generator update; buffers (BatchNorm statistics) are copied as they are.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


def make_ema(G: nn.Module) -> nn.Module:
    G_ema = copy.deepcopy(G).eval()
    G_ema.requires_grad_(False)
    return G_ema


@torch.no_grad()
def update_ema(G_ema: nn.Module, G: nn.Module, decay: float) -> None:
    """In-place EMA update; ``decay = 0`` copies G."""
    ema_params = list(G_ema.parameters())
    params = list(G.parameters())
    if decay == 0.0:
        torch._foreach_copy_(ema_params, params)
    else:
        torch._foreach_lerp_(ema_params, params, 1.0 - decay)  # p_ema + (1-β)(p - p_ema) = β p_ema + (1-β) p
    for b_ema, b in zip(G_ema.buffers(), G.buffers(), strict=True):
        b_ema.copy_(b)
