"""``ganforge list`` with one-line preset descriptions, ``ganforge config PRESET`` with the preset's header, "did you
mean" for a mistyped preset, and a closed pipe (``| head``) that is not an error."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from ganforge.cli import main, preset_summary
from ganforge.config import preset_header, preset_names
from helpers import one_line_error


def test_list_presets_has_one_line_descriptions(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "presets"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "presets:"
    assert len(lines) == 1 + len(preset_names())
    first = preset_header("tadgan-ucr135").splitlines()[0].lstrip("# ")
    row = next(line for line in lines if line.split()[0] == "tadgan-ucr135")
    assert first[:40] in row
    assert len(preset_summary("tadgan-ucr135")) <= 90


def test_config_prints_the_header_as_yaml_comments(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "tadgan-ucr135", "--set", "train.steps=7"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(preset_header("tadgan-ucr135"))
    assert "Orion" in out.split("model:")[0]
    assert yaml.safe_load(out)["train"]["steps"] == 7  # still valid YAML: the header is comments


def test_mistyped_preset_suggests_the_closest(capsys: pytest.CaptureFixture[str]) -> None:
    line = one_line_error(capsys, main(["config", "tadgan-ucr153"]), "unknown preset 'tadgan-ucr153'")
    assert line.endswith("did you mean 'tadgan-ucr135'?")
    line = one_line_error(capsys, main(["config", "zzzz"]), "unknown preset")
    assert "did you mean" not in line


def test_closed_pipe_is_not_an_error() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "ganforge", "list", "presets"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout is not None
    proc.stdout.readline()
    proc.stdout.close()  # like `| head -1`
    err = proc.stderr.read().decode() if proc.stderr else ""
    assert proc.wait(timeout=60) == 0
    assert "Traceback" not in err
