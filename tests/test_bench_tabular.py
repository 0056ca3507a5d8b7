"""The CTGAN comparison bench (bench/tabular.py): its mean ± std over seeds (ddof 1) and its clocks."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parents[1] / "bench" / "tabular.py"


def load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_tabular", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_summary_is_mean_and_sample_std_per_table_and_model() -> None:
    bench = load_bench()
    rows = [{"table": "t", "epochs": 3, "model": m, "seed": s, "sd_quality": q, "shape/age": q / 2}
            for m, qs in (("a", (0.5, 0.75, 1.0)), ("b", (0.25, 0.25, 0.25))) for s, q in enumerate(qs)]
    a, b = bench.summarise(rows)
    assert (a["model"], a["seeds"], b["model"]) == ("a", [0, 1, 2], "b")
    # mean 0.75, sample std sqrt(((−.25)² + 0 + .25²) / 2) = 0.25: dyadic values, exact in float64 except the sqrt,
    # which is correctly rounded (IEEE 754), so a relative tolerance of a few float64 ulps (1e-15) suffices.
    assert math.isclose(a["sd_quality"]["mean"], 0.75, rel_tol=1e-15)
    assert math.isclose(a["sd_quality"]["std"], 0.25, rel_tol=1e-15)
    assert math.isclose(a["shape/age"]["std"], 0.125, rel_tol=1e-15)
    assert b["sd_quality"]["std"] == 0.0  # three equal values: every deviation is exactly 0
    assert "fit_s" not in a  # metrics a run does not have are left out, not NaN
    table = bench.markdown([a, b])
    assert "| t | 3 | a | 3 | 0.7500 ± 0.2500 |" in table


def test_clock_counts_cpu_seconds_of_the_block() -> None:
    bench = load_bench()
    out: dict[str, float] = {}
    with bench.clock(out):
        sum(i * i for i in range(200_000))  # pure Python work: CPU time > 0
    assert out["cpu_s"] > 0
    assert out["fit_s"] > 0
