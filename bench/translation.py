"""Image-to-image translation figures for the README (docs/translation.md): trains (or loads) the three presets and
pix2pix's L1-only ablation, evaluates them on their held-out test splits exactly as ``ganforge eval`` does, and
prints one markdown table per task next to the trivial baselines:

  edges2mnist    pix2pix vs the L1-only U-Net (pix2pix Table 1's ablation) vs the identity (the edge map itself):
                 L1 / PSNR / SSIM, digit accuracy and FID on the mnist-classifier's features
  mnist2mnistm   CycleGAN vs no translation (the source image judged as if it were the target):
                 label preservation A→B, B→A, the cycles, FID in each target domain
  colorize       ours vs the trivial colourisations (grey input as RGB, Lab(L, 0, 0), the training mean ab):
                 L1 / PSNR / SSIM / colourfulness, plus a grey | ours | truth grid

    OMP_NUM_THREADS=1 python bench/translation.py --run-root runs/translation [--train] [--device cpu]

Runs are ``RUN_ROOT/<name>``; with ``--train`` a missing run is trained with the preset's default budget
(``ganforge train PRESET``). Results also go to ``RUN_ROOT/translation.json``, the grid to
``RUN_ROOT/colorize-grid.png``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import torch

RUNS = {  # name -> (preset, extra --set)
    "pix2pix-edges2mnist": ("pix2pix-edges2mnist", []),
    "pix2pix-edges2mnist-l1only": ("pix2pix-edges2mnist", ["objective.options.gan_weight=0"]),
    "colorize-photos": ("colorize-photos", []),
    "cyclegan-mnist2mnistm": ("cyclegan-mnist2mnistm", []),
}


def ensure_run(root: Path, name: str, train: bool) -> Path:
    run = root / name
    if (run / "checkpoints" / "latest.pt").is_file():
        return run
    if not train:
        raise SystemExit(f"run {run} missing: pass --train to train it (preset default budget)")
    preset, sets = RUNS[name]
    cmd = [sys.executable, "-m", "ganforge", "train", preset, "--run-dir", str(run), "--no-progress"]
    for s in sets:
        cmd += ["--set", s]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    print(f"# trained {name} in {time.perf_counter() - t0:.0f} s", flush=True)
    return run


def load(run: Path, device: torch.device):  # -> (cfg, sampler, data, hooks)
    from ganforge.builder import build_dataset
    from ganforge.kinds import hooks_for
    from ganforge.training.rundir import load_run

    cfg, sampler, _, state = load_run(run, device=device)
    return cfg, sampler, build_dataset(cfg), hooks_for(state["spec"]["kind"]), state["trainer"]["step"]


def fmt(v: float) -> str:
    return f"{v:.4f}" if abs(v) < 10 else f"{v:.2f}"


def table(rows: list[tuple[str, ...]], header: tuple[str, ...]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def edges2mnist(root: Path, device: torch.device, out: dict) -> str:
    from ganforge.kinds.translation import _features_fid, paired_metrics
    from ganforge.metrics.classifier import load_mnist_classifier
    from ganforge.metrics.translation import label_accuracy, predict

    results = {}
    for name in ("pix2pix-edges2mnist", "pix2pix-edges2mnist-l1only"):
        cfg, G, data, hooks, step = load(root / name, device)
        t0 = time.perf_counter()
        results[name] = {**hooks.evaluate(G, data, cfg, device), "step": step,
                         "eval_s": round(time.perf_counter() - t0, 1)}
    clf = load_mnist_classifier(device=device)
    probs, feats = predict(clf, data.test_a)
    _, real = predict(clf, data.test_b)
    results["identity (edge map)"] = {**paired_metrics(data.test_a, data.test_b),
                                      "digit_accuracy": label_accuracy(probs, data.labels["test_b"]),
                                      "fid_mnist_classifier": _features_fid(feats, real)}
    out["edges2mnist"] = results
    keys = ("l1", "psnr", "ssim", "digit_accuracy", "fid_mnist_classifier")
    rows = [(name, *(fmt(r[k]) for k in keys)) for name, r in results.items()]
    return table(rows, ("edges2mnist (2,000 test digits)", "L1 ↓", "PSNR dB ↑", "SSIM ↑", "digit acc ↑",
                        "FID (mnist-classifier) ↓"))


def mnist2mnistm(root: Path, device: torch.device, out: dict) -> str:
    from ganforge.kinds.translation import _features_fid, mnistm_classifier
    from ganforge.metrics.classifier import load_mnist_classifier
    from ganforge.metrics.translation import colourfulness, label_accuracy, predict, to_grey

    cfg, G, data, hooks, step = load(root / "cyclegan-mnist2mnistm", device)
    ours = {**hooks.evaluate(G, data, cfg, device), "step": step}
    clf_a, clf_b = load_mnist_classifier(device=device), mnistm_classifier().to(device)
    p_a_as_b, f_a_as_b = predict(clf_b, data.test_a)  # an MNIST digit judged as if it were MNIST-M
    p_b_as_a, f_b_as_a = predict(clf_a, to_grey(data.test_b))
    _, f_real_b = predict(clf_b, data.test_b)
    _, f_real_a = predict(clf_a, to_grey(data.test_a))
    base = {"label_acc_ab": label_accuracy(p_a_as_b, data.labels["test_a"]),
            "label_acc_ba": label_accuracy(p_b_as_a, data.labels["test_b"]),
            "fid_b_mnistm_classifier": _features_fid(f_a_as_b, f_real_b),
            "fid_a_mnist_classifier": _features_fid(f_b_as_a, f_real_a),
            "colourfulness_ab": colourfulness(data.test_a)}
    out["mnist2mnistm"] = {"cyclegan": ours, "no translation": base}
    keys = ("label_acc_ab", "label_acc_ba", "label_acc_cycle_aba", "label_acc_cycle_bab", "fid_b_mnistm_classifier",
            "fid_a_mnist_classifier", "colourfulness_ab", "cycle_l1_ab", "cycle_l1_ba")
    rows = [("CycleGAN", *(fmt(ours[k]) for k in keys)),
            ("no translation", *(fmt(base[k]) if k in base else "—" for k in keys))]
    note = (f"\nMNIST-M classifier (trained on labelled B) on real test B: "
            f"{ours['mnistm_classifier_acc_real_test_b']:.4f}; colourfulness of real test B: "
            f"{ours['colourfulness_real_b']:.2f}")
    return table(rows, ("mnist2mnistm (1,000 test digits a side)", "label acc A→B ↑", "label acc B→A ↑",
                        "cycle A→B→A ↑", "cycle B→A→B ↑", "FID in B ↓", "FID in A ↓", "colourfulness G(a)",
                        "cycle L1 A ↓", "cycle L1 B ↓")) + note


def colorize(root: Path, device: torch.device, out: dict) -> str:
    from ganforge.kinds.translation import colour_baselines, translate_uint8
    from ganforge.metrics.translation import colourfulness
    from ganforge.viz.images import comparison_grid, save_image

    cfg, G, data, hooks, step = load(root / "colorize-photos", device)
    ours = {**hooks.evaluate(G, data, cfg, device), "step": step}  # includes baseline/<name>/<metric>
    images = colour_baselines(data)
    names = {"grey_input": "grey input (g as RGB)", "lab_l00": "Lab(L, 0, 0)", "mean_ab": "constant mean ab"}
    base = {names[n]: {k: ours[f"baseline/{n}/{k}"] for k in ("l1", "psnr", "ssim")}
            | {"colourfulness": colourfulness(im)} for n, im in images.items()}
    out["colorize"] = {"ours": ours, **base, "split": cfg.data.options.get("split", "photo")}
    grey = images["grey_input"]
    idx = torch.linspace(0, len(data.test_a) - 1, 12).long()  # crops from every held-out photograph / region
    pred, _ = translate_uint8(G, data.test_a[idx], device)
    save_image(comparison_grid([grey[idx], pred, data.test_b[idx]]), root / "colorize-grid.png")
    keys = ("l1", "psnr", "ssim", "colourfulness")
    rows = [("ours (Lab, self-attention)", *(fmt(ours[k]) for k in keys))]
    rows += [(name, *(fmt(v[k]) for k in keys)) for name, v in base.items()]
    rows += [("truth", "0", "∞", "1", fmt(ours["colourfulness_truth"]))]
    what = {"photo": "unseen photos", "region": "unseen regions"}[out["colorize"]["split"]]
    return table(rows, (f"colorize-photos ({len(data.test_a)} crops of {what})", "L1 ↓", "PSNR dB ↑", "SSIM ↑",
                        "colourfulness"))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run-root", type=Path, default=Path("runs/translation"))
    p.add_argument("--train", action="store_true", help="train missing runs at the presets' default budgets")
    p.add_argument("--device", default="cpu")
    p.add_argument("--only", nargs="*", default=["edges2mnist", "mnist2mnistm", "colorize"])
    args = p.parse_args(argv)
    device = torch.device(args.device)
    need = {"edges2mnist": ["pix2pix-edges2mnist", "pix2pix-edges2mnist-l1only"],
            "mnist2mnistm": ["cyclegan-mnist2mnistm"], "colorize": ["colorize-photos"]}
    for task in args.only:
        for name in need[task]:
            ensure_run(args.run_root, name, args.train)
    out: dict = {}
    for task in args.only:
        t0 = time.perf_counter()
        text = {"edges2mnist": edges2mnist, "mnist2mnistm": mnist2mnistm, "colorize": colorize}[task](
            args.run_root, device, out)
        print(text)
        print(f"(evaluated in {time.perf_counter() - t0:.0f} s)\n", flush=True)
    (args.run_root / "translation.json").write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
