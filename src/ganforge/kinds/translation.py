"""Data kinds "paired" and "unpaired" (``data.paired``, ``data.translation_tasks``): image-to-image translation
(pix2pix, CycleGAN, colourisation).

Samples: grids of fixed test inputs → outputs (→ targets, or → reconstructions for two-way models). Evaluation (in
training and ``ganforge eval RUN``, written to ``RUN/eval/task.json``): the held-out split's L1 / PSNR / SSIM
(paired) or cycle L1 (unpaired), plus the built-in task's own metrics (``TASK_METRICS``: digit accuracy and
classifier FID for edges2mnist / mnist2mnistm, colourfulness and trivial baselines for colorize-photos).
"""

from __future__ import annotations

import functools
import html
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ganforge.config import RunConfig
from ganforge.data.paired import N_GRID, TranslationData
from ganforge.data.translation_tasks import MNIST_HALF, mnist2mnistm_data
from ganforge.kinds.base import DataKind, RunLoader
from ganforge.kinds.base import name as _name
from ganforge.models.base import TranslateRequest
from ganforge.outputs import OutputError, atomic_file
from ganforge.registry import RUN_HOOKS
from ganforge.viz.html import figure, image_png

# built-in tasks add metrics here (data/translation_tasks.py): fn(sampler, data, device) -> {name: value}
TASK_METRICS: dict[str, Callable[[nn.Module, TranslationData, torch.device], dict[str, float]]] = {}


def translate_uint8(G: nn.Module, x: Tensor, device: torch.device, direction: str | None = None,
                    seed: int = 0) -> tuple[Tensor, list[tuple[str, Tensor]]]:
    """The family's ``translate`` of uint8 ``x`` ``[N, C, H, W]``: (first output ``[N, C', H, W]``, the columns)."""
    family, nets = G.family, dict(G.nets.items())
    result = family.translate(nets, x.to(device), TranslateRequest(direction=direction, seed=seed))
    return result.outputs[:, 0], result.columns


def paired_metrics(out: Tensor, target: Tensor) -> dict[str, float]:
    from ganforge.metrics import translation as tm

    return {"l1": tm.l1(out, target), "psnr": tm.psnr(out, target), "ssim": tm.ssim(out, target)}


@RUN_HOOKS.register("paired")
@RUN_HOOKS.register("unpaired")
class TranslationKind(DataKind):
    """Grids of fixed test inputs → outputs (→ targets, or → reconstructions for two-way models); the held-out
    split's metrics (``evaluate``), also what ``ganforge eval RUN`` writes to ``RUN/eval/task.json``."""

    standalone_eval = True

    def samples(self, G: nn.Module, data: Any, run_dir: Path, step: int, cfg: RunConfig, device: torch.device,
                final: bool = False) -> None:
        from ganforge.viz.images import comparison_grid, save_image

        n = min(N_GRID, len(data.test_a), len(data.test_b))
        if data.paired:
            _, columns = translate_uint8(G, data.test_a[:n], device)
            columns = [*columns, ("target", data.test_b[:n])]
        else:
            _, forward = translate_uint8(G, data.test_a[:n], device, "AB")
            _, backward = translate_uint8(G, data.test_b[:n], device, "BA")
            columns = [*forward, *backward]
        grid = comparison_grid([c for _, c in columns])
        save_image(grid, run_dir / "samples" / f"{_name(step, final)}.png")
        if final:
            save_image(grid, run_dir / "samples" / f"step-{step:07d}.png")

    def evaluate(self, G: nn.Module, data: Any, cfg: RunConfig, device: torch.device) -> dict[str, float]:
        if data.paired:
            out, _ = translate_uint8(G, data.test_a, device)
            values = paired_metrics(out, data.test_b)
        else:
            from ganforge.metrics.translation import l1

            values = {}
            for d, x in (("AB", data.test_a), ("BA", data.test_b)):
                _, columns = translate_uint8(G, x, device, d)
                values[f"cycle_l1_{d.lower()}"] = l1(columns[2][1], x)  # ‖F(G(a)) − a‖₁ in [0, 1] pixel units
        if data.task in TASK_METRICS:
            values.update(TASK_METRICS[data.task](G, data, device))
        return values

    def protocol(self, data: Any, cfg: RunConfig, generator: str, step: int) -> dict[str, Any]:
        return {"dataset": cfg.data.name, "task": data.task or data.kind, "split": "held-out test",
                "n_test_a": len(data.test_a), "n_test_b": len(data.test_b), "generator": generator, "step": step,
                "translation": "family.translate (pix2pix: dropout, where the U-Net has it, on at test time unless "
                               "test_dropout is false (colorize's default), seed 0; BN running statistics)",
                "units": "l1: mean |Δ| in [0, 1] pixel units; psnr: dB (peak 255, mean over images, capped at 100); "
                         "ssim: Wang et al. 2004, Gaussian σ 1.5, 11×11, mean over images and channels"}

    def report_section(self, run_dir: Path, runs: RunLoader) -> str:
        return translation_table(run_dir, runs)

    def export_samples(self, G: nn.Module, cfg: RunConfig, run_dir: Path, args: Any,
                       device: torch.device) -> Path | None:
        raise ValueError("this run translates images and draws no samples from z; use `ganforge translate RUN "
                         "--input PATH` (a file, folder or .npz of inputs)")


@functools.lru_cache(maxsize=1)
def mnistm_classifier() -> nn.Module:
    """The →MNIST-M judge: ``metrics.translation.train_digit_classifier`` on the 30,000 labelled B digits of
    mnist2mnistm (seed 0, 2 epochs; about a minute on one core), cached under ``$GANFORGE_CACHE/translation/``."""
    from ganforge.metrics.reference import cache_dir
    from ganforge.metrics.translation import digit_classifier, train_digit_classifier

    path = cache_dir() / "translation" / "mnistm-classifier-v1.pt"
    if path.is_file():
        try:
            model = digit_classifier(3)
            model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
            model.requires_grad_(False)
            return model.eval()
        except (RuntimeError, OSError, ValueError):
            pass  # damaged cache: retrain below
    data = mnist2mnistm_data(MNIST_HALF, 1, 0)
    model = train_digit_classifier(data.b, data.labels["b"])
    try:
        with atomic_file(path, "the cache") as tmp, open(tmp, "wb") as fh:  # a handle: bytes independent of the name
            torch.save(model.state_dict(), fh)
    except (OSError, OutputError):
        pass  # a read-only cache only costs the retraining next time
    return model


def _features_fid(f1: Tensor, f2: Tensor) -> float:
    from ganforge.metrics.fid import fid_from_features

    return float(fid_from_features(f1.double().numpy(), f2.double().numpy()))


def edges2mnist_metrics(G: nn.Module, data: TranslationData, device: torch.device) -> dict[str, float]:
    from ganforge.metrics.classifier import load_mnist_classifier
    from ganforge.metrics.translation import label_accuracy, predict

    clf = load_mnist_classifier(device=device)
    out, _ = translate_uint8(G, data.test_a, device)
    probs, feats = predict(clf, out)
    _, real_feats = predict(clf, data.test_b)
    return {"digit_accuracy": label_accuracy(probs, data.labels["test_b"]),
            "fid_mnist_classifier": _features_fid(feats, real_feats)}


def mnist2mnistm_metrics(G: nn.Module, data: TranslationData, device: torch.device) -> dict[str, float]:
    from ganforge.metrics.classifier import load_mnist_classifier
    from ganforge.metrics.translation import colourfulness, label_accuracy, predict, to_grey

    clf_a, clf_b = load_mnist_classifier(device=device), mnistm_classifier().to(device)
    la, lb = data.labels["test_a"], data.labels["test_b"]
    _, cols_ab = translate_uint8(G, data.test_a, device, "AB")  # a | G(a) | F(G(a))
    _, cols_ba = translate_uint8(G, data.test_b, device, "BA")  # b | F(b) | G(F(b))
    p_ab, f_ab = predict(clf_b, cols_ab[1][1])
    p_aba, _ = predict(clf_a, to_grey(cols_ab[2][1]))
    p_ba, f_ba = predict(clf_a, to_grey(cols_ba[1][1]))
    p_bab, _ = predict(clf_b, cols_ba[2][1])
    p_real_b, f_real_b = predict(clf_b, data.test_b)
    _, f_real_a = predict(clf_a, to_grey(data.test_a))
    return {"label_acc_ab": label_accuracy(p_ab, la), "label_acc_ba": label_accuracy(p_ba, lb),
            "label_acc_cycle_aba": label_accuracy(p_aba, la), "label_acc_cycle_bab": label_accuracy(p_bab, lb),
            "fid_b_mnistm_classifier": _features_fid(f_ab, f_real_b),
            "fid_a_mnist_classifier": _features_fid(f_ba, f_real_a),
            "mnistm_classifier_acc_real_test_b": label_accuracy(p_real_b, lb),
            # the style check: the digit classifiers are colour-robust (MNIST digits score ~98 % and a low FID on
            # the MNIST-M classifier), so whether G(a) looks like MNIST-M is measured by its colourfulness
            "colourfulness_ab": colourfulness(cols_ab[1][1]), "colourfulness_real_b": colourfulness(data.test_b)}


TASK_METRICS["edges2mnist"] = edges2mnist_metrics
TASK_METRICS["mnist2mnistm"] = mnist2mnistm_metrics




def colour_baselines(data: TranslationData) -> dict[str, Tensor]:
    """The trivial colourisations of the held-out greys ``data.test_a``, uint8 RGB ``[N, 3, H, W]`` each:

    grey_input  the grey image itself replicated to RGB (g = 2.55·L*, not the sRGB grey of that lightness);
    lab_l00     Lab(L, 0, 0) → sRGB: the neutral grey of the right lightness (predict a = b = 0);
    mean_ab     Lab(L, ā, b̄) → sRGB with (ā, b̄) the mean chroma of every training pixel (``data.b``): the best
                constant under L2 in ab, what an L1/L2 regressor that learned nothing about the scene would output.
    """
    from ganforge.data.colour import lab_to_rgb, rgb_to_lab

    ab = torch.zeros(2, dtype=torch.float64)
    for i in range(0, len(data.b), 1024):  # Σ ab over the training photos' pixels, in chunks
        ab += rgb_to_lab(data.b[i:i + 1024].double() / 255.0)[:, 1:].sum((0, 2, 3))
    ab /= len(data.b) * data.b.shape[-2] * data.b.shape[-1]
    light = data.test_a.double() / 2.55  # L* of the input (uint8 g = round(2.55·L*))

    def lab_image(a: float, b: float) -> Tensor:
        lab = torch.cat([light, torch.full_like(light, a), torch.full_like(light, b)], 1)
        return (lab_to_rgb(lab) * 255).round().clamp(0, 255).to(torch.uint8)

    return {"grey_input": data.test_a.expand(-1, 3, -1, -1).contiguous(), "lab_l00": lab_image(0.0, 0.0),
            "mean_ab": lab_image(float(ab[0]), float(ab[1]))}


def colorize_metrics(G: nn.Module, data: TranslationData, device: torch.device) -> dict[str, float]:
    """Colourfulness of ours and of the truth, and L1 / PSNR / SSIM of each trivial baseline (``colour_baselines``)
    as ``baseline/<name>/<metric>``, to read beside ours."""
    from ganforge.metrics.translation import colourfulness

    out, _ = translate_uint8(G, data.test_a, device)
    values = {"colourfulness": colourfulness(out), "colourfulness_truth": colourfulness(data.test_b)}
    for name, image in colour_baselines(data).items():
        values.update({f"baseline/{name}/{k}": v for k, v in paired_metrics(image, data.test_b).items()})
    return values


TASK_METRICS["colorize"] = colorize_metrics


def translation_table(run_dir: Path, runs: RunLoader, n: int = 4) -> str:
    """The first ``n`` held-out inputs through the final networks, one row each, one column per image the family
    shows (input | output | target for paired models, A | A→B | A→B→A | B | ... for two-way ones), with headers."""
    model = runs.load(run_dir)
    data = model.data
    k = min(n, len(data.test_a), len(data.test_b))
    with torch.no_grad():
        if data.paired:
            _, columns = translate_uint8(model.sampler, data.test_a[:k], model.device)
            columns = [*columns, ("target", data.test_b[:k])]
        else:
            _, forward = translate_uint8(model.sampler, data.test_a[:k], model.device, "AB")
            _, backward = translate_uint8(model.sampler, data.test_b[:k], model.device, "BA")
            columns = [*forward, *backward]
    header = "".join(f"<th>{html.escape(str(name))}</th>" for name, _ in columns)
    rows = "".join("<tr>" + "".join(f"<td>{figure(image_png(images[i].cpu()), f'{name} {i}', enlarge_to=96)}</td>"
                                    for name, images in columns) + "</tr>" for i in range(k))
    return (f"<h3>Translations of held-out inputs (final networks)</h3><table class=\"translation\"><tr>{header}</tr>"
            f"{rows}</table>")
