"""data/base.py: the ``Dataset`` contract every loaded data set declares, with its defaults."""

from __future__ import annotations

import typing

import pytest

from ganforge.data import register_all
from ganforge.data.base import Dataset, Source
from ganforge.registry import DATASETS

register_all()


@pytest.mark.parametrize("name", DATASETS.names())
def test_every_registered_dataset_loads_a_dataset(name: str) -> None:
    """What ``load`` returns (read from its annotation: loading needs the data files) declares the contract, so
    callers ask ``data.is_image`` / ``data.check_batch`` / ``data.steps_for_epochs`` without probing."""
    returned = typing.get_type_hints(DATASETS.get(name).load)["return"]
    assert issubclass(returned, Dataset), f"{name}.load returns {returned.__name__}, not a data.base.Dataset"


def test_the_defaults() -> None:
    data = Dataset()
    assert (data.kind, data.is_image, data.steps_for_epochs(3, 32)) == ("default", False, None)
    data.check_batch(10**9)  # no limit unless a kind declares one
    assert Source().conditions(5) is None  # only a table's stream draws conditions without rows
