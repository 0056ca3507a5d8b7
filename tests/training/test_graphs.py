"""CUDA-graph bookkeeping, checked on CPU with an emulated graph; and optimiser state across execution modes.

The emulation runs the update when "captured" (a real capture only records) and skips the first replay to match,
then re-runs the update on the static buffers at every replay and writes the results into the captured output
tensors, as a real replay does. So what is checked is everything around the graph: static buffers refilled from
each new batch, warm-up, which phases are captured, statistics and NaN checks read from the static outputs, and
the fallback. The CUDA graph itself is exercised by ``bench/throughput.py`` on a GPU.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
import torch

from ganforge.training import graphs
from ganforge.training.optim import build_optimizer, load_optimizer_state
from ganforge.training.run import Run
from helpers import tiny_config


class EmulatedGraph:
    def __init__(self, owner: graphs.GraphedPhase) -> None:
        self.owner, self.replays = owner, 0

    def register_generator_state(self, generator: torch.Generator) -> None:
        raise AssertionError("only CUDA generators are registered")

    def replay(self) -> None:
        self.replays += 1
        if self.replays == 1:
            return  # the emulated capture already ran this step's update
        owner = self.owner
        terms = owner.update(owner.static_batch)
        with torch.no_grad():
            owner.terms.total.copy_(terms.total)
            for k, v in terms.logs.items():
                owner.terms.logs[k].copy_(v)


@pytest.fixture
def emulated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(graphs.GraphedPhase, "graph_factory", staticmethod(EmulatedGraph))
    monkeypatch.setattr(graphs.GraphedPhase, "graph_context", staticmethod(lambda g: contextlib.nullcontext()))


def train(tmp: Path, graphed: bool, *overrides: str, steps: int = 12) -> Run:
    run = Run(tiny_config(*overrides, f"train.steps={steps}"), tmp)
    run.trainer.cuda_graph = graphed  # on CPU the trainer never graphs by itself
    logs = []
    while run.trainer.step < steps:
        run.trainer.train_step()
        if run.trainer.step % 4 == 0:
            logs.append(run.trainer.flush_stats())
    run.logs = logs
    return run


def params(run: Run) -> dict[str, torch.Tensor]:
    nets = (("G", run.components.G), ("D", run.components.D))
    return {f"{n}.{k}": v for n, m in nets for k, v in m.state_dict().items()}


@pytest.mark.parametrize("overrides", [(), ("train.d_steps=2", "train.ema=0.9", "objective.options.label_noise=0.05")])
def test_graphed_training_equals_eager(tmp_path: Path, emulated: None, overrides: tuple[str, ...]) -> None:
    eager = train(tmp_path / "eager", False, *overrides)
    graphed = train(tmp_path / "graphed", True, *overrides)
    assert set(graphed.trainer._graphs) == {"D", "G"}
    assert graphed.trainer._graphs["G"].graph.replays == 12 - graphs.WARMUP_STEPS
    for k, v in params(eager).items():
        assert torch.equal(params(graphed)[k], v), k
    assert graphed.logs == eager.logs  # statistics read from the static outputs after each replay


def test_double_backward_phases_stay_eager(tmp_path: Path, emulated: None) -> None:
    run = train(tmp_path / "gp", True, "objective={'name': 'wgan-gp', 'options': {}}", steps=6)
    assert set(run.trainer._graphs) == {"G"}  # the GP critic step is never captured
    eager = train(tmp_path / "gp-eager", False, "objective={'name': 'wgan-gp', 'options': {}}", steps=6)
    for k, v in params(eager).items():
        assert torch.equal(params(run)[k], v), k


def test_capture_failure_falls_back_to_eager_without_losing_a_batch(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(owner: graphs.GraphedPhase) -> None:
        raise RuntimeError("operation not permitted when stream is capturing")

    monkeypatch.setattr(graphs.GraphedPhase, "graph_factory", staticmethod(broken))
    eager = train(tmp_path / "eager", False)
    with pytest.warns(RuntimeWarning, match="CUDA-graph capture of the [DG] phase failed"):
        fallback = train(tmp_path / "fallback", True)
    assert fallback.trainer._eager_only == {"D", "G"}
    for k, v in params(eager).items():
        assert torch.equal(params(fallback)[k], v), k


def test_optimizer_state_keeps_its_own_execution_flags() -> None:
    """A checkpoint from a capturable optimiser (tensor lr, device step) loads into a plain one and back: moments,
    steps and lr values carry over, flags and lr type stay as the receiving optimiser was built."""
    from ganforge.config import OptimizerConfig

    p = torch.nn.Parameter(torch.ones(3))
    capturable = torch.optim.Adam([p], lr=torch.tensor(1e-3), capturable=False)
    p.grad = torch.ones(3)
    capturable.step()
    capturable.param_groups[0]["lr"].fill_(5e-4)
    state = capturable.state_dict()
    plain = build_optimizer([p], OptimizerConfig(name="adam", lr=1e-3), torch.device("cpu"), "optim.g",
                            capturable=True)  # capturable is ignored on CPU
    assert isinstance(plain.param_groups[0]["lr"], float)
    load_optimizer_state(plain, state)
    assert plain.param_groups[0]["lr"] == pytest.approx(5e-4)
    assert isinstance(plain.param_groups[0]["lr"], float)
    assert not plain.param_groups[0]["capturable"]
    assert torch.equal(plain.state[p]["exp_avg"], capturable.state[p]["exp_avg"])
    assert plain.state[p]["step"].device.type == "cpu"
    back = torch.optim.Adam([p], lr=torch.tensor(1e-3))
    load_optimizer_state(back, plain.state_dict())
    assert isinstance(back.param_groups[0]["lr"], torch.Tensor)
    assert float(back.param_groups[0]["lr"]) == pytest.approx(5e-4)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("overrides", [("train.d_steps=2", "optim.g.lr_decay=0.9", "optim.d.lr_decay=0.9"),
                                       ("objective={'name': 'wgan-gp', 'options': {}}",)])
def test_real_cuda_graphs_match_eager(tmp_path: Path, overrides: tuple[str, ...]) -> None:
    """On a GPU (``pytest -m gpu``): captured training follows eager training (float32; LR decay reaches the
    captured optimiser step through its tensor lr).

    What the numerics allow: the graphed run's optimiser is another kernel (capturable Adam: tensor lr, device step
    counter), so each step is the eager update up to float32 rounding. Adam divides by √v: an entry whose gradient is
    ~0 can flip sign and move by ±lr instead of ~0, so after n steps an entry may differ by up to 2·lr·Σ_{t≤n} √t
    (|m̂/√v̂| ≤ √t, see test_precision.py), while the bulk of the entries stays far below lr.
    """
    runs = {}
    for graphed in (False, True):
        cfg = tiny_config(*overrides, "train.steps=10", "train.device=cuda", "train.precision=fp32",
                          f"train.cuda_graph={graphed}")
        run = Run(cfg, tmp_path / str(graphed))
        while run.trainer.step < 10:
            run.trainer.train_step()
        runs[graphed] = run
    assert "G" in runs[True].trainer._graphs
    lrs = [float(runs[g].opt_g.param_groups[0]["lr"]) for g in (True, False)]
    assert lrs[0] == pytest.approx(lrs[1])
    for group, opt in runs[False].optimizers.items():  # every trained tensor is Adam-driven (the MLP has no buffers)
        eager = [p for g in opt.param_groups for p in g["params"]]
        graphed = [p for g in runs[True].optimizers[group].param_groups for p in g["params"]]
        n = max(int(opt.state[p]["step"]) for p in eager if p in opt.state)  # steps of this group (D: d_steps each)
        lr = getattr(runs[False].cfg.optim, group).lr  # the initial lr: the decay only lowers it
        bound = 2 * lr * sum(t**0.5 for t in range(1, n + 1))
        diffs = torch.cat([(a - b).detach().abs().flatten().cpu() for a, b in zip(graphed, eager, strict=True)])
        assert diffs.max().item() <= bound, group
        assert diffs.median().item() < 1e-2 * lr, group
