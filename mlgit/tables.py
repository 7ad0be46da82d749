"""Rich tables for `mlgit compare` and `mlgit diff` in the terminal (rich imported lazily).

Outside `mlgit.cli` on purpose: `mlgit.quick` renders with these without importing Typer.
The plain-text views (Markdown, CSV, Mermaid) are in `mlgit.views`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from mlgit.compare import CompareResult
    from mlgit.diffing import DiffResult

STATUS_STYLE = {"better": "green", "worse": "red", "error": "bold red", "added": "cyan",
                "removed": "magenta", "changed": "yellow", "same": "dim"}


def print_warnings(console: Console, messages: Iterable[str]) -> None:
    from rich.markup import escape

    for message in messages:
        console.print(f"[yellow]warning:[/yellow] {escape(message)}", soft_wrap=True)


def print_compare_table(console: Console, result: CompareResult, precision: int, *,
                        chart: bool = False) -> None:
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
    console.print(_wide_table(title, headers, table_rows))
    if chart:
        _print_chart(console, result, precision)


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


def _print_chart(console: Console, result: CompareResult, precision: int) -> None:
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
    console.print(f"[bold]{escape(result.metric)}[/bold]")
    for ref, value, best in points:
        bar = "█" * max(1, round((value - start) / span * 40))
        colour = "yellow" if best else "blue"
        console.print(f"{escape(ref.ljust(width))} [{colour}]{bar}[/{colour}] "
                    f"{fmt_value(value, precision)}", highlight=False)


def print_diff_tables(console: Console, result: DiffResult, precision: int,
                      show_all: bool = False) -> None:
    """Metrics (change coloured by direction), changed params, and what dvc.lock says changed."""
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
    console.print(rich_table(f"Metrics: {a} → {b}", ["metric", a, b, "change", ""], rows,
                           justify=["left", "right", "right", "right", "left"]))
    params = result.params if show_all else result.changed_params
    if params:
        console.print(rich_table("Params", ["param", a, b, ""],
                               [[Text(p.name), Text(fmt_value(p.old, precision)),
                                 Text(fmt_value(p.new, precision)),
                                 Text(p.status, style=STATUS_STYLE.get(p.status, ""))]
                                for p in params]))
    else:
        console.print("No params changed.")
    console.print(f"Data changed: [bold]{yes_no(result.data_changed)}[/bold] · "
                f"Model changed: [bold]{yes_no(result.model_changed)}[/bold] · "
                f"Code changed: [bold]{yes_no(result.code_changed)}[/bold]")
    files = result.files if show_all else result.changed_files
    if files:
        console.print(rich_table("dvc.lock", ["path", "role", "stage", a, b],
                               [[Text(f.path), f.role, Text(f.stage), short_hash(f.old),
                                 short_hash(f.new)]
                                for f in files]))
