"""Shared pieces of the CLI layer: consoles, common options, JSON/table emission."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document (for scripts).")]

_consoles: dict[str, Console] = {}


def out() -> Console:
    if "out" not in _consoles:
        from rich.console import Console

        _consoles["out"] = Console(highlight=False, soft_wrap=False)
    return _consoles["out"]


def err() -> Console:
    if "err" not in _consoles:
        from rich.console import Console

        _consoles["err"] = Console(stderr=True, highlight=False, soft_wrap=True)
    return _consoles["err"]


def print_json(command: str, data: Any) -> None:
    from mlgit.render import json_envelope

    typer.echo(json_envelope(command, data))


def print_text(text: str) -> None:
    """Plain text to stdout, untouched by rich markup (Markdown, CSV)."""
    typer.echo(text, nl=not text.endswith("\n"))


def repo_root() -> Path:
    from mlgit import git

    return git.repo_root(Path.cwd())


def note(message: str) -> None:
    """A status line for people, on stderr so stdout stays clean for pipes."""
    from rich.markup import escape

    err().print(f"[dim]{escape(message)}[/dim]")


def success(message: str) -> None:
    from rich.markup import escape

    err().print(f"[green]✓[/green] {escape(message)}")


def write_output(path: Path, text: str, flag: str = "--output") -> None:
    """Write a command's `--output` file (parents made); an unwritable path is one line."""
    from mlgit.errors import MlgitError

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise MlgitError(f"{flag} {path}: cannot write it ({exc.strerror or exc})",
                         hint=f"pass a path you can write to with {flag}") from exc
