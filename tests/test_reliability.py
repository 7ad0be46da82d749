"""The reliability matrix (issue #9): every bad input, through the real CLI in a subprocess.

Each case asserts what a user sees and what they keep: a non-zero exit, stderr that is one
`error:` line plus at most one `hint:` line (commands that legitimately stream DVC's output or
a gate table are checked from their `error:` line on), no traceback, and a repository that is
byte-identical afterwards (HEAD, refs and tags, index, status, stash, worktrees, work tree hash,
`.dvc/config` and `.dvc/config.local`).

Cases sharing a setup share one repository per module: a case that changed it would fail its
own before/after check. Inputs are chosen to fail validation, so no pipeline runs.
`docs/reliability.md` lists the cases with the tests that prove them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import S3_ENV, copy_repo, free_port
from tests.helpers import (
    commit_all,
    dvc,
    git,
    mlgit_cmd,
    repo_state,
    run_env,
    run_mlgit,
    running,
    worktree_hash,
)


@dataclass(frozen=True)
class Case:
    setup: str  # a key of SETUPS
    args: tuple[str, ...]
    expect: str  # a fragment of the error line (or, for a report, of stdout)
    streams: bool = False  # stderr carries DVC's output or a table before the error line
    report: bool = False  # a report command (doctor): findings on stdout, exit non-zero
    env: tuple[tuple[str, str], ...] = ()


def c(setup: str, *args: str, expect: str, streams: bool = False, report: bool = False,
      env: dict[str, str] | None = None) -> Case:
    return Case(setup, args, expect, streams, report, tuple((env or {}).items()))


NOT_GIT = "is not inside a Git repository"
NOT_DVC = "but not a DVC project"
UNKNOWN = "unknown revision"
NAME_HINT = "use letters, digits"

CASES: dict[str, Case] = {
    # --- not a git repository ---
    "nogit-exp-new": c("nogit", "exp", "new", "x", "-S", "train.lr=0.1", expect=NOT_GIT),
    "nogit-exp-list": c("nogit", "exp", "list", expect=NOT_GIT),
    "nogit-promote": c("nogit", "promote", "main", "--to", "production", expect=NOT_GIT),
    "nogit-reproduce": c("nogit", "reproduce", "HEAD", expect=NOT_GIT),
    "nogit-lineage": c("nogit", "lineage", "HEAD", expect=NOT_GIT),
    "nogit-data-push": c("nogit", "data", "push", expect=NOT_GIT),
    "nogit-stage-list": c("nogit", "stage", "list", expect=NOT_GIT),
    "nogit-models": c("nogit", "models", expect=NOT_GIT),
    "cd-missing-dir": c("nogit", "-C", "no such dir", "doctor", expect="no such directory"),
    # --- a git repository without DVC ---
    "nodvc-exp-new": c("plain", "exp", "new", "x", "-S", "train.lr=0.1", expect=NOT_DVC),
    "nodvc-data-status": c("plain", "data", "status", expect=NOT_DVC),
    "nodvc-data-add": c("plain", "data", "add", "README.md", expect=NOT_DVC),
    "nodvc-remote-list": c("plain", "remote", "list", expect=NOT_DVC),
    "nodvc-reproduce": c("plain", "reproduce", "HEAD", expect=NOT_DVC),
    "nodvc-stage-list": c("plain", "stage", "list", expect="no dvc.yaml"),
    "nodvc-promote": c("plain", "promote", "HEAD", "--to", "production",
                       expect="no artifact is declared in dvc.yaml"),
    "nodvc-model-add": c("plain", "model", "add", "m", "--path", "m.pkl", expect="no dvc.yaml"),
    # --- git + DVC, but no commit yet ---
    "unborn-exp-new": c("unborn", "exp", "new", "x", "--no-run", expect="no commits yet"),
    "unborn-promote": c("unborn", "promote", "HEAD", "--to", "production",
                        expect="no commits yet"),
    "unborn-lineage": c("unborn", "lineage", "HEAD", expect="no commits yet"),
    "unborn-reproduce": c("unborn", "reproduce", "HEAD", expect="no commits yet"),
    # --- detached HEAD ---
    "detached-exp-run": c("detached", "exp", "run", expect="detached HEAD"),
    "detached-exp-run-S": c("detached", "exp", "run", "-S", "train.lr=0.2",
                            expect="detached HEAD"),
    "main-exp-run": c("repo", "exp", "run", expect="not on an experiment branch"),
    # --- experiment names ---
    "name-space": c("repo", "exp", "new", "bad name", expect="contains space"),
    "name-slash-dotdot": c("repo", "exp", "new", "../x", expect="contains '/'"),
    "name-dotdot": c("repo", "exp", "new", "a..b", expect="contains '..'"),
    "name-dash": c("repo", "exp", "new", "--", "-x", expect="starts with '-'"),
    "name-reflog": c("repo", "exp", "new", "x@{1}", expect="experiment name"),
    "name-lock": c("repo", "exp", "new", "x.lock", expect="experiment name"),
    "name-existing": c("repo", "exp", "new", "old", "-S", "train.lr=0.2",
                       expect="already exists"),
    "name-empty-after-prefix": c("repo", "exp", "new", "exp/", expect="is empty"),
    "name-too-long": c("repo", "exp", "new", "a" * 300, expect="longer than 100 characters"),
    "exp-show-unknown": c("repo", "exp", "show", "nope", expect="no experiment 'nope'"),
    "exp-rm-unknown": c("repo", "exp", "rm", "nope", expect="no experiment 'nope'"),
    "exp-new-from-unknown": c("repo", "exp", "new", "x", "--from", "nope", expect=UNKNOWN),
    # --- command-line usage (click's errors, said in our format) ---
    "exp-new-jobs-0": c("repo", "exp", "new", "x", "-j", "0", expect="'-j' / '--jobs'"),
    "exp-new-no-name": c("repo", "exp", "new", expect="Missing argument 'name'"),
    "promote-no-stage": c("repo", "promote", "main", expect="Missing option '--to'"),
    "unknown-option": c("repo", "data", "push", "--bogus", expect="No such option: --bogus"),
    "unknown-command": c("repo", "nosuchcmd", expect="No such command 'nosuchcmd'"),
    # --- -S overrides ---
    "S-no-equals": c("repo", "exp", "new", "x", "-S", "train.lr", expect="has no '='"),
    "S-unknown-key": c("repo", "exp", "new", "x", "-S", "train.nope=1",
                       expect="no param 'train.nope'"),
    "S-mapping-key": c("repo", "exp", "new", "x", "-S", "train=1", expect="is a section"),
    "S-malformed-value": c("repo", "exp", "new", "x", "-S", "train.lr=[1,",
                           expect="as YAML"),
    "S-missing-file": c("repo", "exp", "new", "x", "-S", "nofile.yaml:train.lr=1",
                        expect="does not exist"),
    "S-empty-key": c("repo", "exp", "new", "x", "-S", "=1", expect="-S"),
    "S-outside-repo": c("repo", "exp", "new", "x", "-S", "../p.yaml:a=1", expect="-S"),
    # --- files that do not parse (uncommitted edits) ---
    "params-invalid-exp-new": c("bad-params", "exp", "new", "y", "-S", "train.lr=0.2",
                                expect="params.yaml is not valid YAML"),
    "dvcyaml-invalid-exp-new": c("bad-dvcyaml", "exp", "new", "y", "-S", "train.lr=0.2",
                                 expect="dvc.yaml is not valid YAML"),
    "dvcyaml-invalid-stage-list": c("bad-dvcyaml", "stage", "list",
                                    expect="dvc.yaml is not valid YAML"),
    "dvcyaml-invalid-stage-add": c("bad-dvcyaml", "stage", "add", "foo", "-c", "true",
                                   expect="dvc.yaml is not valid YAML"),
    "dvcyaml-dirty-model-add": c("bad-dvcyaml", "model", "add", "m", "--path", "m.pkl",
                                 expect="uncommitted changes"),
    # --- unknown refs ---
    "promote-unknown-ref": c("repo", "promote", "nope", "--to", "production", expect=UNKNOWN),
    "reproduce-unknown-ref": c("repo", "reproduce", "nope", expect=UNKNOWN),
    "lineage-unknown-ref": c("repo", "lineage", "nope", expect=UNKNOWN),
    "lineage-option-as-ref": c("repo", "lineage", "--", "--output=x", expect=UNKNOWN),
    "data-push-unknown-ref": c("repo", "data", "push", "nope", expect=UNKNOWN),
    "data-pull-unknown-ref": c("repo", "data", "pull", "nope", expect=UNKNOWN),
    "lineage-bad-format": c("repo", "lineage", "HEAD", "--format", "xml",
                            expect="--format xml"),
    # --- registry names, stages, gates ---
    "promote-bad-model": c("repo", "promote", "main", "--to", "production", "--model",
                           "Bad Name", expect="not a valid artifact name"),
    "promote-bad-stage": c("repo", "promote", "main", "--to", "bad stage!",
                           expect="not a valid stage name"),
    "promote-bad-require": c("repo", "promote", "main", "--to", "production", "--require",
                             "garbage", expect="is not METRIC OP NUMBER"),
    "promote-bad-bump": c("repo", "promote", "main", "--to", "production", "--bump", "huge",
                          expect="huge"),
    "promote-bad-version": c("repo", "promote", "main", "--to", "production", "--version",
                             "1.x", expect="1.x"),
    "promote-gate-fails": c("repo", "promote", "main", "--to", "production", "--require",
                            "accuracy>=2", expect="no tag was written", streams=True),
    "history-bad-name": c("repo", "history", "bad name!", expect="not a valid artifact name"),
    "history-unknown": c("repo", "history", "nope", expect="unknown artifact"),
    "verify-not-a-ref": c("repo", "verify", "nope", expect="is not a registry ref"),
    "verify-unknown-version": c("repo", "verify", "model@v9.9.9", expect="no registry tags"),
    "model-add-bad-name": c("repo", "model", "add", "Bad Name", "--path", "models/model.pkl",
                            expect="not a valid artifact name"),
    "model-add-not-an-output": c("repo", "model", "add", "m2", "--path", "nosuch.pkl",
                                 expect="not an output of any stage"),
    "stage-add-bad-name": c("repo", "stage", "add", "bad name", "-c", "true",
                            expect="not a valid stage name"),
    "stage-add-existing": c("repo", "stage", "add", "train", "-c", "true",
                            expect="already exists"),
    "rollback-only-version": c("promoted", "rollback", "model", "--stage", "production",
                               expect="nothing to roll back to"),
    "rollback-empty-stage": c("promoted", "rollback", "model", "--stage", "staging",
                              expect="nothing to roll back"),
    "rollback-unknown-version": c("promoted", "rollback", "model", "--to", "v9.9.9",
                                  expect="no version v9.9.9"),
    "rollback-undeclared": c("repo", "rollback", "nope", expect="unknown artifact"),
    # --- compare, diff ---
    "nogit-compare": c("nogit", "compare", expect=NOT_GIT),
    "compare-unknown-ref": c("repo", "compare", "main", "nope", expect=UNKNOWN),
    "diff-unknown-ref": c("repo", "diff", "main", "nope", expect=UNKNOWN),
    "diff-option-as-ref": c("repo", "diff", "--", "-p", expect=UNKNOWN),
    "compare-sort-unknown": c("repo", "compare", "--sort", "nosuch",
                              expect="no metric or param named 'nosuch'"),
    "compare-columns-unknown": c("repo", "compare", "-c", "nosuch", expect="--columns"),
    "compare-bad-format": c("repo", "compare", "--format", "xml", expect="'xml'"),
    "unborn-compare": c("unborn", "diff", "HEAD", expect="no commits yet"),
    "shallow-diff-old": c("shallow", "diff", "HEAD~1", expect="shallow clone"),
    # --- ci generate: values that would end up in a workflow file ---
    "ci-branch-injection": c("repo", "ci", "generate", "github", "--branch", "main;rm -rf /",
                             expect="invalid branch"),
    "ci-branch-expression": c("repo", "ci", "generate", "github", "--branch",
                              "${{ github.event.issue.title }}", expect="invalid branch"),
    "ci-branch-dash": c("repo", "ci", "generate", "github", "--branch", "-x",
                        expect="invalid branch"),
    "ci-branch-newline": c("repo", "ci", "generate", "gitlab", "--branch", "main\nx: 1",
                           expect="invalid branch"),
    "ci-bad-cron": c("repo", "ci", "generate", "github", "--cron", "* * *",
                     expect="invalid cron"),
    "ci-bad-secret": c("repo", "ci", "generate", "github", "--secret", "a b",
                       expect="invalid secret name"),
    "ci-bad-python": c("repo", "ci", "generate", "github", "--python", "3.11; x",
                       expect="invalid Python version"),
    "ci-unknown-job": c("repo", "ci", "generate", "github", "--jobs", "nope",
                        expect="unknown job"),
    "ci-unknown-provider": c("repo", "ci", "generate", "circle", expect="'circle'"),
    "ci-out-unwritable": c("repo", "ci", "generate", "github", "--out", "/proc/mlgit-ci",
                           expect="cannot write the CI files"),
    "ci-out-below-a-file": c("repo", "ci", "generate", "github", "--out", "params.yaml/ci",
                             expect="cannot write the CI files"),
    "ci-report-output-unwritable": c("repo", "ci", "report", "--base", "main", "--head", "main",
                                     "--output", "/proc/mlgit-report.md",
                                     expect="cannot write it"),
    "ci-report-output-below-a-file": c("repo", "ci", "report", "--base", "main", "--head",
                                       "main", "-o", "params.yaml/report.md",
                                       expect="cannot write it"),
    # --- more registry, stage, init and data input ---
    "history-empty-name": c("repo", "history", "", expect="not a valid artifact name"),
    "verify-stage-missing": c("repo", "verify", "model#", expect="is not a registry ref"),
    "rollback-not-semver": c("promoted", "rollback", "model", "--to", "v1",
                             expect="is not a version like v1.2.3"),
    "stage-add-unknown-template": c("repo", "stage", "add", "x", "-c", "true", "--template",
                                    "nope", expect="unknown stage template"),
    "init-unknown-template": c("nogit", "init", "new-project", "--template", "nope",
                               expect="unknown template"),
    "init-into-a-file": c("repo", "init", "params.yaml", expect="cannot write to"),
    "data-add-outside-repo": c("repo", "data", "add", "/etc/hostname",
                               expect="outside the repository"),
    "data-add-git-dir": c("repo", "data", "add", ".git", expect="cannot be tracked"),
    "diff-three-refs": c("repo", "diff", "a", "b", "c", expect="unexpected extra argument"),
    # --- remotes ---
    "data-push-unknown-remote": c("repo", "data", "push", "-r", "nosuch",
                                  expect="no DVC remote named 'nosuch'"),
    "remote-add-bad-name": c("repo", "remote", "add", "bad name", "/tmp/x",
                             expect="not a valid remote name"),
    "remote-add-existing": c("repo", "remote", "add", "storage", "/tmp/x",
                             expect="already exists"),
    "no-remote-data-push": c("no-remote", "data", "push", expect="no default DVC remote"),
    "no-remote-data-pull": c("no-remote", "data", "pull", expect="no default DVC remote"),
    "dead-s3-doctor": c("dead-s3", "doctor", expect="unreachable", report=True, env=S3_ENV),
    # --- shallow clone ---
    "shallow-lineage-old": c("shallow", "lineage", "HEAD~1", expect="shallow clone"),
    "shallow-reproduce-old": c("shallow", "reproduce", "HEAD~1", expect="shallow clone"),
    # --- options and output paths ---
    "reproduce-jobs-0": c("repo", "reproduce", "HEAD", "-j", "0", expect="--jobs 0"),
    "reproduce-rtol-negative": c("repo", "reproduce", "HEAD", "--rtol", "-1", expect="--rtol"),
    "reproduce-output-a-file": c("repo", "reproduce", "HEAD", "-o", "params.yaml",
                                 expect="not an empty directory"),
    # as root too: nobody can create files in /proc, or below a file
    "reproduce-output-unwritable": c("repo", "reproduce", "HEAD", "-o", "/proc/mlgit-out",
                                     expect="/proc/mlgit-out: cannot create it"),
    "reproduce-output-below-a-file": c("repo", "reproduce", "HEAD", "-o", "params.yaml/out",
                                       expect="params.yaml/out: cannot create it"),
}


# --- setups: built once per module, shared by the cases that name them -----------------------


def _build_repo(base: Path, template: Path, name: str) -> Path:
    return copy_repo(template, base / name, base / f"{name}-remote")


def _setup_nogit(base: Path, template: Path) -> Path:
    (base / "nogit").mkdir()
    return base / "nogit"


def _setup_plain(base: Path, template: Path) -> Path:
    root = base / "plain"
    root.mkdir()
    git("init", "-q", cwd=root)
    (root / "README.md").write_text("hello\n")
    commit_all(root, "first")
    return root


def _setup_unborn(base: Path, template: Path) -> Path:
    root = base / "unborn"
    root.mkdir()
    git("init", "-q", cwd=root)
    dvc("init", "-q", cwd=root)
    return root


def _setup_repo(base: Path, template: Path) -> Path:
    root = _build_repo(base, template, "repo")
    git("branch", "exp/old", cwd=root)
    return root


def _setup_detached(base: Path, template: Path) -> Path:
    root = _build_repo(base, template, "detached")
    git("checkout", "-q", "--detach", cwd=root)
    return root


def _setup_bad_params(base: Path, template: Path) -> Path:
    root = _build_repo(base, template, "bad-params")
    with (root / "params.yaml").open("a") as fh:
        fh.write("junk: [\n")
    return root


def _setup_bad_dvcyaml(base: Path, template: Path) -> Path:
    root = _build_repo(base, template, "bad-dvcyaml")
    (root / "dvc.yaml").write_text("stages: [\n")
    return root


def _setup_promoted(base: Path, template: Path) -> Path:
    root = _build_repo(base, template, "promoted")
    run_mlgit("promote", "main", "--to", "production", cwd=root)
    return root


def _setup_no_remote(base: Path, template: Path) -> Path:
    root = copy_repo(template, base / "no-remote")
    dvc("remote", "default", "--unset", cwd=root)
    commit_all(root, "no default remote")
    return root


def _setup_dead_s3(base: Path, template: Path) -> Path:
    root = copy_repo(template, base / "dead-s3")
    # a loopback port nobody listens on: the connection is refused at once
    (root / ".dvc" / "config.local").write_text(
        "['remote \"dead\"']\n    url = s3://bucket/path\n"
        f"    endpointurl = http://127.0.0.1:{free_port()}\n[core]\n    remote = dead\n")
    return root


def _setup_shallow(base: Path, template: Path) -> Path:
    source = _build_repo(base, template, "shallow-source")
    (source / "README.md").write_text("a second commit\n")
    commit_all(source, "second")
    root = base / "shallow"
    git("clone", "-q", "--depth", "1", source.as_uri(), str(root), cwd=base)
    return root


SETUPS: dict[str, Callable[[Path, Path], Path]] = {
    "nogit": _setup_nogit, "plain": _setup_plain, "unborn": _setup_unborn,
    "repo": _setup_repo, "detached": _setup_detached, "bad-params": _setup_bad_params,
    "bad-dvcyaml": _setup_bad_dvcyaml, "promoted": _setup_promoted,
    "no-remote": _setup_no_remote, "dead-s3": _setup_dead_s3, "shallow": _setup_shallow,
}


@pytest.fixture(scope="module")
def setups(template_repo: Path, tmp_path_factory: pytest.TempPathFactory
           ) -> Callable[[str], Path]:
    """`get(kind)`: the module's one directory of that kind, built on first use."""
    base = tmp_path_factory.mktemp("reliability")
    built: dict[str, Path] = {}

    def get(kind: str) -> Path:
        if kind not in built:
            built[kind] = SETUPS[kind](base, template_repo)
        return built[kind]

    return get


def snapshot(root: Path) -> dict[str, str]:
    """repo_state plus DVC's config files; outside Git just the files."""
    if not (root / ".git").exists():
        return {"tree": worktree_hash(root)}
    state = repo_state(root)
    for name in ("config", "config.local"):
        path = root / ".dvc" / name
        state[f".dvc/{name}"] = path.read_text() if path.is_file() else "(none)"
    return state


def assert_clean_failure(res_code: int, stdout: str, stderr: str, case: Case) -> None:
    """Non-zero exit, no traceback, and an error of one line plus at most one hint line."""
    assert res_code != 0, (stdout, stderr)
    assert "Traceback" not in stdout + stderr and "internal error" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    if case.report:
        assert case.expect in stdout, stdout
        assert not lines or lines[0].startswith("error: "), stderr
    if case.streams:
        starts = [i for i, line in enumerate(lines) if line.startswith("error: ")]
        assert starts, stderr
        lines = lines[starts[0]:]
    if not case.report:
        assert 1 <= len(lines) <= 2, stderr
        assert lines[0].startswith("error: ") and case.expect in lines[0], stderr
    if len(lines) == 2:
        assert lines[1].startswith("hint: "), stderr


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_bad_input_fails_cleanly_and_changes_nothing(setups: Callable[[str], Path],
                                                     case: Case) -> None:
    root = setups(case.setup)
    before = snapshot(root)
    res = run_mlgit(*case.args, cwd=root, check=False, env=dict(case.env), timeout=60)
    assert_clean_failure(res.returncode, res.stdout, res.stderr, case)
    assert snapshot(root) == before


def test_a_path_with_spaces_and_unicode_just_works(template_repo: Path, tmp_path: Path) -> None:
    """init, exp new, exp list and show in `ünï cödé dir`: everything works, nothing escapes."""
    base = tmp_path / "ünï cödé dir"
    base.mkdir()
    remote = base / "rémote store"
    run_mlgit("init", "my prøject", "--template", "minimal", "--remote-dir", str(remote),
              cwd=base)
    root = base / "my prøject"
    run_mlgit("exp", "new", "fast", "-S", "train.lr=0.5", cwd=root)
    listed = run_mlgit("exp", "list", "--json", cwd=root).stdout
    assert "exp/fast" in listed
    compared = run_mlgit("compare", "--format", "md", cwd=root).stdout
    assert "exp/fast" in compared and "main" in compared
    shown = run_mlgit("exp", "show", "fast", cwd=root).stdout
    assert "0.5" in shown
    run_mlgit("data", "push", "exp/fast", cwd=root)
    assert any(remote.rglob("*")), "nothing reached the remote"


# --- concurrency and interruption ---------------------------------------------------------


def _cwd_of(pid_dir: Path) -> str:
    try:
        return os.readlink(pid_dir / "cwd")
    except OSError:  # gone meanwhile, or not ours to read
        return ""


def _start(root: Path, *args: str, env: dict[str, str] | None = None
           ) -> subprocess.Popen[str]:
    return subprocess.Popen([*mlgit_cmd(), *args], cwd=root, env=run_env(env), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_promotions_at_once_never_share_a_counter(repo: Path) -> None:
    """Three `promote` at once: three assignment tags #1..#3, one version tag, no failure
    (before the registry lock two got #1, and a loser's clean-up deleted the winner's tag)."""
    clock = {"GIT_COMMITTER_DATE": "@1700000000 +0000"}  # no waiting for the next second
    procs = [_start(repo, "promote", "main", "--to", stage, env=clock)
             for stage in ("staging", "canary", "production")]
    results = [(p.wait(timeout=120), p.communicate()[1]) for p in procs]
    assert [code for code, _ in results] == [0, 0, 0], results
    assignments = git("tag", "--list", "model#*", cwd=repo).split()
    assert sorted(t.rsplit("#", 1)[1] for t in assignments) == ["1", "2", "3"], assignments
    assert git("tag", "--list", "model@*", cwd=repo).split() == ["model@v0.1.0"]


def test_exp_new_at_once_with_different_names_both_succeed(repo: Path) -> None:
    procs = [_start(repo, "exp", "new", name, "-S", f"train.lr={lr}", "--no-run")
             for name, lr in (("left", "0.2"), ("right", "0.3"))]
    results = [(p.wait(timeout=120), p.communicate()[1]) for p in procs]
    assert [code for code, _ in results] == [0, 0], results
    assert git("branch", "--list", "exp/*", "--format=%(refname:short)", cwd=repo).split() == [
        "exp/left", "exp/right"]
    assert git("worktree", "list", "--porcelain", cwd=repo).count("worktree ") == 1


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupted_promote_push_leaves_no_tag(repo: Path, tmp_path: Path,
                                                sig: signal.Signals) -> None:
    """Ctrl-C (or SIGTERM) while `promote --push` waits on the Git remote: the tags it made are
    deleted again, the remote got none, the checkout is as before."""
    bare = tmp_path / "origin.git"
    git("init", "-q", "--bare", str(bare), cwd=tmp_path)
    started, release = tmp_path / "push-started", tmp_path / "push-release"
    hook = bare / "hooks" / "pre-receive"
    # the receiving side holds the push until the test is done (at most 60 s)
    hook.write_text(f"#!/bin/sh\ntouch '{started}'\nn=0\n"
                    f"while [ ! -e '{release}' ] && [ $n -lt 600 ]; do sleep 0.1; n=$((n+1)); done\n"
                    "exit 1\n")
    hook.chmod(0o755)
    git("remote", "add", "origin", str(bare), cwd=repo)
    before = snapshot(repo)
    try:
        with running(_start(repo, "promote", "main", "--to", "production", "--push")) as proc:
            deadline = time.monotonic() + 120
            while not started.exists():
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, "the push never reached the remote"
                time.sleep(0.05)  # polling a live process: no event to wait on
            proc.send_signal(sig)
            err = proc.communicate(timeout=60)[1]
    finally:
        release.touch()
    assert proc.returncode == 128 + sig, err
    assert "interrupted" in err and "Traceback" not in err
    assert snapshot(repo) == before  # no tag left behind
    assert git("ls-remote", "--tags", str(bare), cwd=tmp_path) == ""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupted_data_push_leaves_no_lock(repo: Path, sig: signal.Signals) -> None:
    """Ctrl-C (or SIGTERM) while `data push` talks to an S3 server that never answers: exit
    128+N, checkout and DVC config as before, no DVC process left, DVC's lock free again."""
    import socket

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        server.settimeout(120)
        (repo / ".dvc" / "config.local").write_text(
            "['remote \"silent\"']\n    url = s3://bucket/path\n"
            f"    endpointurl = http://127.0.0.1:{server.getsockname()[1]}\n")
        before = snapshot(repo)
        with running(_start(repo, "data", "push", "-r", "silent", env=S3_ENV)) as proc:
            conn, _addr = server.accept()  # DVC is connected and waits for an answer
            with conn:
                proc.send_signal(sig)
                err = proc.communicate(timeout=60)[1]
    assert proc.returncode == 128 + sig, err
    assert "interrupted" in err and "Traceback" not in err
    assert snapshot(repo) == before
    assert not [pid for pid in Path("/proc").iterdir() if pid.name.isdigit()
                and _cwd_of(pid).startswith(str(repo))], "a DVC process was left running"
    # DVC's repository lock was released: another DVC command runs at once
    run_mlgit("data", "status", cwd=repo, timeout=60)
