"""``ganforge interpolate RUN``: walk the latent space between random pairs of codes.

Each of ``--pairs`` rows goes from ``z0`` to ``z1`` in ``--steps`` images, endpoints included. Linear interpolation
by default; ``--slerp`` interpolates along the great circle (Shoemake 1985, "Animating rotation with quaternion
curves"; recommended for Gaussian latents by White 2016, "Sampling Generative Networks"):

    slerp(z0, z1; t) = sin((1 - t) Ω) / sin Ω · z0 + sin(t Ω) / sin Ω · z1,   cos Ω = z0·z1 / (|z0| |z1|)

falling back to linear interpolation when the codes are (anti-)parallel (sin Ω ≈ 0). Image runs write a PNG grid
(one row per pair); 2-D toy runs a plot of the trajectories; other vector runs an ``.npy`` ``[pairs, steps, D]``.
Every image is held in memory at once, so a ``--pairs`` x ``--steps`` that would not fit is refused up front.
Style-based families (``family.interpolation_space == "w"``, StyleGAN2) interpolate between w0 = f(z0) and
w1 = f(z1) in their intermediate latent space W (Karras et al. 2019, §4: W is less entangled than Z).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ganforge.builder import resolve_device
from ganforge.commands.common import (
    check_picture_suffix,
    check_positive,
    check_seed,
    images_uint8,
    load_generator,
    run_root,
)
from ganforge.kinds import hooks_for
from ganforge.models.base import conditioning_dim
from ganforge.options import ConfigError
from ganforge.outputs import save_figure
from ganforge.preflight import check_disk, check_memory, check_out_file, check_suffix, out_file
from ganforge.sampling import check_label

BATCH = 1000  # G runs on at most this many codes at once (a single batch at the default sizes)


NAME = "interpolate"

def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(NAME, help="latent-space interpolation grid of a trained run")
    p.add_argument("run", type=Path, help="run directory or checkpoint file")
    p.add_argument("--steps", type=int, default=10, help="images per row, endpoints included (>= 2)")
    p.add_argument("--pairs", type=int, default=8, help="rows: random pairs of latent codes")
    p.add_argument("--slerp", action="store_true", help="spherical instead of linear interpolation")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--label", type=int, default=None,
                   help="conditional models: class k for every row (default: a random class per row)")
    p.add_argument("--out", type=Path, default=None,
                   help="output file (default RUN/samples/interp-lerp|slerp-seedN.png, .npy for >2-D vectors)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--no-ema", action="store_true", help="use the raw generator instead of its EMA")
    return p


def lerp(z0: Tensor, z1: Tensor, t: Tensor) -> Tensor:
    """``[P, D]``, ``[P, D]``, ``[S]`` -> ``[P, S, D]``: (1 - t) z0 + t z1."""
    t = t[None, :, None]
    return (1 - t) * z0[:, None] + t * z1[:, None]


def slerp(z0: Tensor, z1: Tensor, t: Tensor, eps: float = 1e-7) -> Tensor:
    """``[P, D]``, ``[P, D]``, ``[S]`` -> ``[P, S, D]``: spherical interpolation (Shoemake 1985), computed in float64.

    Norms are interpolated too (the formula does it implicitly), so endpoints are reproduced exactly; pairs with
    sin Ω < ``eps`` use linear interpolation.
    """
    a, b, tt = z0.double(), z1.double(), t.double()
    cos = (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1)).clamp_min(1e-30)
    omega = torch.arccos(cos.clamp(-1.0, 1.0))[:, None, None]  # [P, 1, 1]
    sin = torch.sin(omega)
    tt = tt[None, :, None]
    w0 = torch.where(sin > eps, torch.sin((1 - tt) * omega) / sin.clamp_min(eps), 1 - tt)
    w1 = torch.where(sin > eps, torch.sin(tt * omega) / sin.clamp_min(eps), tt)
    return (w0 * a[:, None] + w1 * b[:, None]).to(z0.dtype)


def run(args: argparse.Namespace) -> int:
    check_positive(args.pairs, "--pairs")
    check_seed(args.seed)

    if args.steps < 2:
        raise ConfigError(f"--steps must be >= 2 (the two endpoints), got {args.steps}")
    device = resolve_device(args.device, "--device")
    _, G, spec, state = load_generator(args.run, device, use_ema=not args.no_ema)
    data_kind = state.kind
    if hooks_for(data_kind).sample_flags is not None:  # the kind writes its samples its own way
        raise ConfigError(f"interpolate draws images or points from z alone; a {data_kind} run's samples need its own "
                          "writer (units, columns, conditions): use `ganforge sample RUN`")
    check_label(G, args.label)
    kind = "slerp" if args.slerp else "lerp"
    root = run_root(args.run)
    is_image, numel = len(spec.shape) == 3, math.prod(spec.shape)
    plot = not is_image and numel == 2 and (args.out is None or args.out.suffix.lower() != ".npy")
    out = args.out or root / "samples" / f"interp-{kind}-seed{args.seed}{'.png' if is_image or plot else '.npy'}"
    check_out_file(out, args.out is not None)
    if is_image or plot:
        check_picture_suffix(out, plot)
    else:
        check_suffix(out, (".npy",), f"interpolations of {numel}-D vectors are")
    count = args.pairs * args.steps
    z_dim = int(G.z_dim)
    # float64 slerp temporaries per code, then G's float output, its uint8 copy and the picture per sample
    check_memory(count * (32 * z_dim + 10 * numel), f"--pairs {args.pairs} x --steps {args.steps} = {count} samples",
                 "lower --pairs or --steps")
    if out.suffix.lower() == ".npy":
        check_disk(out, count * numel * 4, f"{count} interpolated samples", "--pairs or --steps")

    rng = torch.Generator(device=device)
    rng.manual_seed(args.seed)
    z = G.sample_z(2 * args.pairs, rng, device)
    z0, z1 = z[: args.pairs], z[args.pairs :]
    t = torch.linspace(0.0, 1.0, args.steps, device=device)
    family = G.family
    in_w = family.interpolation_space == "w"  # style-based G: walk from w0 = f(z0) to w1 = f(z1)
    if in_w:
        nets = dict(G.nets.items())
        with torch.no_grad():
            z0, z1 = family.encode_latent(nets, z0), family.encode_latent(nets, z1)
    path = (slerp if args.slerp else lerp)(z0, z1, t).reshape(count, -1)
    c_dim = conditioning_dim(G)
    c = None
    if c_dim:
        if args.label is not None:
            row_labels = torch.full((args.pairs,), args.label, dtype=torch.long, device=device)
        else:
            row_labels = torch.randint(c_dim, (args.pairs,), generator=rng, device=device)
        c = row_labels.repeat_interleave(args.steps)
    def generate(i: int) -> Tensor:
        if in_w:
            return family.decode_latent(nets, path[i : i + BATCH])
        return G(path[i : i + BATCH], c[i : i + BATCH]) if c_dim else G(path[i : i + BATCH])

    with torch.no_grad():
        fake = torch.cat([generate(i).float().cpu() for i in range(0, count, BATCH)])
    with out_file(out, args.out is not None) as tmp:
        if is_image:
            from ganforge.viz.images import save_grid

            save_grid(images_uint8(fake, G), tmp, nrow=args.steps)
        elif plot:
            points = fake.reshape(args.pairs, args.steps, -1).numpy()
            plot_trajectories(points, tmp, f"{kind}: {args.pairs} pairs x {args.steps} steps")
        else:
            with open(tmp, "wb") as fh:  # a handle: np.save would append .npy to another suffix
                np.save(fh, fake.reshape(args.pairs, args.steps, -1).numpy())
    print(f"wrote {args.pairs} x {args.steps} {kind} interpolation to {out}")
    return 0


def plot_trajectories(points: np.ndarray, out: Path, title: str) -> None:
    """Generated points ``[pairs, steps, 2]`` joined in order along each pair's latent path."""
    from ganforge.viz import plots  # sets the Agg backend

    plt = plots.plt
    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    for i, row in enumerate(points):
        color = f"C{i % 10}"
        ax.plot(row[:, 0], row[:, 1], "-o", color=color, markersize=3, linewidth=1)
        ax.plot(row[0, 0], row[0, 1], "s", color=color, markersize=6)
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=9)
    try:
        save_figure(fig, out, bbox_inches="tight")
    finally:
        plt.close(fig)
