"""The self-attention block of SAGAN (Zhang et al. 2019, "Self-Attention Generative Adversarial Networks", §3).

For a feature map ``x [N, C, H, W]`` with ``P = H·W`` positions, three 1×1 convolutions give (paper eq. 1–3, with
C̄ = C / 8 as the paper chooses):

    f(x) = W_f x  [N, C̄, P]   (keys)         g(x) = W_g x  [N, C̄, P]   (queries)
    h(x) = W_h x  [N, C_v, P] (values)       v(·) = W_v ·  [N, C, P]   (back to C channels)

    s_ij = f(x_i)ᵀ g(x_j),    β_{j,i} = exp(s_ij) / Σ_i exp(s_ij)                                        (eq. 1)
    o_j  = v( Σ_i β_{j,i} h(x_i) )                                                                      (eq. 2)
    y_j  = γ · o_j + x_j,     γ a learned scalar initialised to 0                                        (eq. 3)

so a freshly built block is the identity and the network first relies on local (convolutional) cues, then learns to
weigh in distant positions. ``β`` is the attention map: row ``j`` (a query pixel) is a distribution over all input
positions ``i`` (it sums to 1). ``record_attention = True`` keeps the last ``β`` so ``query_maps`` can return it for
chosen query pixels (the paper's Figure 1 / 5).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class SelfAttention(nn.Module):
    """SAGAN self-attention ``[N, C, H, W] -> [N, C, H, W]`` with learned residual weight ``gamma`` (starts at 0).

    ``key_ratio`` k gives C̄ = max(1, C // k) channels for f and g (the paper's k = 8); ``value_ratio`` gives the
    channels of h (the paper's eq. 2 uses C̄ too, i.e. 8; the released TensorFlow code uses C / 2).
    ``pool``: keys f(x) and values h(x) are 2×2 max-pooled, so every query attends to P/4 pooled positions
    (BigGAN-PyTorch ``layers.Attention``: ``phi = max_pool2d(phi(x), 2)``, ``g = max_pool2d(g(x), 2)``; the
    brain-research SAGAN code does the same): β is ``[N, P, P/4]`` and costs a quarter.
    """

    def __init__(self, channels: int, key_ratio: int = 8, value_ratio: int = 8, pool: bool = False) -> None:
        super().__init__()
        if channels < 1 or key_ratio < 1 or value_ratio < 1:
            raise ValueError(f"self-attention needs channels, key_ratio, value_ratio >= 1, got {channels}, "
                             f"{key_ratio}, {value_ratio}")
        self.channels = channels
        c_key, c_value = max(1, channels // key_ratio), max(1, channels // value_ratio)
        self.key = nn.Conv2d(channels, c_key, 1, bias=False)  # W_f
        self.query = nn.Conv2d(channels, c_key, 1, bias=False)  # W_g
        self.value = nn.Conv2d(channels, c_value, 1, bias=False)  # W_h
        self.out = nn.Conv2d(c_value, channels, 1, bias=False)  # W_v
        self.gamma = nn.Parameter(torch.zeros(()))  # γ = 0 at initialisation (§3)
        self.pool = pool
        self.record_attention = False
        self.last_attention: Tensor | None = None  # β [N, P, P] of the last forward when record_attention
        self.last_size: tuple[int, int] = (0, 0)  # (H, W) of the keys' grid in that forward
        self.last_query_size: tuple[int, int] = (0, 0)  # (H, W) of the queries' (the input's) grid

    def _pooled(self, t: Tensor) -> Tensor:
        return F.max_pool2d(t, 2) if self.pool else t  # [N, c, H/2, W/2] with pool

    def attention(self, x: Tensor) -> Tensor:
        """β ``[N, P, P_k]``: row j = softmax over key positions i of f(x_i)ᵀ g(x_j) (eq. 1); rows sum to 1.
        P_k = P, or (H/2)·(W/2) with ``pool``."""
        k = self._pooled(self.key(x)).flatten(2)  # f(x) [N, C̄, P_k]
        q = self.query(x).flatten(2)  # g(x) [N, C̄, P]
        scores = torch.bmm(q.transpose(1, 2), k)  # s[n, j, i] = g(x_j)ᵀ f(x_i)  [N, P, P_k]
        return scores.softmax(dim=-1)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 4 or x.shape[1] != self.channels:
            raise ValueError(f"self-attention expects [N, {self.channels}, H, W] feature maps, got {tuple(x.shape)}")
        N, _, H, W = x.shape
        beta = self.attention(x)  # [N, P, P_k]
        if self.record_attention:
            self.last_attention, self.last_size = beta.detach(), ((H // 2, W // 2) if self.pool else (H, W))
            self.last_query_size = (H, W)
        h = self._pooled(self.value(x)).flatten(2)  # h(x) [N, C_v, P_k]
        o = torch.bmm(h, beta.transpose(1, 2))  # o[n, :, j] = Σ_i β[n, j, i] h(x_i)  [N, C_v, P]
        o = self.out(o.view(N, -1, H, W))  # v(·) [N, C, H, W]
        return self.gamma * o + x  # eq. 3

    def query_maps(self, queries: list[tuple[int, int]]) -> Tensor:
        """Attention maps ``[N, Q, H_k, W_k]`` of the last recorded forward for query pixels ``(row, col)`` on the
        block's ``H×W`` grid: where each query pixel looks (row j of β, reshaped to the keys' grid ``last_size``:
        ``H×W``, or the pooled ``H/2×W/2`` with ``pool``)."""
        if self.last_attention is None:
            raise ValueError("no attention recorded: set record_attention = True and run a forward pass first")
        H, W = self.last_query_size
        for r, c in queries:
            if not (0 <= r < H and 0 <= c < W):
                raise ValueError(f"query pixel ({r}, {c}) is outside the {H}×{W} attention grid")
        idx = torch.tensor([r * W + c for r, c in queries], device=self.last_attention.device)
        return self.last_attention[:, idx, :].reshape(-1, len(queries), *self.last_size)

    def extra_repr(self) -> str:
        return f"channels={self.channels}" + (", pool=True" if self.pool else "")


def attention_blocks(net: nn.Module) -> list[SelfAttention]:
    """The self-attention blocks of ``net`` in module order."""
    return [m for m in net.modules() if isinstance(m, SelfAttention)]
