"""SRGAN / SRResNet (models/srgan.py, losses/srgan.py): PixelShuffle shapes, the losses against explicit features and
the paper's equations, the SRResNet → SRGAN stage switch, exact resume, and `ganforge translate` as the upscaler."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ganforge.cli import main
from ganforge.data.base import DataSpec
from ganforge.losses.objectives import Batch
from ganforge.losses.srgan import SRGANObjective, content_features
from ganforge.metrics.classifier import load_mnist_classifier
from ganforge.models.srgan import SRGANConfig, UpsampleBlock
from helpers import assert_same_models, one_line_error, train_straight_and_resumed

TINY = dict(channels=4, blocks=1, d_channels=2, d_stages=2, d_dense=4)


@pytest.mark.parametrize("scale", [2, 4, 8])
def test_pixelshuffle_generator_and_discriminator_shapes(scale: int) -> None:
    spec = DataSpec((3, 32, 32), fields={"lr": (3, 32 // scale, 32 // scale)})
    G, D = SRGANConfig(scale=scale, **TINY).build(spec).values()
    lr = torch.rand(2, 3, 32 // scale, 32 // scale) * 2 - 1
    sr = G(lr)
    assert sr.shape == (2, 3, 32, 32)
    assert sr.abs().max() <= 1
    assert G.lr_shape == (3, 32 // scale, 32 // scale)
    assert G.z_dim == 0
    assert len(G.upsample) == int(np.log2(scale))  # one PixelShuffle ×2 per octave
    assert D(sr).shape == (2, 1)
    assert UpsampleBlock(5)(torch.zeros(1, 5, 3, 4)).shape == (1, 5, 6, 8)  # [N, 4F, h, w] → [N, F, 2h, 2w]


def test_model_refuses_unpaired_or_mismatched_data() -> None:
    with pytest.raises(ValueError, match="field 'lr'"):
        SRGANConfig(**TINY).build(DataSpec((1, 28, 28)))
    with pytest.raises(ValueError, match="scale=2 does not match"):
        SRGANConfig(scale=2, **TINY).build(DataSpec((1, 28, 28), fields={"lr": (1, 7, 7)}))
    with pytest.raises(ValueError, match="scale must be 2, 4 or 8"):
        SRGANConfig(scale=3)


def test_content_loss_is_the_mse_of_explicit_classifier_features() -> None:
    torch.manual_seed(0)
    hr, sr = torch.rand(3, 1, 28, 28) * 2 - 1, torch.rand(3, 1, 28, 28) * 2 - 1
    net = load_mnist_classifier()

    def phi(x: torch.Tensor) -> torch.Tensor:  # conv blocks 1-4 of the classifier on its whitened [0, 1] input
        h = ((x + 1) / 2 - 0.1307) / 0.3081
        for i in range(6):
            h = net.convs[i](h)
        return h  # [N, 64, 3, 3]

    obj = SRGANObjective(feature_net="mnist-classifier", content_layer="conv4", feature_scale=0.5)
    expect = F.mse_loss(0.5 * phi(sr), 0.5 * phi(hr))
    torch.testing.assert_close(obj.content_loss(sr, hr), expect)
    assert content_features("auto", "fc", hr).shape == (3, 128)  # auto → the classifier for grey images
    torch.testing.assert_close(content_features("auto", "fc", hr), net.features((hr + 1) / 2))
    assert SRGANObjective(content="mse").content_loss(sr, hr).item() == pytest.approx(F.mse_loss(sr, hr).item())


def test_srgan_losses_follow_the_paper() -> None:
    torch.manual_seed(0)
    spec = DataSpec((1, 28, 28), fields={"lr": (1, 7, 7)})
    G, D = SRGANConfig(**TINY).build(spec).values()
    G.eval(), D.eval()
    hr, lr = torch.rand(4, 1, 28, 28) * 2 - 1, torch.rand(4, 1, 7, 7) * 2 - 1
    batch = Batch(real=hr, z=None, extras={"lr": lr})
    obj = SRGANObjective(content="mse", adversarial_weight=1e-3)
    d = obj.d_loss(G, D, batch)
    torch.testing.assert_close(d.total, F.softplus(-D(hr)).mean() + F.softplus(D(G(lr))).mean())  # eq. 2
    d.total.backward()
    assert all(p.grad is None for p in G.parameters())
    g = obj.g_loss(G, D, batch)
    expect = F.mse_loss(G(lr), hr) + 1e-3 * F.softplus(-D(G(lr))).mean()  # eq. 3 with eq. 4 and eq. 6
    torch.testing.assert_close(g.total, expect)


def test_stage_switch_from_srresnet_to_srgan(tmp_path: Path) -> None:
    """SRResNet (adversarial_weight 0) has only a G phase and no D; SRGAN adds D and starts G from SRResNet's G."""
    srresnet = SRGANObjective(content="mse", adversarial_weight=0.0)
    assert srresnet.networks() == ("G",)
    assert srresnet.groups() == {"g": ("G",)}
    spec = DataSpec((1, 28, 28), fields={"lr": (1, 7, 7)})
    torch.manual_seed(1)
    pre = SRGANConfig(**TINY).build(spec)["G"]
    (tmp_path / "pre" / "checkpoints").mkdir(parents=True)
    torch.save({"models": {"G": pre.state_dict()}, "config": {}}, tmp_path / "pre" / "checkpoints" / "latest.pt")
    torch.manual_seed(2)
    nets = SRGANConfig(**TINY).build(spec)
    srgan = SRGANObjective(init_from=str(tmp_path / "pre"))
    assert [p.name for p in srgan.phases(nets, 1)] == ["D", "G"]
    assert srgan.networks() == ("G", "D")

    class Draw:  # the paired source's next batch
        rng, rank, world_size = None, 0, 1

        def sample(self) -> dict[str, torch.Tensor]:
            return {"x": torch.zeros(2, 1, 28, 28), "lr": torch.zeros(2, 1, 7, 7)}

    phase = srgan.phases(nets, 1)[0]
    srgan.make_batch(Draw(), nets, phase, step=3)  # not a fresh start: G untouched
    assert not torch.equal(nets["G"].head[0].weight, pre.head[0].weight)
    batch = srgan.make_batch(Draw(), nets, phase, step=0)  # the first step: G := SRResNet's G
    for k, v in pre.state_dict().items():
        assert torch.equal(nets["G"].state_dict()[k], v), k
    assert batch.extras["lr"].shape == (2, 1, 7, 7)
    assert batch.z is None
    with pytest.raises(ValueError, match="train the SRResNet stage first"):
        SRGANObjective(init_from=str(tmp_path / "missing")).phases(nets, 1)
    with pytest.raises(ValueError, match="drop init_from"):
        SRGANObjective(content="mse", adversarial_weight=0.0, init_from="x")
    with pytest.raises(ValueError, match="unknown content_layer 'conv9'"):
        SRGANObjective(content_layer="conv9")


SETS = ["model.options={'scale': 4, 'channels': 4, 'blocks': 1, 'd_channels': 2, 'd_stages': 2, 'd_dense': 4}",
        "data.options.limit=48", "train.batch_size=8", "log.eval_samples=16", "log.tensorboard=False",
        "train.checkpoint_every=2", "log.sample_every=2"]


def test_trains_resumes_exactly_and_translates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sets = [a for s in SETS for a in ("--set", s)]
    pre = tmp_path / "srresnet"
    assert main(["train", "srresnet-mnist", *sets, "--set", "train.steps=2", "--run-dir", str(pre),
                 "--no-progress"]) == 0
    gan = [*sets, "--set", f"objective.options.init_from={pre}"]
    straight = tmp_path / "straight"
    a, b = train_straight_and_resumed("srgan-mnist", gan, 4, 2, tmp_path)
    assert sorted(a["models"]) == ["D", "G"]
    assert a["spec"]["kind"] == "superres"
    assert_same_models(a, b)
    metrics = json.loads((straight / "eval" / "final.json").read_text())["metrics"]
    assert {"sr_psnr", "bicubic_psnr", "sr_ssim", "sr_fid", "sr_feature_dist", "sr_accuracy"} <= set(metrics)
    assert (straight / "samples" / "final.png").is_file()
    # the upscale command is `ganforge translate`
    np.savez(tmp_path / "lr.npz", images=np.full((3, 7, 7), 200, np.uint8))
    out = tmp_path / "up"
    assert main(["translate", str(straight), "--input", str(tmp_path / "lr.npz"), "--out", str(out)]) == 0
    with np.load(out / "outputs.npz") as f:
        assert f["outputs"].shape == (3, 1, 28, 28)
        assert f["outputs"].dtype == np.uint8
    assert (out / "grid.png").is_file()
    assert (out / "00002.png").is_file()
    assert main(["eval", str(straight), "--device", "cpu"]) == 0
    assert (straight / "eval" / "task.json").is_file()
    capsys.readouterr()
    np.savez(tmp_path / "big.npz", images=np.zeros((1, 28, 28), np.uint8))
    rc = main(["translate", str(straight), "--input", str(tmp_path / "big.npz"), "--out", str(out)])
    one_line_error(capsys, rc, "this model takes 7x7", "--resize")
    rc = main(["translate", str(straight), "--input", str(tmp_path / "lr.npz"), "--domain", "1", "--out", str(out)])
    one_line_error(capsys, rc, "--domain", "drop --domain")
    rc = main(["sample", str(straight), "--n", "2"])
    one_line_error(capsys, rc, "ganforge translate")
    rc = main(["train", "srgan-mnist", *sets, "--set", "objective.options.init_from=/nonexistent/run", "--dry-run"])
    one_line_error(capsys, rc, "train the SRResNet stage first")
    rc = main(["train", "srgan-mnist", *sets, "--set", "data.name=mnist", "--set", "data.options={}", "--dry-run"])
    one_line_error(capsys, rc, "paired low-res")
