"""The `pybuild` console script: a cached build is answered before the CLI is imported.

`builder.cli.fastpath` decides with the standard library alone whether the
build asked for is already in the store; only when it is not (or for any
other command) are typer and the commands loaded (`builder.cli.main`).
"""

from __future__ import annotations

import sys


def main() -> None:
    """Console-script entry point."""
    from builder.cli.fastpath import try_cached

    argv = sys.argv[1:]
    served, pending = try_cached(argv)
    if served:
        sys.exit(0)
    from builder.cli.main import run

    run(argv, pending)


if __name__ == "__main__":
    main()
