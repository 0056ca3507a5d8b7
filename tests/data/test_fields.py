"""The field data kind: normalisation and its inverse, masks for missing cells, continuous conditions, the built-in
NetCDF fields, and one-line errors for bad .npz inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ganforge.data.fields import A1BFields, FieldData, FieldNPZ, WindFields, month_features


def test_a1b_fields_and_conditions() -> None:
    data = A1BFields().load()
    assert data.raw.shape == (480, 1, 37, 49)
    assert data.cond.shape == (480, 3)
    assert data.spec().fields == {"mask": (1, 37, 49), "cond": (3,)}
    assert data.cond[:240, 0].tolist() == [1.0] * 240
    assert data.cond[240:, 1].tolist() == [1.0] * 240
    # one field per 360-day year, June 1860 .. June 2099: (year - 1980) / 100
    np.testing.assert_allclose(data.cond[:240, 2], (np.arange(1860, 2100) - 1980) / 100, atol=1e-6)
    assert 200 < data.raw.mean() < 300  # Kelvin
    np.testing.assert_allclose(data.denormalise(data.x[:5]), data.raw[:5], rtol=1e-5)
    assert abs(float(data.x.mean())) < 1e-4
    assert abs(float(data.x.std()) - 1) < 1e-3
    assert A1BFields(scenarios=("E1",)).load().cond.shape == (240, 2)
    np.testing.assert_allclose(month_features(np.array([0, 3])), [[0, 1], [1, 0]], atol=1e-12)
    with pytest.raises(ValueError, match="subset of A1B, E1"):
        A1BFields(scenarios=("B2",))


def test_wind_fields() -> None:
    data = WindFields().load()
    assert data.raw.shape == (12, 2, 73, 144)
    assert data.units == ("m/s", "m/s")


def test_missing_cells_become_masked_zeros() -> None:
    raw = np.arange(2 * 1 * 5 * 6, dtype=np.float32).reshape(2, 1, 5, 6)
    raw[0, 0, 1, 2] = np.nan
    data = FieldData(raw, np.zeros((2, 3), np.float32))
    assert data.mask[0, 0, 1, 2] == 0
    assert data.mask.sum() == 2 * 30 - 1
    assert data.x[0, 0, 1, 2] == 0
    valid = raw[np.isfinite(raw)]
    assert data.mean[0] == pytest.approx(valid.mean())
    assert data.std[0] == pytest.approx(valid.std())


@pytest.mark.parametrize(("case", "message"), [
    ("missing", "not found"),
    ("keys", "no array(s) ['cond']"),
    ("rank", "must be a non-empty float array [N, C, H, W]"),
    ("inf", "inf values"),
    ("allnan", "no valid cell"),
    ("cond_rows", "one vector per field"),
    ("cond_nan", "conditions contain NaN"),
    ("corrupt", "not a readable .npz"),
    ("constant", "is constant"),
])
def test_bad_field_npz(tmp_path: Path, case: str, message: str) -> None:
    path = tmp_path / "f.npz"
    fields = np.random.default_rng(0).normal(size=(4, 1, 6, 6)).astype(np.float32)
    cond = np.zeros((4, 2), np.float32)
    if case == "keys":
        np.savez(path, fields=fields)
    elif case == "rank":
        np.savez(path, fields=fields[:, 0], cond=cond)
    elif case == "inf":
        fields[0, 0, 0, 0] = np.inf
        np.savez(path, fields=fields, cond=cond)
    elif case == "allnan":
        np.savez(path, fields=np.full_like(fields, np.nan), cond=cond)
    elif case == "cond_rows":
        np.savez(path, fields=fields, cond=cond[:3])
    elif case == "cond_nan":
        cond[1, 1] = np.nan
        np.savez(path, fields=fields, cond=cond)
    elif case == "corrupt":
        path.write_bytes(b"PK\x03\x04 not a zip")
    elif case == "constant":
        np.savez(path, fields=np.ones_like(fields), cond=cond)
    with pytest.raises((ValueError, FileNotFoundError)) as err:
        FieldNPZ(path=str(path)).load()
    assert message in str(err.value)
    assert "\n" not in str(err.value)
