"""``ganforge style-grid RUN``: the style-mixing grid and the truncation sweep of a StyleGAN2 run.

Style mixing (StyleGAN, Karras et al. 2019, Fig. 3): ``--rows`` sources A (left column) and ``--cols`` sources B (top
row); for each style range — coarse (4²–8²), middle (16²–32²), fine (64²+, or the top resolution of a small model;
``StyleGAN2Config.style_ranges``) — a block of rows where image (i, j) takes A_i's styles everywhere except that
range, which comes from B_j. Empty ranges (a 16×16 model has no middle layers) are left out.

Truncation sweep (StyleGAN §5, Fig. 8): one row per seed, one column per ψ in ``--psi``: w' = w̄ + ψ (w − w̄).

Both use the EMA generator (``--no-ema``: the raw one), the fixed per-layer noise and codes drawn from ``--seed``.
Writes ``RUN/samples/style-mixing-seedS.png`` (column titles A, B1 …; each row labelled with the style range it
takes from B) and ``RUN/samples/truncation-seedS.png`` (column titles ``psi=…``), upscaled ``--scale``× (nearest),
in ``--out-dir`` elsewhere.
"""

from __future__ import annotations

import argparse
import contextlib
import math
from pathlib import Path

import torch

from ganforge.builder import resolve_device
from ganforge.commands.common import check_positive, check_seed, images_uint8, load_generator, run_root
from ganforge.options import ConfigError
from ganforge.outputs import OutputFolder, atomic_file
from ganforge.preflight import check_memory, check_writable

NAME = "style-grid"
DEFAULT_PSI = "1,0.85,0.7,0.5,0.3,0,-0.5"
MAX_PSI = 10.0  # |ψ| beyond this only extrapolates w far outside the mapping network's range (Karras et al. use ≤ 1)


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(NAME, help="style-mixing grid and truncation sweep of a StyleGAN2 run")
    p.add_argument("run", type=Path, help="run directory or checkpoint file of a StyleGAN2 run")
    p.add_argument("--rows", type=int, default=4, help="sources A (rows of each style-range block)")
    p.add_argument("--cols", type=int, default=6, help="sources B (columns)")
    p.add_argument("--psi", default=DEFAULT_PSI, help=f"comma-separated truncation values ψ (default {DEFAULT_PSI})")
    p.add_argument("--sweep-rows", type=int, default=6, help="seeds (rows) of the truncation sweep")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--scale", type=int, default=2, help="nearest-neighbour upscaling of the PNGs")
    p.add_argument("--out-dir", type=Path, default=None, help="output folder (default RUN/samples)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--no-ema", action="store_true", help="use the raw generator instead of its EMA")
    return p


def parse_psi(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"--psi {text!r}: give comma-separated numbers, e.g. {DEFAULT_PSI}") from None
    if not values or not all(math.isfinite(v) for v in values):
        raise ConfigError(f"--psi {text!r}: give at least one finite number, e.g. {DEFAULT_PSI}")
    big = [v for v in values if abs(v) > MAX_PSI]
    if big:
        raise ConfigError(f"--psi {big[0]:g} is outside [-{MAX_PSI:g}, {MAX_PSI:g}]: w' = w̄ + ψ·(w − w̄) that far "
                          f"from w̄ is nothing G was trained on (and overflows float32 for huge ψ); use values such as "
                          f"{DEFAULT_PSI}")
    return values


def mixing_grid(family, nets: dict, z_a: torch.Tensor, z_b: torch.Tensor) -> tuple[torch.Tensor, list[str]]:
    """Images ``[(1 + K·R)·(1 + C), C_img, H, W]`` row-major (K non-empty ranges): a blank corner, B across the top,
    then per range R rows of [A_i, mix(A_i, B_1), …, mix(A_i, B_C)]; and the range names."""
    G = nets["G"]
    ws_a, ws_b = G.styles(z_a), G.styles(z_b)  # [R, L, w], [C, L, w]
    img_a, img_b = family.synthesize(nets, ws_a), family.synthesize(nets, ws_b)
    blank = torch.full_like(img_a[:1], -1.0)
    cells, names = [blank, img_b], []
    for name, idx in family.style_ranges(G).items():
        if not idx:
            continue
        names.append(name)
        rows, cols = ws_a.shape[0], ws_b.shape[0]
        mixed = ws_a[:, None].expand(-1, cols, -1, -1).clone()  # [R, C, L, w]
        mixed[:, :, idx] = ws_b[None, :, idx].expand(rows, -1, -1, -1)
        out = family.synthesize(nets, mixed.reshape(rows * cols, *ws_a.shape[1:])).reshape(rows, cols, *img_a.shape[1:])
        for i in range(rows):
            cells += [img_a[i : i + 1], out[i]]
    return torch.cat(cells), names


def _write(folder: OutputFolder, path: Path, user_named: bool) -> contextlib.AbstractContextManager[Path]:
    """``folder.write`` (manifest) in a folder the user named, ``atomic_file`` in the run's own ``samples/``."""
    return folder.write(path.name) if user_named else atomic_file(path, "--out-dir", own_folder=True)


def check_sizes(args: argparse.Namespace, n_psi: int, shape: tuple[int, ...], n_ranges: int) -> None:
    """Refuse, before generating anything, grids that would not fit in memory, naming their size.

    Mixing grid: ``(1 + K·rows)·(1 + cols)`` cells (K non-empty style ranges), the sweep ``sweep_rows·n_psi``; each
    cell is G's float32 output ``C·H·W`` (4 bytes a value, twice: the images and the batch they come from), its
    uint8 copy, and ``scale²`` uint8 pixels per value in the upscaled picture (Pillow holds it and its PNG rows)."""
    values = math.prod(shape)
    cells = (1 + n_ranges * args.rows) * (1 + args.cols) + args.sweep_rows * n_psi
    need = cells * values * (8 + 1 + 2 * args.scale**2)
    check_memory(need, f"style-grid with --rows {args.rows} --cols {args.cols} --sweep-rows {args.sweep_rows}, "
                 f"{n_psi} --psi values and --scale {args.scale} ({cells} images of {list(shape)})",
                 "lower --rows, --cols, --sweep-rows, the number of --psi values or --scale")


def run(args: argparse.Namespace) -> int:
    check_seed(args.seed)
    for flag, value in (("--rows", args.rows), ("--cols", args.cols), ("--sweep-rows", args.sweep_rows),
                        ("--scale", args.scale)):
        check_positive(value, flag)
    psis = parse_psi(args.psi)
    device = resolve_device(args.device, "--device")
    cfg, G, _spec, _ = load_generator(args.run, device, use_ema=not args.no_ema)
    family = G.family
    if not family.style_mixing:
        raise ConfigError(f"style-grid needs a style-based run (model.name=stylegan2); {str(args.run)!r} is a "
                          f"{cfg.model.name!r} run: use `ganforge sample` / `ganforge interpolate`")
    default_dir = run_root(args.run) / "samples"
    # --out-dir naming the run's own samples/ folder is the default, not a folder of the user's
    user_named = args.out_dir is not None and args.out_dir.absolute().resolve() != default_dir.absolute().resolve()
    out_dir = args.out_dir or default_dir
    mix_path, trunc_path = out_dir / f"style-mixing-seed{args.seed}.png", out_dir / f"truncation-seed{args.seed}.png"
    check_writable(out_dir, "--out-dir", folder=True)
    # a folder the user named must hold only ganforge's outputs (its manifest); RUN/samples is ganforge's own folder
    # (a link there is refused), where these two names are ganforge's
    folder = OutputFolder(out_dir, "--out-dir", own=not user_named)
    if user_named:
        folder.claim()
    elif out_dir.is_symlink():
        raise ConfigError(f"{str(out_dir)!r} is a symbolic link; ganforge does not write through links in its own "
                          "folders: remove the link or pass --out-dir")
    check_sizes(args, len(psis), _spec.shape, sum(1 for idx in family.style_ranges(G.nets["G"]).values() if idx))
    nets = dict(G.nets.items())
    rng = torch.Generator(device=device).manual_seed(args.seed)
    z = G.sample_z(args.rows + args.cols + args.sweep_rows, rng, device)
    z_a, z_b, z_s = z[: args.rows], z[args.rows : args.rows + args.cols], z[args.rows + args.cols :]
    from ganforge.viz.images import labelled_grid, save_image

    with torch.no_grad():
        mix, names = mixing_grid(family, nets, z_a, z_b)
        sweep = torch.stack([family.generate(nets, z_s, truncation=psi) for psi in psis], 1)  # [S, P, C, H, W]
    with _write(folder, mix_path, user_named) as tmp:
        rows = ["B"] + [f"{name} from B" for name in names for _ in range(args.rows)]  # a label per grid row
        header = ["A"] + [f"B{j + 1}" for j in range(args.cols)]
        save_image(labelled_grid(images_uint8(mix, G), args.cols + 1, args.scale, header, rows), tmp)
    with _write(folder, trunc_path, user_named) as tmp:
        header = [f"psi={psi:g}" for psi in psis]  # ASCII: PIL's default font has no ψ
        save_image(labelled_grid(images_uint8(sweep.flatten(0, 1), G), len(psis), args.scale, header), tmp)
    print(f"wrote style mixing ({args.rows} A x {args.cols} B, ranges {', '.join(names)}) to {mix_path}")
    print(f"wrote truncation sweep ({args.sweep_rows} seeds x psi {', '.join(map(str, psis))}) to {trunc_path}")
    return 0
