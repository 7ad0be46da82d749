"""The model registry: `mlgit promote`, `models`, `history`, `rollback`, `verify`, `model add`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mlgit.cli._common import JsonOpt, err, note, out, print_json, repo_root, success

if TYPE_CHECKING:
    from mlgit.catalog import ModelSummary
    from mlgit.cli.demo import DemoContext
    from mlgit.gates import GateResult
    from mlgit.promote import WriteResult

model_app = typer.Typer(help="Declare model artifacts (for GTO and `dvc artifacts get`).",
                        no_args_is_help=True)

SignOpt = Annotated[bool, typer.Option("--sign", help="Sign the tags (`git tag -s`; GPG or SSH "
                                       "keys via git's gpg.format and user.signingkey).")]
PushOpt = Annotated[bool, typer.Option("--push", help="Push the new tags (and `dvc push` the "
                                       "model) to the remotes.")]
RemoteOpt = Annotated[str | None, typer.Option("--remote", help="Git remote for --push "
                                               "(default: origin).", show_default=False)]
MessageOpt = Annotated[str | None, typer.Option("-m", "--message", help="The human line of the "
                                                "tag message.", show_default=False)]


def register(app: typer.Typer) -> None:
    app.command("promote", help=promote_cmd.__doc__)(promote_cmd)
    app.command("models", help=models_cmd.__doc__)(models_cmd)
    app.command("history", help=history_cmd.__doc__)(history_cmd)
    app.command("rollback", help=rollback_cmd.__doc__)(rollback_cmd)
    app.command("verify", help=verify_cmd.__doc__)(verify_cmd)
    app.add_typer(model_app, name="model")


def promote_cmd(
    ref: Annotated[str, typer.Argument(help="What to promote: a branch, exp/NAME, SHA or tag.")],
    to: Annotated[str, typer.Option("--to", help="Stage to assign, e.g. staging or production.")],
    model: Annotated[str | None, typer.Option("--model", help="Artifact name (default: the one "
                                              "in mlgit.yaml, else the first in dvc.yaml).",
                                              show_default=False)] = None,
    version: Annotated[str | None, typer.Option("--version", help="Version to register, e.g. "
                                                "v1.2.0 (if the commit has none).",
                                                show_default=False)] = None,
    bump: Annotated[str, typer.Option("--bump", help="major, minor or patch: how to pick the "
                                      "next version.")] = "minor",
    require: Annotated[list[str] | None, typer.Option(
        "--require", help='Gate on a metric, e.g. "accuracy>=0.9" (repeatable; < <= > >= == !=).',
        show_default=False)] = None,
    force: Annotated[bool, typer.Option("--force", help="Promote even if worse than the model "
                                        "now in the stage (recorded in the tag).")] = False,
    sign: SignOpt = False,
    push: PushOpt = False,
    remote: RemoteOpt = None,
    message: MessageOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Register a version of REF's model if needed, then assign it to a stage, behind gates.

    Gates (all checked before any tag is written): every --require; not worse than the model now
    in the stage on the primary metric; dvc.lock matches the commit; the model is in the DVC cache
    or remote. Tags are GTO's: model@v1.2.0 and model#production#N.

    Example: mlgit promote exp/wide --to production --require "accuracy>=0.9"
    """
    from mlgit.gates import GatesFailed
    from mlgit.promote import PromoteOptions, promote

    opts = PromoteOptions(ref, to, model, version, bump, tuple(require or ()), force, sign, push,
                          remote, message)
    try:
        result = promote(repo_root(), opts)
    except GatesFailed as exc:
        if json_out:
            print_json("promote", {"ok": False, "gates": exc.report.results})
        else:
            _gate_table("Promotion gates", exc.report.results, to_stderr=True)
        raise
    if json_out:
        print_json("promote", {"ok": True, **_result_dict(result)})
        return
    _gate_table("Promotion gates", result.gates.results)
    _say_written(result)


def rollback_cmd(
    name: Annotated[str, typer.Argument(help="Artifact name, e.g. model.")],
    stage: Annotated[str, typer.Option("--stage", help="Stage to roll back.")] = "production",
    to: Annotated[str | None, typer.Option("--to", help="Version to put back (default: the one "
                                           "before).", show_default=False)] = None,
    sign: SignOpt = False,
    push: PushOpt = False,
    remote: RemoteOpt = None,
    message: MessageOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Put the previous (or given) version back into a stage, with a new assignment tag.

    Example: mlgit rollback model --stage production
    """
    from mlgit.promote import rollback

    result = rollback(repo_root(), name, stage, to, sign=sign, push=push, remote=remote,
                      message=message)
    if json_out:
        print_json("rollback", _result_dict(result))
        return
    _say_written(result)


def models_cmd(
    name: Annotated[str | None, typer.Argument(help="Show this artifact's timeline instead.",
                                               show_default=False)] = None,
    json_out: JsonOpt = False,
) -> None:
    """Every model artifact: its latest version and which version holds each stage.

    Example: mlgit models --json
    """
    if name is not None:
        history_cmd(name, json_out)
        return
    from mlgit.catalog import list_models

    root = repo_root()
    rows = list_models(root)
    if json_out:
        print_json("models", rows)
        return
    if not rows:
        note("no model artifacts yet: declare one with `mlgit model add NAME --path PATH`")
        return
    out().print(_models_table(rows, root))


def history_cmd(
    name: Annotated[str, typer.Argument(help="Artifact name, e.g. model.")],
    json_out: JsonOpt = False,
) -> None:
    """The timeline of one artifact: registrations and stage moves, who, when, commit, metric.

    Example: mlgit history model
    """
    from mlgit.catalog import artifact_history
    from mlgit.render import fmt_value, rich_table

    hist = artifact_history(repo_root(), name)
    if json_out:
        print_json("history", hist)
        return
    rows = []
    for e in hist.entries:
        what = {"register": "registered", "deregister": "deregistered", "deprecate": "deprecated",
                "create": "created", "assign": f"→ {e.stage}",
                "unassign": f"✗ {e.stage}"}.get(e.action, e.action)
        rows.append((_local(e.time), what + (" (forced)" if e.forced else ""), e.version or "",
                     e.commit[:8], e.author, fmt_value(e.value), "✓" if e.signed else ""))
    out().print(rich_table(f"{hist.artifact}: history", ["when", "event", "version", "commit",
                                                         "by", hist.metric or "metric",
                                                         "signed"], rows))


def verify_cmd(
    ref: Annotated[str, typer.Argument(help="NAME@vX.Y.Z, NAME#STAGE or NAME@latest.")],
    require_signed: Annotated[bool, typer.Option("--require-signed",
                                                 help="Fail on unsigned tags.")] = False,
    no_fetch: Annotated[bool, typer.Option("--no-fetch", help="Do not fetch the model from the "
                                           "DVC remote to check its bytes.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Check a registry entry: tag signature, recorded commit and model hash, the model's bytes.

    Exits 0 only if every check holds.

    Example: mlgit verify model#production
    """
    from mlgit.errors import GateFailed
    from mlgit.verify import verify_ref

    report = verify_ref(repo_root(), ref, require_signed=require_signed, fetch=not no_fetch)
    if json_out:
        print_json("verify", {"ok": report.ok, **_asdict(report)})
    else:
        _gate_table(f"verify {ref}: {report.artifact} {report.version} at {report.commit[:8]}",
                    report.checks)
    if not report.ok:
        n = sum(not c.ok for c in report.checks)
        raise GateFailed(f"{ref}: {n} check{'s' if n != 1 else ''} did not hold")
    if not json_out:
        success(f"{ref} verified")


@model_app.command("add")
def add_cmd(
    name: Annotated[str, typer.Argument(help="Artifact name (GTO's rule: letters, digits, "
                                        "- _ /).")],
    path: Annotated[str, typer.Option("--path", help="The model file or directory: a DVC stage "
                                      "output.")],
    type_: Annotated[str, typer.Option("--type", help="Artifact type.")] = "model",
    desc: Annotated[str | None, typer.Option("--desc", help="One-line description.",
                                             show_default=False)] = None,
    no_commit: Annotated[bool, typer.Option("--no-commit", help="Edit dvc.yaml, do not "
                                            "commit.")] = False,
) -> None:
    """Declare a model under `artifacts:` in dvc.yaml (comments and order kept) and commit.

    Example: mlgit model add model --path models/model.pkl --desc "churn classifier"
    """
    from mlgit.promote import add_model

    sha = add_model(repo_root(), name, path, type_=type_, desc=desc, commit=not no_commit)
    success(f"declared artifact '{name}' ({path}) in dvc.yaml"
            + (f", committed {sha[:8]}" if sha else ""))


# --- rendering --------------------------------------------------------------------------------


def _asdict(value: Any) -> dict[str, Any]:
    from mlgit.render import to_jsonable

    data = to_jsonable(value)
    return data if isinstance(data, dict) else {}


def _result_dict(result: WriteResult) -> dict[str, Any]:
    data = _asdict(result)
    data["gates"] = data.pop("gates", {}).get("results", [])
    return data


def _gate_table(title: str, results: tuple[GateResult, ...], to_stderr: bool = False) -> None:
    from rich.text import Text

    from mlgit.render import rich_table

    if not results:
        return
    rows = []
    for r in results:
        mark = ("forced", "yellow") if r.forced else (("ok", "green") if r.ok else
                                                       ("FAILED", "bold red"))
        rows.append((r.gate, Text(mark[0], style=mark[1]), r.detail))
    (err() if to_stderr else out()).print(rich_table(title, ["check", "result", "detail"], rows))


def _say_written(result: WriteResult) -> None:
    if result.registered:
        success(f"registered {result.artifact} {result.version} at {result.commit[:8]} "
                f"(tag {result.tags[0]})")
    was = f"; was {result.previous}" if result.previous else ""
    success(f"{result.artifact} {result.version} is now in {result.stage} "
            f"(tag {result.tags[-1]}{was})")
    if result.pushed_to:
        success(f"pushed {', '.join(result.tags)} to {result.pushed_to} and the model to the "
                "DVC remote")
    else:
        note("share it: git push origin " + " ".join(f"'{t}'" for t in result.tags))


def _stage_order(rows: list[ModelSummary], allowed: tuple[str, ...]) -> list[str]:
    """Stages as columns: mlgit.yaml's order, then the usual lifecycle, then the rest."""
    seen: list[str] = []
    for r in rows:
        seen += [s for s in r.stages if s not in seen]
    preferred = [*allowed, "dev", "staging", "canary", "production"]
    head = [s for s in dict.fromkeys(preferred) if s in seen]
    return head + sorted(s for s in seen if s not in head)


def _models_table(rows: list[ModelSummary], root: Path) -> Any:
    from mlgit.config import load_config
    from mlgit.render import rich_table

    stages = _stage_order(rows, load_config(root).stages)
    table_rows = []
    for r in rows:
        name = r.name + (" (deprecated)" if r.deprecated else "")
        table_rows.append((name, r.latest or "-", *(r.stages[s].version if s in r.stages
                                                     else "-" for s in stages),
                           r.declared or "(not in dvc.yaml)"))
    return rich_table("Models", ["artifact", "latest", *stages, "path"], table_rows)


def _local(iso: str) -> str:
    from datetime import datetime

    return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M:%S")


# --- demo -------------------------------------------------------------------------------------


def demo_step(ctx: DemoContext) -> None:
    """Promote the best experiment to production behind a gate; show the registry."""
    import math
    import shutil

    from mlgit import git, proc
    from mlgit.catalog import list_models
    from mlgit.cli.demo import _say
    from mlgit.config import load_config
    from mlgit.metrics import read_revision
    from mlgit.promote import PromoteOptions, promote

    root = ctx.project
    cfg = load_config(root)
    metric = cfg.metric or "accuracy"
    direction = cfg.direction_of(metric)
    branches = [r[0] for r in git.for_each_ref(root, [f"refs/heads/{cfg.exp_prefix}"],
                                               ["%(refname:short)"])]
    scored: list[tuple[float, str]] = []
    with git.object_reader(root) as reader:
        for name in branches or ["HEAD"]:
            value = read_revision(reader, name).flat_metrics().get(metric)
            if isinstance(value, int | float):
                scored.append((value if direction == "max" else -value, name))
    if not scored:
        out().print(f"[yellow]no branch has a '{metric}' metric: skipping the promotion[/yellow]")
        return
    best_score, best = max(scored)
    # the compare step names a best experiment already: promote that one (ties break alike)
    chosen = ctx.notes.get("best_experiment")
    for score, name in scored:
        if name == chosen and score == best_score:
            best = name
    value = best_score if direction == "max" else -best_score
    bound = math.floor(value * 10) / 10 if direction == "max" else math.ceil(value * 10) / 10
    gate = f"{metric}{'>=' if direction == 'max' else '<='}{bound:g}"
    _say(f"5. Promote the best experiment ({best}, {metric} {value:g}) to production",
         f'mlgit promote {best} --to production --require "{gate}"')
    result = promote(root, PromoteOptions(best, "production", requires=(gate,)))
    _gate_table("Promotion gates", result.gates.results)
    _say_written(result)
    ctx.notes["promoted"] = {"ref": best, "version": result.version, "tags": result.tags}
    _say("   The registry is plain Git tags", "mlgit models")
    out().print(_models_table(list_models(root), root))
    gto = shutil.which("gto")
    if gto:
        _say("   GTO reads the same tags", "gto show")
        res = proc.run([gto, "show"], root, check=False)
        out().print(res.stdout.rstrip() or res.stderr.rstrip())
