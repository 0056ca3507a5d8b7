"""The reference-statistics cache (ganforge/metrics/reference.py) trusts an entry only for the images it came from
and only while its arrays are the ones written: an edited or damaged entry, one computed from other images under the
same (dataset, split, extractor, n), or one in an older format is recomputed with a one-line warning on stderr."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ganforge.metrics import reference as ref_module
from ganforge.metrics.reference import (
    FORMAT,
    arrays_sha256,
    images_fingerprint,
    load_reference,
    reference_statistics,
)


class FakeExtractor:
    name = "fake-extractor"
    feature_dim = 4
    resize = "none"
    num_classes = None
    input_shape = None
    file_hash = "ab" * 32

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, images_uint8: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        x = images_uint8.float().flatten(1)
        return torch.stack([x.mean(1), x.std(1), x[:, 0], x[:, -1]], dim=1)


def images(n: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 256, (n, 1, 4, 4), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)


def rewrite(path, **changes) -> None:
    """Rewrite an entry's arrays (and/or meta) in place, keeping everything else: what an edit by hand would do."""
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(str(arrays["meta"]))
    meta.update(changes.pop("meta", {}))
    arrays.update(changes)
    arrays["meta"] = np.array(json.dumps(meta, sort_keys=True))
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


def warnings_in(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.strip()]


def test_an_intact_entry_is_reused_silently(tmp_path, capsys) -> None:
    ext = FakeExtractor()
    stats = reference_statistics(ext, "toy", "train", 30, lambda: images(30), root=tmp_path)
    assert stats.meta["images_sha256"] == images_fingerprint(images(30))
    assert stats.meta["arrays_sha256"] == arrays_sha256(stats.mu, stats.sigma, stats.features)
    assert stats.meta["format"] == FORMAT
    again = reference_statistics(ext, "toy", "train", 30, lambda: images(30), root=tmp_path)
    assert ext.calls == 1
    np.testing.assert_array_equal(again.sigma, stats.sigma)
    assert warnings_in(capsys) == []


@pytest.mark.parametrize("what", ["sigma", "mu", "features"])
def test_an_edited_entry_is_recomputed_with_a_warning(tmp_path, capsys, what: str) -> None:
    """FID moved 200.55 -> 204.60 silently when sigma was altered in a cached file whose meta still matched."""
    ext = FakeExtractor()
    stats = reference_statistics(ext, "toy", "train", 30, lambda: images(30), root=tmp_path)
    original = {"mu": stats.mu.copy(), "sigma": stats.sigma.copy(), "features": stats.features.copy()}
    rewrite(stats.path, **{what: original[what] * 1.01})
    capsys.readouterr()
    again = reference_statistics(ext, "toy", "train", 30, lambda: images(30), root=tmp_path)
    assert ext.calls == 2  # recomputed, not trusted
    np.testing.assert_array_equal(again.sigma, original["sigma"])
    np.testing.assert_array_equal(again.mu, original["mu"])
    err = warnings_in(capsys)
    assert len(err) == 1, err
    assert err[0].startswith("ganforge: warning: recomputing the cached reference statistics")
    assert "edited or damaged" in err[0]
    assert load_reference(stats.path).meta["arrays_sha256"] == arrays_sha256(again.mu, again.sigma, again.features)


def test_other_images_under_the_same_key_are_recomputed_with_a_warning(tmp_path, capsys) -> None:
    """A dataset file replaced under the same name, split and n must not reuse the old statistics."""
    ext = FakeExtractor()
    first = reference_statistics(ext, "toy", "train", 30, lambda: images(30, seed=0), root=tmp_path)
    capsys.readouterr()
    second = reference_statistics(ext, "toy", "train", 30, lambda: images(30, seed=1), root=tmp_path)
    assert ext.calls == 2
    assert not np.array_equal(first.mu, second.mu)
    err = warnings_in(capsys)
    assert len(err) == 1, err
    assert "computed from other images" in err[0]
    assert second.meta["images_sha256"] == images_fingerprint(images(30, seed=1))


def test_an_older_format_or_a_broken_file_is_recomputed_with_a_warning(tmp_path, capsys) -> None:
    ext = FakeExtractor()
    stats = reference_statistics(ext, "toy", "train", 30, lambda: images(30), root=tmp_path)
    rewrite(stats.path, meta={"format": "ganforge-reference-stats/1"})
    capsys.readouterr()
    reference_statistics(ext, "toy", "train", 30, lambda: images(30), root=tmp_path)
    err = warnings_in(capsys)
    assert ext.calls == 2
    assert len(err) == 1, err
    assert "ganforge-reference-stats/1" in err[0]
    stats.path.write_bytes(b"not an npz")
    reference_statistics(ext, "toy", "train", 30, lambda: images(30), root=tmp_path)
    err = warnings_in(capsys)
    assert ext.calls == 3
    assert len(err) == 1, err
    assert "not a readable reference-statistics file" in err[0]


def test_fingerprints_see_every_byte_and_the_shape() -> None:
    x = images(5)
    assert images_fingerprint(x) == images_fingerprint(x.clone().numpy())
    y = x.clone()
    y[4, 0, 3, 3] ^= 1
    assert images_fingerprint(y) != images_fingerprint(x)
    assert images_fingerprint(x.reshape(5, 1, 2, 8)) != images_fingerprint(x)
    mu, sigma = np.zeros(3), np.eye(3)
    assert arrays_sha256(mu, sigma, None) != arrays_sha256(mu, sigma, np.zeros((2, 3), np.float32))
    assert arrays_sha256(mu, sigma, None) != arrays_sha256(mu, 2 * sigma, None)
    assert ref_module.FORMAT.endswith("/2")
