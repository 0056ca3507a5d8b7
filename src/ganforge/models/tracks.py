"""A conditional sequence GAN for storm tracks (``data.storms``): a GRU generator and a 1-D-convolution critic, both
conditioned on the storm's category (a learned embedding), trained with WGAN-GP (``objective.name=wgan-gp``).

The data vector is ``[static (5) | deltas (4 × (T − 1)) channel-major]`` (``spec.fields``: ``static`` (5,),
``sequence`` (4, T − 1)), standardised. Shapes (N storms, e = embedding size, H = hidden width, L = T − 1):

G(z [N, z_dim], c [N]):
    u = [z, emb(c)]                                             [N, z_dim + e]
    static = MLP(u)                                             [N, 5]    start position / wind / pressure, log lifetime
    h0 = tanh(FC(u)),  x_t = [FC_in(u), static]  for t = 1..L   GRU(H) over L steps (inputs repeated: a learned
    deltas_t = FC_out(h_t)                                      [N, L, 4]  decoder conditioned at every step)
    out = [static, deltas (channel-major)]                      [N, 5 + 4L]
D(x, c):
    intensity so far (``cumulative``): the category is defined by the storm's maximum wind, which the per-step deltas
    only hold as a sum, so the critic rebuilds it. For wind and pressure (channels j = 2, 3) at points t = 0..L:
        u_j,t = [static_j, Σ_{s ≤ t} δ_j,s, t / L]                     [N, 6, L + 1]   (start, summed changes, time)
        v_t = W u_t (a learned 1×1 conv, k = ``levels`` maps)           [N, k, L + 1]
    an affine map of u recovers the de-standardised level exactly (wind_t = σ₀ static + m₀ + σ_δ Σδ + t·μ_δ, the
    data's per-entry standardisation), so v can be the wind / pressure curve; then the running extremes
        r_t = [max_{s ≤ t} v_s, min_{s ≤ t} v_s]                         [N, 2k, L]      (t = 1..L)
    join the deltas as conv channels, and their final values (max wind, min pressure of the whole storm) join the head.
    s = conv1d stack over [deltas, r] (4 + 2k → H → H, kernel 5, LeakyReLU 0.2, stride 2 in the second)  [N, H, ⌈L/2⌉]
    φ = LeakyReLU(FC([flatten(s), static, r_L, emb(c)]))               [N, H]
    score = w·φ + b + ``projection``: ⟨emb_p(c), φ⟩                   [N, 1]
    (the projection discriminator, Miyato & Koyama 2018 eq. 3: the category's score is an inner product with the
    features, so the critic can judge "is this max wind right for this category" directly; no normalisation:
    WGAN-GP is per sample)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn

from ganforge.data.base import DataSpec
from ganforge.models.base import Discriminator, Generator, ModelFamily
from ganforge.registry import MODELS


def _layout(spec: DataSpec) -> tuple[int, int, int]:
    """(static size, channels, steps L) from the spec; one-line error for other data."""
    if "static" not in spec.fields or "sequence" not in spec.fields or spec.num_classes < 1:
        raise ValueError("the tracks model needs the storm-tracks dataset (data.name=storm-tracks)")
    (n_static,), (channels, steps) = spec.fields["static"], spec.fields["sequence"]
    if n_static + channels * steps != spec.shape[0]:
        raise ValueError(f"track layout {n_static} + {channels}×{steps} does not match the data size {spec.shape[0]}")
    return n_static, channels, steps


class TrackGenerator(Generator):
    def __init__(self, cfg: TracksConfig, spec: DataSpec) -> None:
        super().__init__()
        self.n_static, self.channels, self.steps = _layout(spec)
        self.z_dim, self.c_dim = cfg.z_dim, spec.num_classes
        self.embed = nn.Embedding(spec.num_classes, cfg.embed_dim)
        u = cfg.z_dim + cfg.embed_dim
        self.static = nn.Sequential(nn.Linear(u, cfg.hidden), nn.ReLU(), nn.Linear(cfg.hidden, self.n_static))
        self.h0 = nn.Linear(u, cfg.hidden)
        self.inp = nn.Linear(u, cfg.hidden)
        self.gru = nn.GRU(cfg.hidden + self.n_static, cfg.hidden, batch_first=True)
        self.out = nn.Linear(cfg.hidden, self.channels)

    def forward(self, z: Tensor, c: Tensor) -> Tensor:
        u = torch.cat([z, self.embed(c)], dim=1)  # [N, z_dim + e]
        static = self.static(u)  # [N, 5]
        step_in = torch.cat([self.inp(u), static], dim=1)[:, None].expand(-1, self.steps, -1)  # [N, L, H + 5]
        h, _ = self.gru(step_in.contiguous(), torch.tanh(self.h0(u))[None].contiguous())  # [N, L, H]
        deltas = self.out(h).transpose(1, 2).reshape(len(z), -1)  # [N, 4L] channel-major
        return torch.cat([static, deltas], dim=1)


class TrackCritic(Discriminator):
    INTENSITY = (2, 3)  # wind, pressure: their index in ``static`` (start values) and in the delta channels

    def __init__(self, cfg: TracksConfig, spec: DataSpec) -> None:
        super().__init__()
        self.n_static, self.channels, self.steps = _layout(spec)
        self.c_dim = spec.num_classes
        h, k = cfg.hidden, cfg.levels if cfg.cumulative else 0
        self.embed = nn.Embedding(spec.num_classes, cfg.embed_dim)
        self.level = nn.Conv1d(3 * len(self.INTENSITY), k, 1) if cfg.cumulative else None
        self.conv = nn.Sequential(nn.Conv1d(self.channels + 2 * k, h, 5, padding=2), nn.LeakyReLU(0.2),
                                  nn.Conv1d(h, h, 5, stride=2, padding=2), nn.LeakyReLU(0.2))
        flat = h * ((self.steps + 1) // 2)
        self.head = nn.Sequential(nn.Linear(flat + self.n_static + 2 * k + cfg.embed_dim, h), nn.LeakyReLU(0.2))
        self.out = nn.Linear(h, 1)
        self.project = nn.Embedding(spec.num_classes, h) if cfg.projection else None

    def running_extremes(self, static: Tensor, seq: Tensor) -> Tensor:
        """``[N, 2k, L + 1]``: running max and min over t of the learned levels v_t (see the module docstring)."""
        n, idx = len(seq), list(self.INTENSITY)
        summed = torch.cat([seq.new_zeros(n, len(idx), 1), seq[:, idx].cumsum(-1)], -1)  # [N, 2, L + 1]
        start = static[:, idx, None].expand_as(summed)  # [N, 2, L + 1]
        t = torch.linspace(0.0, 1.0, self.steps + 1, device=seq.device).expand(n, len(idx), -1)
        v = self.level(torch.cat([start, summed, t], 1))  # [N, k, L + 1]
        return torch.cat([v.cummax(-1).values, -(-v).cummax(-1).values], 1)

    def forward(self, x: Tensor, c: Tensor) -> Tensor:
        static, seq = x[:, : self.n_static], x[:, self.n_static:].reshape(len(x), self.channels, self.steps)
        feats = [static]
        if self.level is not None:
            r = self.running_extremes(static, seq)  # [N, 2k, L + 1]
            seq = torch.cat([seq, r[..., 1:]], 1)  # [N, 4 + 2k, L]
            feats.append(r[..., -1])  # the storm's extremes [N, 2k]
        s = self.conv(seq).flatten(1)  # [N, H·⌈L/2⌉]
        phi = self.head(torch.cat([s, *feats, self.embed(c)], dim=1))  # [N, H]
        score = self.out(phi)
        if self.project is not None:
            score = score + (self.project(c) * phi).sum(1, keepdim=True)
        return score  # [N, 1]


@MODELS.register("tracks")
@dataclass
class TracksConfig(ModelFamily):
    """Options of the storm-track GAN (``model.options``)."""

    networks: ClassVar[tuple[str, ...]] = ("G", "D")

    z_dim: int = 32
    embed_dim: int = 8
    hidden: int = 64
    cumulative: bool = True  # D sees the running max / min of learned wind / pressure levels (the category's cause)
    levels: int = 4  # k: learned level maps of the cumulative features
    projection: bool = True  # D's category term as a projection (Miyato & Koyama 2018) besides the embedding input

    def __post_init__(self) -> None:
        for name in ("z_dim", "embed_dim", "hidden", "levels"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")

    def build(self, spec: DataSpec) -> dict[str, nn.Module]:
        return {"G": TrackGenerator(self, spec), "D": TrackCritic(self, spec)}
