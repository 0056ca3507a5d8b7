"""The console-script entry point: imports the CLI lazily so a Ctrl-C during the ~2 s of torch imports is one line.

``ganforge.cli`` pulls in torch, numpy and matplotlib; a SIGINT while they load would otherwise print a long
traceback from deep inside an import. This module imports nothing heavy itself.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == ["--version"]:  # answered without importing torch (the CLI's import takes seconds)
        from ganforge import __version__

        print(f"ganforge {__version__}")
        return 0
    try:
        from ganforge.cli import main as cli_main
    except KeyboardInterrupt:
        print("ganforge: interrupted while starting; nothing was run", file=sys.stderr)
        return 130
    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
