"""pix2pix and the colouriser: U-Net / PatchGAN shapes and receptive field, the cGAN + λ·L1 objective against its
equations, dropout as the noise, Lab colour, and the CLI end to end (train, exact resume, translate, eval, errors)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from ganforge.cli import main
from ganforge.data.base import DataSpec
from ganforge.losses.objectives import Batch
from ganforge.losses.translation import Pix2PixObjective
from ganforge.models.base import TranslateRequest
from ganforge.models.colorize import ColorizeConfig
from ganforge.models.pix2pix import Pix2PixConfig, translate_chunks
from ganforge.models.translation_blocks import PatchDiscriminator, UNetGenerator, patch_receptive_field
from helpers import assert_same_models, one_line_error, train_straight_and_resumed

SPEC = DataSpec((1, 16, 16), fields={"x_a": (1, 16, 16)})
TINY_MODEL = "model.options={'ngf': 4, 'ndf': 4, 'depth': 3, 'd_layers': 1}"


def pairs_npz(path: Path, n: int = 24, size: int = 16, seed: int = 0) -> Path:
    """Tiny paired data: a is a noisy square, b its inverse (a learnable map)."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 60, (n, size, size), dtype=np.uint8)
    a[:, 4:12, 4:12] += 150
    np.savez(path, a=a, b=255 - a)
    return path


def tiny_sets(npz: Path, *extra: str) -> list[str]:
    sets = [TINY_MODEL, "data.name=paired-npz", f"data.options={{'path': '{npz}'}}", "train.batch_size=4",
            "train.checkpoint_every=2", "log.sample_every=2", "log.tensorboard=False", *extra]
    return [a for s in sets for a in ("--set", s)]


def test_unet_pads_odd_sizes_and_patchgan_receptive_field() -> None:
    G = UNetGenerator(1, 3, ngf=4, depth=5)
    assert G(torch.zeros(2, 1, 28, 28)).shape == (2, 3, 28, 28)  # padded to 32, cropped back
    assert not any(isinstance(m, torch.nn.Dropout) for m in G.modules())  # depth 5: no dropout (the reference)
    assert patch_receptive_field(3) == 70  # the paper's 70×70 PatchGAN
    assert [patch_receptive_field(n) for n in (1, 2)] == [16, 34]
    # the field measured: the gradient of one logit reaches exactly a 16×16 window of the input
    D = PatchDiscriminator(1, ndf=2, n_layers=1, norm="none")
    x = torch.zeros(1, 1, 40, 40, requires_grad=True)
    out = D(x)
    out[0, 0, 5, 5].backward()
    rows, cols = (x.grad[0, 0].abs() > 0).nonzero().unbind(1)
    assert int(rows.max() - rows.min() + 1) <= 16
    assert int(cols.max() - cols.min() + 1) <= 16
    with pytest.raises(ValueError, match="lower d_layers"):
        PatchDiscriminator(1, 2, n_layers=3)(torch.zeros(1, 1, 16, 16))


def test_unet_dropout_sits_where_the_reference_puts_it() -> None:
    """junyanz/pytorch-CycleGAN-and-pix2pix UnetGenerator: innermost block (no dropout), then ``num_downs − 5``
    ngf·8 blocks with dropout after their up-conv, then the ngf·4, ·2, ·1 and outermost blocks without."""
    for depth, levels in [(5, []), (6, [4]), (7, [4, 5]), (8, [4, 5, 6])]:
        G = UNetGenerator(1, 3, ngf=2, depth=depth)
        with_dropout = [i for i, up in enumerate(G.up) if any(isinstance(m, torch.nn.Dropout) for m in up)]
        assert with_dropout == levels, depth
        assert len(levels) == max(0, depth - 5)  # the reference's range(num_downs - 5)
        assert depth - 1 not in with_dropout  # never on the innermost block
        for i in levels:  # Dropout(0.5) is the last layer of the block's up path: ReLU, ConvT, norm, Dropout
            assert isinstance(G.up[i][-1], torch.nn.Dropout)
            assert G.up[i][-1].p == 0.5
    assert not any(isinstance(m, torch.nn.Dropout) for m in UNetGenerator(1, 3, ngf=2, depth=8, dropout=0.0).modules())


def test_objective_follows_the_equations() -> None:
    """L_D = ½[BCE(D(x, y), 1) + BCE(D(x, G(x)), 0)]; L_G = −log D(x, G(x)) + λ‖y − G(x)‖₁ (Isola et al. eq. 4)."""
    torch.manual_seed(0)
    nets = Pix2PixConfig(ngf=4, ndf=4, depth=3, d_layers=1, dropout=0.0).build(SPEC)
    G, D = nets["G"].eval(), nets["D"].eval()
    x, y = torch.rand(3, 1, 16, 16) * 2 - 1, torch.rand(3, 1, 16, 16) * 2 - 1
    batch = Batch(real=y, z=None, extras={"x_a": x})
    obj = Pix2PixObjective(l1_weight=7.0)
    real, fake = D(torch.cat([x, y], 1)), D(torch.cat([x, G(x)], 1))
    d = obj.d_loss(G, D, batch)
    torch.testing.assert_close(d.total, 0.5 * (F.softplus(-real).mean() + F.softplus(fake).mean()))
    g = obj.g_loss(G, D, batch)
    torch.testing.assert_close(g.total, F.softplus(-fake).mean() + 7.0 * (y - G(x)).abs().mean())
    ablation = Pix2PixObjective(gan_weight=0.0)
    assert ablation.networks() == ("G",)
    assert [p.name for p in ablation.phases({"G": G}, 1)] == ["G"]
    torch.testing.assert_close(ablation.g_loss(G, None, batch).total, 100.0 * (y - G(x)).abs().mean())
    with pytest.raises(ValueError, match="nothing to train"):
        Pix2PixObjective(l1_weight=0.0, gan_weight=0.0)


def test_dropout_is_the_noise_and_translation_is_seeded() -> None:
    torch.manual_seed(0)
    family = Pix2PixConfig(ngf=2, ndf=4, depth=6, d_layers=1)  # depth 6: one dropout layer (level 4)
    nets = family.build(SPEC)
    x = torch.randint(0, 256, (2, 1, 16, 16), dtype=torch.uint8)
    assert family.translation_input(nets, TranslateRequest()) == (1, 16, 16)
    r0 = family.translate(nets, x, TranslateRequest(seed=0, z_samples=2))
    assert r0.outputs.shape == (2, 2, 1, 16, 16)
    assert r0.outputs.dtype == torch.uint8
    # two dropout draws differ (compared before uint8 rounding: the N(0, 0.02) init leaves outputs near 0)
    xf = x.float() / 127.5 - 1
    assert not torch.equal(translate_chunks(nets["G"], xf, True, 0), translate_chunks(nets["G"], xf, True, 1))
    assert torch.equal(translate_chunks(nets["G"], xf, False, 0), translate_chunks(nets["G"], xf, False, 1))
    assert torch.equal(r0.outputs, family.translate(nets, x, TranslateRequest(seed=0, z_samples=2)).outputs)
    with pytest.raises(ValueError, match="drop --direction"):
        family.translation_input(nets, TranslateRequest(direction="BA"))
    shallow = Pix2PixConfig(ngf=4, ndf=4, depth=3, d_layers=1)  # no dropout layer at depth <= 5: no noise to draw
    with pytest.raises(ValueError, match="drop --z-samples"):
        shallow.translate(shallow.build(SPEC), x, TranslateRequest(z_samples=2))
    with pytest.raises(ValueError, match="unpaired"):
        family.build(DataSpec((1, 16, 16), fields={"x_a_unpaired": (1, 16, 16)}))


def test_colorize_lab_keeps_lightness_and_predicts_ab() -> None:
    torch.manual_seed(0)
    family = ColorizeConfig(ngf=4, ndf=4, depth=3, d_layers=1)
    nets = family.build(DataSpec((3, 16, 16), fields={"x_a": (1, 16, 16)}))
    G = nets["G"]
    assert G.out_ch == 2
    assert G.unet.attention is not None
    assert nets["D"].net[0].in_channels == 3  # D on (L, ab)
    grey = torch.randint(30, 220, (2, 1, 16, 16), dtype=torch.uint8)
    out = family.translate(nets, grey, TranslateRequest()).outputs[:, 0]
    from ganforge.data.colour import grey_l_star

    assert out.shape == (2, 3, 16, 16)
    assert (grey_l_star(out).int() - grey.int()).abs().max() <= 2  # the output's L* is the input's (up to gamut)
    with pytest.raises(ValueError, match="grey"):
        family.build(DataSpec((3, 16, 16), fields={"x_a": (3, 16, 16)}))


def test_trains_resumes_exactly_translates_and_evaluates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    npz = pairs_npz(tmp_path / "pairs.npz")
    straight = tmp_path / "straight"
    a, b = train_straight_and_resumed("pix2pix-edges2mnist", tiny_sets(npz), 4, 2, tmp_path)
    assert sorted(a["models"]) == ["D", "G"]
    assert_same_models(a, b)
    assert (straight / "samples" / "final.png").is_file()
    # translate a folder of inputs
    inputs = tmp_path / "in"
    inputs.mkdir()
    for i in range(3):
        Image.fromarray(np.full((16, 16), 40 * i, np.uint8)).save(inputs / f"{i}.png")
    out = tmp_path / "out"
    assert main(["translate", str(straight), "--input", str(inputs), "--out", str(out), "--device", "cpu"]) == 0
    saved = np.load(out / "outputs.npz")
    assert saved["outputs"].shape == (3, 1, 16, 16)
    assert (out / "grid.png").is_file()
    assert (out / "2.png").is_file()  # the input's name
    # eval writes the held-out metrics
    assert main(["eval", str(straight), "--device", "cpu"]) == 0
    record = json.loads((straight / "eval" / "task.json").read_text())
    text = json.dumps(record)
    assert "psnr" in text
    assert "ssim" in text
    capsys.readouterr()
    # bad inputs: RGB image to a grey model, a direction, a z sample count without... and `sample`
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(tmp_path / "rgb.png")  # RGB to a grey model: converted
    assert main(["translate", str(straight), "--input", str(tmp_path / "rgb.png"), "--out", str(tmp_path / "o2")]) == 0
    assert "converted 1 image(s) to grey" in capsys.readouterr().err
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "small.png")  # another size: refused
    rc = main(["translate", str(straight), "--input", str(tmp_path / "small.png"), "--out", str(tmp_path / "o2")])
    one_line_error(capsys, rc, "3 channel", "--resize")
    Image.fromarray(np.zeros((20, 20), np.uint8)).save(tmp_path / "big.png")
    rc = main(["translate", str(straight), "--input", str(tmp_path / "big.png"), "--out", str(tmp_path / "o3")])
    one_line_error(capsys, rc, "20x20", "16x16")
    rc = main(["translate", str(straight), "--input", str(inputs), "--direction", "BA", "--out", str(tmp_path / "o4")])
    one_line_error(capsys, rc, "drop --direction")
    rc = main(["sample", str(straight), "--n", "4"])
    one_line_error(capsys, rc, "ganforge translate")


def test_unpaired_folder_given_to_pix2pix_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for part in ("trainA", "trainB", "testA", "testB"):
        (tmp_path / part).mkdir()
        for i in range(4):
            Image.fromarray(np.full((16, 16), 10 * i, np.uint8)).save(tmp_path / part / f"{i}.png")
    sets = tiny_sets(tmp_path / "unused.npz", "data.name=unpaired-folder", f"data.options={{'path': '{tmp_path}'}}")
    rc = main(["train", "pix2pix-edges2mnist", *sets, "--run-dir", str(tmp_path / "run"), "--no-progress"])
    one_line_error(capsys, rc, "unpaired", "cyclegan")
    sets = tiny_sets(tmp_path / "unused.npz", "data.name=paired-folder", f"data.options={{'path': '{tmp_path}'}}")
    rc = main(["train", "pix2pix-edges2mnist", *sets, "--run-dir", str(tmp_path / "run2"), "--no-progress"])
    one_line_error(capsys, rc, "unpaired layout", "unpaired-folder")
