"""The `mlgit` entry point, with a Typer-free front door for the hot read commands.

`mlgit compare` and `mlgit diff` must answer in a few tens of milliseconds: most of that budget
would go to importing Typer (and, since Typer 0.29, pydantic, which it uses to coerce every
parameter), about 0.1 s before any work starts. So when the command line is plainly one of
these commands with options we know, it is parsed here from the same option table the Typer
commands are built from (`mlgit.cli.compare`), and run by the same functions. Anything else
(`--help`, an unknown or malformed option, options before the command, an error) goes to the
full Typer CLI, which then reports it exactly as usual. `MLGIT_NO_QUICK=1` turns this off.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Any, NamedTuple


class Format(StrEnum):
    table = "table"
    md = "md"
    json = "json"
    csv = "csv"


class Opt(NamedTuple):
    """One option, declared once for both front doors.

    Internal records on the start-up path are NamedTuples: defining a frozen dataclass costs
    ~1 ms (it compiles six methods), a NamedTuple ~0.05 ms."""

    name: str  # the command function's parameter
    decls: tuple[str, ...]  # as Typer takes them: "--sort", "-s", or "--asc/--desc"
    kind: str  # bool | str | int | list | format
    help: str
    minimum: int | None = None
    maximum: int | None = None


FORMAT = Opt("fmt", ("--format", "-f"), "format", "Output format.")
JSON = Opt("json_out", ("--json",), "bool", "Print one JSON document (for scripts).")
PRECISION = Opt("precision", ("--precision", "-p"), "int",
                "Digits after the point in table and md output (json and csv keep full "
                "precision).", 0, 17)
PULL = Opt("pull", ("--pull",), "bool",
           "Fetch metrics files missing from the local DVC cache from the DVC remote (only those).")
STRICT = Opt("strict", ("--strict",), "bool",
             "Exit 1 if a revision has a missing or unreadable metrics or params file.")

COMPARE_OPTS = (
    Opt("all_branches", ("--all-branches", "-a"), "bool", "Every local branch."),
    Opt("tags", ("--tags", "-T"), "bool", "Every tag too."),
    Opt("all_commits", ("--all-commits", "-A"), "bool",
        "Every commit of every branch and tag (as dvc metrics show -A)."),
    Opt("sort", ("--sort", "-s"), "str",
        "Sort by this metric or param (default: the primary metric)."),
    Opt("ascending", ("--asc/--desc",), "bool", "Sort order (default: best first)."),
    Opt("only_changed", ("--only-changed",), "bool",
        "Only metrics and params whose values differ between refs."),
    Opt("columns", ("--columns", "-c"), "list",
        "Only these metrics/params (comma-separated names or globs; repeatable)."),
    Opt("all_params", ("--all-params",), "bool", "All params, not only those that differ."),
    FORMAT, JSON, PRECISION,
    PULL,
    STRICT,
    Opt("chart", ("--chart",), "bool",
        "Add a bar chart of the primary metric (Mermaid with --format md)."),
)
DIFF_OPTS = (
    FORMAT, JSON,
    Opt("show_all", ("--all", "-a"), "bool",
        "Also list unchanged params and dvc.lock entries."),
    PRECISION,
    STRICT,
)


def option(opts: Sequence[Opt], name: str) -> Opt:
    return next(o for o in opts if o.name == name)


def parse_args(argv: Sequence[str], opts: Sequence[Opt]) -> tuple[dict[str, Any],
                                                                 list[str]] | None:
    """(options, positionals) when every token is understood; None sends it all to Typer."""
    table: dict[str, tuple[Opt, bool | None]] = {}
    for o in opts:
        for decl in o.decls:
            on, _, off = decl.partition("/")
            table[on] = (o, True if off else None)
            if off:
                table[off] = (o, False)
    values: dict[str, Any] = {}
    positional: list[str] = []
    tokens = list(argv)
    while tokens:
        tok = tokens.pop(0)
        if tok == "--":
            positional += tokens
            break
        if not tok.startswith("-") or tok == "-":
            positional.append(tok)
            continue
        name, eq, value = tok.partition("=") if tok.startswith("--") else (tok, "", "")
        if name not in table:
            return None  # --help, a typo, bundled short flags: Typer knows best
        opt, flag = table[name]
        if opt.kind == "bool":
            if eq:
                return None
            values[opt.name] = True if flag is None else flag
            continue
        if not eq:
            if not tokens:
                return None
            value = tokens.pop(0)
        converted = _convert(opt, value)
        if converted is None:
            return None
        if opt.kind == "list":
            values.setdefault(opt.name, []).append(converted)
        else:
            values[opt.name] = converted
    return values, positional


def _convert(opt: Opt, value: str) -> Any:
    if opt.kind == "int":
        try:
            number = int(value)
        except ValueError:
            return None
        low = opt.minimum if opt.minimum is not None else number
        high = opt.maximum if opt.maximum is not None else number
        return number if low <= number <= high else None
    if opt.kind == "format":
        return Format(value) if value in Format.__members__ else None
    return value


# --- the commands, run by both front doors --------------------------------------------------------


def _consoles() -> tuple[Any, Any]:
    from rich.console import Console

    return (Console(highlight=False, soft_wrap=False),
            Console(stderr=True, highlight=False, soft_wrap=True))


def _json(command: str, result: Any) -> None:
    """The JSON envelope: indented for a person at a terminal, one line (much faster to encode
    for hundreds of refs) when another program reads it."""
    from mlgit.render import json_envelope

    _write(json_envelope(command, result, indent=2 if sys.stdout.isatty() else None))


def _write(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()


def _views() -> Any:
    from mlgit import views  # not needed for --json: imported only when rendering text

    return views


def _tables() -> Any:
    from mlgit import tables

    return tables


def _emit(command: str, result: Any, fmt: Format, json_out: bool,
          consoles: tuple[Any, Any] | None, *, md: Callable[[], str], csv: Callable[[], str],
          table: Callable[[Any], None], strict: bool = False) -> None:
    """JSON, or warnings on stderr and then Markdown, CSV or a table on stdout. With `strict`,
    any warning makes the exit status 1 once everything is printed."""
    if json_out or fmt is Format.json:
        _json(command, result)
    else:
        out, err = consoles or _consoles()
        _tables().print_warnings(err, result.warnings)
        if fmt is Format.md:
            _write(md())
        elif fmt is Format.csv:
            _write(csv())
        else:
            table(out)
    if strict and result.warnings:
        # SystemExit, not an MlgitError: the output is out, so the quick path must not hand
        # the command to Typer to run (and print) again
        sys.stderr.write(f"error: {len(result.warnings)} warning(s) and --strict\n")
        sys.stderr.flush()
        raise SystemExit(1)


def run_compare(root: Path, refs: Sequence[str] = (), *, all_branches: bool = False,
                tags: bool = False, sort: str | None = None, ascending: bool | None = None,
                only_changed: bool = False, columns: Sequence[str] = (),
                all_params: bool = False, fmt: Format = Format.table, json_out: bool = False,
                precision: int = 4, chart: bool = False, strict: bool = False,
                all_commits: bool = False, pull: bool = False,
                consoles: tuple[Any, Any] | None = None) -> None:
    """Compute and print `mlgit compare`."""
    from mlgit.compare import compare_revisions

    wanted = [c.strip() for item in columns for c in item.split(",") if c.strip()]
    result = compare_revisions(
        root, refs, all_branches=all_branches, tags=tags, sort=sort,
        descending=None if ascending is None else not ascending, only_changed=only_changed,
        columns=wanted, all_params=all_params, all_commits=all_commits, pull=pull)
    _emit("compare", result, fmt, json_out, consoles,
          md=lambda: _views().render_compare_markdown(result, precision, chart=chart),
          csv=lambda: _views().render_compare_csv(result),
          table=lambda out: _tables().print_compare_table(out, result, precision, chart=chart),
          strict=strict)


def run_diff(root: Path, a: str | None = None, b: str | None = None, *,
             fmt: Format = Format.table, json_out: bool = False, show_all: bool = False,
             precision: int = 4, strict: bool = False,
             consoles: tuple[Any, Any] | None = None) -> None:
    """Compute and print `mlgit diff`."""
    from mlgit.diffing import diff_revisions

    result = diff_revisions(root, a, b)
    _emit("diff", result, fmt, json_out, consoles,
          md=lambda: _views().render_diff_markdown(result, precision, show_all=show_all),
          csv=lambda: _views().render_diff_csv(result, show_all=show_all),
          table=lambda out: _tables().print_diff_tables(out, result, precision, show_all),
          strict=strict)


# --- the front door ---------------------------------------------------------------------------


def _quick_compare(values: dict[str, Any], positional: list[str]) -> bool:
    run_compare(_root(), positional, **values)
    return True


def _quick_diff(values: dict[str, Any], positional: list[str]) -> bool:
    if len(positional) > 2:
        return False
    run_diff(_root(), *positional, **values)
    return True


def _root() -> Path:
    from mlgit import git

    return git.repo_root(Path.cwd())


QUICK: dict[str, tuple[Sequence[Opt], Callable[[dict[str, Any], list[str]], bool]]] = {
    "compare": (COMPARE_OPTS, _quick_compare),
    "diff": (DIFF_OPTS, _quick_diff),
}


def try_quick(argv: Sequence[str]) -> bool:
    """Run `argv` without Typer if it is a plain compare/diff; False: let Typer do it."""
    if not argv or argv[0] not in QUICK or os.environ.get("MLGIT_NO_QUICK") == "1":
        return False
    opts, run = QUICK[argv[0]]
    parsed = parse_args(argv[1:], opts)
    if parsed is None:
        return False
    from mlgit.errors import MlgitError

    try:
        return run(*parsed)
    except BrokenPipeError:
        raise
    except (MlgitError, Exception):
        # errors come before any output: the full CLI runs the command again and reports the
        # error (or the bug, with --debug for its traceback) exactly as it reports all others
        return False


def main() -> None:
    """Entry point of `mlgit`, `git-mlgit` and `python -m mlgit`."""
    try:
        if try_quick(sys.argv[1:]):
            sys.stdout.flush()
            sys.stderr.flush()
            # Done, every child reaped and every file closed: skip the interpreter's teardown
            # of ~150 modules, a tenth of the run time of `compare --json` on 30 branches.
            os._exit(0)
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted; nothing was changed\n")
        sys.exit(130)
    except BrokenPipeError:  # `mlgit compare --json | head`: the reader left, as git does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(141)
    from mlgit.cli import main as full_main

    full_main()
