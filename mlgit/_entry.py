"""Console-script entry: answers `--version` before importing the CLI framework.

`mlgit --version` is what scripts and health checks call most; it costs a Python start and
nothing more. Plain `compare` / `diff` command lines run without Typer (`mlgit.quick`).
Everything else goes to the Typer app in `mlgit.cli`.
"""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:] in (["--version"], ["-V"]):
        from mlgit import __version__

        sys.stdout.write(f"mlgit {__version__}\n")
        return
    from mlgit.quick import run_quick  # compare/diff without Typer when the line is plain

    run_quick(sys.argv[1:])
    from mlgit.cli import main as cli_main

    cli_main()
