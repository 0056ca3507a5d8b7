"""k-means pseudo-labels (data.clusters) and the MNIST source's ``clusters`` option: seeded, image-only."""

from __future__ import annotations

import pytest
import torch

from ganforge.data import clusters, images


def blobs(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Three well-separated groups of 4×4 uint8 images [60, 1, 4, 4] and their group ids [60]."""
    g = torch.Generator().manual_seed(seed)
    group = torch.arange(3).repeat_interleave(torch.tensor([30, 20, 10]))  # sizes 30 / 20 / 10
    centres = torch.tensor([20.0, 128.0, 235.0])[group]  # [60]
    x = centres[:, None] + torch.randint(-10, 11, (60, 16), generator=g).float()
    return x.clamp(0, 255).to(torch.uint8).view(60, 1, 4, 4), group


@pytest.mark.parametrize("space", ["pixels", "pca"])
def test_kmeans_recovers_separated_groups_ids_by_size(space: str) -> None:
    x, group = blobs()
    y = clusters.pseudo_labels(x, 3, seed=0, space=space, dim=2)
    # ids are renumbered by decreasing size, so the 30/20/10 groups are exactly clusters 0/1/2
    assert torch.equal(y, group)


def test_pseudo_labels_are_seeded_and_deterministic() -> None:
    x = torch.randint(0, 256, (200, 1, 4, 4), generator=torch.Generator().manual_seed(1), dtype=torch.uint8)
    a = clusters.pseudo_labels(x, 5, seed=3, space="pixels")
    assert torch.equal(a, clusters.pseudo_labels(x, 5, seed=3, space="pixels"))  # same path: exact
    assert a.min() >= 0
    assert a.max() <= 4
    assert torch.bincount(a, minlength=5).min() > 0


def test_other_images_are_assigned_to_the_fitted_centroids() -> None:
    x, _group = blobs()
    y = clusters.pseudo_labels(x, 3, seed=0, space="pca", dim=2, images=x[[59, 0, 35]])
    assert y.tolist() == [2, 0, 1]  # the fit's clusters, not a new clustering of three images


def test_bad_settings_are_one_line_errors() -> None:
    x, _ = blobs()
    with pytest.raises(ValueError, match="clusters must be in"):
        clusters.kmeans(x.flatten(1).double(), 100, seed=0)
    with pytest.raises(ValueError, match="unknown cluster space"):
        clusters.feature_map(x, "raw", 2)
    with pytest.raises(ValueError, match="clusters must be 0"):
        images.MNIST(clusters=1)


def test_mnist_clusters_never_read_the_digit_labels(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pseudo-labels of the first 300 digits are the same whatever labels the MNIST file holds."""
    raw = images.load_mnist_raw

    def with_labels(fill: int):
        def load(split: str = "train"):
            x, y = raw(split)
            return x, torch.full_like(y, fill)  # the digit labels replaced: nothing downstream may depend on them
        return load

    monkeypatch.setattr(images, "load_mnist_raw", with_labels(0))
    a = images.MNIST(limit=300, clusters=4).load("train")
    monkeypatch.setattr(images, "load_mnist_raw", with_labels(7))
    b = images.MNIST(limit=300, clusters=4).load("train")
    monkeypatch.setattr(images, "load_mnist_raw", raw)
    real = images.MNIST(limit=300).load("train")
    assert torch.equal(a.y, b.y)
    assert a.num_classes == 4
    assert not torch.equal(a.y, real.y)  # not the digit labels either
    assert torch.equal(a.x, real.x)
    spec = a.spec()
    shares = torch.bincount(a.y, minlength=4).double() / 300
    assert spec.num_classes == 4
    assert torch.equal(torch.tensor(spec.class_prior, dtype=torch.float64), shares)
