"""`packstation` / `python -m edge`: the command line of the pack station."""

from __future__ import annotations

import sys

from edge.cli import run


def main() -> None:
    """Console-script entry point."""
    sys.exit(run(sys.argv[1:]))


if __name__ == "__main__":
    main()
