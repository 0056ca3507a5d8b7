"""Mode-collapse suite (PacGAN protocol): ``python bench/modes.py --presets ring8 gmmn-ring8 --seeds 0 1 2 3 4``.

Thin wrapper around ``ganforge.bench.modes.main`` (also ``ganforge bench modes``); see that module for the protocol
and the method syntax. Writes modes.md / modes.csv / modes.png / results.json under ``--out-dir``.
"""

from __future__ import annotations

import sys

from ganforge.bench.modes import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
