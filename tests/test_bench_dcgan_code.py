"""bench/dcgan_code.py: the code × predicted-digit table of a z_code generator counts every sample once, under the code
the generator was fed, and refuses a generator without a code."""

from __future__ import annotations

import pytest
import torch

from ganforge.data.base import DataSpec
from ganforge.models.dcgan import DCGANConfig
from helpers import load_bench


@pytest.fixture(scope="module")
def bench():
    return load_bench("dcgan_code")


def test_table_counts_each_sample_under_its_code(bench) -> None:
    torch.manual_seed(0)
    G, _ = DCGANConfig(width=8, z_code=4).build(DataSpec((1, 28, 28))).values()
    G.eval()
    out = bench.code_table(G, 200, seed=3)
    table = torch.tensor(out["table"])  # [4 codes, 10 digits]
    z = torch.randn(200, 100, generator=torch.Generator().manual_seed(3))
    assert table.sum(1).tolist() == torch.bincount(z[:, :4].argmax(1), minlength=4).tolist()
    assert out["purity"] == pytest.approx(float(table.max(1).values.sum()) / 200)
    assert 0.0 <= out["confident_percent"] <= 100.0


def test_generator_without_a_code_is_refused(bench) -> None:
    G, _ = DCGANConfig(width=8).build(DataSpec((1, 28, 28))).values()
    with pytest.raises(SystemExit, match="no discrete code"):
        bench.code_table(G, 10, seed=0)
