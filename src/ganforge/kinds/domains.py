"""Data kind "domains" (``data.domains``): multi-domain image translation, StarGAN v2 (Choi et al. 2020).

Samples: training grids translate fixed held-out sources (one per domain) to every domain with fixed z, and at the
end reference-guided. Evaluation (in training and ``ganforge eval RUN``) measures what the paper does — FID per
target domain, latent- and reference-guided, averaged; domain accuracy by the shipped MNIST classifier; diversity
(mean pairwise feature distance over z); and how much handwriting (ink, slant) survives — see ``translation_metrics``.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ganforge.config import RunConfig
from ganforge.data.base import scale_images, to_uint8
from ganforge.data.domains import DomainData
from ganforge.kinds.base import SAMPLE_SEED_OFFSET, DataKind
from ganforge.options import ConfigError
from ganforge.registry import RUN_HOOKS
from ganforge.sampling import EVAL_SEED_OFFSET


def moments(images: Tensor) -> dict[str, Tensor]:
    """Handwriting statistics of uint8 images ``[N, C, H, W]`` (channels averaged) from image moments:

    ``ink``    mean intensity in [0, 1] (thicker strokes → more ink);
    ``slant``  μ11 / μ02, the horizontal shift per row of the ink's centre (the shear that deskewing removes);
    ``height`` √μ02 / H, the vertical spread of the ink (the digit's size).
    Each ``[N]`` float64."""
    w = images.double().mean(1) / 255.0  # [N, H, W]
    n, h, wd = w.shape
    mass = w.sum((1, 2)).clamp_min(1e-8)
    rows = torch.arange(h, dtype=torch.float64).view(1, h, 1)
    cols = torch.arange(wd, dtype=torch.float64).view(1, 1, wd)
    cy, cx = (w * rows).sum((1, 2)) / mass, (w * cols).sum((1, 2)) / mass
    dy, dx = rows - cy.view(n, 1, 1), cols - cx.view(n, 1, 1)
    mu02 = (w * dy * dy).sum((1, 2)) / mass
    mu11 = (w * dx * dy).sum((1, 2)) / mass
    return {"ink": w.mean((1, 2)), "slant": mu11 / mu02.clamp_min(1e-8), "height": mu02.sqrt() / h}


def pearson(a: Tensor, b: Tensor) -> float:
    a, b = a.double() - a.double().mean(), b.double() - b.double().mean()
    den = float(a.norm() * b.norm())
    return float((a * b).sum()) / den if den > 0 else 0.0


def _batched(fn: Any, *tensors: Tensor, batch: int = 500) -> Tensor:
    return torch.cat([fn(*(t[i : i + batch] for t in tensors)) for i in range(0, len(tensors[0]), batch)])


@torch.no_grad()
def translation_metrics(nets: dict[str, nn.Module], x_test: Tensor, y_test: Tensor, n_per_domain: int, seed: int,
                        device: torch.device, digit_domains: bool, diversity_sources: int = 100,
                        diversity_z: int = 10) -> dict[str, float]:
    """StarGAN v2's evaluation (Choi et al. 2020, §4 and App. B) on held-out uint8 images ``x_test [M, C, H, W]``
    with domains ``y_test [M]``, using G, F, E (pass the EMA copies).

    For every target domain k: ``n_per_domain`` sources from the other domains (the paper translates every source
    domain to every other), translated latent-guided G(x, F(z, k)) (one z each) and reference-guided G(x, E(x_ref, k))
    (x_ref a random test image of k).
    With ``digit_domains`` (MNIST, 28×28), on the shipped classifier's 128-d features:
        fid_latent / fid_reference     FID of the outputs against the real test images of k, averaged over k
        acc_latent / acc_reference     % of outputs the classifier assigns to k (domain accuracy)
        diversity_latent               mean pairwise feature L2 distance between ``diversity_z`` outputs of one
                                       source for different z (the paper's LPIPS, which needs downloaded weights)
    Always: ``diversity_pixel_l1`` (the same pairs in pixel L1, [0, 1] range) and handwriting survival, Pearson
    correlations of ink / slant (``moments``): ``style_src_*`` between source and latent-guided output,
    ``style_ref_*`` between reference and reference-guided output, and ``style_refsrc_*`` between source and
    reference-guided output (for comparison: how much the source still shows through a reference's style).
    """
    from ganforge.metrics.fid import fid_from_features

    G, F, E = nets["G"], nets["F"], nets["E"]
    rng_range = G.output_range
    num_domains = int(G.c_dim)
    gen = torch.Generator().manual_seed(seed)
    classifier = None
    if digit_domains:
        from ganforge.metrics.classifier import MnistClassifierFeatures

        classifier = MnistClassifierFeatures(device=device)

    def run(fn: Any, *tensors: Tensor) -> Tensor:
        return _batched(lambda *t: to_uint8(fn(*(v.to(device) for v in t)), rng_range).cpu(), *tensors)

    def latent(x: Tensor, z: Tensor, y: Tensor) -> Tensor:
        return G(scale_images(x, rng_range), F(z, y))

    def reference(x: Tensor, xr: Tensor, y: Tensor) -> Tensor:
        return G(scale_images(x, rng_range), E(scale_images(xr, rng_range), y))

    out: dict[str, float] = {}
    per: dict[str, list[float]] = {"fid_latent": [], "fid_reference": [], "acc_latent": [], "acc_reference": []}
    srcs, lats, refs, rfos = [], [], [], []
    for k in range(num_domains):
        others = torch.nonzero(y_test != k).flatten()
        own = torch.nonzero(y_test == k).flatten()
        src = others[torch.randperm(len(others), generator=gen)[:n_per_domain]]
        ref = own[torch.randint(len(own), (len(src),), generator=gen)]
        z = torch.randn(len(src), G.z_dim, generator=gen)
        y = torch.full((len(src),), k, dtype=torch.long)
        lat = run(latent, x_test[src], z, y)
        rfo = run(reference, x_test[src], x_test[ref], y)
        srcs.append(x_test[src])
        lats.append(lat)
        refs.append(x_test[ref])
        rfos.append(rfo)
        if classifier is not None:
            real_f = classifier(x_test[own])
            for name, images in (("latent", lat), ("reference", rfo)):
                per[f"fid_{name}"].append(fid_from_features(classifier(images).numpy(), real_f.numpy()))
                pred = classifier.probabilities(images).argmax(1)
                per[f"acc_{name}"].append(100.0 * float((pred == k).double().mean()))
    if classifier is not None:
        out.update({name: float(np.mean(values)) for name, values in per.items()})
    src_all, lat_all, ref_all, rfo_all = (torch.cat(t) for t in (srcs, lats, refs, rfos))
    m_src, m_lat, m_ref, m_rfo = (moments(t) for t in (src_all, lat_all, ref_all, rfo_all))
    for stat in ("ink", "slant"):
        out[f"style_src_{stat}"] = pearson(m_src[stat], m_lat[stat])
        out[f"style_ref_{stat}"] = pearson(m_ref[stat], m_rfo[stat])
        out[f"style_refsrc_{stat}"] = pearson(m_src[stat], m_rfo[stat])
    # diversity: diversity_z outputs per source, to a random other domain, from different z
    idx = torch.randperm(len(x_test), generator=gen)[:diversity_sources]
    y_src = y_test[idx]
    y_trg = (y_src + torch.randint(1, num_domains, (len(idx),), generator=gen)) % num_domains
    z = torch.randn(diversity_z, len(idx), G.z_dim, generator=gen)
    outs = torch.stack([run(latent, x_test[idx], z[j], y_trg) for j in range(diversity_z)])  # [Z, S, C, H, W]
    pairs = list(itertools.combinations(range(diversity_z), 2))
    pix = outs.float() / 255.0
    out["diversity_pixel_l1"] = float(np.mean([(pix[a] - pix[b]).abs().mean().item() for a, b in pairs]))
    if classifier is not None:
        feats = torch.stack([classifier(o) for o in outs])  # [Z, S, 128]
        out["diversity_latent"] = float(np.mean([(feats[a] - feats[b]).norm(dim=1).mean().item() for a, b in pairs]))
    return out


def held_out(cfg: RunConfig, data: DomainData) -> DomainData:
    """The held-out split of the run's dataset: MNIST's test digits; a folder has none, so its own images (not read
    again)."""
    from ganforge.builder import build_dataset

    if not data.test_split:
        return data
    test = build_dataset(cfg, "test")
    return test if isinstance(test, DomainData) else data


@RUN_HOOKS.register("domains")
class DomainKind(DataKind):
    """Training grids (fixed held-out sources × every domain, fixed z), the paper's metrics at evaluation."""

    standalone_eval = True  # `ganforge eval RUN` runs `evaluate` and writes RUN/eval/task.json

    def samples(self, G: nn.Module, data: Any, run_dir: Path, step: int, cfg: RunConfig, device: torch.device,
                final: bool = False) -> None:
        from ganforge.viz.images import comparison_grid, save_image

        nets = dict(G.nets.items())
        test = held_out(cfg, data)
        num_domains = int(nets["G"].c_dim)
        first = [int(torch.nonzero(test.y == k).flatten()[0]) for k in range(num_domains)]  # one source per domain
        sources = test.x[first]
        gen = torch.Generator().manual_seed(cfg.train.seed + SAMPLE_SEED_OFFSET)
        z = torch.randn(1, nets["G"].z_dim, generator=gen).to(device)
        columns = [sources]
        rng_range = nets["G"].output_range
        with torch.no_grad():
            x = scale_images(sources.to(device), rng_range)
            for k in range(num_domains):
                y = torch.full((len(x),), k, dtype=torch.long, device=device)
                columns.append(to_uint8(nets["G"](x, nets["F"](z.expand(len(x), -1), y)), rng_range).cpu())
        grid = comparison_grid(columns)
        save_image(grid, run_dir / "samples" / f"step-{step:07d}.png")
        if not final:
            return
        save_image(grid, run_dir / "samples" / "final.png")
        # reference-guided: the first row holds each domain's reference (a second held-out image of that domain)
        refs = [int(torch.nonzero(test.y == k).flatten()[min(1, int((test.y == k).sum()) - 1)])
                for k in range(num_domains)]
        blank = torch.full_like(sources[:1], 255)
        ref_columns = [torch.cat([blank, sources])]
        with torch.no_grad():
            for k, r in enumerate(refs):
                y = torch.full((1,), k, dtype=torch.long, device=device)
                s = nets["E"](scale_images(test.x[r : r + 1].to(device), rng_range), y).expand(len(x), -1)
                ref_columns.append(torch.cat([test.x[r : r + 1], to_uint8(nets["G"](x, s), rng_range).cpu()]))
        save_image(comparison_grid(ref_columns), run_dir / "samples" / "final-reference.png")

    def evaluate(self, G: nn.Module, data: Any, cfg: RunConfig, device: torch.device) -> dict[str, float]:
        test = held_out(cfg, data)
        digit = test.digit_domains and tuple(test.shape) == (1, 28, 28)
        n = max(2, cfg.log.eval_samples // test.num_classes)
        return translation_metrics(dict(G.nets.items()), test.x, test.y, n, cfg.train.seed + EVAL_SEED_OFFSET, device,
                                   digit)

    def protocol(self, data: Any, cfg: RunConfig, generator: str, step: int) -> dict[str, Any]:
        return {"dataset": cfg.data.name, "split": "test", "generator": generator, "step": step,
                "seed": cfg.train.seed + EVAL_SEED_OFFSET, "sources_per_domain": max(2, cfg.log.eval_samples //
                                                                                   data.num_classes),
                "features": "mnist-classifier (128-d penultimate layer)", "diversity": "10 z per source, 100 sources"}

    def export_samples(self, G: nn.Module, cfg: RunConfig, run_dir: Path, args: Any,
                       device: torch.device) -> Path | None:
        raise ConfigError("a StarGAN v2 run translates images rather than sampling from z; use `ganforge translate "
                          "RUN --input IMAGES [--domain K] [--reference REF | --z-samples N]`")
