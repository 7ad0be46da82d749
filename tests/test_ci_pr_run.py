"""The generated GitHub pull-request workflow, run for real.

A real repository with a base branch and a pull-request branch (params changed, pipeline rerun
by DVC), pushed to a bare "GitHub" remote and checked out as actions/checkout does for a
`pull_request` event (full history, the test merge commit, detached). Then the `run:` steps of
the `report` job and of the `comment` job execute in order with bash, with GitHub's variables,
a real-shaped event JSON, and a fake `gh` that keeps the comments. The pull request's branch
name is hostile on purpose: it must reach the shell only as data.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.fake_gh import FakeGh
from tests.gha_runner import JobRun, run_job
from tests.helpers import PROJECT_ROOT, commit_all, dvc, git, run_env, run_mlgit

MARKER = "<!-- mlgit:metrics-diff -->"
# A legal git branch name that is a shell injection if it is ever pasted into a script.
HOSTILE_BRANCH = 'feat/$(touch${IFS}pwned)";touch${IFS}pwned2;"`touch${IFS}pwned3`'
HOSTILE_TITLE = "Faster ${{ github.token }} $(touch pwned4) @admin <img src=x onerror=alert(1)>"
INSTALLERS = {"setup-python", "install-mlgit", "setup-python-comment", "install-mlgit-comment"}


def _mlgit_shim(bin_dir: Path) -> None:
    """`mlgit` on PATH = this checkout's mlgit (what `pip install` gives a runner)."""
    shim = bin_dir / "mlgit"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m mlgit "$@"\n')
    shim.chmod(0o755)


def _event(number: int, base_sha: str, head_sha: str, head_ref: str) -> dict[str, Any]:
    repo = {"full_name": "octo/models", "name": "models", "owner": {"login": "octo"}}
    return {
        "action": "synchronize",
        "number": number,
        "pull_request": {
            "number": number, "title": HOSTILE_TITLE, "body": "please review @admin",
            "base": {"ref": "main", "sha": base_sha, "repo": repo},
            "head": {"ref": head_ref, "sha": head_sha, "repo": repo},
            "user": {"login": "contributor"},
        },
        "repository": repo,
    }


def _checkout_like_actions(origin: Path, workspace: Path, head_sha: str) -> str:
    """actions/checkout with fetch-depth 0 on pull_request: the test merge commit, detached."""
    git("clone", "-q", str(origin), str(workspace), cwd=origin.parent)
    git("checkout", "-q", "--detach", "origin/main", cwd=workspace)
    git("-c", "user.name=GitHub", "-c", "user.email=noreply@github.com", "merge", "-q",
        "--no-ff", "-m", f"Merge {head_sha} into main", head_sha, cwd=workspace)
    return git("rev-parse", "HEAD", cwd=workspace).strip()


def _run_workflow(workflow: dict[str, Any], base: Path, origin: Path, gh: FakeGh, run_no: int,
                  ) -> tuple[JobRun, JobRun, Path]:
    """One `pull_request` run: the report job, then the comment job (needs: report)."""
    run_dir = base / f"run{run_no}"
    workspace, comment_ws, artifacts = run_dir / "work", run_dir / "comment", run_dir / "artifact"
    run_dir.mkdir()
    comment_ws.mkdir()
    head_sha = git("rev-parse", "refs/heads/" + HOSTILE_BRANCH, cwd=origin).strip()
    base_sha = git("rev-parse", "refs/heads/main", cwd=origin).strip()
    merge_sha = _checkout_like_actions(origin, workspace, head_sha)
    event = _event(42, base_sha, head_sha, HOSTILE_BRANCH)
    (run_dir / "event.json").write_text(json.dumps(event))
    context = {"github": {"base_ref": "main", "head_ref": HOSTILE_BRANCH,
                          "repository": "octo/models", "token": "ghs_faketoken",
                          "event": event, "event_name": "pull_request"}}
    bin_dir = run_dir / "bin"
    bin_dir.mkdir()
    _mlgit_shim(bin_dir)

    def env_for(ws: Path, job: str) -> dict[str, str]:
        (run_dir / f"{job}-output").touch()
        (run_dir / f"{job}-env").touch()
        return run_env({
            **gh.env(), "PATH": f"{bin_dir}{os.pathsep}{gh.env()['PATH']}",
            "CI": "true", "GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": str(ws),
            "GITHUB_EVENT_NAME": "pull_request", "GITHUB_EVENT_PATH": str(run_dir / "event.json"),
            "GITHUB_REPOSITORY": "octo/models", "GITHUB_REPOSITORY_OWNER": "octo",
            "GITHUB_BASE_REF": "main", "GITHUB_HEAD_REF": HOSTILE_BRANCH,
            "GITHUB_REF": "refs/pull/42/merge", "GITHUB_REF_NAME": "42/merge",
            "GITHUB_SHA": merge_sha, "GITHUB_RUN_ID": str(1000 + run_no),
            "GITHUB_RUN_NUMBER": str(run_no), "GITHUB_JOB": job, "GITHUB_ACTOR": "contributor",
            "GITHUB_OUTPUT": str(run_dir / f"{job}-output"),
            "GITHUB_ENV": str(run_dir / f"{job}-env"),
            "GITHUB_STEP_SUMMARY": str(run_dir / "summary.md"),
            "RUNNER_TEMP": str(run_dir), "RUNNER_OS": "Linux",
        })

    def report_uses(step: dict[str, Any]) -> None:
        uses = step["uses"]
        if uses.startswith("actions/upload-artifact@"):
            shutil.copytree(workspace / step["with"]["path"], artifacts)
        else:
            assert uses.startswith(("actions/checkout@", "actions/setup-python@")), uses

    def comment_uses(step: dict[str, Any]) -> None:
        uses = step["uses"]
        if uses.startswith("actions/download-artifact@"):
            shutil.copytree(artifacts, comment_ws / step["with"]["path"])
        else:
            assert uses.startswith("actions/setup-python@"), uses

    report = run_job("report", workflow["jobs"]["report"], context, workspace=workspace,
                     env=env_for(workspace, "report"), skip=INSTALLERS, on_uses=report_uses)
    assert report.ran and all(s.returncode == 0 for s in report.steps), _explain(report)
    assert workflow["jobs"]["comment"]["needs"] == "report"
    comment = run_job("comment", workflow["jobs"]["comment"], context, workspace=comment_ws,
                      env=env_for(comment_ws, "comment"), skip=INSTALLERS,
                      on_uses=comment_uses)
    assert comment.ran and all(s.returncode == 0 for s in comment.steps), _explain(comment)
    return report, comment, run_dir


def _explain(job: JobRun) -> str:
    return "\n".join(f"[{s.kind}] {s.name}: rc={s.returncode}\n{s.stdout}\n{s.stderr}"
                     for s in job.steps)


def test_pr_workflow_runs_for_real_and_keeps_one_sticky_comment(repo: Path,
                                                               tmp_path: Path) -> None:
    # the pull request: new params, pipeline rerun, new metrics committed on a hostile branch
    git("switch", "-q", "-c", HOSTILE_BRANCH, cwd=repo)
    params = (repo / "params.yaml").read_text().replace("lr: 0.1 ", "lr: 0.5 ")
    (repo / "params.yaml").write_text(params.replace("epochs: 20", "epochs: 40"))
    dvc("repro", cwd=repo)
    commit_all(repo, "Faster learning rate")
    git("switch", "-q", "main", cwd=repo)
    origin = tmp_path / "origin.git"
    git("clone", "-q", "--bare", str(repo), str(origin), cwd=tmp_path)

    run_mlgit("ci", "generate", "github", "--jobs", "pr", "--out", str(tmp_path / "gen"),
              cwd=repo)
    wf_path = tmp_path / "gen" / ".github" / "workflows" / "mlgit-pr.yml"
    workflow = yaml.safe_load(wf_path.read_text())
    gh = FakeGh(tmp_path)

    report, _, run1 = _run_workflow(workflow, tmp_path, origin, gh, 1)
    assert {s.id for s in report.steps if s.kind == "skipped"} == {"setup-python",
                                                                    "install-mlgit"}
    body = (run1 / "work" / "mlgit-report" / "report.md").read_text()
    assert body.startswith(MARKER)
    assert (run1 / "summary.md").read_text() == body
    assert (run1 / "artifact" / "pr-number.txt").read_text() == "42\n"
    comments = gh.comments("octo/models#42")
    assert len(comments) == 1 and comments[0]["body"] == body
    # the comment's tables are `mlgit diff`'s, line for line (same labels, same commits)
    diff_md = run_mlgit("diff", "main", HOSTILE_BRANCH, "--format", "md", cwd=repo).stdout
    tables = [line for line in diff_md.splitlines() if line.startswith("| ")]
    assert len(tables) >= 6 and all(line in body.splitlines() for line in tables)
    assert "| train.lr | 0.1 | 0.5 | changed |" in body
    diff = json.loads(run_mlgit("diff", "main", HOSTILE_BRANCH, "--json", cwd=repo).stdout)
    primary = next(m for m in diff["data"]["metrics"] if m["primary"])
    headline = body.splitlines()[1]
    assert headline.startswith("### ") and primary["name"] in headline
    assert {"better": "better than main", "worse": "worse than main",
            "same": "unchanged from main"}[primary["status"]] in headline

    # a second push to the pull request: the same comment is updated, not duplicated
    git("switch", "-q", HOSTILE_BRANCH, cwd=repo)
    (repo / "params.yaml").write_text(params.replace("lr: 0.5 ", "lr: 0.01 ")
                                      .replace("epochs: 20", "epochs: 2"))
    dvc("repro", cwd=repo)
    commit_all(repo, "Much smaller steps")
    git("push", "-q", str(origin), f"refs/heads/{HOSTILE_BRANCH}", cwd=repo)
    _run_workflow(workflow, tmp_path, origin, gh, 2)
    comments = gh.comments("octo/models#42")
    assert len(comments) == 1
    body2 = (tmp_path / "run2" / "work" / "mlgit-report" / "report.md").read_text()
    assert comments[0]["body"] == body2 != body
    # (parentheses come escaped: every repo-derived string goes through md_escape)
    assert body2.splitlines()[1] == \
        "### 🔴 accuracy 0.93 → 0.89, -0.04 \\(-4.30%\\): worse than main"
    methods = [c["argv"][c["argv"].index("--method") + 1] for c in gh.write_calls()]
    assert methods == ["POST", "PATCH"]

    # the hostile branch name and title never ran: no file was created by them
    assert not [p for p in tmp_path.rglob("pwned*")]
    assert not [p for p in PROJECT_ROOT.glob("pwned*")]
