"""report.html (``ganforge.report``): written at the end of training, self-contained (every picture a PNG data URI,
no script, no link), the final metrics table holds the run's numbers; ``ganforge report A B`` puts runs side by side
and refuses outputs it must not write."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

import ganforge
from ganforge.cli import main
from ganforge.report import flat_metrics, fmt, read_scalars
from ganforge.training.stats import read_metrics
from ganforge.viz.html import png_size
from helpers import one_line_error

RING_TINY = {"model.options": {"z_dim": 2, "g_hidden": [16], "d_hidden": [16]}, "train.steps": 4,
             "train.checkpoint_every": 4, "log.every": 1, "log.sample_every": 2, "log.tensorboard": False}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("report")
    a = ganforge.train("ring8", root / "ring-a", quiet=True, **RING_TINY).run_dir
    b = ganforge.train("ring8", root / "ring-b", quiet=True, **{**RING_TINY, "train.seed": 1}).run_dir
    return a, b


def images(page: str) -> list[bytes]:
    """The decoded bytes of every <img> of the page (each must be a base64 PNG data URI)."""
    srcs = re.findall(r'<img src="([^"]*)"', page)
    assert len(srcs) == page.count("<img")
    out = []
    for src in srcs:
        assert src.startswith("data:image/png;base64,")
        out.append(base64.b64decode(src.split(",", 1)[1], validate=True))
    return out


def test_training_writes_a_self_contained_report(runs: tuple[Path, Path]) -> None:
    run = runs[0]
    page = (run / "report.html").read_text()
    pngs = images(page)
    assert len(pngs) >= 4  # scatter plots over time + the scalar groups
    for png in pngs:
        w, h = png_size(png)
        assert w > 0
        assert h > 0
    for forbidden in ("<script", "http://", "https://", "<link"):  # offline: nothing to fetch, nothing to run
        assert forbidden not in page
    metrics = flat_metrics(json.loads((run / "eval" / "final.json").read_text())["metrics"])
    assert metrics
    for name, value in metrics.items():
        assert f'data-metric="{name}">{fmt(value)}</td>' in page
    assert (run / "config.yaml").read_text().splitlines()[-1].strip() in page


def test_every_logged_scalar_is_plotted(runs: tuple[Path, Path]) -> None:
    logged = {k for r in read_metrics(runs[0] / "metrics.jsonl") for k, v in r.items()
              if k != "step" and isinstance(v, (int, float))}
    assert set(read_scalars(runs[0])) == logged
    assert any(k.startswith("eval/") for k in logged)  # the final evaluation is among them


def test_report_command_puts_runs_side_by_side(runs: tuple[Path, Path], tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "both.html"
    assert main(["report", *map(str, runs), "--out", str(out)]) == 0
    page = out.read_text()
    assert "<th>ring-a</th><th>ring-b</th>" in page  # the comparison table's header
    assert page.count('<section class="run">') == 2
    assert main(["report", *map(str, runs), "--out", str(out)]) == 0  # ganforge's own file: rewritten
    foreign = tmp_path / "mine.html"
    foreign.write_text("my notes")
    capsys.readouterr()
    one_line_error(capsys, main(["report", str(runs[0]), "--out", str(foreign)]), "not written by ganforge")
    assert foreign.read_text() == "my notes"
    one_line_error(capsys, main(["report", str(tmp_path)]), "holds no run")
    one_line_error(capsys, main(["report", str(runs[0]), "--out", str(tmp_path / "x.png")]), ".html")


def test_tensorboard_gets_the_sample_grids(tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    sets = {"data.options": {"limit": 64}, "log.eval_samples": 64, "train.batch_size": 16, "train.steps": 4,
            "train.checkpoint_every": 4, "log.sample_every": 2, "log.tensorboard": True, "log.n_samples": 4,
            "model.options": {"z_dim": 4, "g_hidden": [16], "d_hidden": [16]}}
    run = ganforge.train("gan-mlp-mnist", tmp_path / "r", quiet=True, **sets).run_dir
    events = EventAccumulator(str(run / "tb"), size_guidance={"images": 0})
    events.Reload()
    shots = events.Images("samples")
    assert [s.step for s in shots] == [2, 4]
    assert all(png_size(s.encoded_image_string) == (s.width, s.height) and s.width > 0 for s in shots)
