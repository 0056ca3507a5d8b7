"""``bench/image_quality.py`` for one preset, unchanged in what it measures, plus two things a long run needs on a
shared machine: the results JSON is rewritten after every judged row (an interrupted run keeps its marks) and the
training run is checkpointed after each mark, outside the timed CPU budget (``ganforge sample RUN`` then draws the
grid of exactly the generator that was judged).

    OMP_NUM_THREADS=1 python bench/image_quality_saved.py /work/main/bench/image_quality.py dcgan-code-mnist \\
        --minutes 5 10 20 30 --raw --run-root R --out bench/results/image_quality/dcgan-code-mnist.json

The first argument is the path of the image_quality.py to use; the rest are its own arguments (one preset, --out).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any


def main(argv: list[str]) -> None:
    if len(argv) < 2 or "--out" not in argv:
        raise SystemExit("usage: python bench/image_quality_saved.py PATH/image_quality.py PRESET ... --out FILE")
    spec = importlib.util.spec_from_file_location("image_quality", argv[0])
    iq = importlib.util.module_from_spec(spec)
    sys.modules["image_quality"] = iq
    spec.loader.exec_module(iq)
    args = argv[1:]
    out = Path(args[args.index("--out") + 1])
    runs: list[Any] = []
    rows: list[dict[str, Any]] = []
    base_run, base_format = iq.Run, iq.format_row
    header = {"preset": args[0], "command": f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '(unset)')} "
              + shlex.join(["python", "bench/image_quality_saved.py", *argv]), "commit": iq.source_commit(),
              "hardware": iq.hardware(), "partial": True}

    class SavedRun(base_run):  # type: ignore[misc, valid-type]
        def __init__(self, *a: Any, **k: Any) -> None:
            super().__init__(*a, **k)
            runs.append(self)

    def format_row(row: dict[str, Any]) -> str:
        if row.get("preset") == args[0]:  # a judged generator row (not the real test digits' row)
            if not rows or rows[-1]["steps"] != row["steps"]:
                runs[-1].save_checkpoint()  # after the mark's CPU time was counted
            rows.append(row)
            out.write_text(json.dumps({**header, "rows": rows}, indent=2) + "\n")
        return base_format(row)

    iq.Run, iq.format_row = SavedRun, format_row
    iq.main(args)


if __name__ == "__main__":
    main(sys.argv[1:])
