"""StyleGAN2 / ADA measurements on this machine (OMP_NUM_THREADS=1), five sub-commands:

quality  Digit quality (mnist-classifier: confident % = share of samples with max p >= 0.9, normalised class
         entropy) and FID on the classifier's 128-d features (vs the first n training digits) of ``stylegan2-mnist``
         against ``dcgan-mnist``, evaluated at equal *CPU seconds* of training (``--cpu``, this process's CPU time, so
         a shared machine does not bias it) — and the images seen at each point, for the equal-images reading.
         StyleGAN2's 32×32 samples are cropped to the centre 28×28 (mnist32 is MNIST padded by 2 px).
ada      The ADA paper's limited-data experiment in miniature (Karras et al. 2020b, Fig. 7): ``stylegan2-ada-mnist1k``
         with ``data.options.limit`` in ``--limits``, with ADA (target 0.6) and without (``ada_target=0``), FID on
         classifier features vs images shown (steps × batch), at the CPU checkpoints ``--cpu``.
tune     One tuning run of ``--preset`` + ``--set``s (1,000 digits per point, EMA and raw G, a 64-sample EMA grid per
         point under ``--run-root``) with the D's mean real/fake scores every 50 steps: the runs of docs/stylegan2.md's
         "what was tried" table.
styles   Where z loses its grip (issue 24): every ``--every`` steps up to ``--steps``, for 64 fixed z, the pixel
         std over z of the raw G's 32² output in [−1, 1] and, per synthesis layer and tRGB, the spread of its styles
         s = A(w) over z (std_z(sᵢ) / rms_z(sᵢ), averaged over channels i), the rms of the stored affine weight and
         the mean affine bias.
speed    sec/kimg at 32² (CPU seconds per 1,000 images shown, D and G steps and the lazy phases included) of a
         preset, next to the lecture's 158 s/kimg for StyleGAN2-ADA on one V100 at 1024².

Every point is one JSON line appended to ``--out`` (partial results survive a timeout).

    OMP_NUM_THREADS=1 python bench/stylegan2.py quality --cpu 60 120 --n-eval 2000 --out runs/bench-sg2.jsonl
    OMP_NUM_THREADS=1 python bench/stylegan2.py ada --limits 1000 2000 5000 --cpu 60 120 --out runs/bench-sg2.jsonl
    OMP_NUM_THREADS=1 python bench/stylegan2.py speed --steps 40 --out runs/bench-sg2.jsonl
    OMP_NUM_THREADS=1 python bench/stylegan2.py tune --cpu 40 80 120 --n-eval 1000 --set KEY=VALUE ... --run-root R
    OMP_NUM_THREADS=1 python bench/stylegan2.py styles --steps 400 --every 40
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from ganforge.config import resolve_config
from ganforge.data.images import MNIST
from ganforge.kinds.image import evaluate_digits
from ganforge.sampling import EVAL_SEED_OFFSET, Unpadded
from ganforge.training.run import Run

sys.path.insert(0, str(Path(__file__).resolve().parent))
from readme_figures import cpu as cpu_name

QUIET = ["log.tensorboard=False", "log.progress=False", "log.sample_every=0", "train.checkpoint_every=100000000",
         "train.device=cpu", "train.threads=1"]
V100_SEC_PER_KIMG_1024 = 158.0  # lecture 000: StyleGAN2-ADA, 1 V100, 1024²


def emit(row: dict[str, Any], out: Path | None) -> None:
    print(json.dumps(row), flush=True)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("a") as fh:
            fh.write(json.dumps(row) + "\n")


def train_and_eval(label: str, preset: str, sets: list[str], cpu_points: list[float], n_eval: int, root: Path,
                   out: Path | None, reference: Any) -> None:
    """Train ``preset`` (+ ``sets``) until each CPU-seconds point and evaluate the EMA generator there."""
    cfg = resolve_config(preset, [*sets, *QUIET, "train.steps=100000000"])
    run = Run(cfg, root / label, overwrite=True, progress=False)
    cpu = wall = 0.0
    for point in sorted(cpu_points):
        t0, c0 = time.perf_counter(), time.process_time()
        while cpu + time.process_time() - c0 < point:
            run.trainer.train_step()
        run.trainer.check_finite()
        cpu += time.process_time() - c0
        wall += time.perf_counter() - t0
        G = run.eval_generator()
        if G.z_dim and tuple(run.components.spec.shape[-2:]) != (28, 28):
            G = Unpadded(G)
        m = evaluate_digits(G, cfg.train.seed + EVAL_SEED_OFFSET, run.device, n=n_eval, reference=reference)
        p = run.trainer.objective.state_dict().get("p") if hasattr(run.trainer.objective, "p") else None
        emit({"bench": label, "preset": preset, "sets": sets, "cpu_s": round(cpu, 1), "wall_s": round(wall, 1),
              "steps": run.trainer.step, "images_shown": run.trainer.step * cfg.train.batch_size,
              "images_seen": run.trainer.images_seen, "confident_percent": round(m["confident_percent"], 2),
              "class_entropy": round(m["class_entropy"], 4), "fid_classifier": round(m["fid"], 3),
              "pixel_std": round(m["pixel_std"], 4),
              "ada_p": None if p is None else round(float(p), 4), "n_eval": n_eval, "cpu": cpu_name()}, out)


def tune(preset: str, sets: list[str], cpu_points: list[float], n_eval: int, root: Path, out: Path | None,
         reference: Any) -> None:
    """Train to each CPU point; print D's mean scores every 50 steps; judge the EMA and the raw G; save a grid."""
    from ganforge.data.base import to_uint8
    from ganforge.viz.images import save_grid

    cfg = resolve_config(preset, [*sets, *QUIET, "train.steps=100000000"])
    run = Run(cfg, root / "tune", overwrite=True, progress=False)
    cpu = 0.0
    for point in sorted(cpu_points):
        c0 = time.process_time()
        while cpu + time.process_time() - c0 < point:
            run.trainer.train_step()
            if run.trainer.step % 50 == 0:
                print(json.dumps({"step": run.trainer.step, **{k: round(float(v), 4)
                                                               for k, v in run.trainer.stats.flush().items()}}))
        cpu += time.process_time() - c0
        row: dict[str, Any] = {"bench": "tune", "preset": preset, "sets": sets, "cpu_s": round(cpu),
                               "steps": run.trainer.step, "n_eval": n_eval, "cpu": cpu_name()}
        for tag, G in (("ema", run.eval_generator()), ("raw", run.components.G)):
            m = evaluate_digits(Unpadded(G), cfg.train.seed + EVAL_SEED_OFFSET, run.device, n=n_eval,
                                reference=reference)
            row[tag] = {k: round(v, 3) for k, v in m.items()}
        with torch.no_grad():
            z = torch.randn(64, run.eval_generator().z_dim, generator=torch.Generator().manual_seed(1))
            save_grid(to_uint8(Unpadded(run.eval_generator())(z), (-1.0, 1.0)), root / f"tune-{round(cpu)}.png",
                      nrow=8, scale=2)
        emit(row, out)


def styles(preset: str, sets: list[str], steps: int, every: int, root: Path, out: Path | None) -> None:
    """Train ``preset`` for ``steps`` steps; every ``every`` steps emit the style spread per layer (see the doc)."""
    cfg = resolve_config(preset, [*sets, *QUIET, "train.steps=100000000"])
    run = Run(cfg, root / "styles", overwrite=True, progress=False)
    G = run.c.G
    z = torch.randn(64, G.z_dim, generator=torch.Generator().manual_seed(1))
    while True:
        with torch.no_grad():
            ws = G.styles(z)  # [64, num_ws, w_dim]; every index holds the same w (no mixing at sampling)
            img = G.synthesis(ws, "const")  # [64, C, R, R]
            row: dict[str, Any] = {"bench": "styles", "preset": preset, "sets": sets, "step": run.trainer.step,
                                   "pixel_std": round(float(img.std(0).mean()), 4)}
            layers = [(f"conv{i}", m) for i, m in enumerate(G.convs)] + [(f"rgb{i}", m) for i, m in enumerate(G.torgbs)]
            for name, layer in layers:
                s = layer.affine(ws[:, 0])  # [64, I]
                row[name] = {"spread": round(float((s.std(0) / s.square().mean(0).sqrt()).mean()), 3),
                             "weight_rms": round(float(layer.affine.weight.square().mean().sqrt()), 3),
                             "bias_mean": round(float(layer.affine.bias.mean()), 3)}
        emit(row, out)
        if run.trainer.step >= steps:
            return
        for _ in range(every):
            run.trainer.train_step()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python bench/stylegan2.py", description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=("quality", "ada", "speed", "tune", "styles"))
    ap.add_argument("--cpu", type=float, nargs="+", default=[60.0, 120.0], help="CPU-seconds evaluation points")
    ap.add_argument("--limits", type=int, nargs="+", default=[1000, 2000, 5000], help="ada: training digits")
    ap.add_argument("--only", choices=("ada", "noada", "stylegan2", "dcgan"), default=None,
                    help="run one arm only (to run arms as parallel processes)")
    ap.add_argument("--n-eval", type=int, default=2000, help="generated digits judged per point")
    ap.add_argument("--steps", type=int, default=40, help="speed: timed steps; styles: training steps")
    ap.add_argument("--every", type=int, default=40, help="styles: steps between two measurements")
    ap.add_argument("--preset", default="stylegan2-mnist", help="speed / quality: the StyleGAN2 preset")
    ap.add_argument("--set", dest="sets", action="append", default=[],
                    help="speed / quality: extra overrides of the StyleGAN2 preset (quality: its arm only)")
    ap.add_argument("--run-root", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=None, help="JSON lines appended here")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    root = args.run_root or Path(tempfile.mkdtemp(prefix="bench-sg2-"))
    if args.what == "speed":
        cfg = resolve_config(args.preset, [*args.sets, *QUIET, f"train.steps={args.steps + 4}"])
        run = Run(cfg, root / "speed", overwrite=True, progress=False)
        for _ in range(4):  # warm-up (first-call allocations)
            run.trainer.train_step()
        c0 = time.process_time()
        for _ in range(args.steps):  # 40 steps: lazy R1 (every 16) and PL (every 4) in their share
            run.trainer.train_step()
        cpu = time.process_time() - c0
        kimg = args.steps * cfg.train.batch_size / 1000
        emit({"bench": "speed", "preset": args.preset, "sets": args.sets, "resolution": list(run.components.spec.shape),
              "steps": args.steps, "batch": cfg.train.batch_size, "cpu_s": round(cpu, 2),
              "sec_per_kimg_cpu": round(cpu / kimg, 1), "v100_1024_sec_per_kimg": V100_SEC_PER_KIMG_1024,
              "params_G": sum(p.numel() for p in run.components.G.parameters()),
              "params_D": sum(p.numel() for p in run.components.D.parameters()), "cpu": cpu_name()}, args.out)
        return
    if args.what == "styles":
        styles(args.preset, args.sets, args.steps, args.every, root, args.out)
        return
    reference = MNIST(limit=args.n_eval).load("train")  # FID reference: the first n training digits (28×28)
    if args.what == "tune":
        tune(args.preset, args.sets, args.cpu, args.n_eval, root, args.out, reference)
        return
    if args.what == "quality":
        arms = [("stylegan2", args.preset, args.sets), ("dcgan", "dcgan-mnist", [])]
        for label, preset, sets in arms:
            if args.only in (None, label):
                train_and_eval(f"quality-{label}", preset, sets, args.cpu, args.n_eval, root, args.out, reference)
        return
    for limit in args.limits:
        for label, sets in (("ada", []), ("noada", ["objective.options.ada_target=0"])):
            if args.only in (None, label):
                train_and_eval(f"ada-{limit}-{label}", "stylegan2-ada-mnist1k",
                               [f"data.options.limit={limit}", *sets], args.cpu, args.n_eval, root, args.out,
                               reference)


if __name__ == "__main__":
    main()
