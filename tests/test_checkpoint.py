"""``ganforge.checkpoint.Checkpoint``: the one owner of the checkpoint layout. A round trip through a file keeps
what every reader asks (config, spec, kind, step, weights, EMA), and each damaged or foreign file is refused with a
one-line ``CheckpointError``: another format version (on resume), a data kind that is not its data's, bad counters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from ganforge.checkpoint import CHECKPOINT_FORMAT, Checkpoint, CheckpointError
from ganforge.data.base import DataSpec


def _checkpoint(step: int = 7, kind: str = "mixture2d", data: str = "ring8") -> Checkpoint:
    torch.manual_seed(0)
    G, D = nn.Linear(2, 2), nn.Linear(2, 1)
    trainer = {"step": step, "images_seen": 4 * step, "best_step": 0, "best": None, "optimizers": {},
               "schedulers": {}}
    return Checkpoint.of_run(config={"name": "tiny", "data": {"name": data}},
                             spec=DataSpec(shape=(2,), num_classes=0, fields={"mask": (1, 2)}), kind=kind,
                             models={"G": G.state_dict(), "D": D.state_dict()}, ema={"G": G.state_dict()},
                             trainer=trainer)


def _one_line(exc: pytest.ExceptionInfo[BaseException], *parts: str) -> None:
    text = str(exc.value)
    assert "\n" not in text, text  # one line:
    assert "; " in text, text  # "<problem>; <fix>"
    for part in parts:
        assert part in text, text


def test_round_trip_keeps_what_every_reader_asks(tmp_path: Path) -> None:
    saved = _checkpoint()
    saved.save(tmp_path / "latest.pt")
    loaded = Checkpoint.load(tmp_path / "latest.pt")
    assert loaded.path == tmp_path / "latest.pt"
    assert loaded["format"] == CHECKPOINT_FORMAT
    loaded.check_format()  # this version's layout: no error
    assert loaded.config == {"name": "tiny", "data": {"name": "ring8"}}
    assert loaded.spec == DataSpec(shape=(2,), num_classes=0, fields={"mask": (1, 2)})
    assert (loaded.kind, loaded.step) == ("mixture2d", 7)
    assert loaded.has_ema("G")
    assert not loaded.has_ema("D")
    assert (loaded.generator_kind(True), loaded.generator_kind(False)) == ("ema", "G")
    for name in ("G", "D"):  # same path (save then load): the tensors come back exactly
        for key, value in saved.weights(name).items():
            assert torch.equal(loaded.weights(name)[key], value)
    assert loaded.weights("G", use_ema=True).keys() == saved.models["G_ema"].keys()
    assert loaded.weights("D", use_ema=True) is loaded.models["D"]  # no EMA copy: the network's own weights


def test_a_weights_only_file_has_step_zero_and_no_spec(tmp_path: Path) -> None:
    state = {"config": {"name": "init"}, "models": {"G": nn.Linear(2, 2).state_dict()}}
    torch.save(state, tmp_path / "init.pt")
    loaded = Checkpoint.load(tmp_path / "init.pt")
    assert (loaded.step, loaded.kind, loaded.trainer) == (0, "default", None)
    with pytest.raises(CheckpointError) as exc:
        loaded.spec  # noqa: B018
    _one_line(exc, "does not match its config", "no data spec")


@pytest.mark.parametrize("found", [None, 2, CHECKPOINT_FORMAT + 1])
def test_another_format_version_is_refused_on_resume(tmp_path: Path, found: Any) -> None:
    ckpt = _checkpoint()
    ckpt.state["format"] = found
    ckpt.save(tmp_path / "old.pt")
    loaded = Checkpoint.load(tmp_path / "old.pt")  # readable: sampling checks names and shapes when loading weights
    with pytest.raises(CheckpointError) as exc:
        loaded.check_format()
    _one_line(exc, f"checkpoint format {found} was written by another ganforge version", "start a new --run-dir")


@pytest.mark.parametrize(("kind", "data", "contains"), [
    ("field", "ring8", "spec.kind is 'field' but its data 'ring8' is of kind 'mixture2d'"),
    ("table", "no-such-data", "spec.kind is 'table', the kind of"),
    ("3d", "ring8", "spec.kind '3d' is not a data kind name"),
])
def test_a_data_kind_that_is_not_its_datas_is_refused(tmp_path: Path, kind: str, data: str, contains: str) -> None:
    _checkpoint(kind=kind, data=data).save(tmp_path / "latest.pt")
    with pytest.raises(CheckpointError) as exc:
        Checkpoint.load(tmp_path / "latest.pt")
    _one_line(exc, "does not match its config", contains)


@pytest.mark.parametrize(("change", "contains"), [
    ({"step": -1}, "trainer.step = -1 is outside"),
    ({"step": 2**60}, "trainer.step = 1152921504606846976 is outside"),
    ({"step": 1.5}, "trainer.step is float 1.5, not a whole number"),
    ({"best_step": 8}, "trainer.best_step = 8 is outside [0, 8)"),
    ({"images_seen": -4}, "trainer.images_seen = -4"),
])
def test_bad_step_counters_are_refused(tmp_path: Path, change: dict[str, Any], contains: str) -> None:
    ckpt = _checkpoint(step=7)
    ckpt.trainer.update(change)
    ckpt.save(tmp_path / "latest.pt")
    with pytest.raises(CheckpointError) as exc:
        Checkpoint.load(tmp_path / "latest.pt")
    _one_line(exc, "is damaged", contains, "resume from another file")


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError) as exc:
        Checkpoint.load(tmp_path / "nope.pt")
    _one_line(exc, "not found")
