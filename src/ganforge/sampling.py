"""The one definition of "the n samples of seed S" of a generator, shared by training, ``sample`` and ``eval``.

Every sample drawn for a grid, an evaluation, ``ganforge sample --seed S`` or ``ganforge eval --seed S`` comes from
here (``iter_latents`` / ``iter_labelled_samples``): latent codes and random labels are drawn in fixed chunks of
``LATENT_CHUNK`` from a private generator, so they do not depend on any batch size and never touch training state.
What each data kind computes from these samples lives in ``ganforge.kinds`` (``kinds.toy``, ``kinds.image``, ...).
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor, nn

from ganforge.data.mnist32 import unpad
from ganforge.models.base import Generator, conditioning_dim, output_range
from ganforge.options import ConfigError

EVAL_SEED_OFFSET = 2_000_003  # evaluations use their own RNG: they never touch training state
LATENT_CHUNK = 1000  # latents (and random labels) are drawn this many samples at a time, whatever the batch size


def check_label(G: nn.Module, label: int | None, flag: str = "--label") -> None:
    """One-line errors, before any sampling, for a label on an unconditional model or outside ``[0, c_dim)``."""
    if label is None:
        return
    c_dim = conditioning_dim(G)
    if c_dim == 0:
        raise ConfigError(f"{flag} {label}: this model is unconditional (trained without labels); drop {flag}")
    if not 0 <= label < c_dim:
        raise ConfigError(f"{flag} {label} is out of range; this model has classes 0..{c_dim - 1}")


def iter_latents(G: nn.Module, n: int, seed: int, device: torch.device, labels: Tensor | None = None
                 ) -> Iterator[tuple[Tensor, Tensor | None]]:
    """The inputs of "the ``n`` samples of seed ``seed``": ``(z [m, z_dim], c [m] or None)`` chunks of
    ``m = LATENT_CHUNK`` samples (the last one shorter), drawn in order from one ``torch.Generator`` seeded with
    ``seed``: per chunk ``G.sample_z(m)`` then, for a conditional G without ``labels``, ``randint(c_dim, (m,))``.

    The chunk size is fixed, so the draws never depend on a batch size: torch's CPU ``randn`` fills its output in
    Box-Muller blocks of 16 and redraws the last block of a call whose size is not a multiple of 16, so
    ``randn(a)`` then ``randn(b)`` equals ``randn(a + b)`` only when ``a`` and ``b`` are multiples of 16 (e.g.
    250 x 100-d codes give other numbers than 1000 x 100-d; checked with torch 2.13 on CPU). 1000 is the batch size
    every in-training caller used before, so the in-training evaluations and sample grids draw exactly what they
    drew before. Memory stays O(LATENT_CHUNK) whatever ``n``.
    """
    rng = torch.Generator(device=device)
    rng.manual_seed(seed)
    c_dim = conditioning_dim(G)
    for start in range(0, n, LATENT_CHUNK):
        m = min(LATENT_CHUNK, n - start)
        z = G.sample_z(m, rng, device)  # [m, z_dim]
        c = None
        if c_dim:  # given labels, else uniformly random ones: the class balance is G's own
            c = labels[start : start + m].to(device) if labels is not None else torch.randint(
                c_dim, (m,), generator=rng, device=device)
        yield z, c


def iter_labelled_samples(G: nn.Module, n: int, seed: int, device: torch.device, labels: Tensor | None = None,
                          batch_size: int = 1000) -> Iterator[tuple[Tensor, Tensor | None]]:
    """The ``n`` samples of seed ``seed`` (``iter_latents``) through G in eval mode, in batches of ``batch_size``:
    ``(samples [<= batch_size, *shape] float32, labels [<= batch_size] or None)``. The one definition of a seed's
    samples shared by ``ganforge sample``, ``ganforge eval``, the in-training evaluation and the sample grids:
    the batches concatenate to the same samples for any ``batch_size`` (up to the float rounding of G's layers on
    other batch shapes), and memory stays O(batch_size + LATENT_CHUNK) for any ``n``. G's mode is restored."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    was_training = G.training
    G.eval()
    c_dim = conditioning_dim(G)

    def run(z: Tensor, c: Tensor | None) -> tuple[Tensor, Tensor | None]:
        with torch.no_grad():  # not held across a yield: the caller's grad mode stays its own
            return (G(z, c) if c_dim else G(z)).float(), c

    try:
        zs: list[Tensor] = []
        cs: list[Tensor] = []
        have = 0
        for z, c in iter_latents(G, n, seed, device, labels):
            zs.append(z)
            if c is not None:
                cs.append(c)
            have += z.shape[0]
            while have >= batch_size:
                z_all = zs[0] if len(zs) == 1 else torch.cat(zs)
                c_all = (cs[0] if len(cs) == 1 else torch.cat(cs)) if cs else None
                yield run(z_all[:batch_size], c_all[:batch_size] if c_all is not None else None)
                have -= batch_size
                zs = [z_all[batch_size:]] if have else []
                cs = [c_all[batch_size:]] if have and c_all is not None else []
        if have:
            yield run(torch.cat(zs), torch.cat(cs) if cs else None)
    finally:
        G.train(was_training)


def iter_samples(G: nn.Module, n: int, seed: int, device: torch.device, labels: Tensor | None = None,
                 batch_size: int = 1000) -> Iterator[Tensor]:
    """``iter_labelled_samples`` without the labels: ``[<= batch_size, *shape]`` float32 batches, so callers can write
    or reduce any ``n`` in bounded memory. The batches concatenate to ``generate_samples``' output."""
    for x, _ in iter_labelled_samples(G, n, seed, device, labels, batch_size):
        yield x


def generate_samples(G: nn.Module, n: int, seed: int, device: torch.device, labels: Tensor | None = None,
                     batch_size: int = 1000) -> Tensor:
    """The ``n`` samples of seed ``seed`` (``iter_labelled_samples``) at once; G's mode is restored afterwards."""
    return torch.cat(list(iter_samples(G, n, seed, device, labels, batch_size)))


class Unpadded(Generator):
    """A sampler whose images are ``data.mnist32.unpad``-ed (the centre 28×28 of 32×32 digits), for benches that draw
    grids of them; ``kinds.image.evaluate_digits`` unpads by itself. Declares G's ``z_dim``, ``z_dist`` and
    ``output_range`` (read through ``models.base.output_range``) and draws G's ``sample_z``; unconditional (``c_dim``
    0)."""

    def __init__(self, G: nn.Module) -> None:
        super().__init__()
        self.G, self.z_dim = G, int(G.z_dim)
        self.z_dist, self.output_range = G.z_dist, output_range(G)

    def sample_z(self, n: int, generator: torch.Generator | None = None, device: torch.device | str = "cpu") -> Tensor:
        return self.G.sample_z(n, generator, device)

    def forward(self, z: Tensor) -> Tensor:
        return unpad(self.G(z))

