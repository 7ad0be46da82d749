"""`mlgit init`: scaffold a project, or adopt an existing DVC pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlgit.cli._common import JsonOpt, err, out, print_json


def register(app: typer.Typer) -> None:
    app.command("init", help=init_cmd.__doc__)(init_cmd)
    app.command("templates", help=templates_cmd.__doc__)(templates_cmd)


def init_cmd(
    directory: Annotated[Path, typer.Argument(help="Project directory (created if missing).")] = Path("."),
    template: Annotated[str, typer.Option("--template", "-t", help="Scaffold to use (`mlgit templates` lists them).")] = "classifier",
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing scaffold files.")] = False,
    no_run: Annotated[bool, typer.Option("--no-run", help="Do not run the pipeline before the first commit.")] = False,
    model: Annotated[str | None, typer.Option("--model", help="Adopting a pipeline: declare this output as the model artifact.")] = None,
    remote_dir: Annotated[Path | None, typer.Option("--remote-dir", help="Directory for the default local DVC remote.")] = None,
    no_remote: Annotated[bool, typer.Option("--no-remote", help="Do not configure a default DVC remote.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Turn DIRECTORY into a working mlgit project (git + DVC + a pipeline), or adopt its dvc.yaml.

    Examples:

      mlgit init my-project

      mlgit init . --template regression --no-run

      mlgit init . --model models/model.pkl   # an existing DVC repo without artifacts
    """
    from rich.markup import escape

    from mlgit.scaffold import init_project

    result = init_project(directory, template=template, force=force, run=not no_run,
                          model_path=model, remote_dir=remote_dir, no_remote=no_remote)
    if json_out:
        print_json("init", result)
        return
    c = err() if json_out else out()
    root = escape(str(result.root))
    if result.adopted:
        c.print(f"[green]✓[/green] Adopted the existing DVC pipeline in {root}")
        for f in result.files:
            c.print(f"  wrote {escape(f)}")
        c.print(f"  model artifact: [bold]{escape(str(result.model))}[/bold]")
        c.print("\nNext: [bold]mlgit compare[/bold], [bold]mlgit exp new NAME -S key=value[/bold]")
        return
    c.print(f"[green]✓[/green] mlgit project ready in [bold]{root}[/bold] "
            f"(template: {escape(str(result.template))})")
    if result.created_repo:
        c.print("  created a Git repository")
    if result.created_dvc:
        c.print("  initialised DVC")
    c.print(f"  wrote {len(result.files)} files: " + escape(", ".join(result.files)))
    if result.remote_created:
        c.print(f"  default DVC remote 'storage' -> {escape(str(result.remote))}")
    elif result.remote:
        c.print(f"  DVC remote already configured: {escape(str(result.remote))}")
    if result.ran and result.metrics:
        shown = ", ".join(f"{escape(str(k))}={v}" for k, v in result.metrics.items())
        c.print(f"  ran the pipeline: {shown}")
    if result.commit:
        c.print(f"  committed {result.commit[:8]}")
    c.print("\nNext, try:")
    c.print("  [bold]mlgit exp new faster -S train.lr=0.3[/bold]   # an experiment branch")
    c.print("  [bold]mlgit compare[/bold]                          # all experiments side by side")
    c.print("  [bold]dvc push[/bold]                               # data and model to the remote")


def templates_cmd(json_out: JsonOpt = False) -> None:
    """List the project templates `mlgit init --template` accepts."""
    from mlgit.render import rich_table
    from mlgit.scaffold import list_templates

    found = list_templates()
    if json_out:
        print_json("templates", [{"name": k, "description": v} for k, v in found.items()])
        return
    out().print(rich_table("Templates", ["name", "description"], list(found.items())))
