"""`mlgit stage add|list`."""

from __future__ import annotations

from typing import Annotated

import typer

from mlgit.cli._common import JsonOpt, out, print_json, repo_root, success

stage_app = typer.Typer(help="Add and list pipeline stages (through `dvc stage add`).",
                        no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(stage_app, name="stage")


@stage_app.command("add")
def add_cmd(
    name: Annotated[str, typer.Argument(help="Stage name.")],
    cmd: Annotated[str, typer.Option("-c", "--cmd", help="Command the stage runs.")] = "",
    deps: Annotated[list[str] | None, typer.Option("-d", "--dep", help="Dependency (repeatable).")] = None,
    outs: Annotated[list[str] | None, typer.Option("-o", "--out", help="Cached output (repeatable).")] = None,
    params: Annotated[list[str] | None, typer.Option("-p", "--param", help="Param key, or file.yaml:key (repeatable).")] = None,
    metrics: Annotated[list[str] | None, typer.Option("-m", "--metrics", help="Metrics file, tracked by Git (repeatable).")] = None,
    template: Annotated[str | None, typer.Option("--template", help="Write a stub script: prepare, train or evaluate.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace a stage of the same name.")] = False,
) -> None:
    """Add a stage to dvc.yaml.

    Example: mlgit stage add featurize -c "python src/featurize.py" -d data/raw.csv -o data/features -p featurize
    """
    from mlgit.stages import add_stage

    script = add_stage(repo_root(), name, cmd, deps=deps or [], outs=outs or [],
                       params=params or [], metrics=metrics or [], template=template, force=force)
    success(f"added stage '{name}' to dvc.yaml" + (f" and wrote {script.name}" if script else ""))


@stage_app.command("list")
def list_cmd(json_out: JsonOpt = False) -> None:
    """List the stages of dvc.yaml in order, with their deps and outputs."""
    from mlgit.render import rich_table
    from mlgit.stages import list_stages

    rows = list_stages(repo_root())
    if json_out:
        print_json("stage list", rows)
        return
    out().print(rich_table("Stages", ["stage", "command", "deps", "outs", "params", "metrics"],
                           [(r.name, r.cmd, "\n".join(r.deps), "\n".join(r.outs),
                             "\n".join(r.params), "\n".join(r.metrics)) for r in rows]))
