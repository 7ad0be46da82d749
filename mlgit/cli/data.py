"""`mlgit data add|status|push|pull` and `mlgit remote add|list`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mlgit.cli._common import JsonOpt, note, out, print_json, repo_root, success

if TYPE_CHECKING:
    from mlgit.cli.demo import DemoContext
    from mlgit.data import Transfer

data_app = typer.Typer(help="Track data with DVC and move it to and from remotes.",
                       no_args_is_help=True)
remote_app = typer.Typer(help="Configure DVC remotes (local directories, S3-compatible storage).",
                         no_args_is_help=True)

RemoteOpt = Annotated[str | None, typer.Option("-r", "--remote",
                                               help="DVC remote to use (default: the default).")]
RefsArg = Annotated[list[str] | None, typer.Argument(
    help="Branches, tags, commits, experiment names or registry refs (default: the current "
    "commit).", show_default=False)]
AllExpOpt = Annotated[bool, typer.Option("--all-experiments",
                                         help="Also every experiment branch (exp/* by default).")]


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data")
    app.add_typer(remote_app, name="remote")


@data_app.command("add")
def add_cmd(
    paths: Annotated[list[Path], typer.Argument(help="Files or directories to track.",
                                                show_default=False)],
    commit: Annotated[bool, typer.Option("--commit", help="Also commit the .dvc files.")] = False,
    message: Annotated[str | None, typer.Option("-m", "--message",
                                                help="Commit message (with --commit).")] = None,
) -> None:
    """Track files with DVC and stage their .dvc files (and .gitignore) in Git.

    Example: mlgit data add data/images data/labels.csv --commit
    """
    from mlgit.data import add_data

    result = add_data(repo_root(), paths, commit=commit, message=message)
    success(f"tracking {', '.join(result.paths)} with DVC")
    if result.commit:
        note(f"committed {', '.join(result.staged)} as {result.commit[:8]}")
    else:
        note(f"staged {', '.join(result.staged)}; commit them with `git commit`")


@data_app.command("status")
def status_cmd(
    remote: RemoteOpt = None,
    offline: Annotated[bool, typer.Option("--offline",
                                          help="Do not ask the remote what it holds.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """What is modified locally, missing from the cache, or not yet pushed."""
    from mlgit.data import data_status
    from mlgit.render import rich_table

    status = data_status(repo_root(), remote=remote, offline=offline)
    if json_out:
        print_json("data status", status)
        return
    against = (f"remote '{status.remote}'" if status.remote
               else "no remote (--offline)" if offline else "no remote configured")
    if status.clean:
        success(f"data up to date (cache, work tree, {against})")
        return
    out().print(rich_table(f"Data status (compared with {against})", ["path", "state", "fix"],
                           [(e.path, e.state, e.fix) for e in status.entries]))


@data_app.command("push")
def push_cmd(refs: RefsArg = None, all_experiments: AllExpOpt = False,
             remote: RemoteOpt = None) -> None:
    """Upload outputs to the DVC remote: the current commit's, or those of REFs.

    Example: mlgit data push --all-experiments   # so any experiment can be reproduced later
    """
    from mlgit.data import push_data

    _report(push_data(repo_root(), refs or [], all_experiments=all_experiments, remote=remote))


@data_app.command("pull")
def pull_cmd(refs: RefsArg = None, all_experiments: AllExpOpt = False,
             remote: RemoteOpt = None) -> None:
    """Download outputs: the current commit's into the work tree, or REFs' into the cache.

    Example: mlgit data pull model#production
    """
    from mlgit.data import pull_data

    _report(pull_data(repo_root(), refs or [], all_experiments=all_experiments, remote=remote))


def _report(result: Transfer) -> None:
    verb = "pushed to" if result.action == "push" else "pulled from"
    if result.workspace:
        success(f"{verb} remote '{result.remote}': the current commit's outputs")
    elif not result.revisions:
        note("no experiment branches: nothing to transfer")
    else:
        names = ", ".join(r.ref for r in result.revisions[:5])
        more = f" and {len(result.revisions) - 5} more" if len(result.revisions) > 5 else ""
        where = "" if result.action == "push" else " (into the cache; `git checkout` + " \
            "`dvc checkout` puts them in the work tree)"
        success(f"{verb} remote '{result.remote}': outputs of {names}{more}{where}")


@remote_app.command("add")
def remote_add_cmd(
    name: Annotated[str, typer.Argument(help="Remote name, e.g. storage.")],
    url: Annotated[str, typer.Argument(help="A directory, or a URL like s3://bucket/path.")],
    default: Annotated[bool, typer.Option("--default", "-d",
                                          help="Make it the default remote.")] = False,
    endpoint_url: Annotated[str | None, typer.Option(
        "--endpoint-url", help="S3-compatible server, e.g. http://127.0.0.1:9000.")] = None,
    local: Annotated[bool, typer.Option(
        "--local", help="Write to .dvc/config.local (not committed) instead of .dvc/config.")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace a remote of that name.")] = False,
) -> None:
    """Add a DVC remote (a directory, or S3-compatible storage with --endpoint-url).

    Credentials never go in: use the environment or `dvc remote modify --local NAME KEY VALUE`.

    Example: mlgit remote add storage s3://bucket/project --endpoint-url http://127.0.0.1:9000
    """
    from mlgit.data import add_remote

    remote = add_remote(repo_root(), name, url, default=default, endpoint_url=endpoint_url,
                        local=local, force=force, cwd=Path.cwd())
    success(f"added remote '{remote.name}' ({remote.url})" +
            (" as the default" if remote.default else ""))
    if not local:
        note("commit .dvc/config to share it")


@remote_app.command("list")
def remote_list_cmd(json_out: JsonOpt = False) -> None:
    """List the DVC remotes, the default first."""
    from mlgit.data import list_remotes
    from mlgit.render import rich_table

    remotes = sorted(list_remotes(repo_root()), key=lambda r: (not r.default, r.name))
    if json_out:
        print_json("remote list", remotes)
        return
    if not remotes:
        note("no DVC remotes; add one with `mlgit remote add NAME URL --default`")
        return
    out().print(rich_table("DVC remotes", ["name", "url", "endpoint", "default"],
                           [(r.name, r.url, r.endpoint_url or "", "yes" if r.default else "")
                            for r in remotes]))


def demo_step(ctx: DemoContext) -> None:
    """Data: what is not pushed, push every experiment's outputs, then ask the doctor."""
    from mlgit.cli.demo import _say
    from mlgit.data import data_status, push_data
    from mlgit.doctor import run_checks
    from mlgit.render import rich_table

    _say("8. Data: what is not pushed yet", "mlgit data status")
    status = data_status(ctx.project)
    if status.clean:
        out().print("[green]✓[/green] everything is pushed")
    else:
        out().print(rich_table(None, ["path", "state"],
                               [(e.path, e.state) for e in status.entries]))
    _say("   Push the outputs of every experiment, so any of them can be rebuilt elsewhere",
         "mlgit data push --all-experiments")
    result = push_data(ctx.project, all_experiments=True)
    push_data(ctx.project)  # and the current commit's
    out().print(f"[green]✓[/green] outputs of {len(result.revisions)} experiment branches and "
                f"the current commit are in remote '{result.remote}'")
    _say("   Is everything in order?", "mlgit doctor")
    report = run_checks(ctx.project)
    from mlgit.cli.doctor import render_report

    render_report(report)
