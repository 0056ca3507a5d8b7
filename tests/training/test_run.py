"""The run directory contract: exact resume, determinism, checkpoints, divergence and bad resumes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch

import ganforge.kinds.image
from ganforge import checkpoint as ckpt
from ganforge.config import resolve_config
from ganforge.training.run import Run, RunError
from ganforge.training.rundir import load_run
from ganforge.training.stats import read_metrics
from ganforge.training.trainer import NonFiniteLossError
from helpers import tiny_config


def _weights(run: Run) -> dict[str, torch.Tensor]:
    out = {f"G.{k}": v for k, v in run.components.G.state_dict().items()}
    out.update({f"D.{k}": v for k, v in run.components.D.state_dict().items()})
    if run.G_ema is not None:
        out.update({f"ema.{k}": v for k, v in run.G_ema.state_dict().items()})
    return out


def _assert_identical(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


@pytest.mark.parametrize("extra", [
    [],  # plain Adam, logistic objective
    # every stateful piece at once: k D-steps, EMA, SGD momentum, lr decay, label noise (RNG inside the loss), dropout
    ["train.d_steps=2", "train.ema=0.9", "optim.d.name=sgd", "optim.d.momentum=0.9", "optim.d.lr=0.01",
     "optim.g.lr_decay=0.99", "objective.options.label_noise=0.05",
     "model.options={'z_dim': 2, 'g_hidden': [16], 'd_hidden': [16], 'd_dropout': 0.2, 'g_batchnorm': True}"],
])
def test_train_2n_equals_train_n_then_resume_n(tmp_path: Path, extra: list[str]) -> None:
    straight = Run(tiny_config(*extra), tmp_path / "a")
    straight.train()

    first = Run(tiny_config(*extra, "train.steps=10"), tmp_path / "b")
    first.train()
    resumed = Run(tiny_config(*extra), tmp_path / "b", resume="latest")
    assert resumed.trainer.step == 10
    resumed.train()
    _assert_identical(_weights(straight), _weights(resumed))
    # the resumed metrics log continues the first one with no duplicate or missing steps
    steps = [r["step"] for r in read_metrics(tmp_path / "b" / "metrics.jsonl") if "loss/d" in r]
    assert steps == [5, 10, 15, 20]
    losses_a = [r["loss/d"] for r in read_metrics(tmp_path / "a" / "metrics.jsonl") if "loss/d" in r]
    losses_b = [r["loss/d"] for r in read_metrics(tmp_path / "b" / "metrics.jsonl") if "loss/d" in r]
    assert losses_a == losses_b


def test_same_seed_same_numbers_other_seed_other_numbers(tmp_path: Path) -> None:
    a = Run(tiny_config(), tmp_path / "a").train()["metrics"]
    b = Run(tiny_config(), tmp_path / "b").train()["metrics"]
    Run(tiny_config("train.seed=1"), tmp_path / "c").train()
    assert a == b
    assert read_metrics(tmp_path / "a" / "metrics.jsonl")[0]["loss/d"] == \
        read_metrics(tmp_path / "b" / "metrics.jsonl")[0]["loss/d"]
    assert read_metrics(tmp_path / "a" / "metrics.jsonl")[0]["loss/d"] != \
        read_metrics(tmp_path / "c" / "metrics.jsonl")[0]["loss/d"]
    assert set(a) == {"modes", "modes_20", "hq_percent", "reverse_kl"}


def test_run_directory_layout(tmp_path: Path) -> None:
    summary = Run(tiny_config("log.sample_every=10", "log.tensorboard=True"), tmp_path / "r").train()
    root = tmp_path / "r"
    assert summary["status"] == "finished"
    assert summary["step"] == 20
    assert summary["images_seen"] == 20 * 32
    assert (root / "config.yaml").read_text().startswith("# resolved config written by ganforge")
    assert sorted(p.name for p in (root / "checkpoints").iterdir()) == ["latest.pt", "step-0000010.pt",
                                                                         "step-0000020.pt"]
    assert (root / "plots" / "scatter-step-0000010.png").is_file()
    assert (root / "plots" / "scatter-final.png").is_file()
    assert (root / "plots" / "losses.png").is_file()
    assert any((root / "tb").iterdir())
    record = json.loads((root / "eval" / "final.json").read_text())
    assert record["protocol"]["n_fake"] == 2500
    assert record["metrics"] == summary["metrics"]
    latest = (root / "checkpoints" / "latest.pt").read_bytes()
    assert record["protocol"]["source_sha256"] == hashlib.sha256(latest).hexdigest()  # which state was evaluated
    state = ckpt.load_checkpoint(root / "checkpoints" / "latest.pt")
    assert {"models", "trainer", "rng_global", "config", "versions"} <= set(state)
    assert state["trainer"]["step"] == 20


def test_in_training_evaluation_does_not_change_the_trajectory(tmp_path: Path) -> None:
    """Evaluating (here: the first, uncached load of the mnist-classifier in each 'process') must not move the RNG the
    training steps draw from, or train(4) and train(2) + resume + train(2) with log.eval_every=2 would differ."""
    quiet = ["data.options={'limit': 64}", "train.batch_size=16", "log.every=2", "log.eval_every=2",
             "log.eval_samples=40", "log.sample_every=0", "log.tensorboard=False", "log.progress=False"]

    def run(name: str, steps: int, resume: str | None = None) -> dict[str, torch.Tensor]:
        ganforge.kinds.image._digit_classifier.cache_clear()  # as in a fresh process
        r = Run(resolve_config("gan-mlp-mnist", [*quiet, f"train.steps={steps}"]), tmp_path / name, resume=resume)
        before = torch.get_rng_state()
        r.evaluate()
        assert torch.equal(torch.get_rng_state(), before)
        r.train()
        return r.components.G.state_dict()

    straight = run("a", 4)
    run("b", 2)
    resumed = run("b", 4, resume="latest")
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)


def test_keep_checkpoints_prunes_old_numbered_files(tmp_path: Path) -> None:
    Run(tiny_config("train.checkpoint_every=5", "train.keep_checkpoints=1"), tmp_path / "r").train()
    assert sorted(p.name for p in (tmp_path / "r" / "checkpoints").iterdir()) == ["latest.pt", "step-0000020.pt"]


def test_existing_run_is_never_overwritten_without_consent(tmp_path: Path) -> None:
    Run(tiny_config(), tmp_path / "r").train()
    before = (tmp_path / "r" / "checkpoints" / "latest.pt").read_bytes()
    with pytest.raises(RunError, match="already holds a run; continue it with --resume latest"):
        Run(tiny_config(), tmp_path / "r")
    with pytest.raises(RunError, match="contradict"):
        Run(tiny_config(), tmp_path / "r", resume="latest", overwrite=True)
    assert (tmp_path / "r" / "checkpoints" / "latest.pt").read_bytes() == before
    Run(tiny_config("train.steps=5"), tmp_path / "r", overwrite=True).train()
    assert ckpt.load_checkpoint(tmp_path / "r" / "checkpoints" / "latest.pt")["trainer"]["step"] == 5


def test_a_file_in_place_of_the_run_directory_is_refused_and_kept(tmp_path: Path) -> None:
    # e.g. a run directory named after a YAML file by mistake: even --overwrite must not touch the file
    target = tmp_path / "preset.yaml"
    target.write_text("model: {}\n")
    for overwrite in (False, True):
        with pytest.raises(RunError, match="is a file, not a directory; choose another --run-dir"):
            Run(tiny_config(), target, overwrite=overwrite)
    assert target.read_text() == "model: {}\n"


def test_resume_into_a_different_model_is_refused_naming_the_keys(tmp_path: Path) -> None:
    Run(tiny_config(), tmp_path / "r").train()
    with pytest.raises(RunError, match=r"differs: model\.options\.g_hidden"):
        Run(tiny_config("model.options={'z_dim': 2, 'g_hidden': [32], 'd_hidden': [16]}"), tmp_path / "r",
            resume="latest")
    with pytest.raises(RunError, match=r"objective\.options\.g_cost"):
        Run(tiny_config("objective.options.g_cost=minimax"), tmp_path / "r", resume="latest")
    with pytest.raises(RunError, match="data shape"):
        Run(tiny_config("data.name=gaussian-mixture-1d", "model.options={'z_dim': 2, 'g_hidden': [16], "
                        "'d_hidden': [16]}"), tmp_path / "r", resume="latest")


def test_missing_and_corrupt_checkpoints(tmp_path: Path) -> None:
    with pytest.raises(RunError, match="no checkpoint in"):
        Run(tiny_config(), tmp_path / "empty", resume="latest")
    with pytest.raises(ckpt.CheckpointError, match="not found"):
        Run(tiny_config(), tmp_path / "empty", resume=str(tmp_path / "nope.pt"))
    Run(tiny_config(), tmp_path / "r").train()
    latest = tmp_path / "r" / "checkpoints" / "latest.pt"
    latest.write_bytes(latest.read_bytes()[:1000])  # truncated, as after a crash mid-copy
    with pytest.raises(ckpt.CheckpointError, match="corrupt or not a ganforge checkpoint") as info:
        Run(tiny_config(), tmp_path / "r", resume="latest")
    assert "\n" not in str(info.value)
    (tmp_path / "junk.pt").write_text("hello")
    with pytest.raises(ckpt.CheckpointError):
        load_run(tmp_path / "junk.pt")


def test_nan_loss_stops_training_and_keeps_the_last_good_checkpoint(tmp_path: Path) -> None:
    cfg = tiny_config("train.steps=40", "train.checkpoint_every=10")
    run = Run(cfg, tmp_path / "r")
    real_step = run.trainer.train_step

    def poisoned_step() -> None:  # at step 23 a NaN enters D's weights, as a diverging run would
        if run.trainer.step == 23:
            with torch.no_grad():
                next(run.components.D.parameters()).fill_(float("nan"))
        real_step()

    run.trainer.train_step = poisoned_step
    with pytest.raises(NonFiniteLossError, match=r"training diverged: the D(/G)? loss became NaN or inf by step 25; "
                       r"the last good checkpoint .* is intact"):
        run.train()
    state = ckpt.load_checkpoint(tmp_path / "r" / "checkpoints" / "latest.pt")
    assert state["trainer"]["step"] == 20
    assert all(torch.isfinite(v).all() for v in state["models"]["D"].values())


def test_stop_signal_checkpoints_and_resume_finishes(tmp_path: Path) -> None:
    run = Run(tiny_config(), tmp_path / "r")
    real_step = run.trainer.train_step

    def step_then_signal() -> None:
        real_step()
        if run.trainer.step == 7:
            run.stop_signal = 15  # what the SIGTERM handler records

    run.trainer.train_step = step_then_signal
    summary = run.train()
    assert summary["status"] == "interrupted"
    assert ckpt.load_checkpoint(tmp_path / "r" / "checkpoints" / "latest.pt")["trainer"]["step"] == 7
    resumed = Run(tiny_config(), tmp_path / "r", resume="latest")
    assert resumed.train()["step"] == 20
    straight = Run(tiny_config(), tmp_path / "s")
    straight.train()
    _assert_identical(_weights(straight), _weights(resumed))


def test_load_run_gives_the_trained_generator(tmp_path: Path) -> None:
    run = Run(tiny_config("train.ema=0.5"), tmp_path / "r")
    run.train()
    cfg, G, spec, _ = load_run(tmp_path / "r")
    assert spec.shape == (2,)
    assert cfg == run.cfg
    assert list(G.nets) == ["G"]  # the family's sampling networks, behind the sampling contract
    _assert_identical(G.nets["G"].state_dict(), run.G_ema.state_dict())
    assert not G.training
    _, G_raw, _, _ = load_run(tmp_path / "r", use_ema=False)
    _assert_identical(G_raw.nets["G"].state_dict(), run.components.G.state_dict())


def test_best_checkpoint_follows_the_chosen_metric(tmp_path: Path) -> None:
    Run(tiny_config("log.eval_every=5", "log.best=min:reverse_kl"), tmp_path / "r").train()
    evals = [r for r in read_metrics(tmp_path / "r" / "metrics.jsonl") if "eval/reverse_kl" in r]
    assert [r["step"] for r in evals] == [5, 10, 15, 20]
    best = min(evals, key=lambda r: r["eval/reverse_kl"])
    state = ckpt.load_checkpoint(tmp_path / "r" / "checkpoints" / "best.pt")
    assert state["trainer"]["step"] == best["step"]
    assert state["trainer"]["best"] == best["eval/reverse_kl"]


def test_best_with_an_unknown_metric_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RunError, match=r"log.best names metric 'fid', but the evaluation gives \['hq_percent'"):
        Run(tiny_config("log.eval_every=5", "log.best=min:fid"), tmp_path / "r").train()
    from ganforge.options import ConfigError

    with pytest.raises(ConfigError, match=r"log\.best must look like"):
        tiny_config("log.best=fid")


def test_checkpoint_from_another_format_is_refused(tmp_path: Path) -> None:
    Run(tiny_config(), tmp_path / "r").train()
    latest = tmp_path / "r" / "checkpoints" / "latest.pt"
    state = ckpt.load_checkpoint(latest)
    state["format"] = 1
    torch.save(state, latest)
    with pytest.raises(RunError, match="checkpoint format 1 was written by another ganforge version"):
        Run(tiny_config(), tmp_path / "r", resume="latest")


def test_a_run_saved_with_the_old_eval_digits_key_still_resumes_and_loads(tmp_path: Path) -> None:
    """``log.eval_digits`` became ``log.eval_samples``: a config the user writes with the old key is refused
    (tests/test_config.py), but an older run's checkpoint holds it and must still resume and load."""
    Run(tiny_config("train.steps=10"), tmp_path / "r").train()
    latest = tmp_path / "r" / "checkpoints" / "latest.pt"
    state = ckpt.load_checkpoint(latest)
    state["config"]["log"]["eval_digits"] = state["config"]["log"].pop("eval_samples")  # as an older run saved it
    torch.save(state, latest)
    assert ckpt.Checkpoint.load(latest).config["log"]["eval_samples"] == 10_000
    assert load_run(tmp_path / "r")[0].log.eval_samples == 10_000  # sample / eval load it
    resumed = Run(tiny_config(), tmp_path / "r", resume="latest")
    assert resumed.trainer.step == 10
    resumed.train()
    assert ckpt.Checkpoint.load(latest).state["config"]["log"]["eval_samples"] == 10_000  # saved with the new key
