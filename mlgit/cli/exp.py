"""`mlgit exp new|run|list|show|rm|import`: experiments as Git branches."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from mlgit.cli._common import JsonOpt, err, note, out, print_json, repo_root, success

if TYPE_CHECKING:
    from mlgit.cli.demo import DemoContext
    from mlgit.exp_create import NewResult
    from mlgit.exp_read import ExperimentDetail, ExperimentList

exp_app = typer.Typer(help="Experiments as Git branches: create, re-run, list, show, remove, "
                      "import from DVC.", no_args_is_help=True)

SetOpt = Annotated[list[str] | None, typer.Option(
    "-S", "--set-param", metavar="[FILE:]KEY=VALUE[,VALUE...]",
    help="Override a param (repeatable). Several comma-separated values make a grid: one "
    "experiment per combination. Values are typed like YAML: 0.1, true, [1, 2].")]
AddOpt = Annotated[bool, typer.Option("--add", help="Allow -S to create params that do not "
                                      "exist yet (without it, an unknown key is an error).")]


def register(app: typer.Typer) -> None:
    app.add_typer(exp_app, name="exp")


@exp_app.command("new")
def new_cmd(
    name: Annotated[str, typer.Argument(help="Experiment name: letters, digits, '.', '_', '-'. "
                                        "The branch is exp/NAME.")],
    set_params: SetOpt = None,
    from_rev: Annotated[str, typer.Option("--from", metavar="REF", help="Start from this "
                        "branch, tag, commit, experiment or registry ref.")] = "HEAD",
    message: Annotated[str | None, typer.Option("-m", "--message",
                       help="Commit message (the trailers are added below it).")] = None,
    no_run: Annotated[bool, typer.Option("--no-run", help="Commit the params change without "
                      "running the pipeline.")] = False,
    switch: Annotated[bool, typer.Option("--switch", help="Check out the new branch (and its "
                      "DVC outputs) afterwards.")] = False,
    push: Annotated[bool, typer.Option("--push", help="Push the branch to 'origin' and its "
                    "outputs to the DVC remote.")] = False,
    jobs: Annotated[int, typer.Option("-j", "--jobs", min=1, help="Grid points to run at "
                    "once, each in its own worktree.")] = 1,
    keep_failed: Annotated[bool, typer.Option("--keep-failed", help="Keep the worktree of a "
                           "failed run for debugging, and print its path.")] = False,
    allow_add: AddOpt = False,
    no_carry: Annotated[bool, typer.Option("--no-carry", help="Start from the committed base "
                        "only; leave your uncommitted changes out.")] = False,
) -> None:
    """Create an experiment branch: run the pipeline with new params in a temporary worktree
    and commit the result there. Your checkout is not touched (unless --switch); your
    uncommitted changes to tracked files are carried into the experiment (untracked files
    are not: `git add` them first).

    A grid makes one branch per combination, named after the keys that vary (last key segment
    + value): -S train.lr=0.01,0.1 -S train.epochs=10,20 gives sweep-lr0.01-epochs10, ...
    (sweep-1 ... sweep-N if that would not give distinct valid names).

    Examples: mlgit exp new faster -S train.lr=0.5
              mlgit exp new sweep -S train.lr=0.01,0.1,1 -S train.epochs=10,20 -j 2
    """
    from mlgit.errors import MlgitError
    from mlgit.exp_create import new_experiments

    result = new_experiments(repo_root(), name, set_params or [], base=from_rev,
                             message=message, run=not no_run, switch=switch, push=push,
                             jobs=jobs, keep_failed=keep_failed, allow_add=allow_add,
                             carry=not no_carry, progress=note)
    _report_new(result)
    failed = result.failed
    if not failed:
        return
    if len(result.outcomes) == 1:
        o = failed[0]
        raise MlgitError(o.error or "the experiment failed",
                         hint=f"the worktree is kept at {o.kept} (remove it with "
                         f"`git worktree remove --force {o.kept}`)" if o.kept else
                         "fix the pipeline, or rerun with --keep-failed to inspect the worktree")
    raise MlgitError(f"{len(failed)} of {len(result.outcomes)} experiments failed: "
                     + ", ".join(o.name for o in failed),
                     hint="the others were created; see the table above")


def _report_new(result: NewResult) -> None:
    from mlgit.render import fmt_value

    if result.carried:
        note(f"carried your uncommitted changes into the experiment: {', '.join(result.carried)}")
    elif result.not_carried:
        note("your uncommitted changes were not carried (--no-carry, or --from is not HEAD): "
             + ", ".join(result.not_carried))
    grid = len(result.outcomes) > 1
    if grid:
        _print_outcomes(result)
    for o in result.outcomes:
        if o.ok:
            if not grid:
                value = f": {result.metric} {fmt_value(o.value)}" if result.metric else ""
                was = (f" (base {fmt_value(result.base_value)})"
                       if result.metric and result.ran else "")
                success(f"created {o.branch} ({o.sha[:8] if o.sha else ''}) from "
                        f"{result.base_label}{value}{was}")
            if o.pushed:
                note(f"pushed {o.branch} to origin and its outputs to the DVC remote")
            if o.push_error:
                err().print(f"[yellow]warning:[/yellow] {o.branch} was created but not pushed: "
                            f"{o.push_error}", markup=True)
        elif o.detail:
            err().print(f"[red]{o.branch}[/red]: DVC said:", markup=True)
            err().print(o.detail, markup=False, highlight=False)
        if o.kept:
            note(f"kept the failed worktree of {o.name} at {o.kept}")
    if result.switched:
        note(f"switched to {result.outcomes[0].branch}")
    elif result.outcomes and result.outcomes[0].ok and not grid:
        note(f"see it with `mlgit exp show {result.outcomes[0].name}`; "
             f"check it out with `git switch {result.outcomes[0].branch}`")


def _print_outcomes(result: NewResult) -> None:
    from mlgit.render import fmt_value, rich_table

    keys = list(dict.fromkeys(k for o in result.outcomes for k in o.settings))
    columns = ["experiment", *keys, result.metric or "metric", "status"]
    rows: list[list[Any]] = []
    for o in result.outcomes:
        status = ("ok" + (", pushed" if o.pushed else "")) if o.ok else "FAILED"
        rows.append([o.branch, *[o.settings.get(k, "") for k in keys],
                     fmt_value(o.value) if o.ok else "-", status])
    out().print(rich_table(f"Experiments from {result.base_label} ({result.base[:8]})",
                           columns, rows))


@exp_app.command("run")
def run_cmd(
    set_params: SetOpt = None,
    no_commit: Annotated[bool, typer.Option("--no-commit", help="Run, but do not commit.")]
    = False,
    message: Annotated[str | None, typer.Option("-m", "--message", help="Commit message.")]
    = None,
    allow_add: AddOpt = False,
) -> None:
    """Re-run the pipeline in place on the checked-out experiment branch (after you edited
    code or params), then commit everything tracked with fresh trailers, like `git commit -a`
    (new files: `git add` them first).

    Example: git switch exp/faster && $EDITOR src/train.py && mlgit exp run -S train.epochs=40
    """
    from mlgit.exp_run import run_experiment
    from mlgit.render import fmt_value

    res = run_experiment(repo_root(), set_params or [], commit=not no_commit, message=message,
                         allow_add=allow_add)
    value = f": {res.metric} {fmt_value(res.value)}" if res.metric else ""
    if res.sha:
        success(f"committed {res.branch} ({res.sha[:8]}){value}")
    elif no_commit:
        success(f"ran {res.branch}{value}; not committed (--no-commit)")
    else:
        success(f"ran {res.branch}{value}; nothing changed, nothing to commit")


@exp_app.command("list")
def list_cmd(
    json_out: JsonOpt = False,
    include_remote: Annotated[bool, typer.Option("--all", "-a", help="Also list experiments "
                              "that exist only on a remote (fetched remote-tracking branches).")]
    = False,
    sort: Annotated[str, typer.Option("--sort", help="date (newest first), metric (best "
                    "first) or name.")] = "date",
) -> None:
    """List experiment branches: base, date, author, params changed vs the base, the primary
    metric, and whether each is pushed. Read from Git objects only (fast, no checkout)."""
    from mlgit.errors import UsageError
    from mlgit.exp_read import list_experiments

    if sort not in ("date", "metric", "name"):
        raise UsageError(f"--sort {sort}: expected date, metric or name")
    listing = list_experiments(repo_root(), include_remote=include_remote, sort=sort)
    if json_out:
        print_json("exp list", listing)
        return
    if not listing.experiments:
        note("no experiments yet; start one with `mlgit exp new NAME -S key=value`")
        return
    _print_list(listing)


def _print_list(listing: ExperimentList) -> None:
    from rich.text import Text

    from mlgit.render import fmt_value, rich_table

    metric = listing.metric or "metric"
    wide = out().width >= 120  # narrow terminals: base and author are in `exp show` / --json
    rows: list[list[Any]] = []
    for e in listing.experiments:
        best = e.name == listing.best
        name = Text(("* " if e.current else "") + e.name, style="bold" if best else "")
        value = fmt_value(e.value) + ("" if e.delta is None else f" ({e.delta:+.3g})") \
            + (" ★" if best else "")
        params = "\n".join(f"{c.key}={fmt_value(c.new)}" for c in e.params) or "-"
        when = e.date[:16].replace("T", " ")[0 if wide else 5:]
        rows.append([name, value, params, (e.base or "")[:7], when, e.author, e.remote.describe()]
                    if wide else [name, value, params, when, e.remote.describe()])
    title = (f"{len(listing.experiments)} experiments · {metric} ({listing.direction or '?'}) "
             "vs base · ★ best · * checked out")
    columns = (["experiment", metric, "params vs base", "base", "date", "author", "remote"]
               if wide else ["experiment", metric, "params vs base", "date", "remote"])
    table = rich_table(title, columns, rows)
    for column in table.columns:  # names, values, shas and dates stay whole
        column.no_wrap = column.header not in ("params vs base", "author", "remote")
    out().print(table)


@exp_app.command("show")
def show_cmd(
    name: Annotated[str, typer.Argument(help="Experiment name (or exp/NAME).")],
    json_out: JsonOpt = False,
) -> None:
    """Show one experiment in full: trailers, all params and metrics, params changed vs its
    base, and the outputs recorded in dvc.lock with their hashes."""
    from mlgit.exp_read import show_experiment

    detail = show_experiment(repo_root(), name)
    if json_out:
        print_json("exp show", detail)
        return
    _print_detail(detail)


def _print_detail(d: ExperimentDetail) -> None:
    from mlgit.render import fmt_value, rich_table

    i = d.info
    out().print(f"[bold]{i.branch}[/bold]  {i.sha[:12]}  {i.date}  {i.author}", highlight=False)
    out().print(f"  {i.subject}", markup=False, highlight=False)
    out().print(f"  base {i.base[:12] if i.base else '?'}  ·  remote: {i.remote.describe()}",
                highlight=False)
    if d.trailers:
        out().print(rich_table("Trailers", ["key", "value"], list(d.trailers.items())))
    if i.params:
        out().print(rich_table("Params changed vs base", ["param", "base", "experiment"],
                               [(c.key, fmt_value(c.old), fmt_value(c.new)) for c in i.params]))
    out().print(rich_table("Metrics", ["metric", "experiment", "base"],
                           [(k, fmt_value(v), fmt_value(d.base_metrics.get(k)))
                            for k, v in d.metrics.items()]))
    out().print(rich_table("Params", ["param", "value"],
                           [(k, fmt_value(v)) for k, v in d.params.items()]))
    if d.outputs:
        out().print(rich_table("Outputs (dvc.lock)", ["stage", "path", "md5", "size"],
                               [(o.stage, o.path, o.hash or "-", o.size) for o in d.outputs]))
    for file, problem in d.errors.items():
        err().print(f"[yellow]warning:[/yellow] {file}: {problem}", markup=True)


@exp_app.command("rm")
def rm_cmd(
    names: Annotated[list[str], typer.Argument(help="Experiment names (or exp/NAME).")],
    remote: Annotated[bool, typer.Option("--remote", help="Also delete the branches on their "
                      "Git remote.")] = False,
    force: Annotated[bool, typer.Option("--force", "-f", help="Delete even if not merged or "
                     "pushed (like `git branch -D`).")] = False,
) -> None:
    """Delete experiment branches. Like `git branch -d`, refuses one whose work would be lost
    (not merged into HEAD or the base branch, and not pushed) unless --force.

    Example: mlgit exp rm sweep-lr0.01 sweep-lr1 --remote
    """
    from mlgit.exp_manage import remove_experiments

    for r in remove_experiments(repo_root(), names, remote=remote, force=force):
        where = " and on " + r.remote if r.remote else ""
        restore = f" (was {r.sha[:12]}; `git branch {r.branch} {r.sha[:12]}` restores it)" \
            if r.sha else ""
        success(f"deleted {r.branch}" + (" locally" if r.sha else "") + where + restore)


@exp_app.command("import")
def import_cmd(
    names: Annotated[list[str] | None, typer.Argument(help="DVC experiments: name, ref or "
                     "commit prefix.")] = None,
    import_all: Annotated[bool, typer.Option("--all", help="Import every DVC experiment.")]
    = False,
) -> None:
    """Turn DVC experiments (hidden `refs/exps/...` from `dvc exp run`) into exp/ branches
    with trailers, so plain `git push` shares them and `mlgit exp list` shows them.

    Example: mlgit exp import --all
    """
    from mlgit.errors import MlgitError
    from mlgit.exp_manage import import_dvc_experiments

    results = import_dvc_experiments(repo_root(), names or [], import_all=import_all)
    for r in results:
        if r.status == "imported":
            success(f"imported {r.dvc_ref} as {r.branch} ({(r.sha or '')[:8]})")
        elif r.status == "already imported":
            note(f"{r.branch} already holds {r.dvc_ref}")
    failed = [r for r in results if r.status == "failed"]
    if failed:
        raise MlgitError("could not import " + "; ".join(f"{r.name}: {r.reason}"
                                                          for r in failed),
                         hint="rename or remove the branches in the way, then rerun")


def demo_step(ctx: DemoContext) -> None:
    """Three experiments with different learning rates, run side by side; then the list."""
    from mlgit.cli.demo import _say
    from mlgit.exp_create import new_experiments
    from mlgit.exp_read import list_experiments

    _say("3. Experiments are Git branches: a grid of three learning rates, two at a time",
         "mlgit exp new sweep -S train.lr=0.03,0.3,0.6 -j 2")
    result = new_experiments(ctx.project, "sweep", ["train.lr=0.03,0.3,0.6"], jobs=2,
                             progress=note)
    _print_outcomes(result)
    if result.failed:
        from mlgit.errors import MlgitError

        raise MlgitError("the demo's experiments failed: "
                         + "; ".join(f"{o.name}: {o.error}" for o in result.failed))
    ctx.notes["experiments"] = [o.branch for o in result.outcomes]
    _say("Each one is a branch with its params, dvc.lock and metrics, read straight from Git",
         "mlgit exp list")
    _print_list(list_experiments(ctx.project))
