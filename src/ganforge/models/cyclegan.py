"""CycleGAN (Zhu et al. 2017, "Unpaired Image-to-Image Translation using Cycle-Consistent Adversarial Networks"):
two ResNet generators G: A → B and F: B → A, and two PatchGAN discriminators D_B (real B vs G(a)) and D_A (real A vs
F(b)), trained on unpaired data with ``objective.name=cyclegan`` (LSGAN + cycle λ = 10 + identity 0.5·λ, a 50-image
history pool; ``losses/translation.py``). The paper's names: G, F, D_Y = D_B, D_X = D_A.

Shapes: a ``[N, C_a, H, W]``, b ``[N, C_b, H, W]`` in [−1, 1]; D_* return patch logits ``[N, 1, H', W']``. Paper:
ngf = ndf = 64, 9 residual blocks at 256² (6 at 128²), 70×70 PatchGAN, instance norm, weights N(0, 0.02).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn

from ganforge.data.base import DataSpec, scale_images, to_uint8
from ganforge.models.base import Generator, ModelFamily, TranslateRequest, Translation, init_weights
from ganforge.models.pix2pix import CHUNK, PAIRED_FIELD, RANGE, UNPAIRED_FIELD
from ganforge.models.translation_blocks import NORMS, PatchDiscriminator, ResnetGenerator
from ganforge.registry import MODELS


class CycleGenerator(ResnetGenerator, Generator):
    """The ResNet generator as a ganforge generator (no z); ``in_ch``/``out_ch`` and ``image_hw`` recorded."""

    z_dim = 0
    output_range = RANGE

    def __init__(self, in_ch: int, out_ch: int, image_hw: tuple[int, ...], ngf: int, n_blocks: int, n_down: int,
                 norm: str) -> None:
        super().__init__(in_ch, out_ch, ngf, n_blocks, n_down, norm)
        self.in_ch, self.out_ch, self.image_hw = in_ch, out_ch, tuple(image_hw)


def domain_channels(spec: DataSpec) -> tuple[int, int]:
    """``(C_a, C_b)`` of two-domain data (unpaired, or paired used without its pairing)."""
    for key in (UNPAIRED_FIELD, PAIRED_FIELD):
        if key in spec.fields and len(spec.shape) == 3:
            return spec.fields[key][0], spec.shape[0]
    raise ValueError("cyclegan needs two image domains (data kind 'unpaired': mnist2mnistm, unpaired-folder with "
                     "trainA/trainB; or paired data); this dataset has one")


def _run(net: nn.Module, x: Tensor) -> Tensor:
    with torch.no_grad():
        return torch.cat([net(x[i:i + CHUNK]) for i in range(0, len(x), CHUNK)])


@MODELS.register("cyclegan")
@dataclass
class CycleGANConfig(ModelFamily):
    """Options of CycleGAN (``model.options``). Networks: G (A→B), F (B→A), D_A, D_B."""

    networks: ClassVar[tuple[str, ...]] = ("G", "F", "D_A", "D_B")
    sampling_networks: ClassVar[tuple[str, ...]] = ("G", "F")
    translates: ClassVar[bool] = True

    ngf: int = 64
    ndf: int = 64
    n_blocks: int = 9  # residual blocks: 9 at 256², 6 at 128² and below
    n_down: int = 2  # stride-2 levels of G
    d_layers: int = 3  # PatchGAN stride-2 layers: 3 = 70×70 receptive field, 1 = 16×16
    norm: str = "instance"
    init: str = "dcgan"  # N(0, 0.02)

    def __post_init__(self) -> None:
        for name in ("ngf", "ndf", "d_layers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("n_blocks", "n_down"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.norm not in NORMS:
            raise ValueError(f"unknown norm {self.norm!r}; choose from: {', '.join(NORMS)}")

    def build(self, spec: DataSpec) -> dict[str, nn.Module]:
        c_a, c_b = domain_channels(spec)
        hw = spec.shape[1:]
        m = 2 ** self.n_down
        if hw[0] % m or hw[1] % m:
            raise ValueError(f"images of {hw[0]}x{hw[1]} are not divisible by 2^n_down = {m}; resize them or set "
                             "model.options.n_down lower")
        nets: dict[str, nn.Module] = {
            "G": CycleGenerator(c_a, c_b, hw, self.ngf, self.n_blocks, self.n_down, self.norm),
            "F": CycleGenerator(c_b, c_a, hw, self.ngf, self.n_blocks, self.n_down, self.norm),
            "D_A": PatchDiscriminator(c_a, self.ndf, self.d_layers, self.norm),
            "D_B": PatchDiscriminator(c_b, self.ndf, self.d_layers, self.norm)}
        for net in nets.values():
            init_weights(net, self.init)
        return nets

    # ---- sampling / translation contract -----------------------------------------------------------------------
    def generate(self, nets: dict[str, nn.Module], z: Tensor, labels: Tensor | None = None,
                 inputs: Tensor | None = None, truncation: float | None = None) -> Tensor:
        if inputs is None:
            raise ValueError("CycleGAN translates input images and draws no z; use `ganforge translate RUN --input "
                             "PATH [--direction AB|BA]`")
        return nets["G"](inputs)

    @staticmethod
    def _pair(nets: dict[str, nn.Module], request: TranslateRequest) -> tuple[nn.Module, nn.Module, str]:
        if request.domain is not None or request.reference is not None or request.z_samples is not None:
            raise ValueError("CycleGAN maps between two domains deterministically; drop --domain / --reference / "
                             "--z-samples (choose the way with --direction AB|BA)")
        direction = request.direction or "AB"
        return (nets["G"], nets["F"], "A") if direction == "AB" else (nets["F"], nets["G"], "B")

    def translation_input(self, nets: dict[str, nn.Module], request: TranslateRequest) -> tuple[int, ...]:
        forward, _, _ = self._pair(nets, request)
        return (forward.in_ch, *forward.image_hw)

    def translate(self, nets: dict[str, nn.Module], inputs: Tensor, request: TranslateRequest) -> Translation:
        """A→B with G (``--direction AB``, default) or B→A with F; columns: input | translated | reconstruction."""
        forward, backward, src = self._pair(nets, request)
        dst = "B" if src == "A" else "A"
        x = scale_images(inputs, RANGE)
        y = _run(forward, x)
        rec = _run(backward, y)
        out = to_uint8(y, RANGE).cpu()
        return Translation(out[:, None], [(f"input ({src})", inputs.cpu()), (f"translated ({dst})", out),
                                          (f"reconstruction ({src})", to_uint8(rec, RANGE).cpu())])
