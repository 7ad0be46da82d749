"""Console-script entry: answers `--version` before importing the CLI framework.

`mlgit --version` is what scripts and health checks call most; it costs a Python start and
nothing more. Everything else goes to the Typer app in `mlgit.cli`.
"""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:] in (["--version"], ["-V"]):
        from mlgit import __version__

        sys.stdout.write(f"mlgit {__version__}\n")
        return
    # compare/diff have a Typer-free front door (mlgit.quick), which hands anything it does not
    # recognise to the full CLI
    from mlgit.quick import main as quick_main

    quick_main()
