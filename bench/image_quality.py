"""Digit quality per CPU-minute: every MNIST image preset trained for the same CPU budgets, judged the same way.

For each preset one training run (``Run`` from ``ganforge.training.run``: exactly what ``ganforge train`` does, with
quiet logging) advances one ``trainer.train_step()`` at a time until the process's training CPU time reaches each mark
of ``--minutes`` (or the preset's own ``train.steps`` ends first: then it is judged once, at its end, and the row
says so). At each mark the generator ``ganforge train`` evaluates (the EMA copy when the preset keeps one; ``--raw``
adds the raw G) is judged on ``--n-eval`` samples with a private RNG (training state is never touched):

    confident %    = 100 · (1/N) Σ_i 1[max_j p(j | x_i) ≥ 0.9]             (shipped mnist-classifier)
    class entropy  = −Σ_k q_k log q_k / log 10,  q_k = share of argmax class k   (1 = all ten classes equally)
    pixel std      = mean over pixels of the std over samples of x ∈ [0, 1]  (collapse → 0; blobs → low)
    FID            = Fréchet distance of the classifier's 128-d features, N samples vs the first N train digits
    label acc      = % of G(z, k) classified as k, N/10 samples per class     (conditional presets; chance 10 %)

32×32 generators (PGGAN, StyleGAN2 on mnist32, LAPGAN) are centre-cropped back to the 28×28 digit first. Evaluation
time is excluded from the CPU budget and reported apart. A real-data row (the test split judged the same way; its
FID against the train digits is the floor any generator can reach at this N) is printed first: the chance level and
the strongest trivial baseline beside every figure.

    OMP_NUM_THREADS=1 python bench/image_quality.py dcgan-mnist --minutes 5 10 20
    python bench/image_quality.py --readme README.md    # rewrite the README table from bench/results/image_quality/

With ``--grids DIR`` a 10×10 grid of the judged generator's samples is saved at every mark
(``DIR/<preset>-<minutes>min.png``; the EMA copy when the preset keeps one; a conditional G gets one row per class),
so a figure never stands without the pictures it describes; ``--readme`` shows each preset's last grid below the table.

Each preset's rows go to ``--out-dir/<preset>.json`` (default ``bench/results/image_quality``) with the command,
the ganforge commit (``+dirty`` when the source tree has uncommitted changes) and the hardware; ``--readme`` turns
every JSON there into the table between ``<!-- image-quality:begin -->`` and ``<!-- image-quality:end -->``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

import ganforge
from ganforge.commands.common import images_uint8
from ganforge.config import resolve_config
from ganforge.data.mnist32 import unpad
from ganforge.kinds.image import evaluate_digits, judge_digits, reference_statistics
from ganforge.metrics.classifier import load_mnist_classifier
from ganforge.models.base import conditioning_dim
from ganforge.sampling import EVAL_SEED_OFFSET, iter_labelled_samples
from ganforge.training.run import Run
from ganforge.viz.images import save_grid

QUIET = ["log.tensorboard=False", "log.progress=False", "log.sample_every=0", "log.eval_every=0",
         "train.checkpoint_every=100000000", "train.device=cpu"]
RESULTS = Path(__file__).resolve().parent / "results" / "image_quality"
BEGIN, END = "<!-- image-quality:begin -->", "<!-- image-quality:end -->"


def source_commit() -> str:
    """The commit of the ganforge source actually imported (``+dirty`` with uncommitted changes), or "unknown"."""
    src = Path(ganforge.__file__).resolve().parent
    try:
        head = subprocess.run(["git", "-C", str(src), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(src), "status", "--porcelain", "--", "."], capture_output=True,
                               text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def hardware() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    return f"{cpu}, {torch.get_num_threads()} torch thread(s) (torch {torch.__version__})"


def digits(images: torch.Tensor) -> torch.Tensor:
    """uint8 ``[N, 1, S, S]`` → the 28×28 digits the classifier reads (32² mnist32 images lose their padding)."""
    if images.shape[1] != 1 or images.shape[-1] not in (28, 32):
        raise SystemExit(f"the mnist-classifier judges 1×28×28 (or padded 1×32×32) digits, "
                         f"got {tuple(images.shape[1:])}")
    return unpad(images)


# decimals each figure is recorded with
DECIMALS = {"confident_percent": 2, "class_entropy": 4, "pixel_std": 4, "fid": 2, "label_accuracy_percent": 2}


class Judge:
    """The classifier and the real digits (the first ``n`` train digits: FID's reference) of one dataset; judging is
    ``kinds.image.evaluate_digits`` / ``judge_digits``, the one digit judge ``ganforge train`` uses too."""

    def __init__(self, train_x: torch.Tensor, n: int) -> None:
        self.n, self.model = n, load_mnist_classifier(device=torch.device("cpu"))
        self.train_x = train_x  # uint8 [M, 1, S, S]; its first n digits' feature statistics are cached by the judge

    def _rounded(self, metrics: dict[str, float]) -> dict[str, float]:
        return {k: round(v, DECIMALS[k]) for k, v in metrics.items()}

    def images(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> dict[str, float]:
        """confident %, entropy, pixel std and FID of uint8 digits ``[N, 1, 28, 28]``; with the ``labels`` they were
        drawn for, label accuracy too (one classifier pass serves both)."""
        real = reference_statistics(self.model, self.train_x, self.n)
        return self._rounded(judge_digits([(images, labels)], self.model, real))

    def generator(self, G: nn.Module, seed: int) -> dict[str, float]:
        c_dim = conditioning_dim(G)
        # conditional G: n/c of every class, so label accuracy and FID see a balanced sample
        labels = torch.arange(c_dim).repeat_interleave(-(-self.n // c_dim))[: self.n] if c_dim else None
        return self._rounded(evaluate_digits(G, seed, torch.device("cpu"), self.n, classifier=self.model,
                                             reference=self.train_x, labels=labels))


def sample_grid(G: nn.Module, seed: int, path: Path) -> Path:
    """Save 100 of ``G``'s 28² digits drawn with ``seed`` as a 10×10 grid (2× upscaled); for a conditional G ten per
    class, one row per class (row k asked for digit k)."""
    c_dim = conditioning_dim(G)
    labels = torch.arange(10).repeat_interleave(10) % c_dim if c_dim else None
    x = torch.cat([images_uint8(x, G) for x, _ in
                   iter_labelled_samples(G, 100, seed, torch.device("cpu"), labels=labels)])
    return save_grid(digits(x).numpy(), path, nrow=10, scale=2)


def bench_preset(preset: str, minutes: list[float], overrides: list[str], n_eval: int, raw: bool,
                 run_root: Path, judges: dict[tuple[str, str], Judge], save: Any = None,
                 checkpoints: bool = False, grids: Path | None = None,
                 earlier: dict[str, Any] | None = None) -> dict[str, Any]:
    """Train ``preset`` to each CPU mark and judge it there; ``save(result)`` is called after every mark, so a
    long run's early marks are on disk before it ends. With ``checkpoints``, the run is checkpointed at every mark
    (``RUN/checkpoints/step-N.pt``, outside the timed budget): ``ganforge sample`` then draws the judged generator.
    ``earlier`` (a saved result of this preset whose run was checkpointed at its last mark) continues that run: it
    resumes the run's latest checkpoint (exact resume: the same steps as if it had never stopped), counts the CPU
    time already spent, keeps the earlier rows and trains to the marks after them; a last mark the run reached its
    ``train.steps`` before (``finished``, fewer CPU seconds than the mark) is dropped and trained to again."""
    cfg = resolve_config(preset, [*overrides, *QUIET])
    folder = run_root / Path(preset).stem
    if earlier is not None:
        last = earlier["rows"][-1]
        run = Run(cfg, folder, resume="latest", progress=False)
        if run.trainer.step != last["steps"]:
            raise SystemExit(f"{folder}: the latest checkpoint is at step {run.trainer.step}, the saved result's last "
                             f"mark at step {last['steps']}; continue only a run saved with --save-checkpoints")
        if last["finished"]:  # it stopped at its train.steps before that mark: that mark is trained to again
            earlier = {**earlier, "rows": [r for r in earlier["rows"] if r["minutes"] != last["minutes"]]}
            minutes = [m for m in minutes if m >= last["minutes"]]
        else:
            minutes = [m for m in minutes if m > last["minutes"]]
    else:
        run = Run(cfg, folder, overwrite=True, progress=False)
    data = run.components.data
    x = getattr(data, "x", None)
    if x is None or tuple(x.shape[1:2]) != (1,) or x.shape[-1] not in (28, 32):
        raise SystemExit(f"{preset}: data {cfg.data.name!r} is not MNIST-shaped digits; this bench judges digits")
    key = (cfg.data.name, repr(cfg.data.options))  # one Judge (classifier + real features) per dataset
    if key not in judges:
        judges[key] = Judge(x, n_eval)
    judge = judges[key]
    rows: list[dict[str, Any]] = list(earlier["rows"]) if earlier is not None else []
    cpu, wall = (last["train_cpu_s"], last["train_wall_s"]) if earlier is not None else (0.0, 0.0)
    seed = cfg.train.seed + EVAL_SEED_OFFSET
    for mark in sorted(minutes):
        t0, c0 = time.perf_counter(), time.process_time()
        while run.trainer.step < cfg.train.steps and cpu + time.process_time() - c0 < 60.0 * mark:
            run.trainer.train_step()
        run.trainer.check_finite()  # a NaN/inf loss ends the bench with the run's own one-line error
        cpu += time.process_time() - c0
        wall += time.perf_counter() - t0
        finished = run.trainer.step >= cfg.train.steps
        gens = [("ema", run.G_ema), ("G", run.components.G)] if run.G_ema is not None else [("G", run.components.G)]
        for label, G in gens[: 2 if raw else 1]:
            e0 = time.perf_counter()
            row = {"preset": preset, "minutes": mark, "generator": label, "steps": run.trainer.step,
                   "images_seen": run.trainer.images_seen, "train_cpu_s": round(cpu, 1), "train_wall_s": round(wall, 1),
                   "finished": finished, **judge.generator(G, seed)}
            row["eval_s"] = round(time.perf_counter() - e0, 1)
            if grids is not None and label == gens[0][0]:  # the generator ganforge samples from
                row["grid"] = sample_grid(G, seed, grids / grid_name(preset, mark)).name
            rows.append(row)
            print(format_row(row), flush=True)
        if checkpoints:
            run.save_checkpoint()
        if save is not None:
            save({"preset": preset, "overrides": overrides, "rows": rows, "n_eval": n_eval})
        if finished:
            print(f"{preset}: the preset's {cfg.train.steps} steps ended at {cpu / 60:.1f} CPU-min; "
                  "later marks skipped", flush=True)
            break
    return {"preset": preset, "overrides": overrides, "rows": rows, "n_eval": n_eval}


HEADER = (f"{'preset':<22} {'min':>5} {'G':<4} {'steps':>6} {'cpu s':>7} {'FID':>7} {'conf %':>7} {'entropy':>7} "
          f"{'px std':>6} {'label %':>7}")


def format_row(r: dict[str, Any]) -> str:
    label = r.get("label_accuracy_percent")
    return (f"{r['preset']:<22} {r['minutes']:>5} {r['generator']:<4} {r['steps']:>6} {r['train_cpu_s']:>7.1f} "
            f"{r['fid']:>7.2f} {r['confident_percent']:>7.2f} {r['class_entropy']:>7.4f} {r['pixel_std']:>6.3f} "
            f"{'—' if label is None else f'{label:.1f}':>7}")


def real_row(judge: Judge, test_x: torch.Tensor) -> dict[str, Any]:
    """The test split judged like a generator: the floor of FID at this N and real digits' confident %/std."""
    return {"preset": "real test digits", "minutes": 0, "generator": "—", "steps": 0, "train_cpu_s": 0.0,
            **judge.images(digits(test_x[: judge.n]))}


def readme_table(results: list[dict[str, Any]], real: dict[str, Any] | None) -> str:
    lines = ["| preset | CPU-min (steps) | generator | classifier FID ↓ | confident % | class entropy | pixel std "
             "over z | label acc % (chance 10) | commit |", "|---|---|---|---|---|---|---|---|---|"]
    if real is not None:
        lines.append(f"| real MNIST test digits (floor) | — | — | {real['fid']:.2f} | "
                     f"{real['confident_percent']:.1f} | {real['class_entropy']:.3f} | {real['pixel_std']:.3f} "
                     "| — | — |")
    for res in results:
        for r in res["rows"]:
            label = r.get("label_accuracy_percent")
            end = " (ended)" if r.get("finished") else ""
            lines.append(f"| `{r['preset']}` | {r['train_cpu_s'] / 60:.1f}{end} ({r['steps']}) | {r['generator']} | "
                         f"{r['fid']:.2f} | {r['confident_percent']:.1f} | {r['class_entropy']:.3f} | "
                         f"{r['pixel_std']:.3f} | {'—' if label is None else f'{label:.1f}'} | {commit_of(res, r)} |")
    return "\n".join(lines)


def continuations(res: dict[str, Any]) -> list[dict[str, Any]]:
    """A result's ``--continue`` records, oldest first (one dict in results saved before there could be several)."""
    more = res.get("continued")
    return [] if more is None else [more] if isinstance(more, dict) else list(more)


def commit_of(res: dict[str, Any], row: dict[str, Any]) -> str:
    """The commit a row was measured on: a continued result's later rows name the continuations' commits too."""
    later = [c["commit"] for c in continuations(res) if row["steps"] > c["from_step"]]
    if later:
        return f"{' → '.join([res['commit'], *later])} (continued)"
    return res["commit"]


def display_command(command: str) -> str:
    """A result's command as a reader would type it: the machine-specific output and run folders dropped, grids
    shown going to the README's gallery folder."""
    words, out, skip = shlex.split(command), [], False
    for w in words:
        if skip:
            skip = False
        elif w in ("--out", "--out-dir", "--run-root"):
            skip = True
        elif w == "--grids":
            out += [w, "docs/img/image_quality"]
            skip = True
        else:
            out.append(w)
    return shlex.join(out)


def grid_name(preset: str, minutes: float) -> str:
    return f"{Path(preset).stem}-{minutes:g}min.png"


def grid_gallery(results: list[dict[str, Any]], readme: Path, grids: Path | None = None, per_row: int = 4) -> str:
    """An HTML table (``per_row`` grids a row) of each preset's grid at its last mark that has one
    (``grids/<preset>-<minutes>min.png``, default folder ``docs/img/image_quality`` beside the README), linked
    relative to the README; "" when there is none."""
    folder = grids or readme.parent / "docs" / "img" / "image_quality"
    cells = []
    for res in results:
        first = [r for r in res["rows"] if r["generator"] == res["rows"][0]["generator"]]  # the sampled generator
        shown = [r for r in first if (folder / grid_name(r["preset"], r["minutes"])).is_file()]
        if shown:
            r = shown[-1]
            rel = os.path.relpath(folder / grid_name(r["preset"], r["minutes"]), readme.parent)
            cells.append(f'<td align="center"><img src="{rel}" width="200" alt="{r["preset"]}"><br><code>'
                         f'{r["preset"]}</code><br>{r["minutes"]:g} CPU-min, {r["generator"]}, FID {r["fid"]:.2f}</td>')
    if not cells:
        return ""
    rows = ["<tr>" + "".join(cells[i : i + per_row]) + "</tr>" for i in range(0, len(cells), per_row)]
    return ("\nSamples of each preset's judged generator at its last mark with a grid (10×10, drawn with the "
            "evaluation seed; conditional presets: row k asked for digit k), saved by "
            "`--grids docs/img/image_quality`:\n\n<table>\n" + "\n".join(rows) + "\n</table>\n")


def write_readme(readme: Path, out_dir: Path) -> None:
    files = sorted(out_dir.glob("*.json"))
    # a preset's result has "rows"; other JSON kept beside them (probes, notes) is not a table row
    results = [r for f in files if f.name != "real.json" and "rows" in (r := json.loads(f.read_text()))]
    real_file = out_dir / "real.json"
    real = json.loads(real_file.read_text()) if real_file.is_file() else None
    text = readme.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{readme}: no {BEGIN} … {END} block to rewrite; add the two markers where the table goes")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    commands = sorted({display_command(r["command"]) for r in results}
                      | {display_command(c["command"]) for r in results for c in continuations(r)})
    gallery = grid_gallery(results, readme)
    note = "\n".join(f"`{c}`" for c in commands)
    hw = sorted({r["hardware"] for r in results})
    body = (f"\n{readme_table(results, real)}\n\nMeasured on {'; '.join(hw)} by:\n{note}\n{gallery}"
            if results else "\n(no results yet)\n")
    readme.write_text(head + BEGIN + body + END + tail)
    print(f"rewrote the table in {readme} from {len(results)} result file(s)")


def without_steps(overrides: list[str]) -> list[str]:
    """The ``--set`` overrides other than ``train.steps=N`` (which a continuation may raise)."""
    return [o for o in overrides if o.partition("=")[0].strip() != "train.steps"]


def continued(out: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The saved result ``--continue`` extends, checked to be the same measurement (overrides, --n-eval)."""
    if not out.is_file():
        raise SystemExit(f"{out}: no saved result to continue; run without --continue first")
    earlier = json.loads(out.read_text())
    # train.steps may grow: it only moves where the run stops (no preset schedule reads it), so the continuation
    # trains the same steps the longer run would have; any other override would make it another measurement
    if (without_steps(earlier.get("overrides") or []) != without_steps(args.overrides)
            or earlier.get("n_eval") != args.n_eval):
        raise SystemExit(f"{out} was measured with --set {earlier.get('overrides')} --n-eval {earlier.get('n_eval')}; "
                         "continue it with the same (a larger train.steps=N may be added)")
    if args.run_root is None or not args.save_checkpoints:
        raise SystemExit("--continue needs --run-root (the saved run) and --save-checkpoints")
    return earlier


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python bench/image_quality.py", description=__doc__.splitlines()[0])
    parser.add_argument("presets", nargs="*", help="MNIST image presets (names or YAML files)")
    parser.add_argument("--minutes", type=float, nargs="+", default=[5, 10, 20],
                        help="CPU-minute marks of training at which to judge (default 5 10 20)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="config override for every preset (repeatable), e.g. train.steps=100000")
    parser.add_argument("--n-eval", type=int, default=10_000, help="samples judged per mark (default 10000)")
    parser.add_argument("--raw", action="store_true", help="judge the raw G too when the preset keeps an EMA")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--run-root", type=Path, default=None, help="keep the runs here (default: a temporary folder)")
    parser.add_argument("--out-dir", type=Path, default=RESULTS, help=f"results folder (default {RESULTS})")
    parser.add_argument("--out", type=Path, default=None,
                        help="results file (one preset only; default OUT_DIR/PRESET.json)")
    parser.add_argument("--save-checkpoints", action="store_true",
                        help="checkpoint the run at every mark (RUN-ROOT/PRESET/checkpoints/step-N.pt)")
    parser.add_argument("--grids", type=Path, default=None,
                        help="save a 10x10 sample grid of the judged generator at every mark in this folder "
                             "(the README gallery reads docs/img/image_quality)")
    parser.add_argument("--grid-from", type=Path, default=None, metavar="CHECKPOINT",
                        help="no training: save the --grids grid of this checkpoint's sampled generator (the EMA copy "
                             "when kept), named for the one preset and the one --minutes mark it was saved at")
    parser.add_argument("--continue", dest="resume", action="store_true",
                        help="continue the preset's saved result (--out) and its run in --run-root (saved with "
                             "--save-checkpoints) to the marks after its last one")
    parser.add_argument("--readme", type=Path, default=None, help="rewrite this README's table from --out-dir and exit")
    args = parser.parse_args(argv)
    if args.readme is not None:
        write_readme(args.readme, args.out_dir)
        return
    if not args.presets:
        parser.error("name at least one preset (or --readme README.md)")
    if args.grid_from is not None:
        if len(args.presets) != 1 or len(args.minutes) != 1 or args.grids is None:
            parser.error("--grid-from CHECKPOINT takes one preset, one --minutes mark and --grids DIR")
        torch.set_num_threads(args.threads)
        model = ganforge.load(args.grid_from)
        path = sample_grid(model.sampler, model.config.train.seed + EVAL_SEED_OFFSET,
                           args.grids / grid_name(args.presets[0], args.minutes[0]))
        print(f"wrote {path} from {args.grid_from}")
        return
    if args.out is not None and len(args.presets) > 1:
        parser.error("--out takes one preset; use --out-dir for several")
    if args.save_checkpoints and args.run_root is None:
        parser.error("--save-checkpoints needs --run-root (where the runs and their checkpoints are kept)")
    if min(args.minutes) <= 0 or args.n_eval < 10:
        parser.error("--minutes must be > 0 and --n-eval >= 10")
    torch.set_num_threads(args.threads)
    command = shlex.join(["python", "bench/image_quality.py", *(argv if argv is not None else sys.argv[1:])])
    command = f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '(unset)')} {command}"
    commit, hw = source_commit(), hardware()
    tmp = tempfile.TemporaryDirectory(prefix="ganforge-iq-") if args.run_root is None else None
    run_root = Path(tmp.name) if tmp is not None else args.run_root
    judges: dict[tuple[str, str], Judge] = {}
    args.out_dir.mkdir(parents=True, exist_ok=True)
    print(HEADER, flush=True)
    try:
        for preset in args.presets:
            out = args.out or args.out_dir / f"{Path(preset).stem}.json"

            earlier = continued(out, args) if args.resume else None

            def save(result: dict[str, Any], out: Path = out, earlier: dict[str, Any] | None = earlier) -> None:
                if earlier is None:
                    result.update(command=command, commit=commit, hardware=hw)
                else:  # the earlier rows keep their command and commit; the continuation is recorded beside them
                    result.update({k: earlier[k] for k in ("command", "commit", "hardware", "overrides")})
                    this = {"command": command, "commit": commit, "hardware": hw,
                            "from_step": earlier["rows"][-1]["steps"]}
                    result["continued"] = [*continuations(earlier), this]  # every continuation, oldest first
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text(json.dumps(result, indent=2) + "\n")

            bench_preset(preset, args.minutes, args.overrides, args.n_eval, args.raw, run_root, judges, save,
                         args.save_checkpoints, args.grids, earlier)
            print(f"wrote {out}", flush=True)
        real_file = args.out_dir / "real.json"
        if not real_file.is_file() and judges:
            from ganforge.data.mnist import load_mnist_raw

            judge = next(iter(judges.values()))
            row = real_row(judge, load_mnist_raw("test")[0])
            real_file.write_text(json.dumps(row, indent=2) + "\n")
            print(format_row({**row, "label_accuracy_percent": None}), f"-> {real_file}", flush=True)
    finally:
        if tmp is not None:
            tmp.cleanup()


if __name__ == "__main__":
    main()
