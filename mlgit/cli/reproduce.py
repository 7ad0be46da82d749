"""`mlgit reproduce` and `mlgit lineage`: rebuild a past model and prove it; show what made it."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mlgit.cli._common import JsonOpt, err, note, out, print_json, print_text, repo_root

if TYPE_CHECKING:
    from mlgit.cli.demo import DemoContext
    from mlgit.lineage import Lineage
    from mlgit.reproduce import ReproduceResult


def register(app: typer.Typer) -> None:
    app.command("reproduce", help=reproduce_cmd.__doc__)(reproduce_cmd)
    app.command("lineage", help=lineage_cmd.__doc__)(lineage_cmd)


def reproduce_cmd(
    ref: Annotated[str, typer.Argument(
        help="Commit, branch, tag, experiment name or registry ref (model#production, "
             "model@v1.2.0).", show_default=False)],
    verify: Annotated[bool, typer.Option(
        "--verify", help="Exit 1 if any output differs from the commit's dvc.lock (for CI)."),
    ] = False,
    rerun: Annotated[bool, typer.Option(
        "--rerun", help="Run every stage again (dvc repro --force) instead of restoring "
                        "outputs from the DVC cache/remote.")] = False,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Copy the outputs (the model first) into this new or empty "
                               "directory.", show_default=False)] = None,
    keep: Annotated[bool, typer.Option(
        "--keep", help="Keep the temporary worktree and print its path.")] = False,
    jobs: Annotated[int | None, typer.Option(
        "--jobs", "-j", help="Parallel downloads for `dvc pull` (DVC runs stages one at a "
                             "time).", show_default=False)] = None,
    rtol: Annotated[float, typer.Option(
        "--rtol", help="Relative tolerance when comparing metrics values of a rerun.")] = 1e-9,
    json_out: JsonOpt = False,
) -> None:
    """Restore (or --rerun) a commit's outputs in a throwaway worktree and check their hashes.

    Every output is compared with the hash in that commit's dvc.lock; with --rerun the whole
    pipeline runs again first (dvc repro --force). Your checkout is never touched.

    Example: mlgit reproduce model#production --rerun --verify
    """
    from mlgit.errors import GateFailed
    from mlgit.reproduce import reproduce

    result = reproduce(repo_root(), ref, rerun=rerun, keep=keep, jobs=jobs, rtol=rtol,
                       output=output.absolute() if output else None, progress=note)
    if json_out:
        print_json("reproduce", {**dataclasses.asdict(result), "ok": result.ok})
    else:
        show_reproduce(result)
    if verify and not result.ok:
        bad = result.mismatches
        raise GateFailed(
            f"{len(bad)} of {len(result.checks)} outputs of {result.sha[:8]} do not match its "
            "dvc.lock: " + ", ".join(c.path for c in bad),
            hint="a stage is not deterministic (seed it, pin library versions) or its inputs "
                 "changed; compare with `mlgit reproduce REF --rerun --keep`")


_STATUS = {"match": "[green]✓ match[/green]", "close": "[yellow]≈ equal values[/yellow]",
           "differ": "[red]✗ differs[/red]", "missing": "[red]✗ missing[/red]"}


def show_reproduce(result: ReproduceResult) -> None:
    """The verification table and a one-line verdict, for people."""
    from rich.markup import escape
    from rich.text import Text

    from mlgit.modelcard import short_hash
    from mlgit.render import rich_table

    found = "rebuilt" if result.mode == "rerun" else "restored"
    columns = ["output", "stage", "committed", found, "result"]
    rows: list[list[Any]] = [
        [c.path + (" (model)" if c.kind == "model" else ""), c.stage or "(.dvc file)",
         short_hash(c.committed, 8), short_hash(c.found, 8), Text.from_markup(_STATUS[c.status])]
        for c in result.checks]
    if any(c.detail for c in result.checks):
        columns.append("detail")
        for row, c in zip(rows, result.checks, strict=True):
            row.append(c.detail)
    out().print(rich_table(f"{result.mode} {result.sha[:8]} ({result.ref})", columns, rows))
    for text in result.notes:
        note(f"note: {text}")
    if result.pulled:
        note("pulled from the DVC remote: " + ", ".join(result.pulled))
    if result.copied:
        note(f"copied to {result.output_dir}: " + ", ".join(result.copied))
    if result.worktree:
        out().print(f"worktree kept at {escape(result.worktree)} "
                    f"(remove it with `git worktree remove --force {escape(result.worktree)}`)")
    n, bad = len(result.checks), len(result.mismatches)
    if bad == 0:
        close = sum(c.status == "close" for c in result.checks)
        extra = f" ({close} numerically equal, not bit-exact)" if close else ""
        out().print(f"[green]✓[/green] all {n} outputs of {result.sha[:8]} match its "
                    f"dvc.lock{extra} [dim]({result.seconds:.1f} s)[/dim]")
    else:
        err().print(f"[red]✗[/red] {bad} of {n} outputs of {result.sha[:8]} differ from its "
                    f"dvc.lock [dim]({result.seconds:.1f} s)[/dim]")


def lineage_cmd(
    ref: Annotated[str, typer.Argument(
        help="Commit, branch, tag, experiment name or registry ref (model#production).",
        show_default=False)],
    fmt: Annotated[str, typer.Option(
        "--format", help="table (for people) or md (a model card for a pull request or a "
                         "release).")] = "table",
    json_out: JsonOpt = False,
) -> None:
    """Show everything that made a commit's model, from Git and dvc.lock alone.

    The commit and its trailers, branches, params and their diff to the base, every stage with
    dependency and output hashes, data, metrics, and registry tags. --format md: a model card.

    Example: mlgit lineage model#production --format md > MODEL_CARD.md
    """
    from mlgit.errors import UsageError
    from mlgit.lineage import lineage

    if fmt not in ("table", "md"):
        raise UsageError(f"--format {fmt}: expected 'table' or 'md'", hint="use --json for JSON")
    result = lineage(repo_root(), ref)
    if json_out:
        print_json("lineage", result)
    elif fmt == "md":
        from mlgit.modelcard import model_card

        print_text(model_card(result))
    else:
        show_lineage(result)


def show_lineage(lin: Lineage) -> None:
    """Lineage as rich tables, for people."""
    from rich.markup import escape

    from mlgit.modelcard import human_size, short_hash
    from mlgit.render import fmt_value, rich_table

    c = lin.commit
    console = out()
    console.print(f"[bold]commit {c.sha}[/bold]")
    console.print(f"author  {escape(c.author)} <{escape(c.author_email)}>   date {c.date}")
    console.print(f"        {escape(c.subject)}")
    if c.experiment:
        console.print(f"experiment  {escape(c.experiment)}")
    if c.base:
        how = "Mlgit-Base trailer" if c.base_from == "trailer" else "first parent"
        console.print(f"base        {c.base[:8]} ({how})")
    console.print("branches    " + (escape(", ".join(lin.branches)) or "(none)"))
    if lin.model:
        m = lin.model
        console.print(f"model       {escape(m.name)}: {escape(m.path)} md5 {m.hash or '-'} "
                      f"({human_size(m.size)})")
    if lin.registry:
        console.print(rich_table("Registry", ["tag", "version", "stage", "by", "when", "signed"],
                                 [(t.tag, t.version, _stage_text(t.stage, t.current),
                                   t.by, t.when, "yes" if t.signed else "no")
                                  for t in lin.registry]))
    changed = {p.key: p for p in lin.params_changed}
    tables: list[tuple[str, list[str], list[tuple[Any, ...]]]] = [
        ("Metrics", ["metric", "value"], list(lin.metrics.items())),
        ("Params", ["param", "value", "base"] if c.base else ["param", "value"],
         [(k, v, fmt_value(changed[k].base) if k in changed else "")[: 3 if c.base else 2]
          for k, v in lin.params.items()]),
        ("Data", ["path", "md5", "size"],
         [(f.path, short_hash(f.hash), human_size(f.size)) for f in lin.data]),
    ]
    for title, cols, rows in tables:
        if rows:
            console.print(rich_table(title, cols, rows))
    console.print(rich_table("Stages", ["stage", "command", "deps", "outs"], [
        (s.name, s.cmd,
         "\n".join(f"{d.path} {short_hash(d.hash, 8)} ({d.source})" for d in s.deps),
         "\n".join(f"{o.path} {short_hash(o.hash, 8)} {human_size(o.size)}" for o in s.outs))
        for s in lin.stages]))


def _stage_text(stage: str | None, current: bool | None) -> str:
    if not stage:
        return "-"
    return stage + (" (current)" if current else " (moved on)" if current is False else "")


def demo_step(ctx: DemoContext) -> None:
    """Demo: rebuild the model in production (or the best experiment) and print its card."""
    from mlgit.cli.demo import _say
    from mlgit.lineage import lineage
    from mlgit.modelcard import model_card
    from mlgit.reproduce import reproduce

    ref = _demo_ref(ctx)
    _say("6. Reproduce that model from its commit alone, and prove it",
         f"mlgit reproduce {ref} --rerun --verify")
    result = reproduce(ctx.project, ref, rerun=True, progress=note)
    show_reproduce(result)
    _say("   Its lineage, as a model card for a pull request or a release",
         f"mlgit lineage {ref} --format md")
    print_text(model_card(lineage(ctx.project, ref)))


def _demo_ref(ctx: DemoContext) -> str:
    """The model in production if the promote step ran, else the best experiment, else HEAD."""
    from mlgit.registry import load_registry

    for state in load_registry(ctx.project):
        if state.holder("production") is not None:
            return f"{state.artifact}#production"
    return _best_experiment(ctx.project) or "HEAD"


def _best_experiment(root: Path) -> str | None:
    """The experiment branch with the best primary metric (read from Git objects)."""
    from mlgit import git
    from mlgit.config import load_config
    from mlgit.metrics import read_revision

    config = load_config(root)
    rows = git.for_each_ref(root, [f"refs/heads/{config.exp_prefix}"], ["%(refname:short)"])
    best: tuple[float, str] | None = None
    with git.object_reader(root) as reader:
        for (branch,) in rows:
            metrics = read_revision(reader, branch).flat_metrics()
            value = metrics.get(config.metric or "")
            if not isinstance(value, int | float):
                continue
            score = float(value) if config.direction_of(config.metric or "") == "max" \
                else -float(value)
            if best is None or score > best[0]:
                best = (score, branch)
    return best[1] if best else None
