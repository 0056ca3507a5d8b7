"""CLI contract of ``eval``: metrics of a tiny MNIST-shaped run (or its saved samples) against cached real statistics,
the record it writes, and one-line errors that leave the run untouched. The fast ``mnist-classifier`` extractor is
used throughout; one test runs the real FID Inception network on 2 + 2 images (about 5 s on one CPU core)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ganforge.cli import main
from ganforge.metrics.classifier import weights_sha256
from helpers import make_run, one_line_error, snapshot

MNIST_TINY = [
    "data.name=mnist", "data.options={'limit': 64}", "train.steps=2", "train.checkpoint_every=2", "train.ema=0.5",
    "model.options={'z_dim': 4, 'g_hidden': [16], 'd_hidden': [16], 'g_output': 'tanh'}",
]
FAST = ["--features", "mnist-classifier", "--ref", "mnist:test", "--no-progress"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("eval-runs")
    return {"mnist": make_run(MNIST_TINY, root / "mnist"),
            "ring": make_run(["train.steps=2", "train.checkpoint_every=2"], root / "ring")}


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"




def test_eval_run_writes_the_record_and_prints_a_table(runs: dict[str, Path], cache: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["eval", str(runs["mnist"]), "--metrics", "fid,kid,pr,dc,is", "--n", "40", *FAST])
    assert rc == 0
    out = capsys.readouterr().out
    path = runs["mnist"] / "eval" / "mnist-classifier_mnist-test_n40.json"
    assert f"wrote {path}" in out
    for key in ("fid", "kid", "precision", "recall", "density", "coverage", "is"):
        assert f"\n{key} " in out
    record = json.loads(path.read_text())
    m, p = record["metrics"], record["protocol"]
    assert set(m) == {"fid", "kid", "kid_std", "precision", "recall", "density", "coverage", "is", "is_std"}
    assert m["fid"] > 0
    assert 0 <= m["precision"] <= 1
    assert 0 <= m["coverage"] <= 1
    assert 1 <= m["is"] <= 10
    assert p["n_fake"] == p["n_real"] == 40
    assert p["reference"]["dataset"] == "mnist"
    assert p["reference"]["split"] == "test"
    assert p["extractor"] == "mnist-classifier"
    assert p["extractor_sha256"] == weights_sha256()
    assert p["resize"]
    assert p["seed"] == 0
    assert p["generator"] == "ema"
    assert p["step"] == 2
    assert record["versions"]["ganforge"]
    assert record["versions"]["numpy"] == np.__version__
    assert list(m) == ["fid", "kid", "kid_std", "precision", "recall", "density", "coverage", "is", "is_std"]
    assert Path(p["reference"]["cache"]).is_file()
    assert Path(p["reference"]["cache"]).is_relative_to(cache)
    # same seed: same numbers (the second call reads the cached reference statistics)
    assert main(["eval", str(runs["mnist"]), "--metrics", "fid,kid,pr,dc,is", "--n", "40", *FAST,
                 "--out", str(cache.parent / "again.json")]) == 0
    assert json.loads((cache.parent / "again.json").read_text())["metrics"] == m
    # another seed: other samples
    assert main(["eval", str(runs["mnist"]), "--metrics", "fid", "--n", "40", "--seed", "1", *FAST,
                 "--out", str(cache.parent / "seed1.json")]) == 0
    assert json.loads((cache.parent / "seed1.json").read_text())["metrics"]["fid"] != m["fid"]


def test_n_real_is_capped_by_the_split_size(cache: Path, tmp_path: Path) -> None:
    """A run on a 12-image npz dataset: --ref npz:train reuses the run's data options (path) and n_real = 12."""
    rng = np.random.default_rng(0)
    data = tmp_path / "tiny.npz"
    np.savez(data, x=rng.integers(0, 256, (12, 1, 28, 28), dtype=np.uint8))
    make_run([*MNIST_TINY, "data.name=npz", f"data.options={{'path': '{data}'}}", "train.batch_size=8"], tmp_path / "r")
    assert main(["eval", str(tmp_path / "r"), "--metrics", "fid,kid", "--n", "30", "--features", "mnist-classifier",
                 "--ref", "npz:train", "--no-progress"]) == 0
    record = json.loads((tmp_path / "r" / "eval" / "mnist-classifier_npz-train_n30.json").read_text())
    assert record["protocol"]["n_fake"] == 30
    assert record["protocol"]["n_real"] == 12
    # user datasets are cached under their options' fingerprint, never under the bare name "npz"
    assert Path(record["protocol"]["reference"]["cache"]).name.startswith("npz-")


def test_saved_samples_give_the_same_numbers_as_the_run(runs: dict[str, Path], cache: Path, tmp_path: Path) -> None:
    run_out, png_out, npz_out = tmp_path / "run.json", tmp_path / "png.json", tmp_path / "npz.json"
    assert main(["eval", str(runs["mnist"]), "--metrics", "fid,kid,pr,dc,is", "--n", "30", *FAST,
                 "--out", str(run_out)]) == 0
    assert main(["sample", str(runs["mnist"]), "--n", "30", "--format", "png-dir", "--out", str(tmp_path / "d")]) == 0
    assert main(["sample", str(runs["mnist"]), "--n", "30", "--format", "npz", "--out", str(tmp_path / "s.npz")]) == 0
    assert main(["eval", str(tmp_path / "d"), "--metrics", "fid,kid,pr,dc,is", *FAST, "--out", str(png_out)]) == 0
    assert main(["eval", str(tmp_path / "s.npz"), "--metrics", "fid,kid,pr,dc,is", *FAST]) == 0
    default_npz_out = tmp_path / "s-eval-mnist-classifier_mnist-test_n30.json"
    assert default_npz_out.is_file()
    npz_out.write_text(default_npz_out.read_text())
    records = [json.loads(p.read_text()) for p in (run_out, png_out, npz_out)]
    assert records[0]["metrics"] == records[1]["metrics"] == records[2]["metrics"]
    assert [r["protocol"]["source_kind"] for r in records] == ["run", "png-dir", "npz"]
    # --n below the number of saved images takes the first n
    assert main(["eval", str(tmp_path / "s.npz"), "--metrics", "fid", "--n", "10", *FAST,
                 "--out", str(tmp_path / "ten.json")]) == 0
    assert json.loads((tmp_path / "ten.json").read_text())["protocol"]["n_fake"] == 10


@pytest.mark.parametrize(("extra", "contains"), [
    (["--metrics", "fid,bogus"], "unknown metric 'bogus'; choose from: dc, fid, is, kid, pr"),
    (["--metrics", ","], "--metrics is empty"),
    (["--metrics", "is", "--features", "inception-fid"], "inception-fid has no logits"),
    (["--ref", "mnist"], "--ref expects DATASET:SPLIT"),
    (["--ref", "nosuch:train"], "unknown dataset 'nosuch'"),
    (["--ref", "mnist:validation"], "no split 'validation'"),
    (["--ref", "digits:train"], "shape"),
    (["--features", "resnet"], "unknown feature extractor 'resnet'"),
    (["--n", "0"], "--n must be >= 1"),
    (["--n", "1"], "at least 2"),
    (["--n", "4", "--metrics", "fid,dc"], "dc need more than 5"),
    (["--n", "4", "--metrics", "pr,kid,dc"], "pr/dc need more than 5"),
    (["--batch-size", "0"], "--batch-size must be >= 1"),
])
def test_eval_bad_inputs_leave_the_run_untouched(runs: dict[str, Path], cache: Path, extra: list[str], contains: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(runs["mnist"])
    argv = ["eval", str(runs["mnist"]), "--n", "10", "--features", "mnist-classifier", "--ref", "mnist:test",
            "--no-progress", *extra]
    one_line_error(capsys, main(argv), contains)
    assert snapshot(runs["mnist"]) == before


def test_the_record_writer_is_atomic_and_fails_on_one_line(tmp_path: Path) -> None:
    """``ganforge eval`` and training share ``training.rundir.write_record`` / ``eval_record``."""
    from ganforge.training.rundir import RunError, eval_record, write_eval, write_record

    path = write_eval(tmp_path, "final", {"fid": 1.5}, {"n_fake": 2})
    record = json.loads(path.read_text())
    assert record == eval_record({"fid": 1.5}, {"n_fake": 2})
    assert set(record["versions"]) == {"ganforge", "torch", "numpy"}
    assert [p.name for p in path.parent.iterdir()] == ["final.json"]  # no temporary file left
    (tmp_path / "file").write_text("x")
    with pytest.raises(RunError, match=r"cannot write .*choose another --out$"):
        write_record(tmp_path / "file" / "r.json", record, flag="--out")


def test_eval_source_errors(runs: dict[str, Path], cache: Path, tmp_path: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    one_line_error(capsys, main(["eval", str(tmp_path / "missing"), *FAST]), "not found")
    (tmp_path / "empty").mkdir()
    one_line_error(capsys, main(["eval", str(tmp_path / "empty"), *FAST]), "neither a run directory")
    (tmp_path / "x.npz").write_bytes(b"not a zip")
    one_line_error(capsys, main(["eval", str(tmp_path / "x.npz"), *FAST]), "x.npz")
    one_line_error(capsys, main(["eval", str(tmp_path / "x.npz"), "--features", "mnist-classifier"]), "--ref")
    before = snapshot(runs["ring"])
    one_line_error(capsys, main(["eval", str(runs["ring"]), *FAST]), "eval needs images")
    assert snapshot(runs["ring"]) == before


def test_eval_with_the_fid_inception_network(runs: dict[str, Path], cache: Path, tmp_path: Path) -> None:
    from ganforge.metrics.inception import KNOWN_SHA256, locate_inception_weights

    try:
        locate_inception_weights()
    except FileNotFoundError as err:
        pytest.skip(str(err))
    out = tmp_path / "inception.json"
    # KID only: the FID of 2048-d features needs a 2048x2048 matrix square root (about a minute on one CPU core)
    assert main(["eval", str(runs["mnist"]), "--metrics", "kid", "--n", "2", "--ref", "mnist:test",
                 "--features", "inception-fid", "--device", "cpu", "--no-progress", "--out", str(out)]) == 0
    record = json.loads(out.read_text())
    assert set(record["metrics"]) == {"kid", "kid_std"}
    assert record["metrics"]["kid"] > 0
    p = record["protocol"]
    assert p["extractor"] == "inception-fid"
    assert p["extractor_sha256"] == KNOWN_SHA256
    assert p["feature_dim"] == 2048
    assert "299x299" in p["resize"]
    assert p["n_fake"] == p["n_real"] == 2
