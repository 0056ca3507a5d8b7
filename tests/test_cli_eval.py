"""CLI contract of ``eval``: metrics of a tiny MNIST-shaped run (or its saved samples) against cached real statistics,
the record it writes, and one-line errors that leave the run untouched. The fast ``mnist-classifier`` extractor is
used throughout; one test runs the real FID Inception network on 2 + 2 images (about 5 s on one CPU core)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import scipy

from ganforge.cli import main
from ganforge.metrics.classifier import weights_sha256
from helpers import make_run, one_line_error, snapshot

MNIST_TINY = [
    "data.name=mnist", "data.options={'limit': 64}", "train.steps=2", "train.checkpoint_every=2", "train.ema=0.5",
    "model.options={'z_dim': 4, 'g_hidden': [16], 'd_hidden': [16], 'g_output': 'tanh'}",
]
# FID/KID of the same images computed through two paths (batch shapes, readers): float32 feature rounding bound,
# see test_eval_samples_ignore_the_batch_size_and_equal_ganforge_sample
ROUNDING_REL = 1e-6
FAST = ["--features", "mnist-classifier", "--ref", "mnist:test", "--no-progress"]


COND = "model.options={'z_dim': 4, 'g_hidden': [16], 'd_hidden': [16], 'g_output': 'tanh', 'conditioning': 'concat'}"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("eval-runs")
    return {"mnist": make_run(MNIST_TINY, root / "mnist"), "cond": make_run([*MNIST_TINY, COND], root / "cond"),
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
    assert set(m) == {"fid", "kid", "kid_std", "kid_subset_size", "kid_subsets", "precision", "recall", "precision_k5",
                      "recall_k5", "density", "coverage", "is", "is_std"}
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
    assert list(m) == ["fid", "kid", "kid_std", "kid_subset_size", "kid_subsets", "precision", "recall", "precision_k5",
                       "recall_k5", "density", "coverage", "is", "is_std"]
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
    # three readers of the same uint8 images (generated, PNG files, .npz): equal up to the rounding of the features on
    # other buffers (ROUNDING_REL); precision/recall/density/coverage count k-NN inclusions, which an ulp moves only
    # at an exact tie of two distances, so they agree to the same bound (in practice exactly)
    for other in records[1:]:
        assert list(other["metrics"]) == list(records[0]["metrics"])
        for key, value in records[0]["metrics"].items():
            assert other["metrics"][key] == pytest.approx(value, rel=ROUNDING_REL), (other["protocol"]["source_kind"],
                                                                                     key)
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
    from ganforge.outputs import OutputError
    from ganforge.training.rundir import eval_record, write_eval, write_record

    path = write_eval(tmp_path, "final", {"fid": 1.5}, {"n_fake": 2})
    record = json.loads(path.read_text())
    assert record == eval_record({"fid": 1.5}, {"n_fake": 2})
    assert set(record["versions"]) == {"ganforge", "torch", "numpy", "scipy"}
    assert record["versions"]["scipy"] == scipy.__version__
    assert eval_record({}, {"n_fake": 2}, source_sha256="ab" * 32, batch_size=7)["protocol"] == {
        "n_fake": 2, "source_sha256": "ab" * 32, "batch_size": 7}
    assert [p.name for p in path.parent.iterdir()] == ["final.json"]  # no temporary file left
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match=r"file is in the way.*choose another --out$"):  # the one writer's error
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
    assert set(record["metrics"]) == {"kid", "kid_std", "kid_subset_size", "kid_subsets"}
    assert record["metrics"]["kid"] > 0
    p = record["protocol"]
    assert p["extractor"] == "inception-fid"
    assert p["extractor_sha256"] == KNOWN_SHA256
    assert p["feature_dim"] == 2048
    assert "299x299" in p["resize"]
    assert p["n_fake"] == p["n_real"] == 2


# ---- reproducible, comparable figures --------------------------------------------------------------------------


def _record(path: Path) -> dict:
    return json.loads(path.read_text())


def test_eval_samples_ignore_the_batch_size_and_equal_ganforge_sample(runs: dict[str, Path], cache: Path,
                                                                      tmp_path: Path) -> None:
    """`eval --seed S` judges the images `sample --seed S` writes, whatever --batch-size (recorded) and for a
    conditional model too (its random labels come from the same seeded draws)."""
    for run in ("mnist", "cond"):
        outs = {}
        for b in ("7", "1000"):
            outs[b] = tmp_path / f"{run}-b{b}.json"
            assert main(["eval", str(runs[run]), "--metrics", "fid,kid", "--n", "30", "--seed", "3", "--batch-size", b,
                         *FAST, "--out", str(outs[b])]) == 0
        small, large = _record(outs["7"]), _record(outs["1000"])
        # The same images (a wrong seed or batching moved FID by 1e-3). What may differ between two paths is rounding
        # only: the extractor's float32 features on another batch shape or buffer (MKL/oneDNN pick kernels by shape,
        # alignment and CPU), each within a few float32 ulps, eps32 = 1.2e-7 relative; FID and KID are smooth in the
        # features (KID's cubic kernel triples a relative change, FID's squares double it) and here of the order of
        # their terms (well-separated sets), so they move by <= ~10 eps32 ≈ 1e-6 relative. Float64 summation order
        # in the statistics (1.6e-16 relative: KID 1.8336288058811914 vs ...911 on an Intel Xeon) is far below.
        assert small["metrics"]["fid"] == pytest.approx(large["metrics"]["fid"], rel=ROUNDING_REL), run
        assert small["metrics"]["kid"] == pytest.approx(large["metrics"]["kid"], rel=ROUNDING_REL), run
        assert (small["protocol"]["batch_size"], large["protocol"]["batch_size"]) == (7, 1000)
        assert "chunks of 1000" in small["protocol"]["sampling"]
        npz = tmp_path / f"{run}.npz"
        assert main(["sample", str(runs[run]), "--n", "30", "--seed", "3", "--format", "npz", "--out", str(npz)]) == 0
        assert main(["eval", str(npz), "--metrics", "fid,kid", "--batch-size", "7", *FAST,
                     "--out", str(tmp_path / f"{run}-npz.json")]) == 0
        from_npz = _record(tmp_path / f"{run}-npz.json")["metrics"]
        # the same uint8 images read back from the .npz: another buffer and reader, so the same rounding bound
        assert from_npz["fid"] == pytest.approx(small["metrics"]["fid"], rel=ROUNDING_REL), run
        assert from_npz["kid"] == pytest.approx(small["metrics"]["kid"], rel=ROUNDING_REL), run


def test_eval_record_names_its_source_and_its_caveats(runs: dict[str, Path], cache: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.json"
    capsys.readouterr()
    assert main(["eval", str(runs["mnist"]), "--metrics", "fid,kid", "--n", "40", *FAST, "--out", str(out)]) == 0
    captured = capsys.readouterr()
    record = _record(out)
    m, p = record["metrics"], record["protocol"]
    ckpt = runs["mnist"] / "checkpoints" / "latest.pt"
    assert p["source_sha256"] == hashlib.sha256(ckpt.read_bytes()).hexdigest()
    assert p["batch_size"] == 250
    assert record["versions"]["scipy"] == scipy.__version__
    # KID at n = 40: subsets of 40 (not 1000), each the whole set: said in the metrics, the protocol and on stderr
    assert (m["kid_subset_size"], m["kid_subsets"]) == (40, 100)
    assert p["kid"]["subset_size"] == 40
    err = [line for line in captured.err.splitlines() if line.strip()]
    assert len(err) == 1, err
    assert err[0].startswith("ganforge: warning: KID subsets shrunk to 40 images")
    assert "kid_std" in err[0]
    assert set(p["warnings"]) == {"fid", "kid"}
    assert "FID depends on n" in p["warnings"]["fid"]
    assert f"note (fid): {p['warnings']['fid']}" in captured.out
    assert p["fid_protocol"] == "custom"
    assert p["reference"]["images_sha256"]
    # saved samples: the hash of the file that was evaluated
    npz = tmp_path / "s.npz"
    assert main(["sample", str(runs["mnist"]), "--n", "12", "--format", "npz", "--out", str(npz)]) == 0
    assert main(["eval", str(npz), "--metrics", "fid", *FAST, "--out", str(tmp_path / "npz.json")]) == 0
    assert _record(tmp_path / "npz.json")["protocol"]["source_sha256"] == hashlib.sha256(npz.read_bytes()).hexdigest()


def test_k_of_precision_recall_is_an_option_and_both_ks_are_reported(runs: dict[str, Path], cache: Path,
                                                                     tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    default, k4, k5 = tmp_path / "d.json", tmp_path / "k4.json", tmp_path / "k5.json"
    for out, extra in ((default, []), (k4, ["--k-pr", "4"]), (k5, ["--k", "5"])):
        assert main(["eval", str(runs["mnist"]), "--metrics", "pr,dc", "--n", "40", *FAST, *extra,
                     "--out", str(out)]) == 0
    d, four, five = _record(default), _record(k4), _record(k5)
    assert d["protocol"]["prdc"] == {"k_pr": 3, "k_dc": 5, "pr_also_at_k": [5]}
    assert four["protocol"]["prdc"] == {"k_pr": 4, "k_dc": 5, "pr_also_at_k": [3, 5]}
    assert five["protocol"]["prdc"] == {"k_pr": 5, "k_dc": 5, "pr_also_at_k": [3]}
    assert list(four["metrics"]) == ["precision", "recall", "precision_k3", "recall_k3", "precision_k5", "recall_k5",
                                     "density", "coverage"]
    # one set of distances, three ks: each figure is the same whichever k is the headline
    assert (d["metrics"]["precision_k5"], d["metrics"]["recall_k5"]) == (five["metrics"]["precision"],
                                                                         five["metrics"]["recall"])
    assert (five["metrics"]["precision_k3"], five["metrics"]["recall_k3"]) == (d["metrics"]["precision"],
                                                                               d["metrics"]["recall"])
    assert {k: d["metrics"][k] for k in ("density", "coverage")} == {k: five["metrics"][k] for k in
                                                                     ("density", "coverage")}
    argv = ["eval", str(runs["mnist"]), "--metrics", "pr", "--n", "40", *FAST]
    one_line_error(capsys, main([*argv, "--k", "0"]), "--k must be >= 1")
    one_line_error(capsys, main([*argv, "--k-pr", "40"]), "pr need more than 40")


def test_n_real_all_and_the_fid50k_full_protocol(cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """--n-real all takes every image of the split; --protocol fid50k_full is n 50,000 vs all training images (made
    cheap here by shrinking the 50,000), and the record names the protocol."""
    rng = np.random.default_rng(0)
    data = tmp_path / "tiny.npz"
    np.savez(data, x=rng.integers(0, 256, (12, 1, 28, 28), dtype=np.uint8))
    run = make_run([*MNIST_TINY, "data.name=npz", f"data.options={{'path': '{data}'}}", "train.batch_size=8"],
                   tmp_path / "r")
    base = ["eval", str(run), "--metrics", "fid", "--features", "mnist-classifier", "--ref", "npz:train",
            "--no-progress"]
    assert main([*base, "--n", "5", "--n-real", "all", "--out", str(tmp_path / "all.json")]) == 0
    p = _record(tmp_path / "all.json")["protocol"]
    assert (p["n_fake"], p["n_real"], p["reference"]["images"], p["fid_protocol"]) == (5, 12, "the whole split",
                                                                                        "custom")
    assert main([*base, "--n", "5", "--n-real", "7", "--out", str(tmp_path / "seven.json")]) == 0
    assert _record(tmp_path / "seven.json")["protocol"]["n_real"] == 7
    assert main([*base, "--n", "5", "--out", str(tmp_path / "default.json")]) == 0
    assert _record(tmp_path / "default.json")["protocol"]["n_real"] == 5  # the default is unchanged: min(n, split)
    one_line_error(capsys, main([*base, "--n", "5", "--n-real", "13"]), "has only 12 images")
    one_line_error(capsys, main([*base, "--n-real", "some"]), "--n-real expects a number of images or 'all'")
    one_line_error(capsys, main([*base, "--protocol", "fid50k_full", "--n", "10"]), "drop --n 10")
    one_line_error(capsys, main([*base, "--protocol", "fid50k_full", "--n-real", "10"]), "drop --n-real 10")

    import ganforge.commands.eval as eval_cmd
    import ganforge.metrics.image_metrics as evaluate_mod

    monkeypatch.setattr(eval_cmd, "FID_PROTOCOL_N", 30)
    monkeypatch.setattr(evaluate_mod, "FID_PROTOCOL_N", 30)
    assert main([*base, "--protocol", "fid50k_full", "--out", str(tmp_path / "full.json")]) == 0
    p = _record(tmp_path / "full.json")["protocol"]
    assert (p["n_fake"], p["n_real"], p["fid_protocol"]) == (30, 12, "fid50k_full")
    assert "fid" in p["warnings"]  # 12 training images are still a small n
    one_line_error(capsys, main([*base[:-2], "npz:test", "--no-progress", "--protocol", "fid50k_full"]),
                   "compares with the training split; use --ref npz:train")


def test_eval_without_features_picks_the_digit_classifier_for_digits_and_says_so(
        runs: dict[str, Path], cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ganforge.commands.eval import default_features

    assert default_features((1, 28, 28)) == "mnist-classifier"
    assert default_features((3, 32, 32)) == "inception-fid"
    assert default_features((1, 32, 32)) == "inception-fid"
    rc = main(["eval", str(runs["mnist"]), "--metrics", "fid", "--n", "20", "--ref", "mnist:test", "--no-progress"])
    assert rc == 0
    err = capsys.readouterr().err
    assert "features mnist-classifier (28x28 grey digits; --features inception-fid to choose another)" in err
    record = json.loads((runs["mnist"] / "eval" / "mnist-classifier_mnist-test_n20.json").read_text())
    assert record["protocol"]["extractor"] == "mnist-classifier"


def test_eval_prints_an_estimate_before_a_job_of_over_a_minute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    import ganforge.commands.eval as ev

    clock = iter([0.0, 2.0, 10.0, 10.001])  # first probe: 2 s for 4 images (0.5 s each); second: 0.25 ms each

    class Slow:
        name = "inception-fid"

        def __call__(self, images):
            return images

    monkeypatch.setattr(ev.time, "perf_counter", lambda: next(clock))
    ev.print_estimate(Slow(), (3, 32, 32), 200, 100, "cifar", "train", tmp_path)
    # 0.5 s x (200 generated + 100 real, no cached statistics) = 150 s
    assert "about 2 min of inception-fid features for 200 generated + 100 real images" in capsys.readouterr().err
    ev.print_estimate(Slow(), (3, 32, 32), 200, 100, "cifar", "train", tmp_path)  # 0.075 s: no line
    assert capsys.readouterr().err == ""


def test_eval_scores_an_external_synthetic_table_against_a_table_run(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    import pandas as pd

    from ganforge.config import resolve_config
    from helpers import train_config

    rng = np.random.default_rng(0)
    real = pd.DataFrame({"x": rng.normal(size=300), "colour": rng.choice(["red", "green", "blue"], 300),
                         "flag": rng.choice(["yes", "no"], 300)})
    real.to_csv(tmp_path / "t.csv", index=False)
    sets = ["model.options={'z_dim': 4, 'g_hidden': [8], 'd_hidden': [8], 'pac': 2}", "train.batch_size=20",
            "train.steps=2", "train.checkpoint_every=2", "data.name=table",
            f"data.options={{'path': '{tmp_path / 't.csv'}', 'target': 'flag'}}"]
    run = train_config(resolve_config("ctgan-nasscds", sets), tmp_path / "run")
    assert main(["sample", str(run), "--n", "60", "--out", str(tmp_path / "synth.csv")]) == 0
    assert main(["eval", str(tmp_path / "synth.csv"), "--ref", str(run)]) == 0
    assert "quality" in capsys.readouterr().out
    record = json.loads((tmp_path / "synth.eval.json").read_text())
    assert 0.0 <= record["metrics"]["quality"] <= 1.0
    assert record["protocol"]["synthetic_rows"] == 60
    # the real rows themselves score higher than 2 steps of training
    real.to_csv(tmp_path / "copy.csv", index=False)
    assert main(["eval", str(tmp_path / "copy.csv"), "--ref", str(run)]) == 0
    assert json.loads((tmp_path / "copy.eval.json").read_text())["metrics"]["quality"] > record["metrics"]["quality"]
    capsys.readouterr()
    real.drop(columns=["colour"]).to_csv(tmp_path / "short.csv", index=False)
    for argv, message in [([str(tmp_path / "short.csv"), "--ref", str(run)], "lacks the column 'colour'"),
                          ([str(tmp_path / "synth.csv")], "needs --ref"),
                          ([str(tmp_path / "synth.csv"), "--ref", "nosuch"], "unknown dataset 'nosuch'")]:
        one_line_error(capsys, main(["eval", *argv]), message)


def test_eval_of_a_table_file_refuses_a_pipe_before_any_work(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    import os

    os.mkfifo(tmp_path / "p.csv")  # reading it would block forever
    one_line_error(capsys, main(["eval", str(tmp_path / "p.csv"), "--ref", "nasscds"]), "not a regular file")
