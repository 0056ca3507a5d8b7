"""``python -m ganforge`` (also what ``torchrun -m ganforge`` runs)."""

import sys

from ganforge.entry import main

sys.exit(main())
