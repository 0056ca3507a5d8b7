"""TadGAN networks (Geiger et al. 2020, "TadGAN: Time Series Anomaly Detection Using Generative Adversarial
Networks", §III-B, Fig. 2), with the layer sizes of Orion's reference implementation (``orion.primitives.tadgan``):

    E  : x [N, W, 1] → bidirectional LSTM(100) → flatten → Dense(z_dim)                          → z [N, z_dim]
    G  : z [N, z_dim] → Dense(W/2) → [N, W/2, 1] → BiLSTM(64) → upsample ×2 → BiLSTM(64)
         → per-step Dense(1) → tanh                                                              → x [N, W, 1]
    Cx : x [N, W, 1] → 4 × (Conv1d(64, k=5, valid) → LeakyReLU(0.2) → Dropout(0.25)) → Dense(1)   → [N, 1]
    Cz : z [N, z_dim] → 2 × (Dense(100) → LeakyReLU(0.2) → Dropout(0.2)) → Dense(1)                → [N, 1]

W = 100 and z_dim = 20 in the paper. Cz's hidden width is Orion's ``dense_units`` = 20 since Orion 0.2 (2021-10;
100 before). Orion's generator LSTMs also use recurrent dropout 0.2, which PyTorch's fused LSTM does not have: here
``g_dropout`` drops the LSTM inputs only (noted in docs/tadgan.md).

Initialisation (``init="keras"``, the default): Orion builds the networks with Keras' layer defaults, which differ
from PyTorch's — Dense/Conv1D kernels glorot-uniform U(±sqrt(6 / (fan_in + fan_out))) with zero biases (torch:
kaiming-uniform with a = sqrt(5) and a fan-in bias), LSTM input kernels glorot-uniform, recurrent kernels orthogonal,
biases zero except the forget gate's 1 (``unit_forget_bias=True``; Jozefowicz et al. 2015 §2.2). ``init="torch"`` keeps
PyTorch's defaults.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from ganforge.data.base import DataSpec
from ganforge.models.base import Discriminator, Generator, ModelFamily
from ganforge.registry import MODELS


class TadGANEncoder(nn.Module):
    """E: x ``[N, W, 1]`` → z ``[N, z_dim]`` (Orion: BiLSTM(100, return_sequences) → Flatten → Dense(20))."""

    def __init__(self, window: int, z_dim: int, hidden: int) -> None:
        super().__init__()
        self.z_dim = z_dim
        self.lstm = nn.LSTM(1, hidden, batch_first=True, bidirectional=True)
        self.out = nn.Linear(window * 2 * hidden, z_dim)

    def forward(self, x: Tensor) -> Tensor:
        h, _ = self.lstm(x)  # [N, W, 2·hidden]
        return self.out(h.flatten(1))


class TadGANGenerator(Generator):
    """G: z ``[N, z_dim]`` → x ``[N, W, 1]`` in (−1, 1) (Orion: Dense(50) → BiLSTM(64) → UpSampling1D(2) →
    BiLSTM(64) → TimeDistributed(Dense(1)) → tanh)."""

    output_range = (-1.0, 1.0)

    def __init__(self, window: int, z_dim: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.z_dim, self.window, self.half = z_dim, window, math.ceil(window / 2)
        self.dense = nn.Linear(z_dim, self.half)
        self.lstm1 = nn.LSTM(1, hidden, batch_first=True, bidirectional=True)
        self.lstm2 = nn.LSTM(2 * hidden, hidden, batch_first=True, bidirectional=True)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(2 * hidden, 1)

    def forward(self, z: Tensor) -> Tensor:
        h = self.dense(z).unsqueeze(-1)  # [N, W/2, 1]
        h, _ = self.lstm1(self.drop(h))  # [N, W/2, 2·hidden]
        h = h.repeat_interleave(2, dim=1)[:, : self.window]  # UpSampling1D(2): each step twice → [N, W, 2·hidden]
        h, _ = self.lstm2(self.drop(h))
        return torch.tanh(self.out(h))  # [N, W, 1]


class CriticX(Discriminator):
    """Cx: x ``[N, W, 1]`` → score ``[N, 1]`` (four valid 1-D convolutions of width 5, then Dense(1))."""

    def __init__(self, window: int, channels: int, layers: int, dropout: float) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        c_in, length = 1, window
        for _ in range(layers):
            blocks += [nn.Conv1d(c_in, channels, 5), nn.LeakyReLU(0.2), nn.Dropout(dropout)]
            c_in, length = channels, length - 4
        if length < 1:
            raise ValueError(f"cx_layers={layers} valid convolutions of width 5 need windows longer than {4 * layers}")
        self.body = nn.Sequential(*blocks)
        self.out = nn.Linear(channels * length, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.out(self.body(x.transpose(1, 2)).flatten(1))  # [N, 1, W] → [N, C, W − 4·layers] → [N, 1]


class CriticZ(Discriminator):
    """Cz: z ``[N, z_dim]`` → score ``[N, 1]``."""

    def __init__(self, z_dim: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(z_dim, hidden), nn.LeakyReLU(0.2), nn.Dropout(dropout),
                                  nn.Linear(hidden, hidden), nn.LeakyReLU(0.2), nn.Dropout(dropout),
                                  nn.Linear(hidden, 1))

    def forward(self, z: Tensor) -> Tensor:
        return self.body(z)


INITS = ("keras", "torch")


def keras_init(module: nn.Module) -> None:
    """Keras' default initialisers on every Linear, Conv1d and LSTM inside ``module`` (in place).

    Linear ``[out, in]`` and Conv1d ``[out, in, k]``: xavier_uniform_ computes fan_in = in·k, fan_out = out·k, as
    Keras' glorot_uniform does on its ``[k, in, out]`` kernel. LSTM: ``weight_ih [4H, in]`` glorot-uniform (Keras'
    kernel ``[in, 4H]``, same fans), ``weight_hh [4H, H]`` orthogonal (Keras' ``[H, 4H]`` recurrent kernel transposed:
    orthonormal columns here = orthonormal rows there), gate order i, f, g, o in both, so the forget gate is rows
    H..2H; PyTorch has two biases b_ih + b_hh: b_ih[H:2H] = 1, everything else 0 (their sum = Keras' one bias).
    """
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv1d)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LSTM):
            h = m.hidden_size
            for name, p in m.named_parameters():
                if name.startswith("weight_ih"):
                    nn.init.xavier_uniform_(p)
                elif name.startswith("weight_hh"):
                    nn.init.orthogonal_(p)
                elif name.startswith("bias"):
                    nn.init.zeros_(p)
                    if name.startswith("bias_ih"):
                        with torch.no_grad():
                            p[h : 2 * h] = 1.0


@MODELS.register("tadgan")
@dataclass
class TadGANConfig(ModelFamily):
    """Options of the TadGAN family (``model.options``; defaults = Orion's). Networks: E, G, Cx, Cz.

    ``comb`` / ``lambda_rec`` / ``rec_error_type``: how detection (``ganforge detect`` / ``eval``) scores this run's
    series (``metrics.anomaly.score_anomalies``); defaults = Orion's UCR pipeline (``tadgan_ucr.json``: dtw, sum, 0.5).
    """

    networks: ClassVar[tuple[str, ...]] = ("E", "G", "Cx", "Cz")
    sampling_networks: ClassVar[tuple[str, ...]] = ("G", "E", "Cx")  # detection reconstructs G(E(x)) and reads Cx

    z_dim: int = 20
    e_hidden: int = 100
    g_hidden: int = 64
    g_dropout: float = 0.2
    cx_channels: int = 64
    cx_layers: int = 4
    cx_dropout: float = 0.25
    cz_hidden: int = 20
    cz_dropout: float = 0.2
    init: str = "keras"
    rec_error_type: str = "dtw"
    comb: str = "sum"
    lambda_rec: float = 0.5

    def __post_init__(self) -> None:
        for name in ("z_dim", "e_hidden", "g_hidden", "cx_channels", "cx_layers", "cz_hidden"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("g_dropout", "cx_dropout", "cz_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if self.init not in INITS:
            raise ValueError(f"unknown init {self.init!r}; choose from: {', '.join(INITS)}")
        from ganforge.metrics.anomaly import COMBINATIONS, REC_ERROR_TYPES

        if self.comb not in COMBINATIONS:
            raise ValueError(f"unknown comb {self.comb!r}; choose from: {', '.join(COMBINATIONS)}")
        if self.rec_error_type not in REC_ERROR_TYPES:
            raise ValueError(f"unknown rec_error_type {self.rec_error_type!r}; choose from: "
                             f"{', '.join(REC_ERROR_TYPES)}")
        if not 0.0 <= self.lambda_rec <= 1.0:
            raise ValueError(f"lambda_rec must be in [0, 1], got {self.lambda_rec}")

    def detection_defaults(self) -> dict[str, object]:
        return {"rec_error_type": self.rec_error_type, "comb": self.comb, "lambda_rec": self.lambda_rec}

    def build(self, spec: DataSpec) -> dict[str, nn.Module]:
        if len(spec.shape) != 2 or spec.shape[1] != 1:
            raise ValueError(f"tadgan models univariate windows [W, 1]; this data has samples of shape "
                             f"{list(spec.shape)}: use a series dataset (ucr135, yahoo, mitdb, series-csv)")
        w = spec.shape[0]
        nets: dict[str, nn.Module] = {"E": TadGANEncoder(w, self.z_dim, self.e_hidden),
                                      "G": TadGANGenerator(w, self.z_dim, self.g_hidden, self.g_dropout),
                                      "Cx": CriticX(w, self.cx_channels, self.cx_layers, self.cx_dropout),
                                      "Cz": CriticZ(self.z_dim, self.cz_hidden, self.cz_dropout)}
        if self.init == "keras":
            for net in nets.values():
                keras_init(net)
        return nets


@torch.no_grad()
def reconstruct(nets: dict[str, nn.Module], windows: Tensor, batch: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """(G(E(x)) ``[N, W]``, Cx(x) ``[N]``) for windows ``[N, W, 1]``, networks in eval mode (no dropout), in chunks
    (Orion's ``TadGAN.predict``: ``y_hat = G(E(X))``, ``critic = Cx(X)``)."""
    E, G, Cx = nets["E"], nets["G"], nets["Cx"]
    modes = [m.training for m in (E, G, Cx)]
    for m in (E, G, Cx):
        m.eval()
    device = next(G.parameters()).device
    try:
        y_hat, critic = [], []
        for i in range(0, len(windows), batch):
            x = windows[i : i + batch].to(device)
            y_hat.append(G(E(x))[..., 0].double().cpu())
            critic.append(Cx(x)[:, 0].double().cpu())
    finally:
        for m, mode in zip((E, G, Cx), modes, strict=True):
            m.train(mode)
    return torch.cat(y_hat).numpy(), torch.cat(critic).numpy()
