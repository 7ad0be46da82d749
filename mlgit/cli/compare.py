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
    from mlgit.cli.demo import DemoContext
    from mlgit.compare import CompareResult
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
    app.command("compare", help=compare_cmd.__doc__)(compare_cmd)
    app.command("diff", help=diff_cmd.__doc__)(diff_cmd)


def _warn(messages: Any) -> None:
    from rich.markup import escape

    for message in messages:
        err().print(f"[yellow]warning:[/yellow] {escape(message)}", soft_wrap=True)


# --- compare ------------------------------------------------------------------------------------


def compare_cmd(
    refs: Annotated[list[str] | None, typer.Argument(
        help="Revisions or glob patterns ('exp/*'). Default: the base branch, the current "
        "branch and every experiment branch.", show_default=False)] = None,
    all_branches: Annotated[bool, typer.Option(
        "--all-branches", "-a", help="Every local branch.")] = False,
    tags: Annotated[bool, typer.Option("--tags", "-T", help="Every tag too.")] = False,
    sort: Annotated[str | None, typer.Option(
        "--sort", "-s", help="Sort by this metric or param (default: the primary metric).",
        show_default=False)] = None,
    ascending: Annotated[bool | None, typer.Option(
        "--asc/--desc", help="Sort order (default: best first).", show_default=False)] = None,
    only_changed: Annotated[bool, typer.Option(
        "--only-changed", help="Only metrics and params whose values differ between refs.")
    ] = False,
    columns: Annotated[list[str] | None, typer.Option(
        "--columns", "-c", help="Only these metrics/params (comma-separated names or globs; "
        "repeatable).", show_default=False)] = None,
    all_params: Annotated[bool, typer.Option(
        "--all-params", help="All params, not only those that differ.")] = False,
    fmt: FormatOpt = Format.table,
    json_out: JsonOpt = False,
    precision: PrecisionOpt = 4,
    chart: Annotated[bool, typer.Option(
        "--chart", help="Add a bar chart of the primary metric (Mermaid with --format md).")
    ] = False,
) -> None:
    """Metrics and params of many branches side by side, best first, from Git objects alone.

    Example: mlgit compare 'exp/*' --sort loss --format md --chart
    """
    from mlgit.compare import compare_revisions

    wanted = [c.strip() for item in columns or [] for c in item.split(",") if c.strip()]
    result = compare_revisions(
        repo_root(), refs or [], all_branches=all_branches, tags=tags, sort=sort,
        descending=None if ascending is None else not ascending, only_changed=only_changed,
        columns=wanted, all_params=all_params)
    fmt = Format.json if json_out else fmt
    if fmt is Format.json:
        print_json("compare", result)
        return
    _warn(result.warnings)
    if fmt is Format.md:
        from mlgit.views import render_compare_markdown

        print_text(render_compare_markdown(result, precision, chart=chart))
    elif fmt is Format.csv:
        from mlgit.views import render_compare_csv

        print_text(render_compare_csv(result))
    else:
        print_compare_table(result, precision, chart=chart)


def print_compare_table(result: CompareResult, precision: int, *, chart: bool = False) -> None:
    """A rich table: best row marked ★, metrics coloured better/worse than the base branch."""
    from rich.markup import escape
    from rich.text import Text

    from mlgit.views import BEST_MARK, cell_state, compare_columns, compare_rows

    base = next((r for r in result.rows if r.ref == result.base), None)
    table_rows = []
    for cells, row in zip(compare_rows(result, precision), result.rows, strict=True):
        ref = Text(f"{BEST_MARK} " if row.best else "  ", style="bold yellow")
        ref.append(cells[0], style="bold" if row.best else "")
        line: list[Any] = [ref]
        line += [Text(c, style="dim") for c in cells[1:3]]
        cols = (*result.metric_columns, *result.param_columns)
        for col, text in zip(cols, cells[3:], strict=True):
            state = cell_state(result, row, col)
            style = {"error": "bold red", "missing": "dim"}.get(state, "")
            if state == "value" and col in result.metric_columns and base is not None \
                    and row is not base:
                style = _versus(row.metrics.get(col), base.metrics.get(col),
                                result.directions.get(col, "max"))
            line.append(Text(text, style=style))
        table_rows.append(line)
    headers = [escape(c) for c in compare_columns(result)]
    n_params = len(result.param_columns)
    for i in range(len(headers) - n_params, len(headers)):
        headers[i] = f"[cyan]{headers[i]}[/cyan]"  # params, told apart from metrics
    order = "desc" if result.descending else "asc"
    title = f"{len(result.rows)} refs" + (
        f" · sorted by {escape(result.sort_by)} ({order})" if result.sort_by else "") + (
        f" · {BEST_MARK} best {escape(result.metric)}" if result.metric else "") + (
        " · [cyan]params[/cyan]" if n_params else "")
    out().print(_wide_table(title, headers, table_rows))
    if chart:
        _print_chart(result, precision)


def _wide_table(title: str, headers: list[str], rows: list[list[Any]]) -> Any:
    """Values never wrap or shrink (a number split over two lines misleads); long ref names
    and headers are shortened with an ellipsis when the terminal is too narrow."""
    from rich.table import Table

    table = Table(title=title, title_justify="left", header_style="bold")
    for i, header in enumerate(headers):
        widest = max((len(str(r[i])) for r in rows), default=1)
        table.add_column(header, justify="left" if i < 3 else "right", no_wrap=True,
                         min_width=widest if i else min(widest, 14),
                         overflow="ellipsis")
    for row in rows:
        table.add_row(*row)
    return table


def _versus(value: Any, base: Any, direction: str) -> str:
    from mlgit.diffing import compare_values

    status = compare_values(base, value, direction)[2] if base is not None else "same"
    return {"better": "green", "worse": "red"}.get(status, "")


def _print_chart(result: CompareResult, precision: int) -> None:
    from rich.markup import escape

    from mlgit.render import fmt_value
    from mlgit.views import chart_points

    points = chart_points(result)
    if not points or result.metric is None:
        return
    low, high = min(v for _, v, _ in points), max(v for _, v, _ in points)
    start = 0.0 if low >= 0 else low
    span = (high - start) or 1.0
    width = max(len(ref) for ref, _, _ in points)
    out().print(f"[bold]{escape(result.metric)}[/bold]")
    for ref, value, best in points:
        bar = "█" * max(1, round((value - start) / span * 40))
        colour = "yellow" if best else "blue"
        out().print(f"{escape(ref.ljust(width))} [{colour}]{bar}[/{colour}] "
                    f"{fmt_value(value, precision)}", highlight=False)


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


# --- demo ---------------------------------------------------------------------------------------


def demo_step(ctx: DemoContext) -> None:
    """Narrate compare and diff on the demo project, after the experiments step made `exp/*`."""
    from mlgit.cli.demo import _say
    from mlgit.compare import compare_revisions
    from mlgit.diffing import diff_revisions

    _say("Which experiment is best? Every branch, read straight from Git objects",
         "mlgit compare --chart")
    result = compare_revisions(ctx.project)
    print_compare_table(result, 4, chart=True)
    best = _best_experiment(result)
    if best is None or result.base is None:
        out().print("No experiment branches to compare yet.")
        return
    ctx.notes["best_experiment"] = best
    _say(f"What did {best} change? Metrics, params, and whether data or model changed",
         f"mlgit diff {result.base} {best}")
    _print_diff_tables(diff_revisions(ctx.project, result.base, best), 4, False)


def _best_experiment(result: CompareResult) -> str | None:
    """The experiment row with the best primary metric (the first experiment if none has it)."""
    exps = [r for r in result.rows if r.kind == "experiment"]
    metric = result.metric
    scored = [r for r in exps if metric and isinstance(r.metrics.get(metric), int | float)]
    if scored and metric:
        pick = max if result.direction != "min" else min
        return pick(scored, key=lambda r: r.metrics[metric]).ref
    return exps[0].ref if exps else None
