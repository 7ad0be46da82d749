"""Turning results into text: rich tables for people, JSON for machines, Markdown for PRs, CSV.

Core modules never print; the CLI hands their dataclasses to these helpers.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import re
from collections.abc import Sequence
from typing import Any

from mlgit import __version__

JSON_FORMAT_VERSION = 1


def to_jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in value]
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if hasattr(value, "__fspath__"):
        return str(value)
    return value


def json_envelope(command: str, data: Any, *, indent: int | None = 2) -> str:
    """The one JSON shape every `--json` uses: {"mlgit", "format", "command", "data"}.

    `indent=None` gives the same document on one line, several times faster to encode (the C
    encoder): for big outputs going to another program."""
    doc = {"mlgit": __version__, "format": JSON_FORMAT_VERSION, "command": command,
           "data": to_jsonable(data)}
    return json.dumps(doc, indent=indent, ensure_ascii=False)


def fmt_value(value: Any, precision: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return f"{value:.{precision}g}" if abs(value) >= 10**precision else f"{round(value, precision)}"
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+!|~@&])")
_WWW = re.compile(r"www\.", re.IGNORECASE)


def md_escape(text: Any) -> str:
    """Escape text from a repo so it renders literally in GitHub Markdown.

    Backslash-escapes every character that could start a link, image, HTML tag, emphasis, code
    span, table cell or @mention, and flattens newlines so a value stays inside its cell.
    """
    s = str(text).replace("\r", " ").replace("\n", " ")
    s = _MD_SPECIAL.sub(r"\\\1", s)
    # "://" and "www." still autolink on GitHub (GFM's extended autolinks); a zero-width space
    # breaks them without changing what a reader sees
    s = s.replace("://", ":&#8203;//")
    return _WWW.sub(lambda m: m.group(0)[:3] + "&#8203;.", s)


def md_table(columns: Sequence[str], rows: Sequence[Sequence[Any]], *, escape: bool = True,
             align: Sequence[str] | None = None) -> str:
    def cell(v: Any) -> str:
        return md_escape(v) if escape else str(v)

    head = "| " + " | ".join(cell(c) for c in columns) + " |"
    marks = [{"r": "---:", "c": ":---:"}.get(a, "---") for a in (align or ["l"] * len(columns))]
    sep = "| " + " | ".join(marks) + " |"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join([head, sep, *body]) + "\n"


def csv_text(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    return buf.getvalue()


def rich_table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]],
               *, justify: Sequence[str] | None = None) -> Any:
    """A rich Table (rich is imported here, not at startup)."""
    from rich.table import Table

    table = Table(title=title, title_justify="left", header_style="bold")
    for i, col in enumerate(columns):
        j = justify[i] if justify else "left"
        table.add_column(str(col), justify=j, overflow="fold")  # type: ignore[arg-type]
    for row in rows:
        table.add_row(*[v if hasattr(v, "__rich__") or hasattr(v, "__rich_console__")
                        else _plain(v) for v in row])
    return table


def _plain(value: Any) -> Any:
    from rich.text import Text

    return value if isinstance(value, Text) else Text(fmt_value(value))
