"""mnist32: MNIST zero-padded by 2 px to 32x32, with mnist's splits and limit."""

from __future__ import annotations

import pytest
import torch

from ganforge.data.images import MNIST
from ganforge.data.mnist32 import MNIST32
from ganforge.options import ConfigError, build_options
from ganforge.registry import DATASETS


def test_registered_with_limit_option() -> None:
    assert DATASETS.get("mnist32") is MNIST32
    assert MNIST32().limit == 0
    assert build_options(MNIST32, {"limit": 1000}, "data.options").limit == 1000


@pytest.mark.parametrize("split", ["train", "test", "all"])
def test_padded_digits_equal_mnist_with_black_border(split: str) -> None:
    padded = MNIST32(limit=50).load(split)
    plain = MNIST(limit=50).load(split)
    assert padded.x.shape == (50, 1, 32, 32)
    assert padded.x.dtype == torch.uint8
    assert torch.equal(padded.x[:, :, 2:30, 2:30], plain.x)  # the digit itself is untouched and centred
    border = padded.x.clone()
    border[:, :, 2:30, 2:30] = 0
    assert int(border.abs().sum()) == 0  # 2 px of zeros (black) on every side
    assert torch.equal(padded.y, plain.y)
    assert padded.num_classes == 10
    assert padded.name == "mnist32"


def test_split_sizes_and_limit() -> None:
    assert len(MNIST32().load("test")) == 10_000
    assert len(MNIST32(limit=2000).load("train")) == 2000
    assert len(MNIST32().load("all")) == 70_000
    assert MNIST32(limit=5).load("all").spec().shape == (1, 32, 32)


def test_bad_split_and_limit_are_one_line_errors() -> None:
    with pytest.raises(ValueError, match="dataset 'mnist32' has no split 'valid'; choose from: train, test, all"):
        MNIST32().load("valid")
    with pytest.raises(ConfigError, match="limit must be >= 0"):
        build_options(MNIST32, {"limit": -1}, "data.options")


def test_unpad_inverts_the_padding_and_unpadded_wraps_a_sampler() -> None:
    """``unpad`` is the exact inverse of mnist32's padding (28×28 passes unchanged); ``Unpadded`` crops a sampler's
    images and keeps what the digit evaluation reads (z_dim, output_range, sample_z)."""
    import torch.nn.functional as F

    from ganforge.data.mnist32 import PAD, unpad
    from ganforge.models.base import Generator
    from ganforge.sampling import Unpadded

    digits = torch.randint(0, 256, (3, 1, 28, 28), dtype=torch.uint8)
    assert torch.equal(unpad(F.pad(digits, (PAD,) * 4)), digits)
    assert torch.equal(unpad(digits), digits)

    class Tiny(Generator):
        z_dim, z_dist, output_range = 2, "normal", (-1.0, 1.0)

        def sample_z(self, n, generator=None, device="cpu"):
            return torch.randn(n, 2, generator=generator, device=device)

        def forward(self, z):
            return z.sum(1).view(-1, 1, 1, 1).expand(-1, 1, 32, 32)

    G = Unpadded(Tiny())
    assert (G.z_dim, G.output_range) == (2, (-1.0, 1.0))
    z = G.sample_z(4, torch.Generator().manual_seed(0))
    assert G(z).shape == (4, 1, 28, 28)
