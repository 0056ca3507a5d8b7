"""The up-front checks (ganforge.preflight): one function per check, one line per refusal."""

from __future__ import annotations

import os

import pytest

from ganforge import preflight
from ganforge.options import ConfigError
from ganforge.preflight import check_memory, human_bytes, require_input


def test_require_input_refuses_a_fifo_a_missing_path_and_a_folder_unless_allowed(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match=r"--input '.*pipe' is not a regular file .*point --input at a file or"):
        require_input(fifo, "--input", "--input", folder=True)
    with pytest.raises(FileNotFoundError, match=r"--input '.*missing\.png' not found; check --input"):
        require_input(tmp_path / "missing.png", "--input", "--input")
    with pytest.raises(ConfigError, match=r"is a folder, not a file; point data\.options\.path at the file"):
        require_input(tmp_path, "table file", "data.options.path")
    assert require_input(tmp_path, "--input", "--input", folder=True) == tmp_path


def test_check_memory_names_the_need_the_free_memory_and_the_fix(monkeypatch):
    monkeypatch.setattr(preflight, "available_memory", lambda: 2_000_000_000)
    check_memory(2_000_000_000, "x", "fix it")  # exactly what is free: allowed
    with pytest.raises(ConfigError, match=r"^x would need about 3\.5 GB of memory, but only 2\.0 GB is available; "
                                          r"fix it$"):
        check_memory(3_500_000_000, "x", "fix it")
    monkeypatch.setattr(preflight, "available_memory", lambda: None)  # unknown: nothing refused
    check_memory(10**18, "x", "fix it")


def test_human_bytes():
    assert [human_bytes(n) for n in (999, 1000, 1_234_567, 1.36e12)] == ["999 bytes", "1.0 KB", "1.2 MB", "1.4 TB"]
