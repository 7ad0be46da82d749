"""Text views of compare and diff results: cells, GitHub Markdown, CSV, Mermaid charts.

No rich here (the CLI colours these cells for the terminal). Every piece of text that comes
from a repository (ref names, metric and param names, values, paths) goes through
`render.md_escape` in Markdown, so a branch name cannot inject links, HTML or mentions into a
pull-request comment.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mlgit.metrics import DVC_YAML, is_number
from mlgit.render import csv_text, fmt_value, md_escape, md_table

if TYPE_CHECKING:
    from mlgit.compare import CompareResult, CompareRow
    from mlgit.diffing import DiffResult

STATUS_MARK = {"better": "🟢 better", "worse": "🔴 worse", "same": "same", "changed": "changed",
               "added": "added", "removed": "removed", "error": "⚠️ error"}
BEST_MARK = "★"


def fmt_change(change: float | None, rel: float | None, precision: int) -> str:
    """`+0.04 (+4.9%)`; `-` when there is no numeric change."""
    if change is None:
        return "-"
    text = ("+" if change > 0 else "") + fmt_value(change, precision)
    if rel is not None and math.isfinite(rel):
        text += f" ({'+' if rel > 0 else ''}{rel * 100:.{max(1, precision - 2)}f}%)"
    return text


def short_hash(value: str | None) -> str:
    return "-" if not value else value[:8] + (".dir" if value.endswith(".dir") else "")


def yes_no(flag: bool) -> str:
    return "yes" if flag else "no"


# --- diff ---------------------------------------------------------------------------------------


def diff_metric_rows(result: DiffResult, precision: int | None) -> list[list[Any]]:
    """[name, old, new, change, status] per metric; raw values when `precision` is None."""
    rows = []
    for m in result.metrics:
        if precision is None:
            rows.append([m.name, m.old, m.new, m.change, m.status])
        else:
            rows.append([m.name, fmt_value(m.old, precision), fmt_value(m.new, precision),
                         fmt_change(m.change, m.rel_change, precision), m.status])
    return rows


def render_diff_markdown(result: DiffResult, precision: int = 4, *,
                         show_all: bool = False) -> str:
    """The diff as GitHub Markdown (a pull-request comment): metrics with change and verdict,
    changed params, and whether data / model / code changed according to dvc.lock.

    `show_all` also lists unchanged params and files. The output depends only on `result`
    (no dates, no environment), so the same diff renders to the same text.
    """
    a, b = md_escape(result.a.label), md_escape(result.b.label)
    parts = [f"#### Metrics: {md_escape(result.a.heading)} → {md_escape(result.b.heading)}", ""]
    if result.metrics:
        rows = []
        for m in result.metrics:
            name = f"**{md_escape(m.name)}**" if m.primary else md_escape(m.name)
            rows.append([name, md_escape(fmt_value(m.old, precision)),
                         md_escape(fmt_value(m.new, precision)),
                         md_escape(fmt_change(m.change, m.rel_change, precision)),
                         STATUS_MARK.get(m.status, md_escape(m.status))])
        parts.append(md_table(["Metric", a, b, "Change", ""], rows, escape=False,
                              align=["l", "r", "r", "r", "l"]))
    else:
        parts.append("No metrics found at either revision.\n")
    params = result.params if show_all else result.changed_params
    parts += ["#### Params", ""]
    if params:
        parts.append(md_table(["Param", a, b, ""],
                              [[md_escape(p.name), md_escape(fmt_value(p.old, precision)),
                                md_escape(fmt_value(p.new, precision)), p.status]
                               for p in params], escape=False, align=["l", "r", "r", "l"]))
    else:
        parts.append("No params changed.\n")
    parts += ["#### Data and model (dvc.lock)", "",
              f"Data changed: **{yes_no(result.data_changed)}** · "
              f"Model changed: **{yes_no(result.model_changed)}** · "
              f"Code changed: **{yes_no(result.code_changed)}**", ""]
    files = result.files if show_all else result.changed_files
    if files:
        parts.append(md_table(["Path", "Role", "Stage", a, b],
                              [[md_escape(f.path), f.role, md_escape(f.stage),
                                md_escape(short_hash(f.old)), md_escape(short_hash(f.new))]
                               for f in files], escape=False))
    for w in result.warnings:
        parts.append(f"> ⚠️ {md_escape(w)}\n")
    return "\n".join(parts).rstrip("\n") + "\n"


def render_diff_csv(result: DiffResult, *, show_all: bool = False) -> str:
    """One row per metric, changed param and changed dvc.lock entry; full precision."""
    rows: list[list[Any]] = []
    for m in result.metrics:
        rows.append(["metric", m.name, m.file, m.old, m.new, m.change, m.rel_change, m.status])
    for p in result.params if show_all else result.changed_params:
        rows.append(["param", p.name, p.file, p.old, p.new, None, None, p.status])
    for f in result.files if show_all else result.changed_files:
        rows.append([f.role, f.path, "dvc.lock", f.old, f.new, None, None, f.status])
    return csv_text(["kind", "name", "file", "old", "new", "change", "rel_change", "status"],
                    rows)


# --- compare ------------------------------------------------------------------------------------


def cell_state(result: CompareResult, row: CompareRow, column: str) -> str:
    """'value', 'missing' or 'error' for one metric/param cell."""
    if column in row.metrics or column in row.params:
        return "value"
    file = result.column_files.get(column)
    broken = (file is not None and file in row.errors) or DVC_YAML in row.errors
    return "error" if broken else "missing"


def compare_columns(result: CompareResult) -> list[str]:
    return ["ref", "sha", "date", *result.metric_columns, *result.param_columns]


def compare_rows(result: CompareResult, precision: int | None) -> list[list[Any]]:
    """One list of cells per row: raw values when `precision` is None (json/csv), else text."""
    rows = []
    for row in result.rows:
        cells: list[Any] = [row.ref, row.sha[:7] if precision is not None else row.sha,
                            row.date[:10] if precision is not None
                            else row.date]
        for col in (*result.metric_columns, *result.param_columns):
            value = row.metrics.get(col, row.params.get(col))
            state = cell_state(result, row, col)
            if precision is None:
                cells.append(value if state == "value" else None)
            else:
                cells.append(fmt_value(value, precision) if state == "value"
                             else "error" if state == "error" else "-")
        rows.append(cells)
    return rows


def render_compare_csv(result: CompareResult) -> str:
    """Full precision; empty cells where a value is missing; an `errors` column if any row has
    a file that could not be read."""
    columns = compare_columns(result)
    rows = compare_rows(result, None)
    if any(r.errors for r in result.rows):
        columns.append("errors")
        for cells, row in zip(rows, result.rows, strict=True):
            cells.append("; ".join(row.errors.values()))
    return csv_text(columns, rows)


def render_compare_markdown(result: CompareResult, precision: int = 4, *,
                            chart: bool = False) -> str:
    """A GitHub Markdown table (best row marked ★), optionally a Mermaid bar chart."""
    columns = compare_columns(result)
    body = []
    for cells, row in zip(compare_rows(result, precision), result.rows, strict=True):
        ref = md_escape(cells[0])
        cells = [f"{BEST_MARK} **{ref}**" if row.best else ref,
                 *(md_escape(c) for c in cells[1:])]
        body.append(cells)
    align = ["l", "l", "l", *(["r"] * (len(columns) - 3))]
    text = md_table([md_escape(c) for c in columns], body, escape=False, align=align)
    if chart:
        text += "\n" + mermaid_chart(result, precision)
    return text


_MERMAID_SAFE = re.compile(r"[^A-Za-z0-9._/@#+=-]")


def _mermaid_label(text: str) -> str:
    """Mermaid strings cannot escape quotes: keep a safe alphabet, replace the rest."""
    return _MERMAID_SAFE.sub("_", text)[:40]


def mermaid_chart(result: CompareResult, precision: int = 4) -> str:
    """A Mermaid `xychart-beta` bar chart of the primary metric per ref (GitHub renders it;
    nothing is uploaded anywhere). Refs without a numeric value are left out."""
    metric = result.metric
    points = [(r.ref, r.metrics[metric]) for r in result.rows
              if metric and is_number(r.metrics.get(metric))]
    if not metric or not points:
        return "_No numeric values of the primary metric to chart._\n"
    xs = ", ".join(f'"{_mermaid_label(ref)}"' for ref, _ in points)
    ys = ", ".join(fmt_value(float(v), precision) for _, v in points)
    label = _mermaid_label(metric)
    return ("```mermaid\nxychart-beta\n"
            f'    title "{label} by ref"\n'
            f"    x-axis [{xs}]\n"
            f'    y-axis "{label}"\n'
            f"    bar [{ys}]\n```\n")


def chart_points(result: CompareResult) -> Sequence[tuple[str, float, bool]]:
    """(ref, primary metric value, best?) for a terminal bar chart."""
    metric = result.metric
    return [(r.ref, float(r.metrics[metric]), r.best) for r in result.rows
            if metric and is_number(r.metrics.get(metric))]
