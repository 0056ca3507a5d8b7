"""Training throughput (images/s) of ganforge's trainer against a plain eager PyTorch loop and Keras 3 + JAX.

For each preset and batch size, three implementations train the *same networks* on MNIST held on the device, a full
D + G step each (images/s = batch size × steps / wall time, after warm-up, with a device synchronisation at the end):

- ``ganforge``: ``Run`` from ``ganforge.training.run`` (exactly what ``ganforge train`` runs: the preset's objective,
  phases, ``train.precision``, EMA when the preset has one), with the preset's logging cadence (loss read every
  ``log.every`` steps) and a sample grid every ``--sample-every`` steps.
- ``eager``: a minimal float32 PyTorch loop written below — the TF tutorial's ``train_step``: one z, one G forward,
  D(real) and D(fake), both losses (BCE with logits) from that one forward, each network's gradients taken at the
  same weights, then both Adam steps — with ganforge's G and D modules. It is the same computation as the
  ``dcgan-tf-mnist`` preset's simultaneous phase, so the ratio measures the trainer's overhead, not the algorithm.
- ``keras-jax``: when ``keras`` (3.x) and ``jax`` are importable, the TF-tutorial DCGAN written in Keras and trained
  with a ``jax.jit``-compiled stateless step (``KERAS_BACKEND=jax`` is set here). Only for ``dcgan-tf-mnist``.

``--lecture-run`` also times the 50-epoch lecture run end to end (``dcgan-tf-mnist`` as shipped: 11,700 steps of 256,
with its sample grids and the final evaluation) and reports the digit quality and classifier-feature FID it reaches.

Prints a markdown table and writes JSON (``--out``). Examples::

    python bench/throughput.py --batch-sizes 64 1024 --steps 300 --lecture-run --out runs/throughput.json   # GPU
    OMP_NUM_THREADS=1 python bench/throughput.py --batch-sizes 64 --steps 5 --warmup 2                     # CPU smoke
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "jax")

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))  # run from a checkout without installing

from ganforge.config import RunConfig, resolve_config
from ganforge.training.run import Run


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def config(preset: str, batch: int, steps: int, device: str, extra: list[str]) -> RunConfig:
    return resolve_config(preset, [f"train.batch_size={batch}", f"train.steps={steps}", f"train.device={device}",
                                   "log.progress=False", "log.tensorboard=False", "log.eval_every=0",
                                   "train.checkpoint_every=1000000000", *extra])


def bench_ganforge(cfg: RunConfig, steps: int, warmup: int, sample_every: int, tmp: Path) -> tuple[float, Any]:
    """images/s of the ganforge trainer, and the training images (uint8, for the Keras loop)."""
    run = Run(cfg, tmp / "ganforge", overwrite=True)
    t = run.trainer
    for _ in range(warmup):
        t.train_step()
    t.flush_stats()
    sync(run.device)
    t0 = time.perf_counter()
    for i in range(1, steps + 1):
        t.train_step()
        if i % cfg.log.every == 0:
            t.flush_stats()  # the loss read (one host sync) ganforge train does every log.every steps
        if sample_every and i % sample_every == 0:
            run.write_samples(t.step)
    sync(run.device)
    return cfg.train.batch_size * steps / (time.perf_counter() - t0), t.draws.source.x


def bench_eager(cfg: RunConfig, steps: int, warmup: int, tmp: Path) -> float:
    """A plain float32 PyTorch loop over ganforge's G and D (fresh weights), data on the device."""
    run = Run(cfg, tmp / "eager", overwrite=True)
    G, D, device, n = run.components.G, run.components.D, run.device, cfg.train.batch_size
    x = run.trainer.draws.source.x  # uint8 [N, 1, 28, 28] on the device
    fused = {"fused": True} if device.type == "cuda" else {}
    og = torch.optim.Adam(G.parameters(), cfg.optim.g.lr, betas=tuple(cfg.optim.g.betas), **fused)
    od = torch.optim.Adam(D.parameters(), cfg.optim.d.lr, betas=tuple(cfg.optim.d.betas), **fused)
    ones, zeros = torch.ones(n, 1, device=device), torch.zeros(n, 1, device=device)

    g_params, d_params = list(G.parameters()), list(D.parameters())

    def step() -> None:
        real = x[torch.randint(len(x), (n,), device=device)].float().div_(127.5).sub_(1)  # [-1, 1]
        fake = G(torch.randn(n, G.z_dim, device=device))
        real_out, fake_out = D(real), D(fake)
        d_loss = (F.binary_cross_entropy_with_logits(real_out, ones)
                  + F.binary_cross_entropy_with_logits(fake_out, zeros))
        g_loss = F.binary_cross_entropy_with_logits(fake_out, ones)
        od.zero_grad(set_to_none=True)
        og.zero_grad(set_to_none=True)
        # tape.gradient(disc_loss, D) and tape.gradient(gen_loss, G): both at the weights of this forward
        torch.autograd.backward(d_loss, inputs=d_params, retain_graph=True)
        torch.autograd.backward(g_loss, inputs=g_params)
        od.step()
        og.step()

    for _ in range(warmup):
        step()
    sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    sync(device)
    return n * steps / (time.perf_counter() - t0)


def bench_keras_jax(cfg: RunConfig, steps: int, warmup: int, x_uint8: Any) -> float | None:
    """The TF-tutorial DCGAN in Keras 3, trained by a jax.jit-compiled stateless D + G step. None if unavailable."""
    try:
        import jax
        import keras
        import numpy as np
    except ImportError:
        return None
    if keras.backend.backend() != "jax":
        return None
    L = keras.layers
    n = cfg.train.batch_size
    G = keras.Sequential([keras.Input((100,)), L.Dense(7 * 7 * 256, use_bias=False), L.BatchNormalization(),
                          L.LeakyReLU(0.3), L.Reshape((7, 7, 256)),
                          L.Conv2DTranspose(128, 5, strides=1, padding="same", use_bias=False),
                          L.BatchNormalization(), L.LeakyReLU(0.3),
                          L.Conv2DTranspose(64, 5, strides=2, padding="same", use_bias=False),
                          L.BatchNormalization(), L.LeakyReLU(0.3),
                          L.Conv2DTranspose(1, 5, strides=2, padding="same", use_bias=False, activation="tanh")])
    D = keras.Sequential([keras.Input((28, 28, 1)), L.Conv2D(64, 5, strides=2, padding="same"), L.LeakyReLU(0.3),
                          L.Dropout(0.3), L.Conv2D(128, 5, strides=2, padding="same"), L.LeakyReLU(0.3),
                          L.Dropout(0.3), L.Flatten(), L.Dense(1)])
    og, od = keras.optimizers.Adam(1e-4), keras.optimizers.Adam(1e-4)
    og.build(G.trainable_variables)
    od.build(D.trainable_variables)
    bce = keras.losses.BinaryCrossentropy(from_logits=True)
    data = jax.device_put(np.asarray(x_uint8).reshape(-1, 28, 28, 1))

    def losses(g_tv, d_tv, g_ntv, d_ntv, real, z):
        fake, g_ntv = G.stateless_call(g_tv, g_ntv, z, training=True)
        real_out, d_ntv = D.stateless_call(d_tv, d_ntv, real, training=True)
        fake_out, d_ntv = D.stateless_call(d_tv, d_ntv, fake, training=True)
        d_loss = bce(jax.numpy.ones_like(real_out), real_out) + bce(jax.numpy.zeros_like(fake_out), fake_out)
        g_loss = bce(jax.numpy.ones_like(fake_out), fake_out)
        return (d_loss, g_loss), (g_ntv, d_ntv)

    @jax.jit
    def train_step(state, key):
        g_tv, d_tv, g_ntv, d_ntv, og_v, od_v = state
        k1, k2 = jax.random.split(key)
        real = data[jax.random.randint(k1, (n,), 0, data.shape[0])].astype("float32") / 127.5 - 1
        z = jax.random.normal(k2, (n, 100))
        # one forward, both gradients at the same weights (the TF tutorial's two GradientTapes)
        _, vjp, (g_ntv, d_ntv) = jax.vjp(lambda g, d: losses(g, d, g_ntv, d_ntv, real, z), g_tv, d_tv, has_aux=True)
        one, zero = jax.numpy.float32(1), jax.numpy.float32(0)
        d_grads = vjp((one, zero))[1]
        g_grads = vjp((zero, one))[0]
        d_tv, od_v = od.stateless_apply(od_v, d_grads, d_tv)
        g_tv, og_v = og.stateless_apply(og_v, g_grads, g_tv)
        return (g_tv, d_tv, g_ntv, d_ntv, og_v, od_v)

    state = ([v.value for v in G.trainable_variables], [v.value for v in D.trainable_variables],
             [v.value for v in G.non_trainable_variables], [v.value for v in D.non_trainable_variables],
             [v.value for v in og.variables], [v.value for v in od.variables])
    key = jax.random.PRNGKey(0)
    for _ in range(warmup):
        key, sub = jax.random.split(key)
        state = train_step(state, sub)
    jax.block_until_ready(state)
    t0 = time.perf_counter()
    for _ in range(steps):
        key, sub = jax.random.split(key)
        state = train_step(state, sub)
    jax.block_until_ready(state)
    return n * steps / (time.perf_counter() - t0)


def lecture_run(device: str, tmp: Path, overrides: list[str], fid_n: int) -> dict[str, Any]:
    """The 50-epoch TF-tutorial run as shipped (dcgan-tf-mnist), end to end, with its final evaluation (digit
    quality and FID on classifier features), then — with ``fid_n`` > 0 — Inception FID/KID on ``fid_n`` samples
    against MNIST train (``ganforge eval``; not part of the timed wall)."""
    cfg = resolve_config("dcgan-tf-mnist", [f"train.device={device}", "log.progress=False", *overrides])
    run = Run(cfg, tmp / "lecture", overwrite=True)
    t0 = time.perf_counter()
    summary = run.train()
    out = {"preset": "dcgan-tf-mnist", "steps": cfg.train.steps, "batch": cfg.train.batch_size,
           "wall_s": round(time.perf_counter() - t0, 1), "train_s": summary["seconds"],
           "metrics": summary.get("metrics", {})}
    if fid_n > 0:
        from ganforge.cli import main as ganforge_main

        record = tmp / "lecture-inception.json"
        rc = ganforge_main(["eval", str(tmp / "lecture"), "--features", "inception-fid", "--metrics", "fid,kid",
                            "--n", str(fid_n), "--ref", "mnist:train", "--device", device, "--out", str(record),
                            "--no-progress"])
        out["inception"] = json.loads(record.read_text())["metrics"] if rc == 0 else f"ganforge eval failed ({rc})"
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--presets", nargs="+", default=["dcgan-tf-mnist"])
    p.add_argument("--batch-sizes", nargs="+", type=int, default=[64, 1024])
    p.add_argument("--steps", type=int, default=200, help="timed steps per measurement")
    p.add_argument("--warmup", type=int, default=20, help="untimed steps first (cuDNN autotuning, jit compiles)")
    p.add_argument("--sample-every", type=int, default=100, help="ganforge: a sample grid every N timed steps")
    p.add_argument("--device", default="auto")
    p.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"], help="ganforge's train.precision")
    p.add_argument("--no-keras", action="store_true")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="config override for every measured run (e.g. data.options.limit=512)")
    p.add_argument("--lecture-run", action="store_true", help="also time the 50-epoch dcgan-tf-mnist run end to end")
    p.add_argument("--lecture-fid-n", type=int, default=10_000,
                   help="Inception FID samples after the lecture run (0 = skip; needs a GPU to be quick)")
    p.add_argument("--out", type=Path, default=None, help="JSON results file")
    args = p.parse_args(argv)

    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        for preset in args.presets:
            for batch in args.batch_sizes:
                cfg = config(preset, batch, args.warmup + args.steps, args.device,
                             [*args.overrides, f"train.precision={args.precision}"])
                row: dict[str, Any] = {"preset": preset, "batch": batch}
                row["ganforge"], x = bench_ganforge(cfg, args.steps, args.warmup, args.sample_every, tmp)
                row["eager"] = bench_eager(config(preset, batch, args.warmup + args.steps, args.device,
                                                  [*args.overrides, "train.precision=fp32"]), args.steps, args.warmup,
                                     tmp)
                if preset == "dcgan-tf-mnist" and not args.no_keras:
                    row["keras-jax"] = bench_keras_jax(cfg, args.steps, args.warmup, x.cpu().numpy())
                rows.append(row)
                print(json.dumps(row), file=sys.stderr, flush=True)
        lecture = lecture_run(args.device, tmp, args.overrides, args.lecture_fid_n) if args.lecture_run else None

    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))
    hw = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({platform.processor() or 'cpu'}, " \
        f"{torch.get_num_threads()} threads)"
    print(f"\nthroughput, images/s (full D+G step; {args.steps} timed steps after {args.warmup}); {hw}; "
          f"torch {torch.__version__}; ganforge precision={args.precision}\n")
    print("| preset | batch | ganforge | eager fp32 PyTorch | Keras 3 + JAX (jit) |")
    print("|---|---|---|---|---|")
    for r in rows:
        k = r.get("keras-jax")
        print(f"| {r['preset']} | {r['batch']} | {r['ganforge']:,.0f} | {r['eager']:,.0f} | "
              f"{'n/a' if k is None else f'{k:,.0f}'} |")
    if lecture:
        print(f"\n50-epoch lecture run (dcgan-tf-mnist, {lecture['steps']} steps of {lecture['batch']}): "
              f"{lecture['wall_s']} s wall ({lecture['train_s']} s training); final metrics {lecture['metrics']}; "
              f"Inception: {lecture.get('inception', 'not computed')}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"hardware": hw, "torch": torch.__version__, "args": vars(args) | {
            "out": str(args.out)}, "rows": rows, "lecture_run": lecture}, indent=2, default=str))
        print(f"\nwritten: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
