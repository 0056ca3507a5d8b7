"""Two-domain data: the user layouts (pix2pix A|B folders, CycleGAN trainA/…, npz pairs), the paired / unpaired
batch streams and their exact resume, and the built-in tasks' constructions (Sobel edges, MNIST-M blending, photo
splits)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.data.paired import PairedFolder, PairedNPZ, TranslationData, UnpairedFolder
from ganforge.data.translation_tasks import ColorizePhotos, mnistm, region_split, sobel_edges
from ganforge.kinds.translation import colour_baselines


def side_by_side(folder: Path, n: int, size: int = 8) -> None:
    folder.mkdir(parents=True)
    for i in range(n):
        im = np.zeros((size, 2 * size, 3), np.uint8)
        im[:, :size] = 10 * i  # A (left)
        im[:, size:, 0] = 200  # B (right): red
        Image.fromarray(im).save(folder / f"{i:02d}.png")


def test_paired_folder_splits_a_and_b(tmp_path: Path) -> None:
    side_by_side(tmp_path / "train", 5)
    side_by_side(tmp_path / "val", 2)
    data = PairedFolder(path=str(tmp_path)).load()
    assert data.kind == "paired"
    assert data.a.shape == (5, 3, 8, 8)
    assert data.test_b.shape == (2, 3, 8, 8)
    assert int(data.a[3, 0, 0, 0]) == 30
    assert int(data.b[3, 0, 0, 0]) == 200
    assert int(data.b[3, 1, 0, 0]) == 0
    swapped = PairedFolder(path=str(tmp_path), direction="BA").load()
    assert torch.equal(swapped.a, data.b)
    assert data.spec().fields == {"x_a": (3, 8, 8)}
    resized = PairedFolder(path=str(tmp_path), size=4).load()
    assert resized.a.shape == (5, 3, 4, 4)


def test_paired_folder_errors(tmp_path: Path) -> None:
    (tmp_path / "train").mkdir()
    with pytest.raises(ValueError, match="holds no images"):
        PairedFolder(path=str(tmp_path)).load()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "train" / "sq.png")
    with pytest.raises(ValueError, match="side by side"):
        PairedFolder(path=str(tmp_path)).load()
    with pytest.raises(FileNotFoundError, match="not found"):
        PairedFolder(path=str(tmp_path / "nope")).load()
    with pytest.raises(ValueError, match=r"data\.split must be train"):
        PairedFolder(path=str(tmp_path)).load("test")
    with pytest.raises(ValueError, match="direction"):
        PairedFolder(path=str(tmp_path), direction="AC")


def test_npz_pairs_hold_out_a_test_split(tmp_path: Path) -> None:
    a = np.arange(20 * 16, dtype=np.uint8).reshape(20, 4, 4)
    np.savez(tmp_path / "p.npz", a=a, b=255 - a)
    data = PairedNPZ(path=str(tmp_path / "p.npz")).load()
    assert len(data.a) == 18
    assert len(data.test_a) == 2
    assert torch.equal(data.test_a[:, 0], torch.from_numpy(a[18:]))
    np.savez(tmp_path / "bad.npz", a=a, b=a[:5])
    with pytest.raises(ValueError, match="one row each"):
        PairedNPZ(path=str(tmp_path / "bad.npz")).load()
    np.savez(tmp_path / "nob.npz", a=a)
    with pytest.raises(ValueError, match="needs 'a'"):
        PairedNPZ(path=str(tmp_path / "nob.npz")).load()
    np.savez(tmp_path / "nan.npz", a=np.full((3, 4, 4), np.nan), b=a[:3])
    with pytest.raises(ValueError, match="NaN"):
        PairedNPZ(path=str(tmp_path / "nan.npz")).load()


def test_translation_data_checks_shapes() -> None:
    x = torch.zeros(4, 1, 8, 8, dtype=torch.uint8)
    with pytest.raises(ValueError, match="resize both"):
        TranslationData(x, torch.zeros(4, 1, 6, 6, dtype=torch.uint8), x, x, paired=True)
    with pytest.raises(ValueError, match="as many A as B"):
        TranslationData(x, x[:3], x, x, paired=True)
    with pytest.raises(ValueError, match="testB"):
        TranslationData(x, x, x, torch.zeros(2, 3, 8, 8, dtype=torch.uint8), paired=False)
    with pytest.raises(ValueError, match="holds no images"):
        TranslationData(x, x, x[:0], x, paired=True)


def test_streams_pair_rows_shuffle_domains_apart_and_resume(tmp_path: Path) -> None:
    n = 10
    a = torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 1, 4, 4).contiguous()
    paired = TranslationData(a, a.clone(), a, a, paired=True).source((0.0, 255.0), 0, torch.device("cpu"))
    batch = paired.next(4)
    assert torch.equal(batch["x"], batch["x_a"])  # row i of A is the input of row i of B
    unpaired = TranslationData(a, a.clone(), a, a, paired=False)
    src = unpaired.source((0.0, 255.0), 0, torch.device("cpu"))
    draws = [src.next(4) for _ in range(3)]
    assert any(not torch.equal(d["x"], d["x_a_unpaired"]) for d in draws)
    state = src.state_dict()
    after = [src.next(4) for _ in range(3)]
    again = unpaired.source((0.0, 255.0), 99, torch.device("cpu"))
    again.load_state_dict(state)
    for want in after:
        got = again.next(4)
        assert all(torch.equal(got[k], want[k]) for k in want)
    with pytest.raises(ValueError, match=r"lower train\.batch_size"):
        src.next(11)


def test_unpaired_folder_layout(tmp_path: Path) -> None:
    for part, n in (("trainA", 3), ("trainB", 5), ("testA", 1), ("testB", 2)):
        (tmp_path / part).mkdir()
        for i in range(n):
            Image.fromarray(np.full((8, 8, 3), (i, 50, 90), np.uint8)).save(tmp_path / part / f"{i}.png")
    data = UnpairedFolder(path=str(tmp_path)).load()
    assert data.kind == "unpaired"
    assert (len(data.a), len(data.b), len(data.test_a), len(data.test_b)) == (3, 5, 1, 2)
    assert data.spec().fields == {"x_a_unpaired": (3, 8, 8)}


def test_sobel_edges_outline_a_square() -> None:
    digit = torch.zeros(1, 1, 12, 12, dtype=torch.uint8)
    digit[0, 0, 3:9, 3:9] = 255
    edges = sobel_edges(digit)[0, 0]
    assert set(edges.unique().tolist()) == {0, 255}
    assert edges[5, 5] == 0
    assert edges[0, 0] == 0
    assert edges[3, 5] == 255
    assert edges[5, 8] == 255
    assert torch.equal(sobel_edges(digit), sobel_edges(digit.clone()))  # deterministic


def test_mnistm_blends_digits_onto_photo_patches() -> None:
    digits = torch.zeros(3, 1, 28, 28, dtype=torch.uint8)
    digits[:, :, 10:18, 10:18] = 255
    m = mnistm(digits, seed=0)
    blank = mnistm(torch.zeros_like(digits), seed=0)  # the patches themselves
    assert m.shape == (3, 3, 28, 28)
    assert torch.equal(m[:, :, :5, :5], blank[:, :, :5, :5])  # |patch − 0| = patch
    assert torch.equal(m[:, :, 10:18, 10:18], 255 - blank[:, :, 10:18, 10:18])  # |patch − 255|
    assert torch.equal(m, mnistm(digits, seed=0))
    assert not torch.equal(m, mnistm(digits, seed=1))


def test_colorize_photos_split_by_file_for_a_user_folder(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for i in range(5):
        Image.fromarray(rng.integers(0, 255, (40, 50, 3), dtype=np.uint8)).save(tmp_path / f"{i}.png")
    data = ColorizePhotos(folder=str(tmp_path), size=16, short_side=20, crops_per_photo=2,
                          test_crops_per_photo=3).load()
    assert data.a.shape == (8, 1, 16, 16)
    assert data.b.shape == (8, 3, 16, 16)
    assert data.test_a.shape == (3, 1, 16, 16)  # the 5th photo × 3
    (tmp_path / "only").mkdir()
    with pytest.raises(ValueError, match="at least 2"):
        ColorizePhotos(folder=str(tmp_path / "only")).load()


def test_colorize_region_split_holds_out_unseen_columns() -> None:
    image = np.arange(40 * 60 * 3, dtype=np.int64).reshape(40, 60, 3)
    left, right = region_split(image, 16, 0.25)
    assert left.shape == (40, 44, 3)  # 60 − max(16, round(60 · 0.25))
    assert right.shape == (40, 16, 3)  # round(60 · 0.25) = 15 < 16: at least one crop wide
    assert np.array_equal(np.concatenate([left, right], 1), image)  # disjoint columns, nothing lost
    assert not np.isin(right, left).any()
    with pytest.raises(ValueError, match="short_side"):
        region_split(image[:, :20], 16, 0.25)
    with pytest.raises(ValueError, match="unknown split"):
        ColorizePhotos(split="pixels")


def test_colour_baselines_reproduce_a_constant_colour() -> None:
    """On photos of one colour the mean-ab baseline is that colour (up to the uint8 L* input: g = round(2.55·L*)
    leaves ≤ 0.2 L* of error, under 1 uint8 level of sRGB here, plus rounding of the output: ≤ 2 levels), while
    Lab(L, 0, 0) is the grey of the same lightness and the grey input is g itself."""
    from ganforge.data.colour import grey_l_star
    from ganforge.data.paired import TranslationData

    colour = torch.tensor([200, 120, 60], dtype=torch.uint8).view(1, 3, 1, 1)
    b = colour.expand(6, 3, 16, 16).contiguous()
    data = TranslationData(grey_l_star(b), b, grey_l_star(b[:2]), b[:2], paired=True, name="t", task="colorize")
    base = colour_baselines(data)
    assert set(base) == {"grey_input", "lab_l00", "mean_ab"}
    assert (base["mean_ab"].int() - data.test_b.int()).abs().max() <= 2
    grey = base["lab_l00"].int()
    assert (grey.amax(1) - grey.amin(1)).max() <= 1  # neutral: R = G = B up to rounding
    assert torch.equal(base["grey_input"], data.test_a.expand(-1, 3, -1, -1))
    assert (grey_l_star(base["lab_l00"]).int() - data.test_a.int()).abs().max() <= 1  # same lightness
