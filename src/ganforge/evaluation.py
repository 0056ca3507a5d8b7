"""Evaluating a generator: sample it with a private RNG and compute the metrics that fit its data.

Used by the trainer (periodic and final evaluation) and by the ``sample`` / ``eval`` commands.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ganforge.data.base import TensorData
from ganforge.data.toy import Distribution
from ganforge.metrics.toy import N_EVAL, evaluate_toy

EVAL_SEED_OFFSET = 2_000_003  # evaluations use their own RNG: they never touch training state


@torch.no_grad()
def generate_samples(G: nn.Module, n: int, seed: int, device: torch.device, labels: Tensor | None = None,
                     batch_size: int = 1000) -> Tensor:
    """``n`` samples from G in eval mode with a private RNG; G's mode is restored afterwards."""
    was_training = G.training
    G.eval()
    rng = torch.Generator(device=device)
    rng.manual_seed(seed)
    out = []
    c_dim = getattr(G, "c_dim", 0)
    for start in range(0, n, batch_size):
        m = min(batch_size, n - start)
        z = G.sample_z(m, rng, device)
        if c_dim:
            c = labels[start : start + m].to(device) if labels is not None else torch.randint(
                c_dim, (m,), generator=rng, device=device)
            out.append(G(z, c).float())
        else:
            out.append(G(z).float())
    G.train(was_training)
    return torch.cat(out)


def evaluate_generator(G: nn.Module, data: TensorData | Distribution, seed: int, device: torch.device,
                       ) -> dict[str, float]:
    """Dataset-appropriate metrics: the toy protocol for analytic targets (image metrics: ``ganforge eval``)."""
    if isinstance(data, Distribution):
        return evaluate_toy(generate_samples(G, N_EVAL, seed + EVAL_SEED_OFFSET, device), data)
    return {}
