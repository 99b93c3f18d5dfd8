"""``python -m ecgpilot ...``: the same command line as ``ecgpilot ...``."""

from __future__ import annotations

import sys

from ecgpilot.cli import main

if __name__ == "__main__":
    sys.exit(main())
