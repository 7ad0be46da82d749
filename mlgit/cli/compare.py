"""`mlgit compare` and `mlgit diff`: which branch is best, and what changed.

Thin: the options come from the table in `mlgit.quick` (which also runs these commands without
Typer when it can) and the bodies call the same `run_compare` / `run_diff`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mlgit.cli._common import err, out, repo_root
from mlgit.quick import COMPARE_OPTS, DIFF_OPTS, Format, Opt, option, run_compare, run_diff

if TYPE_CHECKING:
    from mlgit.cli.demo import DemoContext
    from mlgit.compare import CompareResult


def _opt(opts: Sequence[Opt], name: str) -> Any:
    o = option(opts, name)
    return typer.Option(*o.decls, help=o.help, show_default=o.kind not in ("str", "list"),
                        min=o.minimum, max=o.maximum)


def register(app: typer.Typer) -> None:
    app.command("compare", help=compare_cmd.__doc__)(compare_cmd)
    app.command("diff", help=diff_cmd.__doc__)(diff_cmd)


def compare_cmd(
    refs: Annotated[list[str] | None, typer.Argument(
        help="Revisions or glob patterns ('exp/*'). Default: the base branch, the current "
        "branch and every experiment branch.", show_default=False)] = None,
    all_branches: Annotated[bool, _opt(COMPARE_OPTS, "all_branches")] = False,
    tags: Annotated[bool, _opt(COMPARE_OPTS, "tags")] = False,
    all_commits: Annotated[bool, _opt(COMPARE_OPTS, "all_commits")] = False,
    sort: Annotated[str | None, _opt(COMPARE_OPTS, "sort")] = None,
    ascending: Annotated[bool | None, _opt(COMPARE_OPTS, "ascending")] = None,
    only_changed: Annotated[bool, _opt(COMPARE_OPTS, "only_changed")] = False,
    columns: Annotated[list[str] | None, _opt(COMPARE_OPTS, "columns")] = None,
    all_params: Annotated[bool, _opt(COMPARE_OPTS, "all_params")] = False,
    fmt: Annotated[Format, _opt(COMPARE_OPTS, "fmt")] = Format.table,
    json_out: Annotated[bool, _opt(COMPARE_OPTS, "json_out")] = False,
    precision: Annotated[int, _opt(COMPARE_OPTS, "precision")] = 4,
    chart: Annotated[bool, _opt(COMPARE_OPTS, "chart")] = False,
    strict: Annotated[bool, _opt(COMPARE_OPTS, "strict")] = False,
    pull: Annotated[bool, _opt(COMPARE_OPTS, "pull")] = False,
) -> None:
    """Metrics and params of many branches side by side, best first, from Git objects alone.

    Example: mlgit compare 'exp/*' --sort loss --format md --chart
    """
    run_compare(repo_root(), refs or [], all_branches=all_branches, tags=tags, sort=sort,
                ascending=ascending, only_changed=only_changed, columns=columns or [],
                all_params=all_params, fmt=fmt, json_out=json_out, precision=precision,
                chart=chart, strict=strict, all_commits=all_commits, pull=pull,
                consoles=(out(), err()))


def diff_cmd(
    a: Annotated[str | None, typer.Argument(
        help="Old revision (default: the base branch).", show_default=False)] = None,
    b: Annotated[str | None, typer.Argument(
        help="New revision (default: the work tree, uncommitted changes included).",
        show_default=False)] = None,
    fmt: Annotated[Format, _opt(DIFF_OPTS, "fmt")] = Format.table,
    json_out: Annotated[bool, _opt(DIFF_OPTS, "json_out")] = False,
    show_all: Annotated[bool, _opt(DIFF_OPTS, "show_all")] = False,
    precision: Annotated[int, _opt(DIFF_OPTS, "precision")] = 4,
    strict: Annotated[bool, _opt(DIFF_OPTS, "strict")] = False,
) -> None:
    """Metrics, params and data/model hashes that changed between two revisions.

    Example: mlgit diff main exp/fast
    """
    run_diff(repo_root(), a, b, fmt=fmt, json_out=json_out, show_all=show_all,
             precision=precision, strict=strict, consoles=(out(), err()))


# --- demo ---------------------------------------------------------------------------------------


def demo_step(ctx: DemoContext) -> None:
    """Narrate compare and diff on the demo project, after the experiments step made `exp/*`."""
    from mlgit.cli.demo import _say
    from mlgit.compare import compare_revisions
    from mlgit.diffing import diff_revisions
    from mlgit.tables import print_compare_table, print_diff_tables

    _say("4. Which experiment is best? Every branch, read straight from Git objects",
         "mlgit compare --chart")
    result = compare_revisions(ctx.project)
    print_compare_table(out(), result, 4, chart=True)
    best = _best_experiment(result)
    if best is None or result.base is None:
        out().print("No experiment branches to compare yet.")
        return
    ctx.notes["best_experiment"] = best
    _say(f"   What did {best} change? Metrics, params, and whether data or model changed",
         f"mlgit diff {result.base} {best}")
    print_diff_tables(out(), diff_revisions(ctx.project, result.base, best), 4)


def _best_experiment(result: CompareResult) -> str | None:
    """The experiment row with the best primary metric (the first experiment if none has it)."""
    from mlgit.metrics import is_number

    exps = [r for r in result.rows if r.kind == "experiment"]
    metric = result.metric
    scored = [r for r in exps if metric and is_number(r.metrics.get(metric))]
    if scored and metric:
        pick = max if result.direction != "min" else min
        return pick(scored, key=lambda r: r.metrics[metric]).ref
    return exps[0].ref if exps else None
