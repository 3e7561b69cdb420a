"""`python -m safellava.reproduce` (what scripts/reproduce.sh runs)."""

import sys

from safellava.reproduce.cli import main

sys.exit(main())
