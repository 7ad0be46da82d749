"""`mlgit demo`: the whole story in a fresh temporary repository, narrated.

Each feature adds a step here, so the demo is the first place a user sees it.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer

from mlgit.cli._common import out


def register(app: typer.Typer) -> None:
    app.command("demo", help=demo_cmd.__doc__)(demo_cmd)


@dataclass
class DemoContext:
    base: Path
    project: Path
    template: str
    notes: dict[str, Any] = field(default_factory=dict)


def _say(title: str, command: str | None = None) -> None:
    from rich.markup import escape
    from rich.rule import Rule

    out().print()
    out().print(Rule(f"[bold cyan]{escape(title)}[/bold cyan]", align="left"))
    if command:
        out().print(f"[dim]$[/dim] [bold]{escape(command)}[/bold]")


def step_init(ctx: DemoContext) -> None:
    from mlgit import git
    from mlgit.scaffold import init_project

    _say("1. Create a project: git + DVC + a real scikit-learn pipeline",
         f"mlgit init {ctx.project.name} --template {ctx.template}")
    ctx.project.mkdir(parents=True)
    git.init_repo(ctx.project)
    # a fresh machine may have no Git identity: give the demo repo its own
    git.git(["config", "user.name", "mlgit demo"], ctx.project)
    git.git(["config", "user.email", "demo@mlgit.invalid"], ctx.project)
    result = init_project(ctx.project, template=ctx.template, remote_dir=ctx.base / "dvc-remote")
    out().print(f"[green]✓[/green] {len(result.files)} files, data tracked by DVC, "
                f"pipeline run, first commit {str(result.commit)[:8]}")
    out().print("  metrics: " + ", ".join(f"{k}={v}" for k, v in result.metrics.items()))
    out().print(f"  model artifact '{result.model}' declared in dvc.yaml for GTO and "
                "`dvc artifacts get`")


def step_stages(ctx: DemoContext) -> None:
    from mlgit.render import rich_table
    from mlgit.stages import list_stages

    _say("2. The pipeline mlgit drives through DVC", "mlgit stage list")
    rows = list_stages(ctx.project)
    out().print(rich_table(None, ["stage", "command", "outs", "metrics"],
                           [(r.name, r.cmd, ", ".join(r.outs), ", ".join(r.metrics))
                            for r in rows]))


def _steps() -> list[Callable[[DemoContext], None]]:
    """The story in order; each feature's CLI module narrates its own step."""
    from mlgit.cli import ci, compare, data, exp, model, reproduce

    return [step_init, step_stages, exp.demo_step, compare.demo_step, model.demo_step,
            reproduce.demo_step, ci.demo_step, data.demo_step]


def demo_cmd(
    directory: Annotated[Path | None, typer.Option("--dir", help="Where to build the demo (must not exist or be empty). Default: a temporary directory.")] = None,
    template: Annotated[str, typer.Option("--template", "-t", help="Project template to use.")] = "classifier",
    keep: Annotated[bool, typer.Option("--keep", help="Keep the temporary directory afterwards.")] = False,
) -> None:
    """Run the whole mlgit story in a fresh repository: init, experiments, compare, promote,
    reproduce, CI. Nothing outside the demo directory is touched.

    Example: mlgit demo --dir /tmp/mlgit-demo
    """
    from mlgit.errors import UsageError

    if directory is not None:
        if directory.exists() and any(directory.iterdir()):
            raise UsageError(f"{directory} is not empty", hint="pass a new or empty --dir")
        base = directory.absolute()
        base.mkdir(parents=True, exist_ok=True)
        cleanup = False
    else:
        base = Path(tempfile.mkdtemp(prefix="mlgit-demo-"))
        cleanup = not keep
    # the demo's pipeline runs `python`: make it the interpreter mlgit runs on, so the
    # demo works from an un-activated virtualenv too
    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
    ctx = DemoContext(base=base, project=base / "project", template=template)
    out().print(f"[bold]mlgit demo[/bold] in {base}")
    try:
        for step in _steps():
            step(ctx)
    finally:
        if cleanup:
            shutil.rmtree(base, ignore_errors=True)
    _say("Done")
    where = "removed" if cleanup else f"kept at {ctx.project}"
    out().print(f"The demo repository was {where}. Start your own: [bold]mlgit init my-project[/bold]")
