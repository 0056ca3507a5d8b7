"""builder: the checks made from the config before anything is built."""

from __future__ import annotations

import pytest

from ganforge.builder import check_batch
from ganforge.models.ctgan import CTGANConfig
from ganforge.models.mlp import MLPConfig


def test_the_batch_splits_over_processes_and_into_whole_packs_of_the_familys_packing() -> None:
    check_batch(32, 2, MLPConfig(pack=2))
    with pytest.raises(ValueError, match="divisible by the 3 processes"):
        check_batch(32, 3, MLPConfig())
    with pytest.raises(ValueError, match=r"multiple of model\.options\.pack=4; set train\.batch_size to a multiple "
                                         r"of 16$"):
        check_batch(24, 4, MLPConfig(pack=4))


def test_ctgan_declares_pac_as_its_packing() -> None:
    """CTGAN's critic packs ``pac`` rows (PacGAN), declared through ``ModelFamily.packing``: a batch that does not
    split into whole packs is refused with the config, naming model.options.pac."""
    assert CTGANConfig(pac=10).packing() == 10
    check_batch(500, 1, CTGANConfig(pac=10))
    with pytest.raises(ValueError, match=r"21 samples, not a multiple of model\.options\.pac=2; set "
                                         r"train\.batch_size to a multiple of 2$"):
        check_batch(21, 1, CTGANConfig(pac=2))
