"""Data kind "field" (``data.fields``): gridded climate fields generated for a condition (month, scenario).

Samples: real vs generated panels; evaluation (in training and ``ganforge eval RUN``): per-cell moments, spectra and
extremes vs real (``metrics.fields``); export: ``ganforge sample`` writes NetCDF (.nc) or .npz in physical units with
the conditions used.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganforge.config import RunConfig
from ganforge.data.fields import FieldData
from ganforge.kinds.base import SAMPLE_SEED_OFFSET, DataKind, RunLoader
from ganforge.outputs import save_figure
from ganforge.registry import RUN_HOOKS
from ganforge.viz.html import fig_png, figure, pyplot


def generate_fields(sampler: torch.nn.Module, cond: np.ndarray, seed: int, device: torch.device,
                    batch: int = 256) -> torch.Tensor:
    """Normalised fields ``[N, C, H, W]`` for conditions ``cond [N, K]`` from z drawn with ``seed``."""
    gen = torch.Generator(device=device).manual_seed(seed)
    cond_t = torch.as_tensor(cond, dtype=torch.float32, device=device)
    z = sampler.sample_z(len(cond_t), gen, device)
    out = []
    with torch.no_grad():
        for i in range(0, len(z), batch):
            out.append(sampler(z[i : i + batch], cond_t[i : i + batch]).float().cpu())
    return torch.cat(out)


@RUN_HOOKS.register("field")
class FieldKind(DataKind):
    """Fields: real vs generated panels; per-cell moments, spectra and extremes vs real (``metrics.fields``);
    ``ganforge sample`` writes NetCDF (.nc) or .npz in physical units with the conditions used."""

    standalone_eval = True

    def evaluate(self, G: torch.nn.Module, data: Any, cfg: RunConfig, device: torch.device) -> dict[str, float]:
        from ganforge.metrics.fields import field_metrics

        fake = data.denormalise(generate_fields(G, data.cond, cfg.train.seed + 7, device))
        return field_metrics(data.raw, fake, data.mask.numpy()[:, 0] > 0)

    def protocol(self, data: Any, cfg: RunConfig, generator: str, step: int) -> dict[str, Any]:
        return {"dataset": cfg.data.name, "generator": generator, "step": step, "n": len(data),
                "conditions": "one generated field per real field, with its condition", "units": list(data.units)}

    def samples(self, G: torch.nn.Module, data: Any, run_dir: Path, step: int, cfg: RunConfig, device: torch.device,
                final: bool = False) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        idx = np.linspace(0, len(data) - 1, 6).astype(int)
        fake = data.denormalise(generate_fields(G, data.cond[idx], cfg.train.seed + SAMPLE_SEED_OFFSET, device))
        real = np.where(data.mask.numpy()[idx] > 0, data.raw[idx], np.nan)
        fig, axes = plt.subplots(2, len(idx), figsize=(2.2 * len(idx), 4), squeeze=False)
        for j in range(len(idx)):
            lo, hi = np.nanmin(real[j, 0]), np.nanmax(real[j, 0])
            axes[0, j].imshow(real[j, 0], origin="lower", vmin=lo, vmax=hi, cmap="RdBu_r")
            axes[1, j].imshow(fake[j, 0], origin="lower", vmin=lo, vmax=hi, cmap="RdBu_r")
            axes[0, j].set_title(f"#{idx[j]}", fontsize=8)
            for ax in axes[:, j]:
                ax.set_xticks([])
                ax.set_yticks([])
        axes[0, 0].set_ylabel("real")
        axes[1, 0].set_ylabel("generated")
        fig.suptitle(f"{cfg.name} step {step} ({data.channels[0] if data.channels else 'channel 0'})", fontsize=9)
        path = run_dir / "samples" / ("final.png" if final else f"step-{step:07d}.png")
        try:
            save_figure(fig, path, dpi=90)  # atomic (ganforge.outputs)
        finally:
            plt.close(fig)

    sample_flags = ()  # `ganforge sample` takes only --n, --seed and --out for fields (commands/sample.py)

    def export_samples(self, G: torch.nn.Module, cfg: RunConfig, run_dir: Path, args: Any,
                       device: torch.device) -> Path | None:
        from ganforge.builder import build_dataset
        from ganforge.preflight import check_disk, check_memory, check_out_file, check_suffix, out_file

        out = Path(args.out) if args.out else run_dir / "samples" / f"fields-seed{args.seed}.nc"
        check_suffix(out, (".nc", ".npz"), "field samples are")
        check_out_file(out, args.out is not None)
        data = build_dataset(cfg)
        numel = math.prod(data.raw.shape[1:])  # values of one field [C, H, W]
        # normalised and physical float32 fields, and the file (NetCDF/npz hold float32)
        check_memory(args.n * numel * 4 * 3, f"--n {args.n} fields of {numel} values", "lower --n")
        check_disk(out, args.n * numel * 4, f"--n {args.n} fields of {numel} values", "--n")
        if out.suffix.lower() == ".nc":
            _netcdf4()  # a missing optional package is named before generating anything
        rng = np.random.default_rng(args.seed)
        cond = data.cond[rng.integers(0, len(data), args.n)]  # conditions drawn from the data's own
        fake = data.denormalise(generate_fields(G, cond, args.seed, device))
        with out_file(out, args.out is not None) as tmp:  # atomic; a link at --out is replaced, not written through
            if out.suffix.lower() == ".npz":
                with open(tmp, "wb") as fh:  # a handle: np.savez would append .npz to the temporary's name
                    np.savez_compressed(fh, fields=fake, cond=cond, channels=np.array(data.channels),
                                        cond_names=np.array(data.cond_names), **data.coords)
            else:
                write_netcdf(tmp, fake, cond, data)
        return out

    def report_section(self, run_dir: Path, runs: RunLoader) -> str:
        model = runs.load(run_dir)
        data = model.data
        out = model.sample(len(data), seed=model.config.train.seed + 7)
        real = np.where(data.mask.numpy() > 0, data.raw, np.nan)
        unit = data.units[0] if data.units else ""
        return "<h3>Mean and standard deviation maps</h3>" + figure(
            field_maps(real, out["fields"], unit), "per-cell mean and std, real vs generated")


def field_maps(real: np.ndarray, fake: np.ndarray, unit: str) -> bytes:
    """Per-cell mean and standard deviation of channel 0, real vs generated ``[N, C, H, W]`` (physical units)."""
    plt = pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(7, 5.5), squeeze=False)
    for i, (name, f) in enumerate((("mean", np.nanmean), ("std", np.nanstd))):
        with warnings.catch_warnings():  # masked cells (NaN in every real field: land, missing data) stay blank
            warnings.simplefilter("ignore", RuntimeWarning)
            a, b = f(real[:, 0], axis=0), f(fake[:, 0], axis=0)
        lo, hi = np.nanmin([np.nanmin(a), np.nanmin(b)]), np.nanmax([np.nanmax(a), np.nanmax(b)])
        for j, (label, m) in enumerate((("real", a), ("generated", b))):
            im = axes[i, j].imshow(m, origin="lower", vmin=lo, vmax=hi, cmap="viridis")
            axes[i, j].set_title(f"{label} {name} ({unit})", fontsize=8)
            axes[i, j].set_xticks([])
            axes[i, j].set_yticks([])
        fig.colorbar(im, ax=axes[i].tolist(), shrink=0.8)
    return fig_png(fig)


def _netcdf4() -> Any:
    """The netCDF4 module, or a one-line error naming the extra that installs it."""
    try:
        import netCDF4
    except ImportError:
        raise ValueError("writing .nc files needs the netCDF4 package (pip install 'ganforge[fields]' or pip install "
                         "netCDF4); or write .npz with --out NAME.npz") from None
    return netCDF4


def write_netcdf(path: Path, fields: np.ndarray, cond: np.ndarray, data: FieldData) -> None:
    """Generated fields ``[N, C, H, W]`` (physical units) and their conditions as a NetCDF4 file."""
    netCDF4 = _netcdf4()

    n, c, h, w = fields.shape
    with netCDF4.Dataset(path, "w") as ds:
        ds.createDimension("sample", n)
        ds.createDimension("y", h)
        ds.createDimension("x", w)
        ds.createDimension("condition", cond.shape[1])
        ds.description = f"ganforge samples of {data.name}"
        for i in range(c):
            name = data.channels[i] if i < len(data.channels) else f"channel{i}"
            var = ds.createVariable(name, "f4", ("sample", "y", "x"))
            var[:] = fields[:, i]
            if i < len(data.units):
                var.units = data.units[i]
        var = ds.createVariable("cond", "f4", ("sample", "condition"))
        var[:] = cond
        var.names = ", ".join(data.cond_names)
        for key, dim in (("latitude", "y"), ("longitude", "x")):
            if key in data.coords and len(data.coords[key]) == (h if dim == "y" else w):
                ds.createVariable(key, "f4", (dim,))[:] = data.coords[key]
