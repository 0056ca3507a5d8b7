"""CTGAN (Xu et al. 2019, "Modeling Tabular Data using Conditional GAN", §4.4 and App.; ``ctgan`` package networks).

Generator (residual FC with batch norm):
    h0 = z ⊕ cond                                  z ~ N(0, I) [N, 128], cond [N, C] (the conditional vector)
    h1 = h0 ⊕ ReLU(BN(FC_{|h0|→256}(h0)))           residual blocks concatenate their input
    h2 = h1 ⊕ ReLU(BN(FC_{|h1|→256}(h1)))
    raw = FC_{|h2|→D}(h2)                           [N, D] logits of the encoded row
    α̂_i = tanh(raw_α),  β̂_i = gumbel_0.2(raw_β),  d̂_i = gumbel_0.2(raw_d)   (``activate``)
Critic with PacGAN packing (Lin et al. 2018), pac = 10 rows concatenated into one input:
    h0 = (r_1 ⊕ cond_1) ⊕ … ⊕ (r_10 ⊕ cond_10)     [N/10, 10·(D + C)]
    h1 = drop_0.5(leaky_0.2(FC(h0))),  h2 = drop_0.5(leaky_0.2(FC(h1))),  score = FC(h2)   [N/10, 1]

The encoded layout (``data.table_transform``) comes from the data spec: ``fields["modes"]`` (modes of each continuous
column: blocks ``[α | β]``) then ``fields["categories"]`` (each discrete column's one-hot block).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn

from ganforge.data.base import DataSpec
from ganforge.models.base import Discriminator, Generator, ModelFamily
from ganforge.registry import MODELS


@dataclass(frozen=True)
class TableLayout:
    """Where each column's block sits in an encoded row: continuous ``[α | β]`` blocks, then discrete one-hots."""

    modes: tuple[int, ...]  # modes per continuous column
    categories: tuple[int, ...]  # categories per discrete column

    @classmethod
    def from_spec(cls, spec: DataSpec) -> TableLayout:
        if not {"modes", "categories", "cond"} <= set(spec.fields):
            raise ValueError("the ctgan model needs a table dataset (data.name=table, nasscds, health-insurance, "
                             "cps1988 or prism); this data has no encoded table layout")
        layout = cls(tuple(spec.fields["modes"]), tuple(spec.fields["categories"]))
        if layout.dim != spec.shape[0]:
            raise ValueError(f"table layout gives {layout.dim} encoded values but the data has {spec.shape[0]}")
        return layout

    @property
    def dim(self) -> int:
        return sum(1 + k for k in self.modes) + sum(self.categories)

    @property
    def cond_dim(self) -> int:
        return sum(self.categories)

    def tanh_index(self) -> list[int]:
        """Positions of the α scalars."""
        out, st = [], 0
        for k in self.modes:
            out.append(st)
            st += 1 + k
        return out

    def softmax_spans(self) -> list[tuple[int, int]]:
        """(start, end) of every softmax block: the modes β of each continuous column, then each discrete column."""
        out, st = [], 0
        for k in self.modes:
            out.append((st + 1, st + 1 + k))
            st += 1 + k
        for c in self.categories:
            out.append((st, st + c))
            st += c
        return out

    def discrete_spans(self) -> list[tuple[int, int]]:
        """(start, end) of each discrete column's block (the conditional loss compares these to cond)."""
        return self.softmax_spans()[len(self.modes):]


def gumbel_softmax(logits: Tensor, uniform: Tensor, tau: float) -> Tensor:
    """softmax((l + g) / τ) with Gumbel noise g = −log(−log u), u ~ U(0, 1) given (Jang et al. 2017; ctgan uses
    ``F.gumbel_softmax(tau=0.2, hard=False, eps=1e-10)``). ``logits``/``uniform`` ``[N, k]``."""
    tiny = torch.finfo(logits.dtype).tiny
    g = -torch.log(-torch.log(uniform.clamp(tiny, 1.0 - 1e-7)))
    return torch.softmax((logits + g) / tau, dim=-1)


class Residual(nn.Module):
    """ctgan's ``Residual``: ``[x, ReLU(BN(FC(x)))]`` (the block's output concatenated with its input)."""

    def __init__(self, i: int, o: int) -> None:
        super().__init__()
        self.fc, self.bn, self.relu = nn.Linear(i, o), nn.BatchNorm1d(o), nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([self.relu(self.bn(self.fc(x))), x], dim=1)


class CTGANGenerator(Generator):
    """``raw(z, cond) -> [N, D]`` logits; ``activate(raw, u)`` → the encoded row D sees; ``forward(z, cond, u)``
    both. ``c_dim`` stays 0: the conditional vector is not a class id, it is drawn by the table's own sampler."""

    def __init__(self, z_dim: int, layout: TableLayout, hidden: tuple[int, ...], tau: float) -> None:
        super().__init__()
        self.z_dim, self.layout, self.tau = z_dim, layout, tau
        dim, blocks = z_dim + layout.cond_dim, []
        for width in hidden:
            blocks.append(Residual(dim, width))
            dim += width
        self.body = nn.Sequential(*blocks, nn.Linear(dim, layout.dim))

    def raw(self, z: Tensor, cond: Tensor | None) -> Tensor:
        """``z [N, z_dim]``, ``cond [N, C]`` → logits ``[N, D]``."""
        if cond is None:
            if self.layout.cond_dim:
                raise ValueError("the CTGAN generator needs its conditional vector; sample it with `ganforge sample`, "
                                 "which draws the vector from the training frequencies")
            cond = z.new_zeros(len(z), 0)
        return self.body(torch.cat([z, cond], dim=1))

    def activate(self, raw: Tensor, uniform: Tensor) -> Tensor:
        """tanh on α, Gumbel-softmax (τ) on every mode / category block; ``uniform [N, D]`` is the Gumbel noise."""
        parts, st = [], 0
        for k in self.layout.modes:  # [α | β] per continuous column
            parts += [torch.tanh(raw[:, st:st + 1]),
                      gumbel_softmax(raw[:, st + 1:st + 1 + k], uniform[:, st + 1:st + 1 + k], self.tau)]
            st += 1 + k
        for c in self.layout.categories:  # one-hot per discrete column
            parts.append(gumbel_softmax(raw[:, st:st + c], uniform[:, st:st + c], self.tau))
            st += c
        return torch.cat(parts, dim=1)

    def forward(self, z: Tensor, cond: Tensor | None = None, uniform: Tensor | None = None) -> Tensor:
        raw = self.raw(z, cond)
        return self.activate(raw, uniform if uniform is not None else torch.rand_like(raw))


class PacCritic(Discriminator):
    """ctgan's ``Discriminator``: ``pac`` rows (with their conditional vectors) packed into one input; LeakyReLU 0.2
    and dropout 0.5 after each hidden layer. ``forward(x [N, D + C]) -> [N / pac, 1]``."""

    def __init__(self, in_dim: int, hidden: tuple[int, ...], pac: int, dropout: float) -> None:
        super().__init__()
        self.pac, self.in_dim = pac, in_dim
        layers: list[nn.Module] = []
        dim = in_dim * pac
        for width in hidden:
            layers += [nn.Linear(dim, width), nn.LeakyReLU(0.2), nn.Dropout(dropout)]
            dim = width
        self.body = nn.Sequential(*layers, nn.Linear(dim, 1))

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[0] % self.pac:
            raise ValueError(f"the PacGAN critic packs {self.pac} rows per input but got a batch of {x.shape[0]}; "
                             f"make train.batch_size a multiple of model.options.pac={self.pac}")
        return self.body(x.reshape(-1, self.pac * self.in_dim))


@MODELS.register("ctgan")
@dataclass
class CTGANConfig(ModelFamily):
    """Options of CTGAN (``model.options``), defaults as the ``ctgan`` package: embedding 128, (256, 256) G and D,
    pac 10, Gumbel τ 0.2, critic dropout 0.5."""

    networks: ClassVar[tuple[str, ...]] = ("G", "D")

    z_dim: int = 128  # ctgan's embedding_dim
    g_hidden: tuple[int, ...] = (256, 256)
    d_hidden: tuple[int, ...] = (256, 256)
    pac: int = 10
    tau: float = 0.2
    d_dropout: float = 0.5

    def __post_init__(self) -> None:
        if self.z_dim < 1:
            raise ValueError(f"z_dim must be >= 1, got {self.z_dim}")
        for name in ("g_hidden", "d_hidden"):
            if not getattr(self, name) or min(getattr(self, name)) < 1:
                raise ValueError(f"{name} needs at least one layer of width >= 1, got {list(getattr(self, name))}")
        if self.pac < 1:
            raise ValueError(f"pac must be >= 1, got {self.pac}")
        if not self.tau > 0:
            raise ValueError(f"tau must be > 0, got {self.tau}")
        if not 0.0 <= self.d_dropout < 1.0:
            raise ValueError(f"d_dropout must be in [0, 1), got {self.d_dropout}")

    packing_option: ClassVar[str] = "pac"

    def packing(self) -> int:
        """The critic judges ``pac`` rows at once (PacGAN), so each process's batch must be a multiple of it (checked
        with the config: ``builder.check_batch``)."""
        return self.pac

    def build(self, spec: DataSpec) -> dict[str, nn.Module]:
        layout = TableLayout.from_spec(spec)
        return {"G": CTGANGenerator(self.z_dim, layout, tuple(self.g_hidden), self.tau),
                "D": PacCritic(layout.dim + layout.cond_dim, tuple(self.d_hidden), self.pac, self.d_dropout)}

    def generate(self, nets: dict[str, nn.Module], z: Tensor, labels: Tensor | None = None,
                 inputs: Tensor | None = None, truncation: float | None = None) -> Tensor:
        """Encoded rows from ``z`` and the conditional vector ``inputs [N, C]`` (``kinds.table.synthesize`` draws it
        from the training frequencies and decodes the rows into a table)."""
        if labels is not None:
            raise ValueError("CTGAN is conditioned on a table's conditional vector, not on class labels; drop them")
        return nets["G"](z, inputs)
