"""`mlgit doctor`: what will not work here, and how to fix it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from mlgit.cli._common import JsonOpt, out, print_json

if TYPE_CHECKING:
    from mlgit.doctor import DoctorReport

_STYLE = {"ok": "[green]ok[/green]", "warn": "[yellow]warn[/yellow]",
          "error": "[bold red]error[/bold red]"}


def register(app: typer.Typer) -> None:
    app.command("doctor", help=doctor_cmd.__doc__)(doctor_cmd)


def doctor_cmd(json_out: JsonOpt = False) -> None:
    """Check git, DVC, the repository, remotes, unpushed experiments, tags and models.

    Each finding: a status (ok, warn, error), one line, the fix. Exits 1 on any error.
    """
    from mlgit.doctor import run_checks

    report = run_checks(Path.cwd())
    if json_out:
        print_json("doctor", {"errors": report.errors, "warnings": report.warnings,
                              "findings": report.findings})
    else:
        render_report(report)
    if report.errors:
        raise typer.Exit(1)


def render_report(report: DoctorReport) -> None:
    """The findings as a table, then a one-line summary."""
    from rich.text import Text

    from mlgit.render import rich_table

    rows = [(Text.from_markup(_STYLE[f.status]), f.check, f.message, f.fix or "")
            for f in report.findings]
    out().print(rich_table(None, ["status", "check", "finding", "fix"], rows))
    summary = (f"{report.errors} error{'s' * (report.errors != 1)}, "
               f"{report.warnings} warning{'s' * (report.warnings != 1)}")
    out().print(f"[bold red]{summary}[/bold red]" if report.errors else
                f"[green]{summary}[/green]" if not report.warnings else summary)
