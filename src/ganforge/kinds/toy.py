"""Data kinds of the analytic toy targets (``data.toy``): "mixture2d" (ring, grid: real vs generated scatter),
"density1d" (histogram against the pdf; a 1-D -> 1-D G also as a transform against F⁻¹) and "points" (any other
``Distribution``). Evaluation in training: ``metrics.toy.evaluate_toy`` on ``N_EVAL`` samples (PacGAN's protocol).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganforge.config import RunConfig
from ganforge.kinds.base import SAMPLE_SEED_OFFSET, DataKind
from ganforge.kinds.base import name as _name
from ganforge.metrics.toy import N_EVAL, evaluate_toy
from ganforge.models.base import Generator, Sampler
from ganforge.registry import RUN_HOOKS
from ganforge.sampling import EVAL_SEED_OFFSET, LATENT_CHUNK, generate_samples


@RUN_HOOKS.register("points")
class ToyKind(DataKind):
    """Analytic distributions: the toy metrics (mode coverage, high-quality %, KL) on ``N_EVAL`` samples; no
    samples of their own ("points"), a scatter or histogram in the subclasses."""

    def evaluate(self, G: nn.Module, data: Any, cfg: RunConfig, device: torch.device) -> dict[str, float]:
        return evaluate_toy(generate_samples(G, N_EVAL, cfg.train.seed + EVAL_SEED_OFFSET, device), data)

    def eval_protocol(self, data: Any, cfg: RunConfig) -> dict[str, Any]:
        return {"metrics": "toy", "n_fake": N_EVAL, "seed_offset": EVAL_SEED_OFFSET,
                "batch_size": 1000, "latent_chunk": LATENT_CHUNK}  # generate_samples' defaults


@RUN_HOOKS.register("mixture2d")
class Mixture2DKind(ToyKind):
    """2-D mixtures (ring, grid): real vs generated scatter with a KDE of G."""

    def samples(self, G: nn.Module, data: Any, run_dir: Path, step: int, cfg: RunConfig, device: torch.device,
                final: bool = False) -> None:
        from ganforge.viz import plots

        seed = cfg.train.seed + SAMPLE_SEED_OFFSET
        fake = generate_samples(G, N_EVAL, seed, device).cpu().numpy()
        real = data.sample(N_EVAL, torch.Generator().manual_seed(seed)).numpy()
        plots.scatter_2d(real, fake, run_dir / "plots" / f"scatter-{_name(step, final)}.png",
                         f"{cfg.name} step {step}", data.means.numpy())


@RUN_HOOKS.register("density1d")
class Density1DKind(ToyKind):
    """1-D targets: histogram of G against the pdf; a 1-D → 1-D G is also plotted as a transform against F⁻¹."""

    def samples(self, G: nn.Module, data: Any, run_dir: Path, step: int, cfg: RunConfig, device: torch.device,
                final: bool = False) -> None:
        from ganforge.viz import plots

        seed = cfg.train.seed + SAMPLE_SEED_OFFSET
        fake = generate_samples(G, 20_000, seed, device).cpu().numpy()
        name, title = _name(step, final), f"{cfg.name} step {step}"
        plots.histogram_1d(fake, data.pdf, run_dir / "plots" / f"hist-{name}.png", title)
        if isinstance(G, (Generator, Sampler)) and G.z_dim == 1:  # 1-D latent: the learned map z -> x
            from ganforge.viz.transform import plot_inverse_transform

            plot_inverse_transform(G, data, run_dir / "plots" / f"transform-{name}.png", title, seed=seed,
                                   device=device)
