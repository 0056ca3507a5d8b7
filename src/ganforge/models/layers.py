"""Small building blocks shared by the model families: spectral norm, minibatch std-dev, PacGAN packing, maxout, label
embeddings, the projection head, the conditional output of a discriminator (``ConditionalHead``), the 2-way-softmax
logit, and Keras/TensorFlow-exact 'same' padding.

Every block works on images ``[N, C, H, W]`` and, where it makes sense, on vectors ``[N, F]``. Nothing here knows
about losses or training.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

SN_TYPES = (nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)
SAME_PADDINGS = ("torch", "tf")


def apply_spectral_norm(root: nn.Module) -> None:
    """Wrap every conv / linear / embedding layer under ``root`` in spectral norm, in place."""
    for m in list(root.modules()):
        if isinstance(m, SN_TYPES) and not has_spectral_norm(m):
            spectral_norm(m)


def has_spectral_norm(module: nn.Module) -> bool:
    """True if ``module.weight`` is spectrally normalised by a parametrization."""
    params = getattr(module, "parametrizations", None)
    return params is not None and "weight" in params and any("SpectralNorm" in type(p).__name__ for p in params.weight)


class MinibatchStdDev(nn.Module):
    """Appends the mean over features of the per-group standard deviation as one extra channel / feature.

    Karras et al. 2018 (ProGAN), sec. 3, as written in StyleGAN2's code: the batch is split into groups of
    ``group_size`` samples (sample ``i`` is in group ``i mod N/G``); within each group the std-dev of every feature is
    taken across the group, averaged over all features, and that scalar is broadcast as a new channel
    (``[N, C, H, W] -> [N, C+1, H, W]``) or feature (``[N, F] -> [N, F+1]``). D can then see a lack of variety.
    """

    def __init__(self, group_size: int = 4, eps: float = 1e-8) -> None:
        super().__init__()
        if group_size < 1:
            raise ValueError(f"minibatch std group_size must be >= 1, got {group_size}")
        self.group_size, self.eps = group_size, eps

    def forward(self, x: Tensor) -> Tensor:
        n = x.shape[0]
        g = min(self.group_size, n)  # a smaller batch (e.g. sampling) uses one group
        if n % g:
            raise ValueError(f"minibatch std: batch size {n} is not divisible by group_size {g}")
        y = x.reshape(g, n // g, *x.shape[1:])  # [G, M, ...]
        y = (y.var(dim=0, unbiased=False) + self.eps).sqrt()  # [M, ...] std over each group
        y = y.flatten(1).mean(1)  # [M] average over features
        y = y.repeat(g)  # [N]: sample i gets group i mod M
        y = y.reshape(n, 1, *([1] * (x.dim() - 2))).expand(n, 1, *x.shape[2:])
        return torch.cat([x, y.to(x.dtype)], dim=1)

    def extra_repr(self) -> str:
        return f"group_size={self.group_size}"


def pack(x: Tensor, m: int) -> Tensor:
    """PacGAN packing (Lin et al. 2018): ``m`` consecutive samples become one, concatenated along dim 1.

    ``[N, C, H, W] -> [N/m, m·C, H, W]`` and ``[N, F] -> [N/m, m·F]``; sample ``j·m + i`` fills block ``i`` of packed
    sample ``j``. ``N`` must be divisible by ``m``.
    """
    if m == 1:
        return x
    n = x.shape[0]
    if m < 1 or n % m:
        raise ValueError(
            f"PacGAN pack={m}: batch size {n} is not divisible by {m}; use a batch size that is a multiple of pack"
        )
    return x.reshape(n // m, m * x.shape[1], *x.shape[2:])


class Maxout(nn.Module):
    """Maxout units (Goodfellow et al. 2013): ``[N, F·k, ...] -> [N, F, ...]``, the max over ``k`` pieces per unit.

    Unit ``j`` takes the maximum of the consecutive features ``j·k … j·k + k − 1`` of dim 1 (the layout of Blocks'
    ``LinearMaxout``, which PacGAN's and ALI's 2-D discriminators use: ``Linear(in, F·k)`` then this).
    """

    def __init__(self, pieces: int) -> None:
        super().__init__()
        if pieces < 1:
            raise ValueError(f"maxout needs pieces >= 1, got {pieces}")
        self.pieces = pieces

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[1] % self.pieces:
            raise ValueError(f"maxout: {x.shape[1]} features are not divisible by {self.pieces} pieces")
        return x.unflatten(1, (x.shape[1] // self.pieces, self.pieces)).amax(2)

    def extra_repr(self) -> str:
        return f"pieces={self.pieces}"


class LabelEmbedding(nn.Module):
    """Class labels ``c [N]`` (int64) -> vectors ``[N, dim]``: one-hot (``dim = num_classes``) or a learned table.

    ``maps(c, (H, W))`` broadcasts the vectors to label maps ``[N, dim, H, W]`` for concatenation with images.
    """

    def __init__(self, num_classes: int, mode: str = "onehot", dim: int | None = None) -> None:
        super().__init__()
        if num_classes < 1:
            raise ValueError(f"label embedding needs num_classes >= 1, got {num_classes}")
        if mode == "onehot":
            self.dim = num_classes
            self.table = None
        elif mode == "learned":
            if dim is None or dim < 1:
                raise ValueError(f"a learned label embedding needs dim >= 1, got {dim}")
            self.dim = dim
            self.table = nn.Embedding(num_classes, dim)
        else:
            raise ValueError(f"unknown label embedding {mode!r}; choose from: onehot, learned")
        self.num_classes, self.mode = num_classes, mode

    def forward(self, c: Tensor, dtype: torch.dtype = torch.float32) -> Tensor:
        if c is None:
            raise ValueError("this model is conditional: pass class labels c [N] (int64)")
        if self.table is None:
            return F.one_hot(c.long(), self.num_classes).to(dtype)
        return self.table(c.long()).to(dtype)

    def maps(self, c: Tensor, size: tuple[int, ...], dtype: torch.dtype = torch.float32) -> Tensor:
        """``[N, dim, *size]``: every spatial position carries the label vector."""
        e = self.forward(c, dtype)
        return e.reshape(*e.shape, *([1] * len(size))).expand(*e.shape, *size)

    def extra_repr(self) -> str:
        return f"num_classes={self.num_classes}, mode={self.mode}, dim={self.dim}"


class ProjectionHead(nn.Module):
    """Projection discriminator output (Miyato & Koyama 2018, eq. 3): ``logit = ψ(h) + ⟨embed(y), h⟩``.

    ``h [N, F]`` are D's pooled features; ``ψ`` is the unconditional head (``Linear(F, 1)`` unless given).
    """

    def __init__(self, features: int, num_classes: int, psi: nn.Module | None = None) -> None:
        super().__init__()
        self.psi = psi if psi is not None else nn.Linear(features, 1)
        self.embed = nn.Embedding(num_classes, features)

    def forward(self, h: Tensor, c: Tensor) -> Tensor:
        if c is None:
            raise ValueError("projection discriminator: pass class labels c [N] (int64)")
        return self.psi(h) + (self.embed(c.long()) * h).sum(dim=1, keepdim=True)  # [N, 1]


class ConditionalHead:
    """Mixin for discriminators: the part of D applied to its final features ``h [N, F]``, for every conditioning.

    One implementation for all model families (``class MLPDiscriminator(ConditionalHead, Discriminator)``); what a
    family does at its *input* (concat's label embedding: a vector for the MLP, label maps for the DCGAN) stays its
    own. ``init_head`` registers, in this order (the order parameters are created in, i.e. the RNG draws of init):

    * ``self.<attr>``: ``psi``, the family's unconditional head (``Linear(F, 1)``, ``TwoClassLogit``), or for
      "projection" a ``ProjectionHead`` around it, ``ψ(h) + ⟨V_c, h⟩`` (Miyato & Koyama 2018, eq. 3);
    * ``self.classifier``: ``Linear(F, K)`` for "acgan" (Odena et al. 2017), else None;

    and sets ``conditioning``, ``c_dim`` (the labels D takes: K for concat and projection, 0 otherwise: acgan
    predicts labels) and ``aux_classes`` (K class-logit columns after the adversarial one for acgan, else 0).
    ``head_output(h, c)`` returns ``[N, 1]`` logits (``[N, 1 + K]`` for acgan). The modules are attributes of the
    discriminator itself, so state-dict keys are the family's own (``out.*`` / ``head.*``, ``classifier.*``) and
    checkpoints written before this class existed still load.
    """

    conditioning: str
    classifier: nn.Module | None

    def init_head(self, attr: str, psi: nn.Module, features: int, num_classes: int, conditioning: str) -> None:
        if conditioning not in ("none", "concat", "projection", "acgan"):
            raise ValueError(f"unknown conditioning {conditioning!r}; choose from: none, concat, projection, acgan")
        self.conditioning = conditioning
        self.c_dim = num_classes if conditioning in ("concat", "projection") else 0
        self.aux_classes = num_classes if conditioning == "acgan" else 0
        self._head_attr = attr
        setattr(self, attr, ProjectionHead(features, num_classes, psi=psi) if conditioning == "projection" else psi)
        self.classifier = nn.Linear(features, num_classes) if conditioning == "acgan" else None

    def head_output(self, h: Tensor, c: Tensor | None = None) -> Tensor:
        head = getattr(self, self._head_attr)
        if self.conditioning == "projection":
            return head(h, c)  # ψ(h) + ⟨V_c, h⟩  [N, 1]
        logits = head(h)  # [N, 1]
        if self.classifier is not None:
            logits = torch.cat([logits, self.classifier(h)], dim=1)  # [N, 1 + K]
        return logits


class TwoClassLogit(nn.Module):
    """A ``Linear(F, 2)`` read as a 2-way softmax over (fake, real), returned as one logit ``[N, 1]``.

    softmax([a, b])[1] = e^b / (e^a + e^b) = σ(b − a), so ``logit = out[:, 1] − out[:, 0]`` gives exactly the
    probability of the 2-neuron softmax layer, and categorical cross-entropy on it equals binary cross-entropy on
    this logit. Both weight rows are kept, so the parameter count is the lecture's ``2·F + 2``.
    """

    def __init__(self, features: int, bias: bool = True) -> None:
        super().__init__()
        self.linear = nn.Linear(features, 2, bias=bias)

    def forward(self, h: Tensor) -> Tensor:
        out = self.linear(h)  # [N, 2]: class 0 = fake, class 1 = real (the SciNet lecture's to_categorical order)
        return out[:, 1:2] - out[:, 0:1]


# --- 'same' padding -----------------------------------------------------------------------------------------------
# TensorFlow/Keras 'same' (tf.nn.convolution docs): out = ceil(n / s), pad_total = max((out − 1)·s + k − n, 0),
# pad_before = pad_total // 2, pad_after = pad_total − pad_before: the odd pixel goes to the bottom/right.
# PyTorch's symmetric `padding=p` with p = ceil(pad_total / 2) gives the same *size* for stride > 1 but, when
# pad_total is odd, an effective (pad_total − pad_before, pad_before) split: the odd pixel at the top/left, so every
# window sits one pixel up/left of TensorFlow's. Conv2DTranspose 'same' is the adjoint of that convolution
# (output n·s, crop pad_before at the start and pad_after at the end of the full (n − 1)·s + k output), so the same
# one-pixel shift appears there: PyTorch's padding=2, output_padding=1 (k=5, s=2) crops (2, 1), TensorFlow (1, 2).


def _split_same(total: int, mode: str) -> tuple[int, int]:
    """Split ``total`` padding/crop pixels into (before, after): TF puts the odd pixel after, PyTorch before."""
    small, big = total // 2, total - total // 2
    if mode == "tf":
        return small, big
    if mode == "torch":
        return big, small
    raise ValueError(f"unknown same_padding {mode!r}; choose from: {', '.join(SAME_PADDINGS)}")


def same_pads(n: int, k: int, s: int, mode: str) -> tuple[int, int]:
    """(before, after) zero padding for a 'same' convolution of size ``n``, kernel ``k``, stride ``s``."""
    out = -(-n // s)
    total = max((out - 1) * s + k - n, 0)
    return _split_same(total, mode)


def same_transpose_crops(k: int, s: int, mode: str) -> tuple[int, int]:
    """(start, end) crop of a full transposed convolution so that its output is exactly ``n·s`` ('same')."""
    if k < s:
        raise ValueError(f"'same' transposed convolution needs kernel >= stride, got kernel {k}, stride {s}")
    total = k - s
    return _split_same(total, mode)


class Crop2d(nn.Module):
    """Removes ``(left, right, top, bottom)`` pixels: the inverse of ``nn.ZeroPad2d`` with the same argument."""

    def __init__(self, crop: tuple[int, int, int, int]) -> None:
        super().__init__()
        self.crop = tuple(crop)

    def forward(self, x: Tensor) -> Tensor:
        left, right, top, bottom = self.crop
        return x[..., top : x.shape[-2] - bottom, left : x.shape[-1] - right]

    def extra_repr(self) -> str:
        return f"crop={self.crop}"


def same_conv2d(
    in_ch: int, out_ch: int, kernel: int, stride: int, size: tuple[int, int], bias: bool, mode: str
) -> list[nn.Module]:
    """Conv2d with 'same' padding for an input of spatial ``size`` (H, W); output size ``ceil(H/s) × ceil(W/s)``.

    Returns ``[Conv2d]`` when PyTorch's own symmetric padding realises the split, else ``[ZeroPad2d, Conv2d]``.
    """
    (t, b), (le, r) = (same_pads(n, kernel, stride, mode) for n in size)
    if t == b and le == r:
        return [nn.Conv2d(in_ch, out_ch, kernel, stride, padding=(t, le), bias=bias)]
    if mode == "torch" and stride > 1 and t - b in (0, 1) and le - r in (0, 1):
        # symmetric padding=(t, le): the extra bottom/right row is never reached by a window, i.e. pads (t, b)
        return [nn.Conv2d(in_ch, out_ch, kernel, stride, padding=(t, le), bias=bias)]
    return [nn.ZeroPad2d((le, r, t, b)), nn.Conv2d(in_ch, out_ch, kernel, stride, padding=0, bias=bias)]


def same_conv_transpose2d(in_ch: int, out_ch: int, kernel: int, stride: int, bias: bool, mode: str) -> list[nn.Module]:
    """ConvTranspose2d with 'same' padding: ``[N, in, H, W] -> [N, out, s·H, s·W]`` for any H, W.

    Returns ``[ConvTranspose2d]`` (padding / output_padding) when that realises the crop, else adds a ``Crop2d``.
    """
    start, end = same_transpose_crops(kernel, stride, mode)
    if start == end:
        return [nn.ConvTranspose2d(in_ch, out_ch, kernel, stride, padding=start, bias=bias)]
    if start == end + 1 and stride > 1:  # output_padding gives back one pixel at the end (must be < stride)
        return [nn.ConvTranspose2d(in_ch, out_ch, kernel, stride, padding=start, output_padding=1, bias=bias)]
    p = min(start, end)
    return [
        nn.ConvTranspose2d(in_ch, out_ch, kernel, stride, padding=p, bias=bias),
        Crop2d((start - p, end - p, start - p, end - p)),
    ]
