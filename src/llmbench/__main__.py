"""``python -m llmbench``: the same as the ``llmbench`` command."""

import sys

from llmbench.cli import main

sys.exit(main())
