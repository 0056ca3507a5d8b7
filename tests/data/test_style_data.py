"""Animal-MNIST and the LFW subset (data/style_data.py): shapes, labels, class-balanced limits, face/non-face split,
resize vs pad, and one-line errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganforge.data.style_data import AnimalMNIST, LFWSubset, interleave_classes, pad_to


def test_animal_mnist_shape_labels_and_balanced_limit() -> None:
    data = AnimalMNIST(limit=30).load()
    assert data.x.shape == (30, 1, 32, 32)
    assert data.x.dtype == torch.uint8
    assert data.y.tolist() == list(range(10)) * 3  # class-interleaved order
    assert data.num_classes == 10
    assert int(data.x[:, :, :2].max()) == 0
    assert int(data.x[:, :, -2:].max()) == 0
    assert int(data.x.max()) == 255  # white silhouettes


def test_interleave_classes() -> None:
    y = np.array([0, 0, 1, 1, 2, 2])
    assert y[interleave_classes(y)].tolist() == [0, 1, 2, 0, 1, 2]


def test_lfw_faces_resize_and_all_pad() -> None:
    faces = LFWSubset().load()
    assert faces.x.shape == (100, 1, 32, 32)
    assert faces.y is None
    assert faces.num_classes == 0
    both = LFWSubset(subset="all", fit="pad").load()
    assert both.x.shape == (200, 1, 32, 32)
    assert both.y.tolist() == [0] * 100 + [1] * 100
    assert int(both.x[:, :, :3].max()) == 0
    assert int(both.x[:, :, -4:].max()) == 0
    assert LFWSubset(limit=7).load().x.shape[0] == 7


def test_pad_to_centres() -> None:
    x = torch.ones(1, 1, 25, 25)
    out = pad_to(x, 32)
    assert out.shape == (1, 1, 32, 32)
    assert out.sum() == 625
    assert out[0, 0, 3, 3] == 1
    assert out[0, 0, 2, 2] == 0


@pytest.mark.parametrize(("make", "msg"), [
    (lambda: LFWSubset(subset="men"), "unknown lfw subset"),
    (lambda: LFWSubset(fit="crop"), "unknown lfw fit"),
    (lambda: AnimalMNIST(limit=-1), "limit must be >= 0"),
    (lambda: AnimalMNIST().load("test"), "no split 'test'"),
])
def test_bad_inputs_one_line(make, msg: str) -> None:
    with pytest.raises(ValueError, match=msg) as exc:
        make()
    assert "\n" not in str(exc.value)
