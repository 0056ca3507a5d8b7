"""StarGAN v2 on MNIST digits, measured as the paper measures (Choi et al. 2020, §4, Table 1 and Table 2):

    FID latent / reference   FID per target domain k of translations of test digits from the other nine domains,
                             on the shipped mnist-classifier's 128-d features (the paper: Inception features),
                             against the real test digits of k, averaged over the ten domains
    acc latent / reference   domain accuracy: % of translations the shipped classifier assigns to the target class
    diversity                mean pairwise classifier-feature L2 distance between 10 outputs of one source for 10 z
                             (the paper uses LPIPS, which needs downloaded AlexNet weights: not available offline)
    style (ref / src)        Pearson correlation of the slant and the ink (stroke width) image moments between the
                             reference and its reference-guided output, and between the source and its latent-guided
                             output (how much handwriting goes with the style code, how much stays with the source)

for the full objective and the paper's Table 1 ablations: without L_ds (λ_ds = 0) and without L_cyc (λ_cyc = 0).
Two baseline rows bound them (``baselines``): a real digit of the target domain drawn independently of the source
(FID floor, accuracy ceiling, source correlation at chance: ≈ 0 for slant; for ink a small negative class effect,
since the sources of target k exclude k's digits and the targets' mean ink differs) and no translation at all (the
source itself: source correlation 1, domain accuracy ≈ 0). Each row trains its run unless it exists (``--steps`` per
run; by default the preset's own steps and λ_ds schedule):

    OMP_NUM_THREADS=1 python bench/stargan_v2.py --root runs/stargan-v2-bench --steps 300
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROWS = {  # name: (description, extra --set)
    "full": ("StarGAN v2 (all losses)", []),
    "no_ds": ("without L_ds (λ_ds = 0)", ["objective.options.lambda_ds=0"]),
    "no_cyc": ("without L_cyc (λ_cyc = 0)", ["objective.options.lambda_cyc=0"]),
}


def train_command(root: Path, name: str, steps: int | None) -> list[str]:
    """The ``ganforge train`` command of one row: the preset, ``steps`` steps (λ_ds decayed over them) when given."""
    sets = [f"train.steps={steps}", f"objective.options.ds_steps={steps}", f"train.checkpoint_every={steps}",
            "log.sample_every=100"] if steps else []
    sets += ROWS[name][1]
    return ["ganforge", "train", "stargan-v2-mnist", "--run-dir", str(root / name), "--no-progress",
            *[a for s in sets for a in ("--set", s)]]


@torch.no_grad()
def baselines(n: int, seed: int) -> dict[str, dict[str, float]]:
    """The two ends the translation rows sit between, on the same test digits and the same metric code:

    ``real``    the output is a real test digit of the target domain k drawn independently of the source: FID between
                two disjoint halves of k's test digits (the floor), the classifier's accuracy on them (the ceiling),
                and the source correlations of a generator that ignores its source (chance: slant 0 up to
                ±1/√(10 n); ink pooled over targets of different mean ink, slightly negative);
    ``copy``    no translation, the output is the source itself: source correlations 1 by construction (the
                ceiling), while its domain accuracy (≈ 0: sources come from the other nine domains) and FID show what
                keeping the source costs when nothing is translated."""
    from ganforge.data.mnist import load_mnist_raw
    from ganforge.kinds.domains import moments, pearson
    from ganforge.metrics.classifier import MnistClassifierFeatures
    from ganforge.metrics.fid import fid_from_features

    x, y = load_mnist_raw("test")
    clf = MnistClassifierFeatures()
    gen = torch.Generator().manual_seed(seed)
    fids: dict[str, list[float]] = {"real": [], "copy": []}
    accs: dict[str, list[float]] = {"real": [], "copy": []}
    srcs, outs = [], []
    for k in range(10):
        own = torch.nonzero(y == k).flatten()
        own = own[torch.randperm(len(own), generator=gen)]
        a, b = own[: len(own) // 2][:n], own[len(own) // 2 :][:n]  # two disjoint halves of domain k
        others = torch.nonzero(y != k).flatten()
        src = others[torch.randperm(len(others), generator=gen)[: len(a)]]  # sources from the other domains
        real_b = clf(x[b]).numpy()
        for name, images in (("real", x[a]), ("copy", x[src])):
            fids[name].append(fid_from_features(clf(images).numpy(), real_b))
            accs[name].append(100.0 * float((clf.probabilities(images).argmax(1) == k).double().mean()))
        srcs.append(x[src])
        outs.append(x[a])  # the "real" row's output for these sources: a real digit of k, unrelated to the source
    m_src, m_out = moments(torch.cat(srcs)), moments(torch.cat(outs))
    rows = {name: {"fid_latent": float(np.mean(fids[name])), "acc_latent": float(np.mean(accs[name]))}
            for name in ("real", "copy")}
    for stat in ("ink", "slant"):
        rows["real"][f"style_src_{stat}"] = pearson(m_src[stat], m_out[stat])
        rows["copy"][f"style_src_{stat}"] = 1.0  # pearson(a, a)
    return rows


def evaluate_run(run: Path, n: int, seed: int) -> dict[str, float]:
    from ganforge.data.mnist import load_mnist_raw
    from ganforge.kinds.domains import translation_metrics
    from ganforge.training.rundir import load_run

    _, sampler, _, _ = load_run(run, device="cpu", use_ema=True)
    x, y = load_mnist_raw("test")
    return translation_metrics(dict(sampler.nets.items()), x, y, n, seed, torch.device("cpu"), digit_domains=True)


def child_cpu_seconds() -> float:
    """User + system CPU seconds of this process's finished children (the training subprocesses)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", type=Path, default=Path("runs/stargan-v2-bench"))
    p.add_argument("--steps", type=int, default=None, help="training steps of each run it trains (default: the "
                   "preset's)")
    p.add_argument("--n", type=int, default=500, help="sources per target domain")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS))
    p.add_argument("--out", type=Path, default=Path("bench/results/stargan_v2.json"))
    args = p.parse_args(argv)
    results: dict[str, dict] = {}
    for name in args.rows:
        run = args.root / name
        cmd = train_command(args.root, name, args.steps)
        train_cpu = None
        if not (run / "checkpoints" / "latest.pt").is_file():
            t0, c0 = time.perf_counter(), child_cpu_seconds()
            subprocess.run([sys.executable, "-m", "ganforge", *cmd[1:]], check=True)
            train_cpu = round(child_cpu_seconds() - c0, 1)  # CPU time of the training process (the budget's unit)
            print(f"trained {name} in {time.perf_counter() - t0:.0f} s wall, {train_cpu} CPU s")
        t0 = time.perf_counter()
        metrics = evaluate_run(run, args.n, args.seed)
        results[name] = {"label": ROWS[name][0], "command": " ".join(cmd), "metrics": metrics,
                         "train_cpu_seconds": train_cpu, "eval_seconds": round(time.perf_counter() - t0, 1)}
    base = baselines(args.n, args.seed)
    results["real"] = {"label": "a real digit of the target, independent of the source (floor / ceiling / chance)",
                       "command": "", "metrics": base["real"]}
    results["copy"] = {"label": "no translation: the source itself", "command": "", "metrics": base["copy"]}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"n_per_domain": args.n, "seed": args.seed, "rows": results}, indent=2) + "\n")
    cols = ["fid_latent", "fid_reference", "acc_latent", "acc_reference", "diversity_latent", "style_ref_slant",
            "style_ref_ink", "style_src_slant", "style_src_ink"]
    print("| row | " + " | ".join(cols) + " |")
    print("|---|" + "---|" * len(cols))
    for r in results.values():
        m = r["metrics"]
        print(f"| {r['label']} | " + " | ".join(f"{m[c]:.2f}" if c in m else "–" for c in cols) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
