"""``python -m bayeskit`` runs the command line."""

import sys

from bayeskit.cli import main

sys.exit(main())
