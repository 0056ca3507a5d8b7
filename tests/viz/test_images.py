"""Tests for ganforge/viz/images.py: grid layout pixel by pixel, PNG / GIF writers, the uint8 conversion they take."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.data.base import to_uint8
from ganforge.viz.images import make_grid, save_gif, save_grid, save_image


def tiny_gray() -> np.ndarray:
    """Three 1×2×2 images filled with 10, 20, 30."""
    return np.stack([np.full((1, 2, 2), v, dtype=np.uint8) for v in (10, 20, 30)])


def test_make_grid_layout_is_pixel_exact():
    grid = make_grid(tiny_gray(), nrow=2, padding=1, pad_value=0)
    P = 0
    expected = np.array(
        [
            [P, P, P, P, P, P, P],
            [P, 10, 10, P, 20, 20, P],
            [P, 10, 10, P, 20, 20, P],
            [P, P, P, P, P, P, P],
            [P, 30, 30, P, P, P, P],  # the 4th cell stays pad_value
            [P, 30, 30, P, P, P, P],
            [P, P, P, P, P, P, P],
        ],
        dtype=np.uint8,
    )[:, :, None]
    assert grid.dtype == np.uint8
    assert np.array_equal(grid, expected)


def test_make_grid_rgb_defaults_and_tensor_input():
    images = torch.randint(0, 256, (5, 3, 4, 6), dtype=torch.uint8)
    grid = make_grid(images)  # nrow = ceil(sqrt(5)) = 3 -> 2 rows; padding 2, pad 255
    assert grid.shape == (2 * (4 + 2) + 2, 3 * (6 + 2) + 2, 3)
    assert np.array_equal(grid[2:6, 10:16], images[1].numpy().transpose(1, 2, 0))
    assert (grid[0] == 255).all()
    assert make_grid(images, nrow=10).shape == (4 + 4, 5 * 8 + 2, 3)  # nrow larger than N: one row


def test_make_grid_rejects_float_and_bad_shapes():
    with pytest.raises(ValueError, match="uint8"):
        make_grid(np.zeros((2, 1, 4, 4), dtype=np.float32))
    with pytest.raises(ValueError, match=r"\[N >= 1, C in \(1, 3, 4\), H, W\]"):
        make_grid(np.zeros((2, 2, 4, 4), dtype=np.uint8))


def test_save_grid_png_grayscale_and_scaled(tmp_path):
    path = save_grid(tiny_gray(), tmp_path / "sub" / "grid.png", nrow=2, scale=3, padding=1, pad_value=0)
    with Image.open(path) as img:
        assert img.mode == "L"
        pixels = np.asarray(img)
    small = make_grid(tiny_gray(), nrow=2, padding=1, pad_value=0)[:, :, 0]
    assert np.array_equal(pixels, small.repeat(3, axis=0).repeat(3, axis=1))


def test_save_gif_frames_and_loop(tmp_path):
    frames = [np.full((8, 8, 3), 40 * i, dtype=np.uint8) for i in range(5)]
    path = save_gif(frames, tmp_path / "anim.gif", duration_ms=120)
    with Image.open(path) as gif:
        assert gif.n_frames == 5
        assert gif.info["loop"] == 0
        assert gif.info["duration"] == 120
    gray = [np.full((4, 4, 1), 60 * i, dtype=np.uint8) for i in range(3)]
    with Image.open(save_gif(gray, tmp_path / "gray.gif")) as gif:
        assert gif.n_frames == 3
    with pytest.raises(ValueError, match="same size"):
        save_gif([frames[0], np.zeros((4, 4, 3), dtype=np.uint8)], tmp_path / "bad.gif")


def test_save_image_roundtrips_rgb(tmp_path):
    img = np.random.default_rng(0).integers(0, 256, (5, 4, 3), dtype=np.uint8)
    with Image.open(save_image(img, tmp_path / "sub" / "x.png")) as png:
        assert np.array_equal(np.asarray(png), img)


def test_to_uint8_maps_value_range_into_grids():
    """The one float -> uint8 conversion (``data.base.to_uint8``) feeds the grid writers directly."""
    x = torch.tensor([-1.0, 0.0, 1.0, 2.0, -3.0])
    assert to_uint8(x, (-1.0, 1.0)).tolist() == [0, 128, 255, 255, 0]
    assert to_uint8(x, None).tolist() == [0, 128, 255, 255, 0]  # None: the tanh range
    assert to_uint8(torch.tensor([0.0, 0.5, 1.0]), (0.0, 1.0)).tolist() == [0, 128, 255]
    assert make_grid(to_uint8(torch.zeros(2, 1, 2, 2), None), padding=0).shape == (2, 4, 1)
