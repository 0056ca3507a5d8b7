"""pix2pix (Isola et al. 2017, "Image-to-Image Translation with Conditional Adversarial Networks"): a U-Net G: x → y
whose only noise is dropout, and a PatchGAN D on the (input, output) pair. Trained on paired data (data kind
"paired": field ``x_a`` = the input x, main field ``x`` = the target y) with ``objective.name=pix2pix`` (cGAN + λ·L1,
``losses/translation.py``).

Shapes: x ``[N, C_a, H, W]``, y ``[N, C_b, H, W]`` in [−1, 1]; D sees ``cat(x, y)`` ``[N, C_a + C_b, H, W]`` and
returns patch logits ``[N, 1, H', W']``. Paper networks: ngf = ndf = 64, U-Net depth 8 at 256², 70×70 PatchGAN
(d_layers 3), batch norm, weights N(0, 0.02). The presets scale these to 28–32 px images (see translation_blocks).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn

from ganforge.data.base import DataSpec, scale_images, to_uint8
from ganforge.models.base import Generator, ModelFamily, TranslateRequest, Translation, init_weights
from ganforge.models.translation_blocks import NORMS, PatchDiscriminator, UNetGenerator
from ganforge.registry import MODELS

RANGE = (-1.0, 1.0)  # every translation network works in [−1, 1] (tanh outputs)
PAIRED_FIELD, UNPAIRED_FIELD = "x_a", "x_a_unpaired"  # the domain-A field of paired / unpaired data (data/paired.py)
CHUNK = 256  # images per forward pass when translating


class Pix2PixGenerator(Generator):
    """The U-Net as a ganforge generator: ``forward(x_a) -> y`` ``[N, C_out, H, W]``; no z (z_dim 0).

    ``target(y)`` is the representation G predicts and the L1 term and D compare (the image itself here; ab
    channels for Lab colourisation), ``to_image(x_a, out)`` turns G's output back into an image of the data."""

    z_dim = 0
    output_range = RANGE
    image_hw: tuple[int, ...] = (0, 0)  # (H, W) of the data, set by the family's build

    def __init__(self, in_ch: int, out_ch: int, ngf: int, depth: int, norm: str, dropout: float,
                 attention: bool = False) -> None:
        super().__init__()
        self.in_ch, self.out_ch = in_ch, out_ch
        self.unet = UNetGenerator(in_ch, out_ch, ngf, depth, norm, dropout, attention)

    def forward(self, x_a: Tensor) -> Tensor:
        return self.unet(x_a)

    def target(self, y: Tensor) -> Tensor:
        return y

    def to_image(self, x_a: Tensor, out: Tensor) -> Tensor:
        return out


def paired_channels(spec: DataSpec, family: str) -> tuple[int, int]:
    """``(C_a, C_b)`` of paired data, or a one-line error for unpaired / non-translation data."""
    if UNPAIRED_FIELD in spec.fields:
        raise ValueError(f"{family} learns from pairs (input, target) but this dataset is unpaired (trainA/trainB); "
                         "use model.name=cyclegan, or a paired folder (A|B side by side) or npz pairs")
    if PAIRED_FIELD not in spec.fields or len(spec.shape) != 3:
        raise ValueError(f"{family} needs paired images (data kind 'paired': edges2mnist, colorize-photos, "
                         "paired-folder, paired-npz); this dataset has none")
    return spec.fields[PAIRED_FIELD][0], spec.shape[0]


def translate_chunks(G: nn.Module, x: Tensor, test_dropout: bool, seed: int) -> Tensor:
    """``G.to_image(x, G(x))`` over ``x`` (float in [−1, 1]) in chunks, in eval mode (BN running statistics); with
    ``test_dropout`` the dropout layers stay on and draw from ``seed`` (pix2pix's test-time noise), else off."""
    was = G.training
    G.eval()
    drops = [m for m in G.modules() if isinstance(m, nn.Dropout)]
    for m in drops:
        m.train(test_dropout)
    try:
        with torch.random.fork_rng(devices=[x.device] if x.device.type == "cuda" else []), torch.no_grad():
            torch.manual_seed(seed)
            return torch.cat([G.to_image(x[i:i + CHUNK], G(x[i:i + CHUNK])) for i in range(0, len(x), CHUNK)])
    finally:
        G.train(was)


def check_direction(request: TranslateRequest, family: str) -> None:
    if request.direction not in (None, "AB"):
        raise ValueError(f"{family} translates one way (A→B, as trained); drop --direction {request.direction} "
                         "(train with data.options.direction=BA for the other way)")
    if request.domain is not None or request.reference is not None:
        raise ValueError(f"{family} has two domains and no reference images; drop --domain / --reference")


@MODELS.register("pix2pix")
@dataclass
class Pix2PixConfig(ModelFamily):
    """Options of pix2pix (``model.options``). Networks: G (U-Net), D (PatchGAN on pairs)."""

    networks: ClassVar[tuple[str, ...]] = ("G", "D")
    sampling_networks: ClassVar[tuple[str, ...]] = ("G",)
    translates: ClassVar[bool] = True

    ngf: int = 64
    ndf: int = 64
    depth: int = 8  # U-Net stride-2 levels (8 at 256², 5 at 32²)
    d_layers: int = 3  # PatchGAN stride-2 layers: 3 = 70×70 receptive field, 1 = 16×16
    g_norm: str = "batch"
    d_norm: str = "batch"
    dropout: float = 0.5  # the noise of pix2pix (decoder levels 4 … depth − 2 as the reference: none at depth ≤ 5)
    test_dropout: bool = True  # the paper keeps dropout on at test time; False = deterministic translations
    init: str = "dcgan"  # N(0, 0.02) as the paper

    def __post_init__(self) -> None:
        for name in ("ngf", "ndf", "depth", "d_layers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("g_norm", "d_norm"):
            if getattr(self, name) not in NORMS:
                raise ValueError(f"unknown {name} {getattr(self, name)!r}; choose from: {', '.join(NORMS)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    def make_generator(self, c_a: int, c_b: int) -> Pix2PixGenerator:
        return Pix2PixGenerator(c_a, c_b, self.ngf, self.depth, self.g_norm, self.dropout)

    def build(self, spec: DataSpec) -> dict[str, nn.Module]:
        c_a, c_b = paired_channels(spec, type(self).__name__.removesuffix("Config"))
        G = self.make_generator(c_a, c_b)
        G.image_hw = tuple(spec.shape[1:])  # (H, W): what ``translate`` takes (load_run rebuilds from the spec)
        D = PatchDiscriminator(c_a + G.out_ch, self.ndf, self.d_layers, self.d_norm)  # D(x, y) on cat(x, y)
        init_weights(G, self.init)
        init_weights(D, self.init)
        return {"G": G, "D": D}

    # ---- sampling / translation contract -----------------------------------------------------------------------
    def generate(self, nets: dict[str, nn.Module], z: Tensor, labels: Tensor | None = None,
                 inputs: Tensor | None = None, truncation: float | None = None) -> Tensor:
        if inputs is None:
            raise ValueError(f"{type(self).__name__.removesuffix('Config')} translates input images and draws no z; "
                             "use `ganforge translate RUN --input PATH`")
        G = nets["G"]
        return G.to_image(inputs, G(inputs))

    def translation_input(self, nets: dict[str, nn.Module], request: TranslateRequest) -> tuple[int, ...]:
        check_direction(request, type(self).__name__.removesuffix("Config"))
        return (nets["G"].in_ch, *nets["G"].image_hw)

    def translate(self, nets: dict[str, nn.Module], inputs: Tensor, request: TranslateRequest) -> Translation:
        check_direction(request, type(self).__name__.removesuffix("Config"))
        G = nets["G"]
        x = scale_images(inputs, RANGE)
        k = request.z_samples or 1
        if k > 1 and not (self.test_dropout and any(isinstance(m, nn.Dropout) for m in G.modules())):
            raise ValueError("--z-samples needs dropout at test time (pix2pix's noise): this run has test_dropout "
                             "false, dropout 0 or a U-Net of depth <= 5 (no dropout layers, as the reference); "
                             "drop --z-samples")
        outs = [to_uint8(translate_chunks(G, x, self.test_dropout, request.seed + j), RANGE) for j in range(k)]
        outputs = torch.stack(outs, 1).cpu()  # [N, K, C, H, W]
        columns = [("input", inputs.cpu())] + [(f"output {j}" if k > 1 else "output", o) for j, o in enumerate(outs)]
        return Translation(outputs, [(t, c.cpu()) for t, c in columns])
