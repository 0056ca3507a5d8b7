"""LAPGAN vs a single-scale GAN at 32², and SRGAN vs bicubic and SRResNet — each on the same data and budget.

    OMP_NUM_THREADS=1 python bench/lapgan_srgan.py lapgan --run-root R      # lapgan-mnist vs dcgan-mnist on mnist32
    OMP_NUM_THREADS=1 python bench/lapgan_srgan.py srgan-mnist --run-root R # srresnet-mnist, then srgan-mnist from it
    OMP_NUM_THREADS=1 python bench/lapgan_srgan.py srgan-photos --run-root R

``lapgan``: the ``lapgan-mnist`` preset and the ``dcgan-mnist`` preset on the same data (``data.name=pyramid``:
mnist32, judged alike: the centre 28×28 by the MNIST classifier — confident %, class entropy, classifier-feature FID)
with the same batch size and number of steps; CPU seconds are reported next to the numbers.
``srgan-*``: the SRResNet preset (MSE only), then the SRGAN preset started from it (the paper's protocol); their final
evaluations (held-out split) give PSNR/SSIM and the perceptual scores of the model and of bicubic up-sampling.
Results are printed as markdown rows and written to ``bench/results/lapgan_srgan-<what>.json``; ``--set`` adds
overrides to every run (e.g. a smaller budget). A run directory that already holds a finished run is read, not
retrained (so runs can be trained separately, e.g. in parallel, and tabulated afterwards).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

from ganforge.cli import main as ganforge

RESULTS = Path(__file__).parent / "results"
BENCHES = {
    "lapgan": [("lapgan-mnist", ["train.steps=3000"]),
               ("dcgan-mnist", ["data.name=pyramid", "data.options={'dataset': 'mnist32'}", "train.batch_size=32",
                                "train.steps=3000", "train.ema_start=200", "log.eval_samples=2000",
                                "log.sample_every=500"])],
    "srgan-mnist": [("srresnet-mnist", []), ("srgan-mnist", ["objective.options.init_from={root}/srresnet-mnist"])],
    "srgan-photos": [("srresnet-photos", []), ("srgan-photos", ["objective.options.init_from={root}/srresnet-photos"])],
}


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def train(preset: str, sets: list[str], run_dir: Path) -> dict:
    """Train ``preset`` into ``run_dir`` and read its final evaluation; a finished run there is read, not retrained
    (its training wall time then comes from ``metrics.jsonl``: ``time/step_ms`` × steps)."""
    final = run_dir / "eval" / "final.json"
    if final.is_file():
        lines = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
        last = [r for r in lines if "time/step_ms" in r][-1]
        step = int(last["step"])
        return {"preset": preset, "sets": sets, "run_dir": str(run_dir), "reused": True, "steps": step,
                "train_wall_s": round(last.get("time/step_ms", 0.0) * step / 1000, 1), "cpu_s": None,
                "metrics": json.loads(final.read_text())["metrics"]}
    args = ["train", preset, "--run-dir", str(run_dir), "--no-progress", "--set", "log.tensorboard=false"]
    for s in sets:
        args += ["--set", s]
    t0, c0 = time.perf_counter(), cpu_seconds()
    rc = ganforge(args)
    if rc != 0:
        raise SystemExit(f"training {preset} failed (exit {rc})")
    return {"preset": preset, "sets": sets, "run_dir": str(run_dir), "wall_s": round(time.perf_counter() - t0, 1),
            "cpu_s": round(cpu_seconds() - c0, 1), "metrics": json.loads(final.read_text())["metrics"]}


def _cost(r: dict) -> str:
    return f"{r['cpu_s']:.0f}" if r.get("cpu_s") is not None else f"({r['train_wall_s']:.0f} wall)"


def rows(what: str, results: list[dict]) -> list[str]:
    if what == "lapgan":
        out = ["| model | confident % | class entropy | classifier FID | CPU s |", "|---|---|---|---|---|"]
        for r in results:
            m = r["metrics"]
            out.append(f"| {r['preset']} | {m['confident_percent']:.2f} | {m['class_entropy']:.3f} | {m['fid']:.2f} | "
                       f"{_cost(r)} |")
        return out
    extra = "accuracy % | " if "sr_accuracy" in results[0]["metrics"] else ""
    out = [f"| method | PSNR dB | SSIM | sharpness | feature FID | feature dist | {extra}CPU s |",
           "|---|---|---|---|---|---|" + ("---|" if extra else "") + "---|"]
    first = results[0]["metrics"]
    lines = [("bicubic", first, "bicubic", "-")] + [(r["preset"], r["metrics"], "sr", _cost(r))
                                                    for r in results]
    for name, m, key, cpu in lines:
        acc = f"{m[key + '_accuracy']:.2f} | " if extra else ""
        out.append(f"| {name} | {m[key + '_psnr']:.2f} | {m[key + '_ssim']:.4f} | {m[key + '_sharpness']:.3f} | "
                   f"{m[key + '_fid']:.2f} | {m[key + '_feature_dist']:.4f} | {acc}{cpu} |")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("what", choices=sorted(BENCHES))
    p.add_argument("--run-root", type=Path, required=True)
    p.add_argument("--set", dest="sets", action="append", default=[], help="override for every run (a.b=c)")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    results = []
    for preset, sets in BENCHES[args.what]:
        sets = [s.replace("{root}", str(args.run_root)) for s in sets] + args.sets
        results.append(train(preset, sets, args.run_root / preset))
        print(json.dumps(results[-1], indent=1), flush=True)
    table = rows(args.what, results)
    print("\n".join(table))
    out = args.out or RESULTS / f"lapgan_srgan-{args.what}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"bench": args.what, "argv": sys.argv[1:], "results": results, "table": table},
                              indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
