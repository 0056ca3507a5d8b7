"""Stacked MNIST: three digits as RGB channels, 1,000 modes, deterministic given (split, n, seed)."""

from __future__ import annotations

import pytest
import torch

from ganforge.data.stacked import NUM_MODES, StackedMNIST, stack_digits
from ganforge.options import build_options
from ganforge.registry import DATASETS


def _fake_digits(n: int = 30) -> tuple[torch.Tensor, torch.Tensor]:
    """Digit i has label i % 10 and every pixel equal to its index i (so each channel says which digit it holds)."""
    labels = torch.arange(n) % 10
    images = torch.arange(n, dtype=torch.uint8).reshape(n, 1, 1, 1).expand(n, 1, 4, 4).clone()
    return images, labels


def test_stack_digits_channels_and_mode_ids() -> None:
    images, labels = _fake_digits()
    x, modes = stack_digits(images, labels, 200, torch.Generator().manual_seed(0))
    assert x.shape == (200, 3, 4, 4)
    assert x.dtype == torch.uint8
    assert modes.dtype == torch.int64
    assert int(modes.min()) >= 0
    assert int(modes.max()) < NUM_MODES
    idx = x[:, :, 0, 0].long()  # [200, 3]: which digit each channel holds
    assert torch.equal(x, images[idx.reshape(-1), 0].reshape(200, 3, 4, 4))
    assert torch.equal(modes, 100 * labels[idx[:, 0]] + 10 * labels[idx[:, 1]] + labels[idx[:, 2]])


def test_stack_digits_is_deterministic_per_seed() -> None:
    images, labels = _fake_digits()
    a = stack_digits(images, labels, 50, torch.Generator().manual_seed(3))
    b = stack_digits(images, labels, 50, torch.Generator().manual_seed(3))
    c = stack_digits(images, labels, 50, torch.Generator().manual_seed(4))
    assert torch.equal(a[0], b[0])
    assert torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])


def test_modes_cover_the_thousand_with_many_samples() -> None:
    images, labels = _fake_digits(100)
    _, modes = stack_digits(images, labels, 20_000, torch.Generator().manual_seed(0))
    assert len(modes.unique()) == NUM_MODES


def test_registered_options_and_determinism(monkeypatch: pytest.MonkeyPatch) -> None:
    import ganforge.data.stacked as stacked

    fake = _fake_digits()
    monkeypatch.setattr(stacked, "load_mnist_raw", lambda split: fake)
    ds = build_options(DATASETS.get("stacked-mnist"), {"n": 40, "seed": 7}, "data.options")
    train = ds.load("train")
    assert train.x.shape == (40, 3, 4, 4)
    assert train.num_classes == NUM_MODES
    assert train.is_image
    again = StackedMNIST(n=40, seed=7).load("train")
    assert torch.equal(train.x, again.x)
    assert torch.equal(train.y, again.y)
    assert not torch.equal(train.x, StackedMNIST(n=40, seed=8).load("train").x)
    assert not torch.equal(train.x, StackedMNIST(n=40, seed=7).load("test").x)  # the test split draws its own


def test_real_mnist_digits() -> None:
    data = StackedMNIST(n=5).load("test")  # shares the decoded MNIST cache with the other data tests
    assert data.x.shape == (5, 3, 28, 28)
    assert data.x.dtype == torch.uint8
    assert data.y.shape == (5,)
    assert int(data.y.max()) < NUM_MODES


@pytest.mark.parametrize("kwargs", [{"n": 0}, {"n": -3}])
def test_bad_n(kwargs: dict) -> None:
    with pytest.raises(ValueError, match="n >= 1"):
        StackedMNIST(**kwargs)


def test_bad_split() -> None:
    with pytest.raises(ValueError, match="no split"):
        StackedMNIST(n=2).load("valid")
