"""Bad configs and start-up faults through the CLI: every case is exit 2 (130 for Ctrl-C), one stderr line, no
traceback, and nothing is written. Found by a hostile probe (issue "Nothing lost, nothing silent")."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch

from ganforge.cli import main
from helpers import TINY, one_line_error

TINY_SET = [arg for o in TINY for arg in ("--set", o)]


@pytest.mark.parametrize(("override", "contains"), [
    ("optim.g.lr=1e400", "'optim.g.lr' must be a finite number, got inf"),
    ("optim.d.betas=[0.5, -1e999]", "'optim.d.betas' must be a finite number"),
    ("log.sample_every=-5", "log.sample_every must be >= 0"),
    ("log.eval_every=-1", "log.eval_every must be >= 0"),
    ("train.keep_checkpoints=-3", "train.keep_checkpoints must be >= 0"),
    ("train.seed=100000000000000000000000", "train.seed must be in [0, 2**63)"),
    ("train.ema_start=-2", "train.ema_start must be >= 0"),
    ("model.options.g_hidden=[12.5]", "'model.options.g_hidden' expects a list of int, got list [12.5]"),
    ("optim.g.betas=[0.5]", "'optim.g.betas' expects a list of 2 float"),
])
def test_bad_values_are_refused_before_anything_is_written(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], override: str, contains: str) -> None:
    run_dir = tmp_path / "run"
    rc = main(["train", "ring8", *TINY_SET, "--set", override, "--run-dir", str(run_dir)])
    assert rc == 2
    one_line_error(capsys, rc, contains)
    assert not run_dir.exists()


def test_seed_flag_out_of_range(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["train", "ring8", "--seed", str(10**23), "--run-dir", str(tmp_path / "r")])
    one_line_error(capsys, rc, "train.seed must be in [0, 2**63)")


@pytest.mark.parametrize(("text", "contains"), [
    ("", "is empty"),
    ("# only a comment\n", "is empty"),
    ("name: mine\n", "has none of the sections"),
])
def test_empty_or_sectionless_yaml_does_not_train_the_default_model(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, contains: str) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(text)
    rc = main(["train", str(path), "--run-dir", str(tmp_path / "run")])
    assert rc == 2
    one_line_error(capsys, rc, contains)
    assert not (tmp_path / "run").exists()


def test_unreadable_checkpoint_error_is_whole_and_torch_warnings_are_silenced(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A legacy pickle made torch warn before the one-line error, and causes were cut at 120 characters."""
    cause = "weights only load failed: " + "x" * 200 + " (the end of the cause)"

    def fake_load(*args: object, **kwargs: object) -> None:
        warnings.warn("legacy format: this warning must not reach the user", UserWarning, stacklevel=1)
        raise RuntimeError(cause + "\nsecond line")

    ckpt = tmp_path / "old.pt"
    ckpt.write_bytes(b"not really a checkpoint")
    monkeypatch.setattr(torch, "load", fake_load)
    with warnings.catch_warnings():
        warnings.simplefilter("always")  # a warning that escaped would print
        rc = main(["sample", str(ckpt), "--n", "4", "--out", str(tmp_path / "s.npy")])
    err = one_line_error(capsys, rc, "(the end of the cause)")
    assert "legacy format" not in err
    assert ckpt.read_bytes() == b"not really a checkpoint"


def test_ctrl_c_while_importing_is_one_line() -> None:
    """SIGINT during the ~2 s of torch imports: simulated deterministically by an import hook that raises
    KeyboardInterrupt when torch starts loading, in a fresh interpreter running the console-script entry point."""
    code = (
        "import sys\n"
        "class Interrupt:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'torch':\n"
        "            raise KeyboardInterrupt\n"
        "sys.meta_path.insert(0, Interrupt())\n"
        "from ganforge.entry import main\n"
        "sys.exit(main(['list']))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 130
    assert out.stderr.strip().splitlines() == ["ganforge: interrupted while starting; nothing was run"]


def test_missing_optimiser_group_of_the_objective_is_one_line(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """A hand-written StarGAN v2 config without optim.f (the mapping network's group) is refused by name, before
    anything is built or written (it used to surface as a KeyError inside the trainer)."""
    import yaml

    from ganforge.config import resolve_config

    cfg = resolve_config("stargan-v2-mnist", []).to_dict()
    del cfg["optim"]["f"]
    path = tmp_path / "no-f.yaml"
    path.write_text(yaml.safe_dump(cfg))
    rc = main(["train", str(path), "--run-dir", str(tmp_path / "run"), "--dry-run"])
    one_line_error(capsys, rc, "optim.f", "optimiser group")
    assert not (tmp_path / "run").exists()


# ---- config files and --set values (issue 23 item 3) -------------------------------------------------------------

def _config_and_train_refuse(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str],
                             *contains: str) -> None:
    """``ganforge config`` and ``ganforge train`` refuse ``args`` with the same one line; nothing is written under
    ``tmp_path`` (hashed before and after) and no ``runs/`` folder appears in the working directory."""
    from helpers import snapshot

    before = snapshot(tmp_path)
    lines = []
    for command in (["config"], ["train", "--run-dir", str(tmp_path / "run")]):
        rc = main([command[0], *args, *command[1:]])
        lines.append(one_line_error(capsys, rc, *contains))
    assert lines[0] == lines[1]  # one validation shared by both commands
    assert snapshot(tmp_path) == before
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("name", ["/tmp/elsewhere", "..", ".", "", "  ", "a/b", "../up", "a\\b", "tab\there"])
def test_a_name_that_is_not_one_folder_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """``name`` becomes runs/<name>: `--set name=/tmp/x` trained outside runs/ (issue 23)."""
    monkeypatch.chdir(tmp_path)
    _config_and_train_refuse(tmp_path, capsys, ["ring8", "--set", f"name={name}"], "must be a plain folder name")
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(("override", "contains"), [
    ("optim.g.name=sgdx", "unknown optimizer 'optim.g.name=sgdx'"),
    ("optim.d.lr_decay_end=-5", "optim.d.lr_decay_end must be >= 0"),
    ("optim.g.lr_decay_end=3", "needs lr_decay_end > lr_decay_start"),  # with the default lr_decay_start = 0: ok
    ("optim.g.eps=0", "optim.g.eps must be > 0"),
    ("optim.g.betas=[0.5, 1.5]", "optim.g.betas must each be in [0, 1)"),
    ("optim.d.momentum=-0.1", "optim.d.momentum must be >= 0"),
    ("train.device=gpu", "train.device='gpu' is not a device"),
    ("model.options.pack=3", "not a multiple of model.options.pack=3"),
])
def test_config_applies_the_checks_train_applies(tmp_path: Path, capsys: pytest.CaptureFixture[str], override: str,
                                                 contains: str) -> None:
    """`ganforge config` passed these (they failed only when train built the optimisers)."""
    extra = ["--set", "optim.g.lr_decay_start=5"] if "lr_decay_end=3" in override else []
    _config_and_train_refuse(tmp_path, capsys, ["ring8", *TINY_SET, "--set", override, *extra], contains)


def _billion_laughs(levels: int = 9) -> str:
    """The classic alias bomb: 9 levels of 9 aliases each expand to 9^9 ≈ 3.9e8 leaves from ~1 KB of text."""
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]")
    return "\n".join(lines) + f"\nmodel:\n  name: mlp\n  options: {{g_hidden: *l{levels - 1}}}\n"


@pytest.mark.parametrize(("text", "contains"), [
    (_billion_laughs(), "uses a YAML alias (*l0) at line 2"),
    ("model: " + "[" * 20_000 + "]" * 20_000 + "\n", "nests deeper than"),
    ("model: " + "{a: " * 5_000 + "1" + "}" * 5_000 + "\n", "nests deeper than"),
    ("model:\n  name: mlp\ntrain:\n  steps: 5\nmodel:\n  name: dcgan\n",
     "key 'model' twice in one section (lines 1 and 5)"),
    ("model:\n  name: mlp\n  name: dcgan\n", "key 'name' twice in one section (lines 2 and 3)"),
    ("model: [unclosed\n", "is not valid YAML"),
])
def test_hostile_yaml_is_one_line_without_hanging(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str,
                                                  contains: str) -> None:
    """An alias bomb hung `options.py`'s walks of the expanded tree; 20,000 brackets raised RecursionError; a
    duplicate key silently dropped the first value."""
    path = tmp_path / "hostile.yaml"
    path.write_text(text)
    _config_and_train_refuse(tmp_path, capsys, [str(path)], "hostile.yaml", contains)


def test_the_alias_bomb_is_one_kilobyte() -> None:
    assert len(_billion_laughs()) < 1100


@pytest.mark.parametrize(("data", "contains"), [
    ("model:\n  name: caf\xe9\n".encode("latin-1"), "is not UTF-8 text (byte 0xe9"),
    ("model:\n  name: mlp\n".encode("utf-16"), "is UTF-16/UTF-32 encoded"),
    (b"model:\n  name: mlp\n\x00\x00", "holds NUL bytes"),
])
def test_a_file_in_another_encoding_names_the_file_and_the_encoding(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], data: bytes, contains: str) -> None:
    path = tmp_path / "encoded.yaml"
    path.write_bytes(data)
    _config_and_train_refuse(tmp_path, capsys, [str(path)], "encoded.yaml", contains)


def test_a_utf8_byte_order_mark_is_accepted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbfmodel:\n  name: mlp\n")
    assert main(["config", str(path)]) == 0
    assert "name: bom" in capsys.readouterr().out


def test_a_fifo_or_folder_as_config_is_refused_without_blocking(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    rc = main(["config", str(fifo)])
    one_line_error(capsys, rc, "is not a regular file")
    folder = tmp_path / "dir.yaml"
    folder.mkdir()
    rc = main(["config", str(folder)])
    one_line_error(capsys, rc, "is not a regular file")


@pytest.mark.parametrize(("override", "contains"), [
    ("model.options=" + "[" * 20_000 + "]" * 20_000, "nests deeper than"),
    ("model.options=" + "[" * 20_000, "nests deeper than"),
    ("name=caf" + "\udce9", "not UTF-8 text"),  # the byte 0xe9 of a Latin-1 shell, as Python passes it in argv
    ("model.options={'g_hidden': [8], 'g_hidden': [16]}", "the key 'g_hidden' appears twice"),
])
def test_hostile_set_values_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], override: str,
                                         contains: str) -> None:
    _config_and_train_refuse(tmp_path, capsys, ["ring8", "--set", override], contains)


# ---- Ctrl-C during start-up (issue 23 item 5) -----------------------------------------------------------------------

def test_a_sigint_inside_the_torch_import_lets_the_import_finish() -> None:
    """A real SIGINT delivered while torch is importing (sent by an import hook at that moment): the import runs to its
    end (a KeyboardInterrupt inside it left half-initialised numpy/pybind11 modules: tracebacks and aborts), then the
    command is not run: one line, exit code 130."""
    code = (
        "import os, signal, sys\n"
        "class Interrupt:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name in ('torch', 'numpy'):\n"
        "            os.kill(os.getpid(), signal.SIGINT)\n"
        "sys.meta_path.insert(0, Interrupt())\n"
        "from ganforge.entry import main\n"
        "rc = main(['list'])\n"
        "import numpy, torch\n"  # both whole: a second import of a half-loaded numpy raised 'cannot load ... once'
        "assert torch.ones(2).sum().item() == 2.0\n"
        "sys.exit(rc)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 130, out.stderr
    assert out.stderr.strip().splitlines() == ["ganforge: interrupted while starting; nothing was run"]
    assert out.stdout == ""  # `list` did not run


def test_ctrl_c_at_any_moment_of_start_up_never_aborts(tmp_path: Path) -> None:
    """SIGINT sent to `python -m ganforge list` at several moments after ganforge.entry is imported (seen through
    ``-X importtime``): every run ends with exit code 130 and one line, or finishes normally; never a signal death
    (the abort of pybind11's terminate), a traceback or numpy's "cannot load module more than once". Three
    runs in parallel keep the test under 30 s (each imports torch whole: ~2 s of CPU)."""
    import signal
    import threading
    import time

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "OMP_NUM_THREADS": "1"}
    delays = (0.0, 0.3, 0.6)  # seconds after entry's import: inside the torch import (~1 s fast, ~3 s loaded)
    results: dict[float, tuple[int, str, str]] = {}

    def one(delay: float) -> None:
        err_path = tmp_path / f"err-{delay}.txt"
        with open(err_path, "w") as err:
            proc = subprocess.Popen([sys.executable, "-X", "importtime", "-m", "ganforge", "list"], env=env,
                                    stdout=subprocess.PIPE, stderr=err, text=True)
            deadline = time.monotonic() + 60
            while "| ganforge.entry" not in err_path.read_text() and time.monotonic() < deadline:
                time.sleep(0.005)
            time.sleep(0.02 + delay)  # 20 ms: from entry's import to its handler being installed
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
            stdout, _ = proc.communicate(timeout=60)
        lines = [line for line in err_path.read_text().splitlines() if not line.startswith("import time:")]
        results[delay] = (proc.returncode, stdout, "\n".join(lines))

    threads = [threading.Thread(target=one, args=(d,)) for d in delays]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for delay, (rc, stdout, err) in results.items():
        assert "Traceback" not in err, (delay, err)
        assert "terminate called" not in err, (delay, err)
        if rc == 0:  # the command finished before the signal
            assert "presets:" in stdout, (delay, stdout)
            assert err == "", (delay, err)
        else:
            assert rc == 130, (delay, rc, err)
            assert err in ("ganforge: interrupted while starting; nothing was run", "ganforge: interrupted"), (delay,
                                                                                                              err)
