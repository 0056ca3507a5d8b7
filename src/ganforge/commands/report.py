"""``ganforge report RUN [RUN ...] [--out FILE]``: the self-contained HTML page of one run, or several side by side
(``ganforge.report``: final metrics with their protocol, logged scalars, sample grids over time, the data kind's
pictures, config). Training writes ``RUN/report.html`` itself; this command rewrites it (or compares runs)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ganforge.options import ConfigError

NAME = "report"


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(NAME, help="write report.html for one run, or several runs side by side",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("runs", type=Path, nargs="+", metavar="RUN", help="run directories")
    p.add_argument("--out", type=Path, default=None,
                   help="output .html (default: RUN/report.html for one run, ./report.html for several)")
    return p


def run(args: argparse.Namespace) -> int:
    from ganforge.report import write_report

    for r in args.runs:
        if not r.is_dir():
            raise ConfigError(f"run {str(r)!r} is not a directory; pass run directories (runs/NAME)")
        if not (r / "metrics.jsonl").is_file() and not (r / "config.yaml").is_file():
            raise ConfigError(f"{str(r)!r} holds no run (no config.yaml or metrics.jsonl); pass a run directory")
    if args.out is not None and args.out.suffix.lower() not in (".html", ".htm"):
        raise ConfigError(f"--out {str(args.out)!r}: the report is an .html file; change the suffix")
    out = write_report(args.runs, args.out)
    print(f"wrote {out} ({len(args.runs)} run(s); open it in a browser)")
    return 0
