"""The MNIST DCGAN presets (configs/dcgan-*.yaml): each builds through the normal config path, its networks match the
lecture / tutorial layer for layer with hand-computed parameter counts, its training recipe matches the source, and
one preset trains end to end on a few digits with the digit-quality evaluation.

Parameter counts are derived by hand below (Keras' summary() also counts BatchNormalization's moving mean and
variance as non-trainable parameters: ``keras = trainable + 2 · Σ BN channels``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

import ganforge.sampling
from ganforge.builder import Components, build_components
from ganforge.config import preset_names, resolve_config
from ganforge.models.base import count_parameters
from ganforge.training.run import Run
from helpers import MNIST_STANDIN, layer_summary

PRESETS = ("dcgan-tf-mnist", "dcgan-keras-mnist", "dcgan-scinet-mnist", "dcgan-mnist")
SMALL_DATA = ["data.options={'limit': 64}"]  # the networks do not depend on how many digits are loaded


def conv(c_in: int, c_out: int, k: int, bias: bool = True) -> int:
    """Weights (+ biases) of a k×k (transposed) convolution."""
    return c_in * c_out * k * k + (c_out if bias else 0)


def dense(n_in: int, n_out: int, bias: bool = True) -> int:
    return n_in * n_out + (n_out if bias else 0)


def bn(c: int) -> int:
    """Trainable γ, β of a batch norm over c channels / units."""
    return 2 * c


# --- expected parameter counts, by hand ----------------------------------------------------------------------------
# TensorFlow tutorial: Dense(100 -> 7·7·256, no bias), BN(12,544 units), ConvT 256->128 5×5, BN, ConvT 128->64, BN,
# ConvT 64->1 (all ConvT without bias); D Conv 1->64, 64->128 (5×5, bias), Dense(7·7·128 -> 1).
TF_G = dense(100, 7 * 7 * 256, False) + bn(12_544) + conv(256, 128, 5, False) + bn(128) + conv(128, 64, 5, False) \
    + bn(64) + conv(64, 1, 5, False)
TF_G_BN = 12_544 + 128 + 64
TF_D = conv(1, 64, 5) + conv(64, 128, 5) + dense(7 * 7 * 128, 1)
# keras.io GAN: Dense(128 -> 7·7·128), ConvT 128->128 4×4 twice, Conv 128->1 7×7; D Conv 1->64, 64->128 3×3,
# global max pool, Dense(128 -> 1). No batch norm anywhere.
KERAS_G = dense(128, 7 * 7 * 128) + 2 * conv(128, 128, 4) + conv(128, 1, 7)
KERAS_D = conv(1, 64, 3) + conv(64, 128, 3) + dense(128, 1)
# SciNet: Dense(100 -> 256·7·7), BN(12,544), ConvT 256->256->128->64->32 (5×5, bias) each + BN, ConvT 32->1;
# D Conv 1->32->64->128->256 (5×5, strides 1, 2, 2, 1: 28 -> 28 -> 14 -> 7 -> 7), Dense(7·7·256 -> 2).
SCINET_G = dense(100, 12_544) + bn(12_544) + conv(256, 256, 5) + bn(256) + conv(256, 128, 5) + bn(128) \
    + conv(128, 64, 5) + bn(64) + conv(64, 32, 5) + bn(32) + conv(32, 1, 5)
SCINET_G_BN = 12_544 + 256 + 128 + 64 + 32
SCINET_D = conv(1, 32, 5) + conv(32, 64, 5) + conv(64, 128, 5) + conv(128, 256, 5) + dense(7 * 7 * 256, 2)
# ganforge recommended: Linear(100 -> 256·7·7, no bias), BN(256), ConvT 256->128 4×4 s1 and 128->64 4×4 s2 (no bias)
# each + BN, ConvT 64->1; D Conv 1->64, 64->128 4×4 (bias), BN(128), Linear(6272 -> 1).
REC_G = dense(100, 256 * 7 * 7, False) + bn(256) + conv(256, 128, 4, False) + bn(128) + conv(128, 64, 4, False) \
    + bn(64) + conv(64, 1, 4)
REC_D = conv(1, 64, 4) + conv(64, 128, 4) + bn(128) + dense(128 * 7 * 7, 1)


def test_hand_counts_equal_the_published_summaries():
    """The hand formulas reproduce the numbers the tutorials print (model.summary())."""
    assert (TF_G, TF_G + 2 * TF_G_BN, TF_D) == (2_305_472, 2_330_944, 212_865)
    assert (KERAS_G, KERAS_D) == (1_339_905, 74_625)
    assert (SCINET_G, SCINET_G + 2 * SCINET_G_BN, SCINET_D) == (4_007_873, 4_033_921, 1_101_570)
    assert (REC_G, REC_D) == (1_911_681, 138_817)


@pytest.fixture(scope="module")
def built() -> dict[str, Components]:
    torch.set_num_threads(1)
    return {name: build_components(resolve_config(name), data=MNIST_STANDIN) for name in PRESETS}


def layers(net: nn.Module) -> list[tuple]:
    """Ordered weight / norm / activation layers with their key hyperparameters (crops, pads, reshapes skipped)."""
    return layer_summary(net, bn_details=False)


def bn_channels(net: nn.Module) -> int:
    return sum(m.num_features for m in net.modules() if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)))


def test_presets_are_listed():
    assert set(PRESETS) <= set(preset_names())


def test_tf_tutorial_preset(built):
    c = built["dcgan-tf-mnist"]
    lr3 = ("LeakyReLU", 0.3)  # Keras 2 LeakyReLU() default
    assert layers(c.G) == [
        ("Dense", 100, 12_544, False), ("BN", 12_544), lr3,
        ("ConvT", 256, 128, 5, 1, False), ("BN", 128), lr3,
        ("ConvT", 128, 64, 5, 2, False), ("BN", 64), lr3,
        ("ConvT", 64, 1, 5, 2, False), ("Tanh",),
    ]
    assert layers(c.D) == [
        ("Conv", 1, 64, 5, 2, True), lr3, ("Dropout", 0.3),
        ("Conv", 64, 128, 5, 2, True), lr3, ("Dropout", 0.3),
        ("Flatten",), ("Dense", 6272, 1, True),
    ]
    assert (count_parameters(c.G), bn_channels(c.G), count_parameters(c.D)) == (TF_G, TF_G_BN, TF_D)


def test_keras_io_preset(built):
    c = built["dcgan-keras-mnist"]
    lr2 = ("LeakyReLU", 0.2)
    assert layers(c.G) == [
        ("Dense", 128, 6272, True), lr2,
        ("ConvT", 128, 128, 4, 2, True), lr2,
        ("ConvT", 128, 128, 4, 2, True), lr2,
        ("Conv", 128, 1, 7, 1, True), ("Sigmoid",),
    ]
    assert layers(c.D) == [
        ("Conv", 1, 64, 3, 2, True), lr2,
        ("Conv", 64, 128, 3, 2, True), lr2,
        ("AdaptiveMaxPool2d",), ("Flatten",), ("Dense", 128, 1, True),
    ]
    assert (count_parameters(c.G), count_parameters(c.D)) == (KERAS_G, KERAS_D)


def test_scinet_preset(built):
    c = built["dcgan-scinet-mnist"]
    lr3 = ("LeakyReLU", 0.3)
    g_blocks = [row for i, o, s in [(256, 256, 1), (256, 128, 1), (128, 64, 2), (64, 32, 2)]
                for row in (("ConvT", i, o, 5, s, True), ("BN", o), lr3)]
    assert layers(c.G) == [("Dense", 100, 12_544, True), ("BN", 12_544), lr3, *g_blocks,
                           ("ConvT", 32, 1, 5, 1, True), ("Tanh",)]
    d_blocks = [row for i, o, s in [(1, 32, 1), (32, 64, 2), (64, 128, 2), (128, 256, 1)]
                for row in (("Conv", i, o, 5, s, True), lr3, ("Dropout", 0.3))]
    assert layers(c.D) == [*d_blocks, ("Flatten",), ("Dense", 12_544, 2, True)]  # 2-way softmax head
    assert (count_parameters(c.G), bn_channels(c.G), count_parameters(c.D)) == (SCINET_G, SCINET_G_BN, SCINET_D)


def test_recommended_preset(built):
    c = built["dcgan-mnist"]
    lr2 = ("LeakyReLU", 0.2)
    assert layers(c.G) == [
        ("Dense", 100, 12_544, False), ("BN", 256), ("ReLU",),
        ("ConvT", 256, 128, 4, 1, False), ("BN", 128), ("ReLU",),
        ("ConvT", 128, 64, 4, 2, False), ("BN", 64), ("ReLU",),
        ("ConvT", 64, 1, 4, 2, True), ("Tanh",),
    ]
    assert layers(c.D) == [
        ("Conv", 1, 64, 4, 2, True), lr2,
        ("Conv", 64, 128, 4, 2, True), ("BN", 128), lr2,
        ("Flatten",), ("Dense", 6272, 1, True),
    ]
    assert (count_parameters(c.G), count_parameters(c.D)) == (REC_G, REC_D)


@pytest.mark.parametrize("name", PRESETS)
def test_presets_generate_mnist_shaped_digits(built, name):
    c = built[name]
    lo, hi = c.G.output_range
    z = c.G.sample_z(2, torch.Generator().manual_seed(0), torch.device("cpu"))
    with torch.no_grad():
        x = c.G.eval()(z)  # [2, 1, 28, 28]
        logits = c.D.eval()(x)  # [2, 1]
    assert x.shape == (2, 1, 28, 28)
    assert lo <= float(x.min())
    assert float(x.max()) <= hi
    assert logits.shape == (2, 1)


# (preset, batch, G lr, D lr, β1, Adam ε, objective options, output range, EMA) as the sources give them
RECIPES = [
    ("dcgan-tf-mnist", 256, 1e-4, 1e-4, 0.9, 1e-7, {"g_cost": "nonsaturating", "update": "simultaneous"},
     (-1.0, 1.0), 0.0),
    ("dcgan-keras-mnist", 64, 4e-4, 3e-4, 0.9, 1e-7,
     {"g_cost": "nonsaturating", "label_noise": 0.05, "d_batch": "concat"}, (0.0, 1.0), 0.0),
    ("dcgan-scinet-mnist", 128, 1e-4, 1e-4, 0.9, 1e-7,
     {"g_cost": "nonsaturating", "d_batch": "concat", "d_fakes_from": "eval"}, (-1.0, 1.0), 0.0),
    ("dcgan-mnist", 64, 2e-4, 2e-4, 0.5, 1e-8, {"g_cost": "nonsaturating"}, (-1.0, 1.0), 0.999),
]


@pytest.mark.parametrize(("name", "batch", "g_lr", "d_lr", "beta1", "eps", "objective", "out_range", "ema"), RECIPES)
def test_training_recipes(built, name, batch, g_lr, d_lr, beta1, eps, objective, out_range, ema):
    cfg = resolve_config(name)
    assert cfg.data.name == "mnist"
    assert cfg.model.name == "dcgan"
    assert cfg.objective.name == "logistic"
    assert cfg.objective.options == objective
    assert cfg.train.batch_size == batch
    assert cfg.train.ema == ema
    assert (cfg.optim.g.lr, cfg.optim.d.lr) == (g_lr, d_lr)
    for opt in (cfg.optim.g, cfg.optim.d):
        assert (opt.name, opt.betas, opt.eps) == ("adam", (beta1, 0.999), eps)
    assert built[name].G.output_range == out_range


# the lecture's training step: (phases of one step, d_batch, D's fakes from G in mode, data split, steps)
STEPS = [
    ("dcgan-tf-mnist", [("DG", ("d", "g"))], "separate", "train", "train", 50 * (60_000 // 256)),  # tutorial
    ("dcgan-keras-mnist", [("D", ("d",)), ("G", ("g",))], "concat", "train", "all", 20 * (70_000 // 64)),  # keras.io
    ("dcgan-scinet-mnist", [("D", ("d",)), ("G", ("g",))], "concat", "eval", "train", 9_375),  # MNIST_gan.py
    ("dcgan-mnist", [("D", ("d",)), ("G", ("g",))], "separate", "train", "train", 9_375),
]


@pytest.mark.parametrize(("name", "phases", "d_batch", "fakes", "split", "steps"), STEPS)
def test_training_steps_follow_the_lectures(built, name, phases, d_batch, fakes, split, steps):
    cfg = resolve_config(name)
    c = built[name]
    assert [(p.name, p.groups) for p in c.objective.phases(c.nets, cfg.train.d_steps)] == phases
    assert (c.objective.d_batch, c.objective.d_fakes_from, c.objective.shared_z) == (d_batch, fakes, False)
    assert (cfg.data.split, cfg.train.steps) == (split, steps)


def test_mnist_all_split_is_train_then_test():
    """keras.io: np.concatenate([x_train, x_test]): the 70,000 digits, training digits first."""
    from ganforge.data.images import MNIST

    everything, train, test = (MNIST().load(s) for s in ("all", "train", "test"))
    assert len(everything.x) == 70_000
    assert torch.equal(everything.x[:60_000], train.x)
    assert torch.equal(everything.x[60_000:], test.x)
    assert torch.equal(everything.y, torch.cat([train.y, test.y]))
    assert len(MNIST(limit=5).load("all").x) == 5
    with pytest.raises(ValueError, match="choose from: train, test, all"):
        MNIST().load("valid")


def test_simultaneous_tf_preset_trains_and_resumes_exactly(tmp_path):
    """The TF tutorial preset (one DG phase per step), tiny: 4 steps == 2 steps + resume + 2 steps, bit for bit
    (G's BatchNorm running statistics and both Adam states included)."""
    torch.set_num_threads(1)
    sets = [*SMALL_DATA, "train.batch_size=8", "train.device=cpu", "train.checkpoint_every=2", "log.every=1",
            "log.sample_every=0", "log.tensorboard=False", "log.progress=False"]

    def steps(run: Run, upto: int) -> None:
        while run.trainer.step < upto:
            run.trainer.train_step()
        run.save_checkpoint()

    straight = Run(resolve_config("dcgan-tf-mnist", [*sets, "train.steps=4"]), tmp_path / "a")
    assert [p.name for p in straight.trainer.phases] == ["DG"]
    steps(straight, 4)
    first = Run(resolve_config("dcgan-tf-mnist", [*sets, "train.steps=2"]), tmp_path / "b")
    steps(first, 2)
    resumed = Run(resolve_config("dcgan-tf-mnist", [*sets, "train.steps=4"]), tmp_path / "b", resume="latest")
    assert resumed.trainer.step == 2
    steps(resumed, 4)
    for name in ("G", "D"):
        a, b = straight.components.nets[name].state_dict(), resumed.components.nets[name].state_dict()
        assert a.keys() == b.keys()
        assert all(torch.equal(a[k], b[k]) for k in a), name
    bn = [m for m in straight.components.G.modules() if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d))]
    assert bn
    assert all(int(m.num_batches_tracked) == 4 for m in bn)  # one forward of G per step
    assert straight.trainer.images_seen == resumed.trainer.images_seen == 4 * 8


def test_preset_files_cite_their_source_and_measurement():
    folder = Path(ganforge.sampling.__file__).parent / "configs"
    for name in PRESETS:
        head = (folder / f"{name}.yaml").read_text().split("\nmodel:")[0]
        assert "Measured" in head, name
        assert "bench/mnist_quality.py" in head, name


def test_keras_preset_trains_and_reports_digit_quality(tmp_path, monkeypatch):
    """Tiny budget: 3 steps of batch 8 on 64 digits, then the trainer's final evaluation (200 digits here)."""
    torch.set_num_threads(1)
    cfg = resolve_config("dcgan-keras-mnist", [
        *SMALL_DATA, "train.steps=3", "train.batch_size=8", "train.device=cpu", "log.every=1",
        "log.sample_every=0", "log.tensorboard=False", "log.progress=False", "log.n_samples=4", "log.eval_samples=200",
    ])
    summary = Run(cfg, tmp_path / "run").train()
    assert summary["status"] == "finished"
    assert summary["images_seen"] == 24
    metrics = summary["metrics"]
    assert set(metrics) == {"confident_percent", "class_entropy", "pixel_std", "fid"}
    assert metrics["fid"] > 0
    assert 0.0 <= metrics["confident_percent"] <= 100.0
    assert 0.0 <= metrics["class_entropy"] <= 1.0
    record = json.loads((tmp_path / "run" / "eval" / "final.json").read_text())
    assert record["protocol"]["n_fake"] == 200  # log.eval_samples reaches the evaluation
