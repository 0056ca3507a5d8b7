"""``ganforge translate``: the family-agnostic parts (input reading and fitting, the comparison grid, errors). Each
translation family tests its own ``translate`` (pix2pix, CycleGAN, StarGAN v2, SR) in tests/models/."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.cli import main
from ganforge.commands.translate import fit_images, read_images
from ganforge.viz.images import comparison_grid
from helpers import make_run, one_line_error


def test_comparison_grid_fits_sizes_and_channels() -> None:
    grey = np.full((2, 1, 4, 4), 10, np.uint8)
    big_rgb = np.zeros((2, 3, 8, 8), np.uint8)
    big_rgb[1, 0] = 200
    grid = comparison_grid([grey, big_rgb], padding=1, pad_value=255)
    assert grid.shape == (2 * 9 + 1, 2 * 9 + 1, 3)  # 2 rows of 8x8 cells, 2 columns, 1-pixel padding
    assert (grid[1:9, 1:9] == 10).all()  # grey 4x4 upscaled ×2 and repeated to RGB
    assert (grid[10:18, 10:18, 0] == 200).all()
    assert (grid[10:18, 10:18, 1:] == 0).all()
    with pytest.raises(ValueError, match="same number"):
        comparison_grid([grey, big_rgb[:1]])
    with pytest.raises(ValueError, match="does not divide"):
        comparison_grid([np.zeros((1, 1, 3, 3), np.uint8), big_rgb[:1]])


def test_read_and_fit_images(tmp_path: Path) -> None:
    Image.fromarray(np.full((6, 6, 3), 7, np.uint8)).save(tmp_path / "b.png")
    Image.fromarray(np.full((6, 6), 9, np.uint8)).save(tmp_path / "a.png")
    images, names = read_images(tmp_path)
    assert names == ["a", "b"]
    assert images[0].shape == (6, 6, 1)
    assert images[1].shape == (6, 6, 3)
    x = fit_images(images, names, (1, 3, 3), resize=True)
    assert x.shape == (2, 1, 3, 3)
    assert x.dtype == torch.uint8
    assert int(x[0].float().mean()) == 9
    with pytest.raises(ValueError, match="--resize"):
        fit_images(images, names, (1, 6, 6), resize=False)  # b.png is RGB
    np.savez(tmp_path / "x.npz", images=np.zeros((3, 1, 6, 6), np.uint8))
    images, names = read_images(tmp_path / "x.npz")
    assert len(images) == 3
    assert images[0].shape == (6, 6, 1)
    assert names[0] == "00000"


def test_translate_refuses_generative_run_and_bad_inputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = make_run(["train.steps=1"], tmp_path / "run")
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "in.png")
    rc = main(["translate", str(run), "--input", str(tmp_path / "in.png"), "--device", "cpu"])
    one_line_error(capsys, rc, "translates nothing", "ganforge sample")
    rc = main(["translate", str(run), "--input", str(tmp_path / "missing.png")])
    one_line_error(capsys, rc, "not found")
    (tmp_path / "empty").mkdir()
    rc = main(["translate", str(run), "--input", str(tmp_path / "empty")])
    one_line_error(capsys, rc, "holds no images")
    rc = main(["translate", str(run), "--input", str(tmp_path / "in.png"), "--z-samples", "0"])
    one_line_error(capsys, rc, "--z-samples")
