"""``StepDraw``: one draw per training step, shared by the step's phases, and never carried into another step."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from ganforge.losses.objectives import LogisticObjective, Phase, StepDraw
from ganforge.losses.translation import Pix2PixObjective
from ganforge.models.base import Generator


def test_get_draws_once_per_step_unless_fresh() -> None:
    made: list[int] = []

    def make() -> int:
        made.append(len(made))
        return made[-1]

    shared: StepDraw[int] = StepDraw()
    assert [shared.get(3, make), shared.get(3, make), shared.get(3, make)] == [0, 0, 0]
    assert shared.get(3, make, fresh=True) == 1  # a phase that starts the step's draw (D's first repeat)
    assert shared.get(4, make) == 2  # the next step draws again
    assert made == [0, 1, 2]


def test_keep_then_take_hands_a_draw_to_a_later_phase_of_the_same_step_only() -> None:
    shared: StepDraw[str] = StepDraw()
    shared.keep(5, "z of D")
    assert shared.take(5) == "z of D"
    assert shared.take(5) is None  # taken once
    shared.keep(5, "z of D")
    assert shared.take(6) is None  # another step: not shared, and forgotten
    assert shared.take(5) is None


@dataclass
class FakeDraws:
    """The parts of ``Draws`` an objective's ``make_batch`` reads, counting the draws."""

    rng: torch.Generator = field(default_factory=lambda: torch.Generator().manual_seed(0))
    rank: int = 0
    world_size: int = 1
    fake_labels: str = "uniform"
    samples: int = 0

    def sample(self) -> dict[str, Tensor]:
        self.samples += 1
        return {"x": torch.randn(2, 1, 4, 4, generator=self.rng), "x_a": torch.randn(2, 1, 4, 4, generator=self.rng)}

    def real(self) -> tuple[Tensor, None]:
        return self.sample()["x"], None

    def latent(self, net: nn.Module) -> Tensor:
        return torch.randn(2, 3, generator=self.rng)


class TinyG(Generator):
    z_dim = 3


def test_pix2pix_phases_of_one_step_share_one_draw() -> None:
    objective, draws = Pix2PixObjective(), FakeDraws()
    d, g = Phase("D", ("d",), lambda b: None), Phase("G", ("g",), lambda b: None)
    b_d, b_g = objective.make_batch(draws, {}, d, 0), objective.make_batch(draws, {}, g, 0)
    assert draws.samples == 1
    assert b_d.real is b_g.real
    assert b_d.extras["x_a"] is b_g.extras["x_a"]
    b_next = objective.make_batch(draws, {}, d, 1)
    assert draws.samples == 2
    assert b_next.real is not b_d.real


def test_shared_z_reuses_the_d_phase_z_in_the_g_phase_of_the_same_step() -> None:
    draws, nets = FakeDraws(), {"G": TinyG()}
    d, g = Phase("D", ("d",), lambda b: None), Phase("G", ("g",), lambda b: None, needs_real=False)
    shared = LogisticObjective(shared_z=True)
    z_d, z_g = shared.make_batch(draws, nets, d, 0).z, shared.make_batch(draws, nets, g, 0).z
    assert z_g is z_d
    plain = LogisticObjective()
    assert plain.make_batch(draws, nets, g, 0).z is not plain.make_batch(draws, nets, g, 0).z
