"""``python -m sfu_trio``: run the server with settings from the environment and flags."""

import sys

from .cli import main

sys.exit(main())
