"""Paired LR/HR datasets (data/superres.py): resampling, the split by photograph, the data kind, bad options."""

from __future__ import annotations

import pytest
import torch

from ganforge.data.superres import (
    PHOTOS,
    SuperResData,
    SuperResPhotos,
    bicubic_upsample,
    downsample,
    read_photo,
)
from ganforge.registry import DATASETS, RUN_HOOKS


def test_downsample_area_is_the_block_mean_and_bicubic_keeps_flat_images() -> None:
    x = torch.arange(64, dtype=torch.uint8).reshape(1, 1, 8, 8)
    lr = downsample(x, 4, "area")
    assert lr.shape == (1, 1, 2, 2)
    assert lr[0, 0, 0, 0].item() == round(float(x[0, 0, :4, :4].float().mean()))  # 13.5 → 14 (round half to even)
    flat = torch.full((2, 3, 16, 16), 77, dtype=torch.uint8)
    assert torch.equal(downsample(flat, 4), torch.full((2, 3, 4, 4), 77, dtype=torch.uint8))
    up = bicubic_upsample(downsample(flat, 4), 4)
    assert up.shape == flat.shape
    assert torch.equal(up, flat)


def test_downsample_bad_inputs() -> None:
    with pytest.raises(ValueError, match="do not divide by the scale 4"):
        downsample(torch.zeros(1, 1, 10, 10, dtype=torch.uint8), 4)
    with pytest.raises(ValueError, match="unknown downsample 'lanczos'"):
        downsample(torch.zeros(1, 1, 8, 8, dtype=torch.uint8), 4, "lanczos")
    with pytest.raises(ValueError, match="uint8 images"):
        bicubic_upsample(torch.zeros(1, 1, 8, 8), 4)


def test_photos_are_split_by_photograph() -> None:
    ds = SuperResPhotos(crop=32, n_crops=40, test_photos=("chelsea",), seed=3)
    train, test = ds.load("train"), ds.load("test")
    assert isinstance(train, SuperResData)
    assert train.kind == "superres"
    assert "chelsea" not in train.options["photos"]
    assert test.options["photos"] == ["chelsea"]
    assert train.x.shape == (40, 3, 32, 32)
    assert train.fields["lr"].shape == (40, 3, 8, 8)
    chelsea = torch.from_numpy(read_photo("chelsea"))  # [3, 300, 451]: 9 x 14 tiles of 32
    assert test.x.shape[0] == (300 // 32) * (451 // 32)
    assert torch.equal(test.x[1], chelsea[:, :32, 32:64])  # row-major tiles
    assert torch.equal(test.fields["lr"], downsample(test.x, 4))
    assert torch.equal(ds.load("train").x, train.x)  # seeded: the same crops every time
    spec = train.spec()
    assert spec.shape == (3, 32, 32)
    assert spec.fields == {"lr": (3, 8, 8)}
    import ganforge.kinds.superres  # noqa: F401  (the kind registers itself; data/ no longer does)

    assert "superres" in RUN_HOOKS
    assert RUN_HOOKS.get("superres").standalone_eval is True


@pytest.mark.parametrize(("options", "message"), [
    ({"scale": 3}, "scale must be 2, 4 or 8"),
    ({"test_photos": ("moon",)}, "test_photos"),
    ({"test_photos": PHOTOS}, "test_photos"),
    ({"crop": 30}, "multiple of the scale"),
    ({"n_crops": 0}, "n_crops must be >= 1"),
    ({"downsample": "box"}, "unknown downsample"),
])
def test_photo_options_are_checked(options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SuperResPhotos(**options)


def test_mnist_pairs_and_bad_split() -> None:
    ds = DATASETS.get("superres-mnist")(limit=8)
    data = ds.load("test")
    assert data.x.shape == (8, 1, 28, 28)
    assert data.fields["lr"].shape == (8, 1, 7, 7)
    assert data.y is not None
    assert data.feature_net == "mnist-classifier"
    with pytest.raises(ValueError, match="no split 'valid'"):
        ds.load("valid")
    with pytest.raises(ValueError, match="scale must be 2 or 4"):
        DATASETS.get("superres-mnist")(scale=8)
    with pytest.raises(ValueError, match="field 'lr'"):
        SuperResData(data.x, fields={"lr": data.x}, scale=4)
