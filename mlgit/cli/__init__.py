"""The `mlgit` command line: parse, call one core function, render. No Git or DVC logic here."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from mlgit import __version__
from mlgit.errors import CommandError, Interrupted, MlgitError

app = typer.Typer(
    name="mlgit",
    help="Git-native data and model versioning: experiments are branches, the registry is "
    "tags, every read comes straight from Git.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
    add_completion=True,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mlgit {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", "-V", callback=_version, is_eager=True,
                           help="Print the version and exit.")
    ] = False,
    directory: Annotated[
        Path | None,
        typer.Option("-C", "--cd", help="Run as if started in this directory (like `git -C`).",
                     show_default=False),
    ] = None,
    debug: Annotated[
        bool, typer.Option("--debug", "--verbose", help="Show tracebacks and every command run.")
    ] = False,
) -> None:
    """mlgit: one Git branch per experiment, a GTO registry in tags, secure CI, reproducible models."""
    if debug:
        import logging

        logging.basicConfig(level=logging.DEBUG, format="mlgit: %(message)s")
    if directory is not None:
        if not directory.is_dir():
            raise MlgitError(f"-C {directory}: no such directory")
        os.chdir(directory)


def _register() -> None:
    # Each command group lives in its own module; importing them is cheap (no dvc/pandas/git).
    from mlgit.cli import ci, compare, data, demo, doctor, exp, init, model, reproduce, stage

    init.register(app)
    stage.register(app)
    compare.register(app)
    exp.register(app)
    model.register(app)
    reproduce.register(app)
    data.register(app)
    doctor.register(app)
    ci.register(app)
    demo.register(app)


_register()


def _on_signal(signum: int, frame: FrameType | None) -> None:
    # Raise once; a second signal during cleanup is ignored so cleanup can finish.
    signal.signal(signum, signal.SIG_IGN)
    raise Interrupted(signum)


def main() -> None:
    """Entry point of `mlgit`, `git-mlgit` and `python -m mlgit`."""
    debug = "--debug" in sys.argv or "--verbose" in sys.argv
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    # the click typer uses (its own vendored copy, or click): its usage errors come to us
    # (not standalone) and are said in our one-line format
    click_errors = sys.modules[typer.BadParameter.__module__]
    no_args = getattr(click_errors, "NoArgsIsHelpError", ())
    code: object = 0
    try:
        code = app(prog_name="mlgit", standalone_mode=False)
    except no_args as exc:  # the help is already printed
        sys.exit(exc.exit_code)
    except click_errors.ClickException as exc:
        ctx = getattr(exc, "ctx", None)
        hint = f"see `{ctx.command_path} --help`" if ctx is not None else None
        _say_error(exc.format_message(), hint)
        sys.exit(exc.exit_code)
    except typer.Abort:
        _say_error("aborted", None)
        sys.exit(1)
    except Interrupted as exc:
        _say_error("interrupted; nothing was left half-done", None)
        sys.exit(exc.exit_code)
    except MlgitError as exc:
        if debug:
            import traceback

            traceback.print_exc()
            if isinstance(exc, CommandError):
                sys.stderr.write(f"command: {exc.cmd}\nstdout:\n{exc.stdout}\nstderr:\n{exc.stderr}\n")
        _say_error(exc.message, exc.hint)
        sys.exit(exc.exit_code)
    except Exception as exc:  # a bug: say so briefly, details under --debug
        if debug:
            raise
        _say_error(f"internal error: {type(exc).__name__}: {exc}",
                   "rerun with --debug for the traceback, and please report it")
        sys.exit(3)
    # typer returns the code of a `typer.Exit` (e.g. doctor's 1) instead of exiting
    sys.exit(code if isinstance(code, int) and not isinstance(code, bool) else 0)


def _say_error(message: str, hint: str | None) -> None:
    from rich.markup import escape

    from mlgit.cli._common import err

    first = message.strip().splitlines()[0] if message.strip() else "failed"
    err().print(f"[bold red]error:[/bold red] {escape(first)}", soft_wrap=True)
    if hint:
        err().print(f"[yellow]hint:[/yellow] {escape(hint)}", soft_wrap=True)
