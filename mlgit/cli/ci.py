"""`mlgit ci generate|report|comment`: secure CI files and the pull-request metrics report."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mlgit.cli._common import (
    JsonOpt,
    note,
    out,
    print_json,
    print_text,
    success,
    write_output,
)

if TYPE_CHECKING:
    from mlgit.cli.demo import DemoContext
    from mlgit.workflows import CiOptions

ci_app = typer.Typer(help="CI workflows (GitHub, GitLab, Jenkins) and pull-request reports.",
                     no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(ci_app, name="ci")


class Provider(StrEnum):
    github = "github"
    gitlab = "gitlab"
    jenkins = "jenkins"


class CommentProvider(StrEnum):
    github = "github"
    gitlab = "gitlab"


@ci_app.command("generate")
def generate_cmd(
    provider: Annotated[Provider, typer.Argument(help="CI system: github, gitlab or jenkins.")],
    out_dir: Annotated[Path | None, typer.Option("--out", help="Directory to write into. Default: the repository's top.")] = None,
    branch: Annotated[str | None, typer.Option("--branch", help="Base branch pull requests target. Default: mlgit.yaml's base_branch, else main/master.")] = None,
    jobs: Annotated[str | None, typer.Option("--jobs", help="Comma-separated jobs: pr, promote, retrain, sweep. Default: all the provider supports.")] = None,
    python: Annotated[str, typer.Option("--python", help="Python version on the runners.")] = "3.11",
    cron: Annotated[str, typer.Option("--cron", help="Retrain schedule, five numeric cron fields (UTC).")] = "0 3 * * 1",
    install_spec: Annotated[str | None, typer.Option("--install-spec", help="What `pip install` gets in jobs that check out the code, e.g. 'mlgit' or '-r requirements.txt'. Default: this mlgit version, pinned.")] = None,
    comment_install_spec: Annotated[str | None, typer.Option("--comment-install-spec", help="What `pip install` gets in the comment jobs (they never check out code, so no -r FILE). Default: this mlgit version, pinned.")] = None,
    stages: Annotated[list[str] | None, typer.Option("--stage", help="Registry stage whose tags trigger the promote job (repeatable). Default: production.")] = None,
    environment: Annotated[str, typer.Option("--environment", help="GitHub environment holding the DVC remote secrets (promote, retrain, sweep).")] = "mlgit",
    secrets: Annotated[list[str] | None, typer.Option("--secret", help="Secret passed as an env var to the jobs that reach the DVC remote, e.g. AWS_ACCESS_KEY_ID (repeatable). Never given to the pull-request job.")] = None,
    artifact: Annotated[str, typer.Option("--artifact-name", help="Name of the report artifact (GitHub).")] = "mlgit-report",
    max_parallel: Annotated[int, typer.Option("--max-parallel", help="Sweep: runners at once.")] = 4,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing files that differ.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the files instead of writing them.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Write CI files that run mlgit: pull-request reports, promotion, retraining, sweeps.

    Every value is checked against a strict pattern and reaches scripts only through
    environment variables, quoted. GitHub files pass zizmor (auditor persona) and actionlint.

    Examples:

      mlgit ci generate github

      mlgit ci generate github --jobs pr,promote --secret AWS_ACCESS_KEY_ID --secret AWS_SECRET_ACCESS_KEY

      mlgit ci generate gitlab --branch develop --cron "0 4 * * *" --dry-run
    """
    from mlgit import workflows

    default_out, default_branch, prefix = workflows.repo_defaults(Path.cwd())
    opts = workflows.make_options(
        provider.value, jobs=jobs, branch=branch or default_branch, python=python, cron=cron,
        install_spec=install_spec or workflows.DEFAULT_INSTALL_SPEC,
        comment_install_spec=comment_install_spec or workflows.DEFAULT_INSTALL_SPEC,
        stages=stages or workflows.DEFAULT_STAGES, environment=environment,
        secrets=secrets or (), artifact=artifact, exp_prefix=prefix, max_parallel=max_parallel)
    target = (out_dir or default_out).absolute()
    if dry_run:
        rendered = workflows.render_files(opts, workflows.templates_dir())
        if json_out:
            print_json("ci generate", {"provider": opts.provider, "jobs": opts.jobs,
                                       "dry_run": True, "files": rendered})
            return
        for r in rendered:
            print_text(f"# ---- {r.path} ----\n{r.content}")
        return
    result = workflows.generate(target, opts, force=force)
    if json_out:
        print_json("ci generate", result)
        return
    for f in result.files:
        rel = Path(f.path).relative_to(target) if Path(f.path).is_relative_to(target) else f.path
        out().print(f"  {f.status:<11} {rel}", highlight=False)
    success(f"{opts.provider} CI for jobs: {', '.join(opts.jobs)} (base branch {opts.branch})")
    for line in _next_steps(opts):
        note(line)


def _next_steps(opts: CiOptions) -> list[str]:
    steps = ["commit the files; the pull-request report needs no secrets"]
    needs_remote = [j for j in opts.jobs if j in ("promote", "retrain", "sweep")]
    if opts.provider == "github" and needs_remote and not opts.secrets:
        steps.append(f"{', '.join(needs_remote)} reach your DVC remote: add its credentials to "
                     f"the '{opts.environment}' environment and rerun with --secret NAME --force")
    if opts.provider == "gitlab":
        steps.append("add a project access token (scope api) as the masked CI/CD variable "
                     "MLGIT_GITLAB_TOKEN, and a pipeline schedule for retraining")
    return steps


@ci_app.command("comment")
def comment_cmd(
    body_file: Annotated[Path, typer.Option("--body-file", help="The comment text, e.g. from `mlgit ci report --output`.")],
    pr: Annotated[int | None, typer.Option("--pr", help="Pull (or merge) request number.", min=1)] = None,
    pr_file: Annotated[Path | None, typer.Option("--pr-file", help="Read the number from this file (e.g. from a report artifact; it is checked).")] = None,
    repo: Annotated[str | None, typer.Option("--repo", help="OWNER/NAME (GitHub) or project id / path (GitLab). Default: from the CI environment.")] = None,
    provider: Annotated[CommentProvider, typer.Option("--provider", help="github (through `gh`) or gitlab (REST API).")] = CommentProvider.github,
    expect_head_sha: Annotated[str | None, typer.Option("--expect-head-sha", help="Refuse unless the pull request's head is this commit (for reports from forks).")] = None,
    token_var: Annotated[str | None, typer.Option("--token-var", help="GitLab: the variable holding the API token.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Create or update the one sticky mlgit comment on a pull request.

    Finds the comment that starts with <!-- mlgit:metrics-diff --> and updates it, otherwise
    creates it, so a pull request never collects a comment per push. The body is treated as
    untrusted: @mentions are neutralised and its size is capped.

    Example: mlgit ci comment --pr 12 --body-file mlgit-report/report.md
    """
    from mlgit.comments import post_sticky_comment, read_body, read_pr_number
    from mlgit.errors import UsageError

    if pr is not None and pr_file is None:
        number = pr
    elif pr is None and pr_file is not None:
        number = read_pr_number(pr_file)
    else:
        raise UsageError("give exactly one of --pr N and --pr-file FILE")
    result = post_sticky_comment(provider.value, number, read_body(body_file), repo=repo,
                                 expect_head_sha=expect_head_sha, token_var=token_var)
    if json_out:
        print_json("ci comment", result)
        return
    where = f"{result.repo}#{result.pr}" if provider is CommentProvider.github \
        else f"{result.repo}!{result.pr}"
    success(f"{result.action} comment {result.id} on {where}"
            + (f": {result.url}" if result.url else ""))


class ReportFormat(StrEnum):
    md = "md"
    json = "json"


@ci_app.command("report")
def report_cmd(
    base: Annotated[str | None, typer.Option("--base", help="Revision to compare with. Default: the pull request's target in CI (GITHUB_BASE_REF, CI_MERGE_REQUEST_TARGET_BRANCH_NAME, CHANGE_TARGET), else the base branch.")] = None,
    head: Annotated[str | None, typer.Option("--head", help="Revision to report on. Default: HEAD.")] = None,
    fmt: Annotated[ReportFormat, typer.Option("--format", help="md (a pull-request comment) or json.")] = ReportFormat.md,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")] = None,
    chart: Annotated[bool, typer.Option("--chart", help="Add a Mermaid chart of the primary metric (rendered by GitHub; nothing is uploaded).")] = False,
    base_label: Annotated[str | None, typer.Option("--base-label", help="Name to show for the base (e.g. the branch, when --base is a SHA).")] = None,
    head_label: Annotated[str | None, typer.Option("--head-label", help="Name to show for the head (e.g. the pull request's branch).")] = None,
    precision: Annotated[int, typer.Option("--precision", help="Significant digits in the tables.", min=1, max=12)] = 4,
) -> None:
    """The pull-request report: primary metric better or worse, metrics, params, data/model.

    Markdown that starts with <!-- mlgit:metrics-diff --> (for `mlgit ci comment`); every name
    and value from the repository is escaped, so a branch name cannot inject links or HTML.

    Examples:

      mlgit ci report --base main --head exp/fast

      mlgit ci report --output mlgit-report/report.md --chart
    """
    import os

    from mlgit.cli._common import repo_root
    from mlgit.render import json_envelope
    from mlgit.report import build_report, render_report_markdown, report_data

    report = build_report(repo_root(), base, head, base_label=base_label,
                          head_label=head_label, env=os.environ, precision=precision)
    text = (json_envelope("ci report", report_data(report)) + "\n" if fmt is ReportFormat.json
            else render_report_markdown(report, chart=chart, precision=precision))
    if output is None:
        print_text(text)
        return
    write_output(output, text)
    success(f"wrote {output}: {report.headline}")


def demo_step(ctx: DemoContext) -> None:
    """Demo: GitHub workflows for the demo project, then the pull-request comment that the
    best experiment would get against the base branch."""
    from mlgit import git, workflows
    from mlgit.cli.demo import _say
    from mlgit.report import build_report, render_report_markdown

    _say("7. CI: secure GitHub workflows and one sticky pull-request comment",
         "mlgit ci generate github")
    _, branch, prefix = workflows.repo_defaults(ctx.project)
    opts = workflows.make_options("github", branch=branch, exp_prefix=prefix)
    result = workflows.generate(ctx.project, opts, force=True)
    for f in result.files:
        out().print(f"  {f.status:<11} {Path(f.path).relative_to(ctx.project)}")
    out().print("  actions pinned by SHA, `permissions: {}`, values only through env:, "
                "a fork-safe commenter; zizmor and actionlint find nothing")
    paths = [Path(f.path).relative_to(ctx.project).as_posix() for f in result.files]
    git.add(ctx.project, paths)
    if git.differs_from_head(ctx.project, paths):
        git.commit(ctx.project, "Add mlgit CI workflows\n\nWritten by `mlgit ci generate github`.\n",
                   paths=paths)
    # the compare step (which runs before this one) leaves the best experiment's branch here
    best = ctx.notes.get("best_experiment")
    _say(f"   The pull-request comment for {best or 'HEAD'}",
         f"mlgit ci report --base {branch} --head {best or 'HEAD'}")
    report = build_report(ctx.project, branch, best or "HEAD")
    print_text(render_report_markdown(report))
