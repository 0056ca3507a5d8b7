"""The one command-line entry point: ``ganforge train|sample|eval|interpolate|translate|...|list|config``.

Each command parses arguments, builds objects and calls library functions; ``main(argv)`` returns an exit code so
tests call it directly. Every expected failure, bad command-line arguments included, prints one line
``ganforge: error: ...`` and exits with code 2. ``sample``, ``eval``, ``interpolate``, ``translate`` and the other
commands live in ``ganforge.commands`` (one module each, discovered: a new command is one new file).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

from ganforge import __version__, commands
from ganforge.builder import build_components, check_options, resolve_device
from ganforge.checkpoint import CheckpointError
from ganforge.config import dump_yaml, preset_header, preset_names, resolve_config, resolve_epochs
from ganforge.lazy import missing_extra
from ganforge.models.base import count_parameters
from ganforge.options import ConfigError, options_dict
from ganforge.outputs import OutputError
from ganforge.registry import DATASETS, FEATURES, METRICS, MODELS, OBJECTIVES
from ganforge.training import distributed
from ganforge.training.resume import hint_preset, resume_config
from ganforge.training.run import Run, RunError
from ganforge.training.threads import choose_threads
from ganforge.training.trainer import NonFiniteLossError

EXPECTED_ERRORS = (ConfigError, CheckpointError, RunError, OutputError, NonFiniteLossError, FileNotFoundError,
                   ValueError)


class DefaultsHelpFormatter(argparse.HelpFormatter):
    """``--help`` shows each option's default, unless the help text already says it or there is none to show."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if ("default" in text or default is None or default is False or default == argparse.SUPPRESS
                or not action.option_strings or (isinstance(default, list) and not default)):
            return text
        return text + " (default: %(default)s)"


class ArgumentParser(argparse.ArgumentParser):
    """argparse with the CLI's one-line error format (no usage block): ``ganforge: error: ...``, exit code 2."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", DefaultsHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        print(f"ganforge: error: {self.prog}: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)


def _add_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("preset", help="preset name (see `ganforge list presets`) or a YAML file")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set optim.d.lr=1e-4 (repeatable)")
    p.add_argument("--seed", type=int, default=None, help="shorthand for --set train.seed=N")


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="ganforge", description="Train, evaluate and use GANs.")
    parser.add_argument("--version", action="version", version=f"ganforge {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=ArgumentParser)

    p = sub.add_parser("train", help="train a preset or a YAML config")
    _add_config_args(p)
    p.add_argument("--run-dir", type=Path, default=None, help="run directory (default: runs/<preset name>)")
    p.add_argument("--resume", default=None, metavar="latest|PATH", help="continue from a checkpoint")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run in --run-dir")
    p.add_argument("--dry-run", action="store_true",
                   help="print the resolved config and parameter counts; train nothing")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")

    for name, module in commands.command_modules().items():  # sample, eval, interpolate, translate, ...
        module.add_parser(sub)
        COMMANDS[name] = module.run

    p = sub.add_parser("list", help="list presets, models, objectives, datasets, metrics")
    p.add_argument("what", nargs="?", default="all",
                   choices=["all", "presets", "models", "objectives", "datasets", "metrics", "features"])

    p = sub.add_parser("config", help="print the resolved config of a preset")
    _add_config_args(p)

    p = sub.add_parser("bench", help="benchmark suites: `ganforge bench modes --help` (mode collapse, PacGAN protocol)")
    p.add_argument("suite", choices=["modes"])
    p.add_argument("args", nargs=argparse.REMAINDER, help="the suite's own arguments")
    return parser


def cmd_train(args: argparse.Namespace) -> int:
    cfg = resolve_config(args.preset, args.overrides, args.seed)
    run_dir = args.run_dir or Path("runs") / cfg.name
    if args.resume and not args.overwrite:  # the run's own config (from its checkpoint) + this command's --set/--seed
        cfg = resume_config(args.preset, run_dir, args.resume, args.overrides, args.seed)
    check_options(cfg)  # the checks `ganforge config` applies, before any data is loaded (dry run included)
    if args.dry_run:
        c = build_components(cfg, "cpu")
        epochs = cfg.train.epochs
        resolve_epochs(cfg, c.data)  # train.epochs -> train.steps (what config.yaml records)
        print(dump_yaml(cfg.to_dict()), end="")
        print(f"# data: {cfg.data.name} shape {list(c.spec.shape)} classes {c.spec.num_classes}")
        if epochs is not None:
            print(f"# steps: {cfg.train.steps} = train.epochs={epochs} over {len(c.data)} training items at "
                  f"batch {cfg.train.batch_size}")
        for name, net in c.nets.items():
            print(f"# network {name}: {type(net).__name__} {count_parameters(net):,} parameters")
        threads, why = choose_threads(cfg.train.threads, sum(count_parameters(n) for n in c.nets.values()),
                                      resolve_device(cfg.train.device))
        print(f"# threads: {threads} ({why})")
        for group, names in c.objective.groups().items():
            o = cfg.optim[group]
            print(f"# optimiser group {group} ({', '.join(names)}): {o.name} lr {o.lr:g}")
        phases = c.objective.phases(c.nets, cfg.train.d_steps)
        print("# phases per step: " + ", ".join(
            f"{p.name}" + (f"×{p.repeats}" if p.repeats > 1 else "") + (f" every {p.every}" if p.every > 1 else "")
            + (f" [{'+'.join(p.groups)}]" if len(p.groups) > 1 else "") for p in phases))
        print("# dry run: nothing trained")
        return 0
    from ganforge.report import write_run_report  # local: the report's imports are needed only at the end

    finished = False
    try:
        run = Run(cfg, run_dir, resume=args.resume, overwrite=args.overwrite,
                  progress=False if args.no_progress else None, report=write_run_report)
        summary = run.train()
        finished = True
    finally:
        # under torchrun: leave the process group cleanly, after every rank is done when the run succeeded
        distributed.destroy(synchronize=finished)  # no-op in a single process
    if not run.dist.is_main:
        return 130 if summary["status"] == "interrupted" else 0  # rank 0 reports
    print(json.dumps(summary, indent=2))
    for note in run.notes:  # after the run, so that a failed one still prints its single error line
        print(f"ganforge: {note}", file=sys.stderr)
    if summary["status"] == "interrupted":
        print(f"interrupted at step {summary['step']}; checkpoint saved. Continue with: "
              f"ganforge train {hint_preset(args.preset, cfg, run_dir)} --run-dir {run_dir} --resume latest",
              file=sys.stderr)
        return 128 + int(run.stop_signal or 2)
    print(finish_line(run_dir, run.components.data.kind))
    return 0


# the commands worth trying next on a finished run, by data kind (after `sample` / `eval`, which every kind has)
NEXT_BY_KIND = {"paired": "translate {run} --input IMAGES --out OUT", "unpaired": "translate {run} --input IMAGES "
                "--out OUT", "domains": "translate {run} --input IMAGES --domain K --out OUT",
                "series": "detect {run} --input SERIES.csv", "image": "interpolate {run} --steps 10"}


def finish_line(run_dir: Path, kind: str) -> str:
    """What the run directory holds now (only what exists) and the commands to try next."""
    files = [n for n in ("report.html", "config.yaml", "metrics.jsonl") if (run_dir / n).is_file()]
    folders = [f"{d}/" for d in ("checkpoints", "plots", "samples", "eval", "tb")
               if (run_dir / d).is_dir() and any((run_dir / d).iterdir())]
    nxt = [f"ganforge sample {run_dir}", f"ganforge eval {run_dir}"]
    if kind in NEXT_BY_KIND:
        nxt.append("ganforge " + NEXT_BY_KIND[kind].format(run=run_dir))
    opened = f"; open {run_dir / 'report.html'} in a browser" if "report.html" in files else ""
    return (f"run directory: {run_dir}  ({', '.join(files + folders)})\nnext: " + "  |  ".join(nxt) + opened)


def cmd_list(args: argparse.Namespace) -> int:
    import ganforge.builder  # noqa: F401  (registers everything)

    models = [f"{m} ({', '.join(MODELS.get(m).networks)})" for m in MODELS.names()]
    groups = {"presets": preset_names(), "models": models, "objectives": OBJECTIVES.names(),
              "datasets": DATASETS.names(), "metrics": METRICS.names(),
              "features": FEATURES.names()}
    for name, items in groups.items():
        if name == "presets" and args.what in ("all", "presets"):
            print("presets:")  # one per line with the first line of its header (`ganforge config NAME`: all of it)
            width = max(map(len, items), default=0)
            for preset in items:
                print(f"  {preset:<{width}}  {preset_summary(preset)}".rstrip())
        elif args.what in ("all", name):
            print(f"{name}: {', '.join(items) if items else '(none)'}")
    return 0


def preset_summary(name: str, width: int = 90) -> str:
    """The first line of a preset's header comment, shortened to ``width`` characters."""
    header = preset_header(name).splitlines()
    line = header[0].lstrip("#").strip() if header else ""
    return line if len(line) <= width else line[: width - 1].rstrip() + "…"


def cmd_config(args: argparse.Namespace) -> int:
    cfg = resolve_config(args.preset, args.overrides, args.seed)
    check_options(cfg)  # model / objective / data options: unknown keys and bad values fail here, as in train
    header = preset_header(args.preset)  # what it trains, the paper, budget, measured figures (YAML comments)
    if header:
        print(header)
    print(dump_yaml(options_dict(cfg)), end="")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from ganforge.bench import modes

    return modes.main(args.args)


COMMANDS: dict[str, Any] = {"train": cmd_train, "bench": cmd_bench, "list": cmd_list, "config": cmd_config}
# + one entry per module of ganforge.commands, added by build_parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help / --version (0) or a bad argument (2, already reported on one line)
        return exc.code if isinstance(exc.code, int) else 2
    try:
        return COMMANDS[args.command](args)
    except EXPECTED_ERRORS as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"ganforge: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ganforge: interrupted", file=sys.stderr)
        return 130
    except ImportError as exc:  # an optional package of an extra ([tabular], [fields]) in a core install
        message = missing_extra(exc)
        if message is None:
            raise
        print(f"ganforge: error: {message}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `ganforge list | head`: the reader left early; not an error, and no traceback at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
