"""StarGAN v2 networks (G, F, E, D), sizes that scale with the resolution, the multi-domain data and its stream, the
translate contract and the CLI end to end on a tiny run (training grids, eval, translate, errors)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.cli import main
from ganforge.data.base import DataSpec
from ganforge.data.domains import DomainData, ImageDomains
from ganforge.kinds.domains import moments, pearson
from ganforge.models.base import TranslateRequest
from ganforge.models.stargan_v2 import StarGANv2Config, halvings
from helpers import one_line_error

SMALL = dict(style_dim=3, latent_dim=2, dim_in=4, max_conv_dim=8, mapping_hidden=5, mapping_shared=2, mapping_head=1)


def domain_folder(root: Path, domains: int = 3, per: int = 6, size: int = 16) -> Path:
    """``root/d0 ... d{K-1}`` of grey PNGs: domain k is a bar at column 3 + 4k of random width (seeded)."""
    rng = np.random.default_rng(0)
    for k in range(domains):
        (root / f"d{k}").mkdir(parents=True)
        for i in range(per):
            a = np.zeros((size, size), np.uint8)
            a[2:-2, 3 + 4 * k : 3 + 4 * k + int(rng.integers(1, 4))] = 255
            Image.fromarray(a).save(root / f"d{k}" / f"{i}.png")
    return root


def test_networks_shapes_and_domain_heads() -> None:
    torch.manual_seed(0)
    spec = DataSpec((1, 16, 16), num_classes=3)
    nets = StarGANv2Config(**SMALL, g_down=1, d_down=2).build(spec)
    assert list(nets) == ["G", "F", "E", "D"]
    G, F, E, D = nets.values()
    x, y = torch.randn(5, 1, 16, 16), torch.tensor([0, 1, 2, 1, 0])
    z = G.sample_z(5, torch.Generator().manual_seed(1))
    assert z.shape == (5, 2)
    assert (G.z_dim, G.c_dim, G.output_range) == (2, 3, (-1.0, 1.0))
    s = F(z, y)
    assert s.shape == (5, 3)
    for i in range(5):  # F_y(z) = head_y(shared(z)); E_y(x) = head_y(trunk(x)); D_y(x) = logit y of the K outputs
        torch.testing.assert_close(s[i], F.heads[int(y[i])](F.shared(z[i : i + 1]))[0])
        torch.testing.assert_close(E(x, y)[i], E.heads[int(y[i])](E.trunk(x[i : i + 1]))[0])
        torch.testing.assert_close(D(x, y)[i, 0], D.out(D.trunk(x[i : i + 1]))[0, int(y[i])])
    out = G(x, s)
    assert out.shape == (5, 1, 16, 16)
    assert D(x, y).shape == (5, 1)
    # AdaIN: a different style changes the output of the same source
    assert not torch.allclose(G(x, s), G(x, s.flip(0)))


def test_sizes_scale_with_resolution() -> None:
    """Official: G halves log2(H) − 4 times (256² → 16² bottleneck), D and E log2(H) − 2 times (→ 4², 4×4 conv)."""
    assert halvings(256, 4) == 4
    assert halvings(256, 6) == 6
    assert halvings(28, 2) == 2
    assert halvings(28, 3) == 2
    assert halvings(16, 0) == 1  # at least one
    cfg = StarGANv2Config(style_dim=2, latent_dim=2, dim_in=2, max_conv_dim=4, mapping_hidden=2, mapping_shared=1)
    nets = cfg.build(DataSpec((3, 256, 256), num_classes=2))
    assert nets["G"].down == 4
    assert [b.conv2.out_channels for b in nets["G"].encode] == [4, 4, 4, 4, 4, 4]  # doubling, capped at max_conv_dim
    last_conv = [m for m in nets["D"].trunk.body if isinstance(m, torch.nn.Conv2d)][-1]
    assert last_conv.kernel_size == (4, 4)  # 256 / 2^6
    x = torch.randn(1, 3, 256, 256)
    assert nets["G"](x, torch.randn(1, 2)).shape == (1, 3, 256, 256)
    mnist = StarGANv2Config(**SMALL, g_down=2).build(DataSpec((1, 28, 28), num_classes=10))
    assert mnist["G"](torch.randn(2, 1, 28, 28), torch.randn(2, 3)).shape == (2, 1, 28, 28)  # 28 → 14 → 7 → 28
    last_conv = [m for m in mnist["D"].trunk.body if isinstance(m, torch.nn.Conv2d)][-1]
    assert last_conv.kernel_size == (7, 7)  # 28 → 14 → 7, then a 7×7 conv
    with pytest.raises(ValueError, match=">= 2 domains"):
        StarGANv2Config(**SMALL).build(DataSpec((1, 16, 16), num_classes=0))
    with pytest.raises(ValueError, match="dim_in must be >= 1"):
        StarGANv2Config(dim_in=0)


def test_preset_keeps_a_14x14_content_map() -> None:
    """stargan-v2-mnist halves the digit once (g_down 1): G's bottleneck is a 14×14 map of the source, in which the
    source's layout (its slant) survives to the decoder; at g_down 2 (7×7) the AdaIN decoder redraws the digit from
    the style code and the source's slant correlation was 0.01 (docs/stargan_v2.md)."""
    from ganforge.config import resolve_config

    cfg = resolve_config("stargan-v2-mnist")
    family = StarGANv2Config(**cfg.model.options)
    G = family.build(DataSpec((1, 28, 28), num_classes=10))["G"]
    h = G.from_rgb(torch.zeros(1, 1, 28, 28))
    for block in G.encode:
        h = block(h)
    assert tuple(h.shape) == (1, 16, 14, 14)  # dim_in 8 doubled once
    assert cfg.objective.options["ds_steps"] == cfg.train.steps  # λ_ds reaches 0 at the last step, as the paper's


def test_translate_contract() -> None:
    torch.manual_seed(0)
    family = StarGANv2Config(**SMALL, g_down=1, d_down=2)
    nets = family.build(DataSpec((1, 16, 16), num_classes=3))
    x = torch.randint(0, 256, (2, 1, 16, 16), dtype=torch.uint8)
    assert family.translation_input(nets, TranslateRequest()) == (1, 16, 16)
    with torch.no_grad():
        every = family.translate(nets, x, TranslateRequest(z_samples=2, seed=3))
        one = family.translate(nets, x, TranslateRequest(domain=2, z_samples=2, seed=3))
        refs = family.translate(nets, x, TranslateRequest(domain=1, reference=x[:1].repeat(3, 1, 1, 1)))
        all_refs = family.translate(nets, x, TranslateRequest(reference=x[:1]))
    assert every.outputs.shape == (2, 6, 1, 16, 16)
    assert every.outputs.dtype == torch.uint8
    assert [t for t, _ in every.columns][:3] == ["source", "domain 0 z0", "domain 0 z1"]
    assert torch.equal(one.outputs, every.outputs[:, 4:])  # same seed → same z codes; domain 2 = the last two
    s = nets["F"](torch.zeros(1, 2), torch.tensor([0]))
    assert refs.outputs.shape == (2, 3, 1, 16, 16)
    assert all_refs.outputs.shape == (2, 3, 1, 16, 16)
    # the same reference gives the same style: rows 0 and 2 of one batched E pass may take different GEMM tails (an
    # ulp apart), so the uint8 images may differ by one rounding level, never more
    assert (refs.outputs[:, 0].int() - refs.outputs[:, 2].int()).abs().max() <= 1
    assert s.shape == (1, 3)
    for request, match in ((TranslateRequest(domain=3), "--domain 3 is out of range: this model has domains 0..2"),
                           (TranslateRequest(domain=-1), "out of range"),
                           (TranslateRequest(direction="AB"), "drop --direction")):
        with pytest.raises(ValueError, match=match):
            family.translation_input(nets, request)
    with pytest.raises(ValueError, match="pass one of them"):
        family.translate(nets, x, TranslateRequest(reference=x, z_samples=2))
    with pytest.raises(ValueError, match="ganforge translate"):
        family.generate(nets, torch.zeros(1, 2))


def test_domain_data_stream_and_folder(tmp_path: Path) -> None:
    data = ImageDomains(path=str(domain_folder(tmp_path / "f"))).load()
    assert isinstance(data, DomainData)
    assert data.kind == "domains"
    assert data.domain_names == ("d0", "d1", "d2")
    assert data.x.shape == (18, 1, 16, 16)
    src = data.source((-1.0, 1.0), seed=0, device=torch.device("cpu"))
    b = src.next(5)
    assert sorted(b) == ["x", "x_ref", "x_ref2", "y", "y_ref"]
    # the two references are of the reference domain ỹ: domain k's bar sits at column 3 + 4k
    for key in ("x_ref", "x_ref2"):
        assert torch.equal(b[key][:, 0, 8].argmax(1), 3 + 4 * b["y_ref"])
    state = src.state_dict()
    after = src.next(5)
    src.load_state_dict(state)  # exact resume of both streams
    again = src.next(5)
    assert all(torch.equal(after[k], again[k]) for k in after)
    assert ImageDomains(path=str(tmp_path / "f"), limit=2).load().x.shape[0] == 6  # `limit` per domain
    (tmp_path / "one" / "a").mkdir(parents=True)
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "one" / "a" / "x.png")
    with pytest.raises(ValueError, match=">= 2 sub-folders"):
        ImageDomains(path=str(tmp_path / "one")).load()
    with pytest.raises(FileNotFoundError, match=r"data\.options\.path"):
        ImageDomains(path=str(tmp_path / "missing")).load()


def test_moments_measure_ink_and_slant() -> None:
    upright = torch.zeros(1, 1, 9, 9, dtype=torch.uint8)
    upright[0, 0, 1:8, 4] = 255
    slanted = torch.zeros(1, 1, 9, 9, dtype=torch.uint8)
    for r in range(1, 8):
        slanted[0, 0, r, 7 - r] = 255  # leans right: the top row is further right
    m_up, m_sl = moments(upright), moments(slanted)
    assert float(m_up["slant"]) == pytest.approx(0.0, abs=1e-12)
    assert float(m_sl["slant"]) == pytest.approx(-1.0)  # x = 7 − r: one column per row
    assert float(m_up["ink"]) == pytest.approx(7 / 81)
    assert pearson(torch.tensor([1.0, 2, 3]), torch.tensor([2.0, 4, 7])) > 0.98


def test_cli_train_grids_eval_translate_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = domain_folder(tmp_path / "data")
    opts = "{" + ", ".join(f"'{k}': {v}" for k, v in {**SMALL, "g_down": 1, "d_down": 2}.items()) + "}"
    sets = ["data.name=image-domains", f"data.options={{'path': '{folder}'}}", f"model.options={opts}",
            "objective.options.ds_steps=3", "train.steps=3", "train.batch_size=4", "train.checkpoint_every=3",
            "log.every=1", "log.sample_every=0", "log.tensorboard=False", "log.eval_samples=6"]
    run = tmp_path / "run"
    assert main(["train", "stargan-v2-mnist", *[a for s in sets for a in ("--set", s)], "--run-dir", str(run),
                 "--no-progress"]) == 0
    capsys.readouterr()
    assert (run / "samples" / "final.png").is_file()
    assert (run / "samples" / "final-reference.png").is_file()
    grid = np.asarray(Image.open(run / "samples" / "final.png"))
    assert grid.shape[:2] == (3 * 18 + 2, 4 * 18 + 2)  # 3 held-out sources × (source + 3 domains), 16 px + padding
    final = json.loads((run / "eval" / "final.json").read_text())
    assert {"diversity_pixel_l1", "style_ref_slant"} <= set(final["metrics"])
    ckpt = torch.load(run / "checkpoints" / "latest.pt", weights_only=True)
    assert sorted(ckpt["models"]) == ["D", "E", "E_ema", "F", "F_ema", "G", "G_ema"]
    # ganforge eval: the kind evaluates itself (task.json)
    assert main(["eval", str(run)]) == 0
    assert "diversity_pixel_l1" in json.loads((run / "eval" / "task.json").read_text())["metrics"]
    capsys.readouterr()
    src = tmp_path / "src"
    src.mkdir()
    for i, k in enumerate((0, 2)):
        Image.open(folder / f"d{k}" / "0.png").save(src / f"{i}.png")
    out = tmp_path / "out"
    assert main(["translate", str(run), "--input", str(src), "--out", str(out), "--z-samples", "2"]) == 0
    assert np.load(out / "outputs.npz")["outputs"].shape == (12, 1, 16, 16)  # 2 inputs x (3 domains x 2 z)
    assert main(["translate", str(run), "--input", str(src), "--out", str(out), "--domain", "1"]) == 0
    assert np.load(out / "outputs.npz")["outputs"].shape == (2, 1, 16, 16)
    assert main(["translate", str(run), "--input", str(src), "--out", str(out), "--domain", "2", "--reference",
                 str(folder / "d2")]) == 0
    assert np.load(out / "outputs.npz")["outputs"].shape == (12, 1, 16, 16)  # 6 references of domain 2
    assert (out / "grid.png").is_file()
    capsys.readouterr()
    rc = main(["translate", str(run), "--input", str(src), "--out", str(out), "--domain", "5"])
    one_line_error(capsys, rc, "--domain 5 is out of range", "0..2")
    rc = main(["translate", str(run), "--input", str(src), "--out", str(out), "--direction", "AB"])
    one_line_error(capsys, rc, "--domain K", "drop --direction")
    big = tmp_path / "big.png"
    Image.fromarray(np.zeros((20, 20), np.uint8)).save(big)
    rc = main(["translate", str(run), "--input", str(big), "--out", str(out)])
    one_line_error(capsys, rc, "20x20", "16x16", "--resize")
    rc = main(["sample", str(run), "--n", "4"])
    one_line_error(capsys, rc, "ganforge translate")
