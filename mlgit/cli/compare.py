"""`mlgit compare` and `mlgit diff`: which branch is best, and what changed.

Thin: parse, call `compare_revisions` / `diff_revisions`, render. Core modules and rich are
imported inside the commands so `mlgit --version` stays light.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mlgit.cli._common import JsonOpt, err, out, print_json, print_text, repo_root

if TYPE_CHECKING:
    from mlgit.diffing import DiffResult


class Format(StrEnum):
    table = "table"
    md = "md"
    json = "json"
    csv = "csv"


FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]
PrecisionOpt = Annotated[int, typer.Option(
    "--precision", "-p", min=0, max=17,
    help="Significant digits after the point in table and md output (json/csv keep full "
    "precision).")]

STATUS_STYLE = {"better": "green", "worse": "red", "error": "bold red", "added": "cyan",
                "removed": "magenta", "changed": "yellow", "same": "dim"}


def register(app: typer.Typer) -> None:
    # compare_cmd: registered once compare.py lands
    app.command("diff", help=diff_cmd.__doc__)(diff_cmd)


def _warn(messages: Any) -> None:
    from rich.markup import escape

    for message in messages:
        err().print(f"[yellow]warning:[/yellow] {escape(message)}", soft_wrap=True)


# --- diff ---------------------------------------------------------------------------------------


def diff_cmd(
    a: Annotated[str | None, typer.Argument(
        help="Old revision (default: the base branch).", show_default=False)] = None,
    b: Annotated[str | None, typer.Argument(
        help="New revision (default: the work tree, uncommitted changes included).",
        show_default=False)] = None,
    fmt: FormatOpt = Format.table,
    json_out: JsonOpt = False,
    show_all: Annotated[bool, typer.Option(
        "--all", "-a", help="Also list unchanged params and dvc.lock entries.")] = False,
    precision: PrecisionOpt = 4,
) -> None:
    """Metrics, params and data/model hashes that changed between two revisions.

    Example: mlgit diff main exp/fast
    """
    from mlgit.diffing import diff_revisions

    result = diff_revisions(repo_root(), a, b)
    fmt = Format.json if json_out else fmt
    if fmt is Format.json:
        print_json("diff", result)
        return
    _warn(result.warnings)
    if fmt is Format.md:
        from mlgit.views import render_diff_markdown

        print_text(render_diff_markdown(result, precision, show_all=show_all))
    elif fmt is Format.csv:
        print_text(_diff_csv(result, show_all))
    else:
        _print_diff_tables(result, precision, show_all)


def _diff_csv(result: DiffResult, show_all: bool) -> str:
    from mlgit.render import csv_text

    rows: list[list[Any]] = []
    for m in result.metrics:
        rows.append(["metric", m.name, m.file, m.old, m.new, m.change, m.rel_change, m.status])
    for p in result.params if show_all else result.changed_params:
        rows.append(["param", p.name, p.file, p.old, p.new, None, None, p.status])
    for f in result.files if show_all else result.changed_files:
        rows.append([f.role, f.path, "dvc.lock", f.old, f.new, None, None, f.status])
    return csv_text(["kind", "name", "file", "old", "new", "change", "rel_change", "status"],
                    rows)


def _print_diff_tables(result: DiffResult, precision: int, show_all: bool) -> None:
    from rich.markup import escape
    from rich.text import Text

    from mlgit.render import fmt_value, rich_table
    from mlgit.views import fmt_change, short_hash, yes_no

    # ref names are user text: escape them wherever rich reads markup (titles, headers)
    a, b = escape(result.a.heading), escape(result.b.heading)
    rows = []
    for m in result.metrics:
        style = STATUS_STYLE.get(m.status, "")
        rows.append([Text(m.name, style="bold" if m.primary else ""),
                     Text(fmt_value(m.old, precision)), Text(fmt_value(m.new, precision)),
                     Text(fmt_change(m.change, m.rel_change, precision), style=style),
                     Text(m.status, style=style)])
    out().print(rich_table(f"Metrics: {a} → {b}", ["metric", a, b, "change", ""], rows,
                           justify=["left", "right", "right", "right", "left"]))
    params = result.params if show_all else result.changed_params
    if params:
        out().print(rich_table("Params", ["param", a, b, ""],
                               [[Text(p.name), Text(fmt_value(p.old, precision)),
                                 Text(fmt_value(p.new, precision)),
                                 Text(p.status, style=STATUS_STYLE.get(p.status, ""))]
                                for p in params]))
    else:
        out().print("No params changed.")
    out().print(f"Data changed: [bold]{yes_no(result.data_changed)}[/bold] · "
                f"Model changed: [bold]{yes_no(result.model_changed)}[/bold] · "
                f"Code changed: [bold]{yes_no(result.code_changed)}[/bold]")
    files = result.files if show_all else result.changed_files
    if files:
        out().print(rich_table("dvc.lock", ["path", "role", "stage", a, b],
                               [[Text(f.path), f.role, Text(f.stage), short_hash(f.old),
                                 short_hash(f.new)]
                                for f in files]))
