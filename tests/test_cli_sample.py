"""CLI contracts of ``sample``, ``interpolate`` and ``train-classifier`` on tiny MNIST-shaped and 2-D toy runs."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.cli import main
from ganforge.commands.interpolate import lerp, slerp
from helpers import make_run, one_line_error, snapshot

MNIST_TINY = [
    "data.name=mnist", "data.options={'limit': 64}", "train.steps=2", "train.checkpoint_every=2", "train.ema=0.5",
    "log.n_samples=10",
]


def mlp(conditional: bool) -> str:
    return (f"model.options={{'z_dim': 4, 'g_hidden': [16], 'd_hidden': [16], 'g_output': 'tanh', "
            f"'conditioning': '{'concat' if conditional else 'none'}'}}")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny trained runs: unconditional and conditional MLPs on 64 MNIST digits, and a 2-D ring8 MLP."""
    root = tmp_path_factory.mktemp("runs")
    out = {}
    for name, overrides in {"uncond": [*MNIST_TINY, mlp(False)], "cond": [*MNIST_TINY, mlp(True)],
                            "ring": ["train.steps=2", "train.checkpoint_every=2"]}.items():
        out[name] = make_run(overrides, root / name)
    return out




def grid_size(rows: int, cols: int, h: int = 28, w: int = 28, pad: int = 2) -> tuple[int, int]:
    """(width, height) of a make_grid picture."""
    return cols * (w + pad) + pad, rows * (h + pad) + pad


# ---- sample ----------------------------------------------------------------------------------------------------


def test_sample_grid_default_path_and_determinism(runs: dict[str, Path], tmp_path: Path) -> None:
    assert main(["sample", str(runs["uncond"]), "--n", "12", "--seed", "3"]) == 0
    out = runs["uncond"] / "samples" / "sample-seed3.png"
    img = Image.open(out)
    assert img.mode == "L"
    assert img.size == grid_size(3, 4)
    assert main(["sample", str(runs["uncond"]), "--n", "12", "--seed", "3", "--out", str(tmp_path / "b.png")]) == 0
    assert out.read_bytes() == (tmp_path / "b.png").read_bytes()
    assert main(["sample", str(runs["uncond"]), "--n", "12", "--seed", "4", "--out", str(tmp_path / "c.png")]) == 0
    assert out.read_bytes() != (tmp_path / "c.png").read_bytes()


def test_sample_from_a_checkpoint_file(runs: dict[str, Path], tmp_path: Path) -> None:
    ckpt = runs["uncond"] / "checkpoints" / "latest.pt"
    assert main(["sample", str(ckpt), "--n", "4", "--out", str(tmp_path / "s.png")]) == 0
    assert (tmp_path / "s.png").is_file()


def test_sample_png_dir_and_npz_hold_the_same_images(runs: dict[str, Path], tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sample", str(runs["uncond"]), "--n", "7", "--format", "png-dir", "--out", str(tmp_path / "d")]) == 0
    files = sorted((tmp_path / "d").glob("*.png"))
    assert [f.name for f in files] == [f"{i:05d}.png" for i in range(7)]
    assert main(["sample", str(runs["uncond"]), "--n", "7", "--format", "npz", "--out", str(tmp_path / "s.npz")]) == 0
    with np.load(tmp_path / "s.npz") as data:
        assert set(data.files) == {"images"}  # unconditional: no labels
        images = data["images"]
    assert images.dtype == np.uint8
    assert images.shape == (7, 1, 28, 28)
    for i, f in enumerate(files):
        np.testing.assert_array_equal(np.asarray(Image.open(f)), images[i, 0])
    # ganforge's own earlier PNGs are replaced (the folder then holds this run's 3, not 3 new + 4 stale) ...
    assert main(["sample", str(runs["uncond"]), "--n", "3", "--format", "png-dir", "--out", str(tmp_path / "d")]) == 0
    assert sorted(p.name for p in (tmp_path / "d").glob("*.png")) == [f"{i:05d}.png" for i in range(3)]
    # ... but a folder holding a file ganforge did not write is refused, naming it, and left as it was
    (tmp_path / "d" / "holiday.png").write_bytes(b"mine")
    before = snapshot(tmp_path / "d")
    rc = main(["sample", str(runs["uncond"]), "--n", "3", "--format", "png-dir", "--out", str(tmp_path / "d")])
    one_line_error(capsys, rc, "holiday.png", "did not write")
    assert snapshot(tmp_path / "d") == before


def test_sample_label_on_a_conditional_model(runs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "seven.npz"
    assert main(["sample", str(runs["cond"]), "--n", "5", "--label", "7", "--format", "npz", "--out", str(out)]) == 0
    with np.load(out) as data:
        assert data["images"].shape == (5, 1, 28, 28)
        assert data["labels"].tolist() == [7] * 5
    out = tmp_path / "random.npz"
    assert main(["sample", str(runs["cond"]), "--n", "30", "--format", "npz", "--out", str(out)]) == 0
    with np.load(out) as data:
        labels = data["labels"]
    assert labels.shape == (30,)
    assert 0 <= labels.min() <= labels.max() <= 9
    assert len(set(labels.tolist())) > 1


@pytest.mark.parametrize("run", ["uncond", "cond"])
def test_sample_writes_the_n_samples_of_its_seed(runs: dict[str, Path], tmp_path: Path, run: str) -> None:
    """`sample --seed S` and `eval --seed S` share ``iter_labelled_samples``: the .npz holds exactly its images and,
    for a conditional model, the random labels drawn with them (they used to come from another RNG, seed + 1)."""
    from ganforge.commands.common import images_uint8, load_generator
    from ganforge.sampling import iter_labelled_samples

    out = tmp_path / "s.npz"
    assert main(["sample", str(runs[run]), "--n", "1030", "--seed", "3", "--format", "npz", "--out", str(out)]) == 0
    _, G, _, _ = load_generator(runs[run], torch.device("cpu"))
    batches = list(iter_labelled_samples(G, 1030, 3, torch.device("cpu"), batch_size=250))  # eval's default batch
    with np.load(out) as data:
        # sample draws in batches of 1000, eval in 250: G's float32 outputs may differ by an ulp on another batch
        # shape (other GEMM/conv kernels), which can move a value across a uint8 rounding boundary: one level at most
        want = torch.cat([images_uint8(x, G) for x, _ in batches]).numpy()
        assert np.abs(data["images"].astype(np.int16) - want.astype(np.int16)).max() <= 1
        assert (data["images"] != want).mean() < 1e-3  # and rarely: an ulp lands on a boundary about 1e-7 of the time
        if run == "cond":
            np.testing.assert_array_equal(data["labels"], torch.cat([c for _, c in batches]).numpy())
        else:
            assert "labels" not in data.files


def test_sample_per_class_grid_has_one_row_per_class(runs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "pc.png"
    assert main(["sample", str(runs["cond"]), "--n", "30", "--per-class", "--out", str(out)]) == 0
    assert Image.open(out).size == grid_size(10, 3)
    assert main(["sample", str(runs["cond"]), "--n", "20", "--per-class", "--format", "npz",
                 "--out", str(tmp_path / "pc.npz")]) == 0
    with np.load(tmp_path / "pc.npz") as data:
        assert data["labels"].tolist() == [c for c in range(10) for _ in range(2)]


@pytest.mark.parametrize(("run", "extra", "contains"), [
    ("cond", ["--label", "10"], "out of range; this model has classes 0..9"),
    ("cond", ["--label", "-1"], "out of range"),
    ("uncond", ["--label", "3"], "unconditional"),
    ("uncond", ["--per-class"], "unconditional"),
    ("cond", ["--label", "1", "--per-class"], "contradict"),
    ("uncond", ["--n", "0"], "--n must be >= 1"),
    ("uncond", ["--format", "jpeg"], "invalid choice"),
    ("ring", ["--format", "png-dir"], "needs image data"),
    ("uncond", ["--device", "tpu"], "not a device"),
])
def test_sample_bad_inputs(runs: dict[str, Path], run: str, extra: list[str], contains: str,
                           capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(runs[run])
    one_line_error(capsys, main(["sample", str(runs[run]), *extra]), contains)
    assert snapshot(runs[run]) == before


def test_sample_toy_run_writes_vectors(runs: dict[str, Path], tmp_path: Path) -> None:
    assert main(["sample", str(runs["ring"]), "--n", "9", "--out", str(tmp_path / "p.npy")]) == 0
    assert np.load(tmp_path / "p.npy").shape == (9, 2)
    assert main(["sample", str(runs["ring"]), "--n", "9", "--format", "npz", "--out", str(tmp_path / "p.npz")]) == 0
    with np.load(tmp_path / "p.npz") as data:
        assert data["samples"].shape == (9, 2)
        assert data["samples"].dtype == np.float32


# ---- interpolate -------------------------------------------------------------------------------------------------


def test_lerp_and_slerp_reach_both_endpoints() -> None:
    g = torch.Generator().manual_seed(0)
    z0, z1 = torch.randn(3, 8, generator=g), torch.randn(3, 8, generator=g)
    t = torch.linspace(0, 1, 5)
    for fn in (lerp, slerp):
        path = fn(z0, z1, t)
        assert path.shape == (3, 5, 8)
        torch.testing.assert_close(path[:, 0], z0)
        torch.testing.assert_close(path[:, -1], z1)
    torch.testing.assert_close(lerp(z0, z1, t)[:, 2], (z0 + z1) / 2)


def test_slerp_follows_the_great_circle() -> None:
    z0, z1 = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    mid = slerp(z0, z1, torch.tensor([0.5]))[0, 0]
    torch.testing.assert_close(mid, torch.tensor([math.sqrt(0.5), math.sqrt(0.5)]))
    path = slerp(3 * z0, 3 * z1, torch.linspace(0, 1, 7))[0]
    torch.testing.assert_close(path.norm(dim=1), torch.full((7,), 3.0))  # equal norms stay on the sphere
    same = slerp(z0, 2 * z0, torch.tensor([0.5]))[0, 0]  # parallel codes: linear fallback, no NaN
    torch.testing.assert_close(same, torch.tensor([1.5, 0.0]))


@pytest.mark.parametrize("kind", [[], ["--slerp"]])
def test_interpolate_image_grid(runs: dict[str, Path], tmp_path: Path, kind: list[str]) -> None:
    out = tmp_path / "i.png"
    assert main(["interpolate", str(runs["uncond"]), "--steps", "6", "--pairs", "3", *kind, "--out", str(out)]) == 0
    assert Image.open(out).size == grid_size(3, 6)
    assert main(["interpolate", str(runs["cond"]), "--steps", "4", "--pairs", "2", "--label", "5", *kind]) == 0
    name = "slerp" if kind else "lerp"
    assert Image.open(runs["cond"] / "samples" / f"interp-{name}-seed0.png").size == grid_size(2, 4)


def test_interpolate_toy_run(runs: dict[str, Path], tmp_path: Path) -> None:
    assert main(["interpolate", str(runs["ring"]), "--steps", "5", "--pairs", "4", "--out", str(tmp_path / "t.npy")]) \
        == 0
    assert np.load(tmp_path / "t.npy").shape == (4, 5, 2)
    assert main(["interpolate", str(runs["ring"]), "--steps", "5", "--pairs", "4", "--slerp"]) == 0
    assert (runs["ring"] / "samples" / "interp-slerp-seed0.png").is_file()


@pytest.mark.parametrize(("run", "extra", "contains"), [
    ("uncond", ["--label", "2"], "unconditional"),
    ("cond", ["--label", "12"], "out of range"),
    ("uncond", ["--steps", "1"], "--steps must be >= 2"),
    ("uncond", ["--pairs", "0"], "--pairs must be >= 1"),
])
def test_interpolate_bad_inputs(runs: dict[str, Path], run: str, extra: list[str], contains: str,
                                capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(runs[run])
    one_line_error(capsys, main(["interpolate", str(runs[run]), *extra]), contains)
    assert snapshot(runs[run]) == before


# ---- train-classifier ------------------------------------------------------------------------------------------


def test_train_classifier_wraps_the_module_entry_point(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    from ganforge.metrics import classifier

    calls = []

    def fake_train(epochs: int, batch_size: int, seed: int, device: str, out_path: Path, **kw: float) -> dict:
        calls.append((epochs, batch_size, seed, device, Path(out_path), kw))
        return {"test_accuracy": 0.99, "num_test": 10, "test_confident": 0.9, "test_entropy": 1.0,
                "train_seconds": 1.0, "sha256": "0" * 64}

    monkeypatch.setattr(classifier, "train_mnist_classifier", fake_train)
    monkeypatch.setattr(torch, "set_num_threads", lambda n: None)
    out = tmp_path / "clf.pt"
    assert main(["train-classifier", "--out", str(out), "--epochs", "2", "--seed", "5", "--lr", "0.01"]) == 0
    assert calls == [(2, 128, 5, "cpu", out, {"lr": 0.01})]
    assert "test accuracy 99.00%" in capsys.readouterr().out
    out.write_bytes(b"weights")  # an existing file is never replaced without --overwrite
    one_line_error(capsys, main(["train-classifier", "--out", str(out)]), "already exists")
    assert out.read_bytes() == b"weights"
    assert main(["train-classifier", "--out", str(out), "--overwrite", "--epochs", "1"]) == 0
    one_line_error(capsys, main(["train-classifier", "--out", str(tmp_path / "x.pt"), "--epochs", "0"]), "--epochs")
    assert len(calls) == 2


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_unavailable_device_names_the_flag(runs: dict[str, Path], tmp_path: Path, capsys) -> None:
    rc = main(["sample", str(runs["ring"]), "--n", "4", "--device", "cuda", "--out", str(tmp_path / "x.npy")])
    one_line_error(capsys, rc, "--device=cuda but CUDA is not available; use --device=cpu or auto")
    assert not (tmp_path / "x.npy").exists()


def test_each_sample_mode_has_its_own_default_name_and_scale_enlarges_the_grid(runs: dict[str, Path]) -> None:
    cond = runs["cond"]
    assert main(["sample", str(cond), "--n", "20", "--per-class", "--scale", "3"]) == 0
    assert main(["sample", str(cond), "--n", "4", "--label", "7", "--truncation", "0.7"]) == 0
    assert main(["sample", str(cond), "--n", "4"]) == 0
    per_class = cond / "samples" / "sample-seed0-per-class.png"
    assert Image.open(per_class).size == tuple(3 * v for v in grid_size(10, 2))  # nearest upscaling of the grid
    assert (cond / "samples" / "sample-seed0-label7-t0.7.png").is_file()
    assert (cond / "samples" / "sample-seed0.png").is_file()


@pytest.mark.parametrize(("args", "message"), [
    (["--scale", "0"], "--scale 0: give an integer from 1 to 16"),
    (["--scale", "2", "--format", "npz"], "--scale applies to a grid of images"),
])
def test_bad_scale_is_one_line(runs: dict[str, Path], tmp_path: Path, args: list[str], message: str,
                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sample", str(runs["cond"]), "--n", "4", "--out", str(tmp_path / "x.npz"), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert message in err[0]
    assert not (tmp_path / "x.npz").exists()


def test_the_sampling_bar_passes_every_batch_through_unchanged() -> None:
    from ganforge.commands.sample import with_bar

    batches = [(torch.full((3000, 2), float(i)), None) for i in range(3)]
    out = list(with_bar(iter(batches), 9000))
    assert len(out) == 3
    assert all(a[0] is b[0] and a[1] is None for a, b in zip(out, batches, strict=True))
