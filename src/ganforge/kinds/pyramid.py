"""Data kind "pyramid" (``data.pyramid``): image runs that also draw each Laplacian-pyramid stage of their samples
(LAPGAN, Denton et al. 2015) and, for 32×32 digits, are judged by the MNIST classifier.

- sample grids: the image kind's fixed-z grid (``samples/step-*.png``, ``final.png``) and, for a family whose G has
  stages (``LaplacianGenerator.stages``), ``samples/pyramid-step-*.png``: one row per sample, columns coarse Ĩ_0 |
  then per finer stage: up-sampled l_s | residual h̃_s (grey = 0) | l_s + h̃_s — each level's contribution;
- evaluation of 32×32 single-channel digits: the 2-pixel border is cropped (28×28, the classifier's input) and the
  shipped MNIST classifier gives ``confident_percent``, ``class_entropy``, ``pixel_std`` and ``fid`` (Fréchet
  distance of its 128-d features vs the first n training digits): ``kinds.image.evaluate_digits``, the one digit
  judge, whose ``unpad`` step crops 32×32 digits. Any G (LAPGAN or a single-scale DCGAN) is judged alike, so the
  two compare on one footing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ganforge.config import RunConfig
from ganforge.data.base import to_uint8
from ganforge.data.pyramid import DIGITS32, GRID_ROWS, KIND
from ganforge.kinds.base import SAMPLE_SEED_OFFSET
from ganforge.kinds.image import CONFIDENCE, ImageKind, evaluate_digits
from ganforge.models.base import Sampler
from ganforge.models.lapgan import LaplacianGenerator
from ganforge.registry import RUN_HOOKS
from ganforge.sampling import EVAL_SEED_OFFSET


def stage_columns(G: nn.Module, n: int, seed: int, device: torch.device) -> list[Tensor]:
    """The grid columns of ``n`` samples: Ĩ_0 | l_1 | h̃_1 | Ĩ_1 | ... (uint8; residuals mapped with 0 → grey)."""
    nets = dict(G.nets.items())
    gen = nets["G"]
    rng = torch.Generator(device=device).manual_seed(seed)
    z = G.sample_z(n, rng, device)
    was = gen.training
    gen.eval()
    try:
        with torch.no_grad():
            stages = gen.stages(z)
    finally:
        gen.train(was)
    cols = [to_uint8(stages[0][2], (-1.0, 1.0)).cpu()]
    for low, h, image in stages[1:]:
        cols += [to_uint8(low, (-1.0, 1.0)).cpu(), to_uint8(h, (-1.0, 1.0)).cpu(), to_uint8(image, (-1.0, 1.0)).cpu()]
    return cols


@RUN_HOOKS.register(KIND)
class PyramidKind(ImageKind):
    """Image grids plus each pyramid stage's contribution; 32×32 digits evaluated by the MNIST classifier."""

    def samples(self, G: nn.Module, data: Any, run_dir: Path, step: int, cfg: RunConfig, device: torch.device,
                final: bool = False) -> None:
        super().samples(G, data, run_dir, step, cfg, device, final=final)
        gen = G.nets["G"] if isinstance(G, Sampler) and "G" in G.nets else None
        if not isinstance(gen, LaplacianGenerator):  # a single-scale G on pyramid data has no stages to show
            return
        from ganforge.viz.images import comparison_grid, save_image

        grid = comparison_grid(stage_columns(G, GRID_ROWS, cfg.train.seed + SAMPLE_SEED_OFFSET, device))
        save_image(grid, run_dir / "samples" / f"pyramid-step-{step:07d}.png", scale=2)
        if final:
            save_image(grid, run_dir / "samples" / "pyramid-final.png", scale=2)

    def evaluate(self, G: nn.Module, data: Any, cfg: RunConfig, device: torch.device) -> dict[str, float]:
        if tuple(data.shape) != DIGITS32:
            return {}
        return evaluate_digits(G, cfg.train.seed + EVAL_SEED_OFFSET, device, cfg.log.eval_samples, reference=data.x)

    def protocol(self, data: Any, cfg: RunConfig, generator: str, step: int) -> dict[str, Any]:
        if tuple(data.shape) != DIGITS32:
            return super().protocol(data, cfg, generator, step)
        return {"metrics": "digit_quality_32", "n_fake": cfg.log.eval_samples, "seed_offset": EVAL_SEED_OFFSET,
                "dataset": cfg.data.name, "generator": generator, "step": step,
                "seed": cfg.train.seed + EVAL_SEED_OFFSET, "crop": "centre 28x28 of 32x32 (mnist32's 2-px padding)",
                "classifier": "mnist-classifier", "confidence_threshold": CONFIDENCE,
                "fid": "Frechet distance of 128-d mnist-classifier features vs the first n_fake training digits"}
