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


def test_comparison_grid_header_and_scale() -> None:
    cols = [np.full((2, 1, 8, 8), 128, np.uint8), np.full((2, 1, 8, 8), 200, np.uint8)]
    plain = comparison_grid(cols, padding=1)
    grid = comparison_grid(cols, padding=1, header=["input", "a title far too long for a cell"], scale=4)
    body = plain.repeat(4, axis=0).repeat(4, axis=1)
    assert grid.shape[1] == body.shape[1]
    assert np.array_equal(grid[-body.shape[0]:], body)  # the images, upscaled x4, under the header
    header = grid[: grid.shape[0] - body.shape[0], :, 0]
    assert header.shape[0] > 0
    for k in range(2):  # each title is drawn (black) and stays inside its own column's cell
        left = 4 + k * (32 + 4)
        assert (header[:, left : left + 32] < 128).any()
    assert not (header[:, :4] < 128).any()
    assert not (header[:, 36:40] < 128).any()  # the gap between the cells: the long title was cut
    with pytest.raises(ValueError, match="header titles"):
        comparison_grid(cols, header=["one"])


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
    said: list[str] = []
    x = fit_images(images, names, (1, 6, 6), resize=False, say=said.append)  # b.png is RGB: converted to grey
    assert x.shape == (2, 1, 6, 6)
    assert int(x[1, 0, 0, 0]) == 7  # PIL's luma of (7, 7, 7) is 7
    assert len(said) == 1
    assert "converted 1 image(s) to grey" in said[0]
    with pytest.raises(ValueError, match="--resize"):
        fit_images(images, names, (1, 3, 3), resize=False)  # another size still needs --resize
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


def test_translate_keeps_names_chains_outputs_and_converts_rgb(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """Outputs are named after the inputs (a clash gets ``_2``), ``outputs.npz`` is 4-D and reads back as
    ``--input`` with its names, an RGB input to a grey model is converted (one stderr line), and grid.png has a
    header row over cells upscaled to >= 64 pixels."""
    rng = np.random.default_rng(0)
    a = rng.integers(0, 255, (8, 16, 16), dtype=np.uint8)
    np.savez(tmp_path / "pairs.npz", a=a, b=255 - a)
    sets = ["model.options={'ngf': 4, 'ndf': 4, 'depth': 3, 'd_layers': 1}", "train.batch_size=4", "train.steps=1",
            "log.sample_every=0", "log.tensorboard=False", "data.name=paired-npz",
            f"data.options={{'path': '{tmp_path / 'pairs.npz'}'}}"]
    run = tmp_path / "run"
    assert main(["train", "pix2pix-edges2mnist", *[x for s in sets for x in ("--set", s)], "--run-dir", str(run),
                 "--no-progress"]) == 0
    inputs = tmp_path / "in"
    inputs.mkdir()
    Image.fromarray(np.full((16, 16), 50, np.uint8)).save(inputs / "cat.png")
    Image.fromarray(np.full((16, 16, 3), 90, np.uint8)).save(inputs / "cat.jpg")  # same stem, and RGB
    Image.fromarray(np.full((16, 16), 10, np.uint8)).save(inputs / "grid.png")  # the grid's own name
    out = tmp_path / "out"
    capsys.readouterr()
    assert main(["translate", str(run), "--input", str(inputs), "--out", str(out), "--device", "cpu"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "converted 1 image(s) to grey" in err[0]
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "cat.png", "cat_2.png", "grid.png", "grid_2.png", "outputs.npz"]
    with np.load(out / "outputs.npz") as f:
        assert f["outputs"].shape == (3, 1, 16, 16)
        assert f["outputs"].dtype == np.uint8
        assert list(f["names"]) == ["cat", "cat_2", "grid_2"]
        first = f["outputs"]
    assert np.array_equal(np.asarray(Image.open(out / "cat_2.png")), first[1, 0])
    grid = Image.open(out / "grid.png")
    scale = 4  # the smallest K with 16·K >= 64
    assert grid.width == scale * (2 + 2 * (16 + 2))  # 2 columns (input | output) of 16 px, 2 px padding, ×4
    body = scale * (2 + 3 * (16 + 2))  # 3 rows
    assert grid.height > body  # plus the header row
    header = np.asarray(grid.convert("L"))[: grid.height - body]
    assert (header < 128).any()  # the titles are drawn in black on white
    # chained: outputs.npz is an --input, and its names are kept
    again = tmp_path / "again"
    assert main(["translate", str(run), "--input", str(out / "outputs.npz"), "--out", str(again), "--scale", "1",
                 "--device", "cpu"]) == 0
    with np.load(again / "outputs.npz") as f:
        assert list(f["names"]) == ["cat", "cat_2", "grid_2"]
    rc = main(["translate", str(run), "--input", str(inputs), "--out", str(again), "--scale", "9"])
    one_line_error(capsys, rc, "--scale 9")
