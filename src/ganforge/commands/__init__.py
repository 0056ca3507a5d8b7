"""The CLI commands that do more than a few lines: ``sample``, ``eval``, ``interpolate``, ``train-classifier``.

Each module has ``add_parser(subparsers)`` and ``run(args) -> int``; ``ganforge.cli`` wires them up and turns the
expected errors into one-line messages.
"""
