"""``python -m sfu_trio.loadtest``: run a load test and print its report."""

import sys

from .cli import main

sys.exit(main())
