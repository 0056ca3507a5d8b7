"""Data kind "superres" (``data.superres``): super-resolution (SRGAN, Ledig et al. 2017) of held-out LR images.

Samples: grids LR | bicubic | SR | HR of held-out pairs. Evaluation (in training and ``ganforge eval RUN``): on the
held-out split, the model's PSNR / SSIM / sharpness and perceptual scores next to bicubic up-sampling's.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ganforge.config import RunConfig
from ganforge.data.base import scale_images, to_uint8
from ganforge.data.superres import EVAL_BATCH, GRID_ROWS, KIND, SuperResData, bicubic_upsample
from ganforge.kinds.base import DataKind
from ganforge.models.base import Sampler, output_range
from ganforge.registry import DATASETS, RUN_HOOKS


def super_resolve(G: nn.Module, lr: Tensor, device: torch.device, batch_size: int = EVAL_BATCH) -> Tensor:
    """SR outputs ``uint8 [N, C, H, W]`` of a trained family (a ``Sampler``, or a bare SR generator) from uint8 LR
    images, in eval mode and batches; the model's mode is restored."""
    out_range = output_range(G)
    was = G.training
    G.eval()
    outs = []
    try:
        with torch.no_grad():
            for i in range(0, lr.shape[0], batch_size):
                x = scale_images(lr[i : i + batch_size].to(device), out_range)
                sr = G(x.new_zeros(x.shape[0], 0), None, inputs=x) if isinstance(G, Sampler) else G(x)
                outs.append(to_uint8(sr.float(), out_range).cpu())
    finally:
        G.train(was)
    return torch.cat(outs)


@functools.lru_cache(maxsize=4)
def _held_out(name: str, options: tuple) -> SuperResData:
    dataset_cls = DATASETS.get(name)
    return dataset_cls(**dict(options)).load("test")


def held_out(cfg: RunConfig) -> SuperResData:
    """The run's held-out split (cached per dataset and options)."""
    opts = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in cfg.data.options.items()))
    return _held_out(cfg.data.name, opts)


def perceptual_scores(outputs: dict[str, Tensor], hr: Tensor, labels: Tensor | None, feature_net: str,
                      device: torch.device) -> dict[str, float]:
    """``{method}_feature_dist`` (mean squared distance of the content network's features to HR's, per image) and
    ``{method}_fid`` (Fréchet distance of the feature network's global features to HR's: the MNIST classifier's 128-d
    penultimate layer, or Inception pool3); digits also ``{method}_accuracy`` (classifier reads the true label)."""
    from ganforge.losses.srgan import content_features
    from ganforge.metrics.fid import fid_from_features

    out: dict[str, float] = {}
    if feature_net == "mnist-classifier":
        from ganforge.metrics.classifier import classify, features, load_mnist_classifier

        model = load_mnist_classifier(device=device)
        ref = features(model, hr).double().numpy()
        for name, images in outputs.items():
            out[f"{name}_fid"] = fid_from_features(features(model, images).double().numpy(), ref)
            if labels is not None:
                out[f"{name}_accuracy"] = 100.0 * float((classify(model, images).argmax(1) == labels).double().mean())
    else:
        from ganforge.metrics.inception import InceptionFeatures

        net = InceptionFeatures(device=device, progress=False)
        ref = net(hr).double().numpy()
        for name, images in outputs.items():
            out[f"{name}_fid"] = fid_from_features(net(images).double().numpy(), ref)
    for name, images in outputs.items():
        dists = []
        for i in range(0, hr.shape[0], EVAL_BATCH):
            a = content_features(feature_net, "auto", _signed(images[i : i + EVAL_BATCH], device))
            b = content_features(feature_net, "auto", _signed(hr[i : i + EVAL_BATCH], device))
            dists.append((a - b).square().flatten(1).mean(1).cpu().double())
        out[f"{name}_feature_dist"] = float(torch.cat(dists).mean())
    return out


def _signed(images: Tensor, device: torch.device) -> Tensor:
    return scale_images(images.to(device), (-1.0, 1.0))


def evaluate_sr(G: nn.Module, data: SuperResData, device: torch.device, n: int | None = None,
                perceptual: bool = True) -> dict[str, float]:
    """Held-out metrics of the model (``sr_*``) next to bicubic up-sampling (``bicubic_*``): PSNR and SSIM (Y channel,
    ``scale``-px border shaved), sharpness (gradient energy / HR's), and the perceptual scores (``perceptual``)."""
    from ganforge.metrics.superres import sharpness, sr_scores

    n = len(data) if n is None else min(n, len(data))
    hr, lr = data.x[:n], data.fields["lr"][:n]
    outputs = {"sr": super_resolve(G, lr, device), "bicubic": bicubic_upsample(lr, data.scale)}
    metrics: dict[str, float] = {}
    for name, images in outputs.items():
        scores = sr_scores(images, hr, border=data.scale)
        metrics[f"{name}_psnr"] = float(scores["psnr"].clamp(max=100.0).mean())  # identical images: 100 dB, not inf
        metrics[f"{name}_ssim"] = float(scores["ssim"].mean())
        metrics[f"{name}_sharpness"] = sharpness(images, hr)
    if perceptual:
        labels = data.y[:n] if data.y is not None else None
        metrics.update(perceptual_scores(outputs, hr, labels, data.feature_net, device))
    return metrics


@RUN_HOOKS.register(KIND)
class SuperResKind(DataKind):
    """Grids LR | bicubic | SR | HR of held-out pairs; evaluation on the held-out split (also ``ganforge eval``)."""

    standalone_eval = True

    def samples(self, G: nn.Module, data: Any, run_dir: Path, step: int, cfg: RunConfig, device: torch.device,
                final: bool = False) -> None:
        from ganforge.viz.images import comparison_grid, save_image

        test = held_out(cfg)
        hr, lr = test.x[:GRID_ROWS], test.fields["lr"][:GRID_ROWS]
        grid = comparison_grid([lr, bicubic_upsample(lr, test.scale), super_resolve(G, lr, device), hr])
        save_image(grid, run_dir / "samples" / f"step-{step:07d}.png", scale=2)
        if final:
            save_image(grid, run_dir / "samples" / "final.png", scale=2)

    def evaluate(self, G: nn.Module, data: Any, cfg: RunConfig, device: torch.device) -> dict[str, float]:
        return evaluate_sr(G, held_out(cfg), device, n=cfg.log.eval_samples)

    def protocol(self, data: Any, cfg: RunConfig, generator: str, step: int) -> dict[str, Any]:
        test = held_out(cfg)
        return {"metrics": "superres", "dataset": cfg.data.name, "held_out": test.options,
                "n": min(len(test), cfg.log.eval_samples), "generator": generator, "step": step,
                "psnr_ssim": f"Y channel (BT.601) of uint8 outputs, {test.scale}-px border shaved; SSIM as skimage "
                             "(7x7 uniform window, sample covariance, L=255); PSNR per image, averaged",
                "bicubic": "PIL bicubic up-sampling of the same LR images",
                "sharpness": "mean |finite difference| of the outputs / of HR (1 = as sharp as HR)",
                "feature_net": test.feature_net,
                "fid": "Frechet distance of " + ("mnist-classifier 128-d features" if test.feature_net ==
                                                 "mnist-classifier" else "Inception pool3 features (small n: biased)")
                       + " of the outputs vs the HR images",
                "feature_dist": "per-image mean squared distance of the content-loss feature layer to HR's"}

    def export_samples(self, G: nn.Module, cfg: RunConfig, run_dir: Path, args: Any,
                       device: torch.device) -> Path | None:
        raise ValueError("a super-resolution run upscales images rather than sampling them; use `ganforge translate "
                         "RUN --input PATH --out DIR`")
