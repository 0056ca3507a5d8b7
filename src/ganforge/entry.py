"""The console-script entry point: imports the CLI with Ctrl-C deferred, so a Ctrl-C during the ~2 s of torch imports
is one line and never aborts the process.

``ganforge.cli`` pulls in torch, numpy and pandas. A KeyboardInterrupt raised *inside* one of those imports leaves a
half-initialised extension module behind: importing it again (at exit, or from another module) printed numpy's
"cannot load module more than once" traceback, and an exception thrown through pybind11 C++ code ended in
``terminate called after throwing pybind11::error_already_set`` (an abort, core dumped). So while the heavy modules
import, SIGINT only sets a flag (the handler raises nothing, wherever it runs); the import finishes whole, then the
flag is acted on: one line, exit code 130, nothing run. This module imports nothing heavy itself.
"""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any

INTERRUPTED_LINE = "ganforge: interrupted while starting; nothing was run"


class _DeferredInterrupt:
    """SIGINT handler that records the signal instead of raising KeyboardInterrupt (installed while importing)."""

    def __init__(self) -> None:
        self.received = False

    def __call__(self, signum: int, frame: Any) -> None:
        self.received = True


def _import_cli() -> tuple[Any, bool]:
    """``ganforge.cli.main`` imported with SIGINT deferred; returns it and whether a SIGINT arrived meanwhile."""
    if threading.current_thread() is not threading.main_thread():  # signal handlers are main-thread only
        from ganforge.cli import main as cli_main

        return cli_main, False
    deferred = _DeferredInterrupt()
    previous = signal.signal(signal.SIGINT, deferred)
    try:
        from ganforge.cli import main as cli_main
    finally:
        signal.signal(signal.SIGINT, previous)
    return cli_main, deferred.received


def main(argv: list[str] | None = None) -> int:
    try:
        cli_main, interrupted = _import_cli()
    except KeyboardInterrupt:  # another handler was installed by the embedding program and raised: still one line
        interrupted, cli_main = True, None
    if interrupted or cli_main is None:
        print(INTERRUPTED_LINE, file=sys.stderr)
        return 130
    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
