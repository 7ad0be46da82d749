"""`mlgit doctor`: why something will not work, each finding with a status and the fix.

Every check is a small function of a shared context; a check that cannot apply (no repo, no
DVC) returns nothing. Checks only read: git plumbing, DVC's config files, and for a cloud
remote one bounded DVC call that also asks for the promoted models' objects.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mlgit import dvc, git
from mlgit.config import CONFIG_FILE, DEFAULT_PREFIX, load_config
from mlgit.data import Remote, remotes_from_config
from mlgit.dvcfile import ARTIFACT_NAME
from mlgit.errors import CommandTimeout, MlgitError

OK, WARN, ERROR = "ok", "warn", "error"
MIN_GIT = (2, 31)  # `rev-parse --path-format=absolute` (worktrees); --end-of-options is 2.24
SIGNING_GIT = (2, 34)  # SSH-signed commits and tags
MIN_DVC, MAX_DVC = (3, 0), (4, 0)  # DVC 3 hashes (dvc#9818); pyproject pins <4
REMOTE_TIMEOUT = 15.0
REGISTRY_TAGS = ("*@v*", "*#*#*")
# GTO's stage assignment `NAME#STAGE#N` (`dir=name` for an artifact in dir/dvc.yaml); unassign
# tags (`NAME#STAGE!#N`) do not match
_ASSIGN_TAG = re.compile(rf"(?P<name>([a-zA-Z0-9\-_./]+=)?{ARTIFACT_NAME.pattern})"
                         rf"#(?P<stage>{ARTIFACT_NAME.pattern})#(?P<n>[0-9]+)")
_LIST_MAX = 5


@dataclass(frozen=True)
class Finding:
    check: str  # a stable id, e.g. "remote"
    status: str  # ok | warn | error
    message: str  # one line
    fix: str | None = None  # what to run or do


@dataclass(frozen=True)
class DoctorReport:
    findings: tuple[Finding, ...]

    @property
    def errors(self) -> int:
        return sum(f.status == ERROR for f in self.findings)

    @property
    def warnings(self) -> int:
        return sum(f.status == WARN for f in self.findings)


@dataclass(frozen=True)
class _Promoted:
    tag: str
    artifact: str
    stage: str
    path: str | None
    hash: str | None
    legacy: bool = False


@dataclass
class _Ctx:
    cwd: Path
    root: Path | None = None
    committed: bool = False
    dvc_ok: bool = False
    remote: Remote | None = None
    promoted: list[_Promoted] = field(default_factory=list)
    missing: set[str] | None = None  # hashes the default remote lacks; None: not checked


def run_checks(cwd: Path) -> DoctorReport:
    """Run every check from `cwd`; the report lists what is fine, what is risky, what is broken."""
    ctx = _Ctx(cwd)
    findings: list[Finding] = []
    for check in CHECKS:
        findings += check(ctx)
    return DoctorReport(tuple(findings))


def _versions(found: tuple[int, ...] | None) -> str:
    return ".".join(map(str, found)) if found else "?"


def check_git_version(ctx: _Ctx) -> list[Finding]:
    found = git.version()
    if found is None or found[:2] < MIN_GIT:
        return [Finding("git", ERROR, f"git {_versions(found)} is older than mlgit needs "
                        f"({_versions(MIN_GIT)})", "upgrade git: https://git-scm.com/downloads")]
    if found[:2] < SIGNING_GIT:
        return [Finding("git", WARN, f"git {_versions(found)}: signing with SSH keys needs "
                        f"{_versions(SIGNING_GIT)}", "upgrade git to sign commits and tags")]
    return [Finding("git", OK, f"git {_versions(found)}")]


def check_dvc_version(ctx: _Ctx) -> list[Finding]:
    text = dvc.version()
    if text is None:
        return [Finding("dvc", ERROR, "DVC is not installed beside mlgit",
                        "pip install 'dvc>=3.50,<4'")]
    found = tuple(int(x) for x in re.findall(r"\d+", text)[:3])
    if found[:2] < MIN_DVC:
        return [Finding("dvc", ERROR, f"DVC {text} is too old: mlgit needs DVC 3",
                        "pip install -U 'dvc>=3.50,<4' (then `dvc cache migrate`)")]
    if found[:2] >= MAX_DVC:
        return [Finding("dvc", WARN, f"DVC {text} is newer than mlgit was tested with (3.x)",
                        "pip install 'dvc>=3.50,<4' if something fails")]
    return [Finding("dvc", OK, f"DVC {text}")]


def check_repo(ctx: _Ctx) -> list[Finding]:
    if not git.is_repo(ctx.cwd):
        return [Finding("repo", ERROR, f"{ctx.cwd} is not inside a Git repository",
                        "cd into your project, or create one with `mlgit init`")]
    ctx.root = git.repo_root(ctx.cwd)
    ctx.committed = git.has_commits(ctx.root)
    if not ctx.committed:
        return [Finding("repo", ERROR, f"the repository at {ctx.root} has no commits yet",
                        "commit your project: `git add -A && git commit -m 'First commit'`")]
    return [Finding("repo", OK, f"Git repository at {ctx.root}")]


def check_shallow(ctx: _Ctx) -> list[Finding]:
    if ctx.root is None or not ctx.committed:
        return []
    if git.is_shallow(ctx.root):
        return [Finding("shallow", WARN, "shallow clone: older commits and their experiments "
                        "and tags are missing", "git fetch --unshallow")]
    return [Finding("shallow", OK, "full history (not a shallow clone)")]


def check_head(ctx: _Ctx) -> list[Finding]:
    if ctx.root is None or not ctx.committed:
        return []
    branch = git.current_branch(ctx.root)
    if branch is None:
        sha = (git.head_sha(ctx.root) or "")[:8]
        return [Finding("head", WARN, f"detached HEAD at {sha}: new commits belong to no branch",
                        "git switch BRANCH (or `git switch -c NAME` to keep new commits)")]
    return [Finding("head", OK, f"on branch {branch}")]


def check_config(ctx: _Ctx) -> list[Finding]:
    if ctx.root is None:
        return []
    if not (ctx.root / CONFIG_FILE).is_file():
        return [Finding("config", OK, f"no {CONFIG_FILE}: settings are inferred")]
    try:
        load_config(ctx.root)
    except MlgitError as exc:
        return [Finding("config", ERROR, exc.message, exc.hint or f"fix {CONFIG_FILE}")]
    return [Finding("config", OK, f"{CONFIG_FILE} is valid")]


def check_dvc_repo(ctx: _Ctx) -> list[Finding]:
    if ctx.root is None:
        return []
    if not dvc.is_dvc_repo(ctx.root):
        return [Finding("dvc-init", ERROR, "DVC is not initialised here (no .dvc/)",
                        "mlgit init (or `dvc init`)")]
    ctx.dvc_ok = True
    return [Finding("dvc-init", OK, "DVC initialised")]


def check_remote(ctx: _Ctx) -> list[Finding]:
    if ctx.root is None or not ctx.dvc_ok:
        return []
    try:
        remotes = remotes_from_config(dvc.config_list(ctx.root))
    except MlgitError as exc:
        return [Finding("remote", ERROR, f"cannot read DVC's config: {exc.message}",
                        "fix .dvc/config (`dvc config -l` shows the problem)")]
    default = next((r for r in remotes if r.default), None)
    if default is None:
        names = ", ".join(r.name for r in remotes)
        return [Finding("remote", ERROR, "no default DVC remote" + (f" (remotes: {names})"
                        if names else ": data and models cannot be pushed or pulled"),
                        "dvc remote default NAME" if names else
                        "mlgit remote add storage DIR_OR_URL --default")]
    ctx.remote = default
    if not dvc.has_plugin(default.scheme):
        extra = "mlgit[s3]" if default.scheme == "s3" else f"dvc[{default.scheme}]"
        return [Finding("remote", ERROR, f"default remote '{default.name}' is {default.scheme}:// "
                        "but DVC's support for it is not installed", f"pip install '{extra}'")]
    if default.is_local:
        return [_check_local_remote(default)]
    return [_check_cloud_remote(ctx, default)]


def _check_local_remote(remote: Remote) -> Finding:
    path = remote.local_path
    where = f"default remote '{remote.name}' ({path})"
    if path.is_dir():
        if os.access(path, os.W_OK | os.X_OK):
            return Finding("remote", OK, f"{where} is a writable directory")
        return Finding("remote", ERROR, f"{where} is not writable",
                       f"fix its permissions, or point the remote elsewhere: "
                       f"`dvc remote modify {remote.name} url DIR`")
    if path.exists():
        return Finding("remote", ERROR, f"{where} is not a directory",
                       f"`dvc remote modify {remote.name} url DIR`")
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if os.access(parent, os.W_OK | os.X_OK):
        return Finding("remote", WARN, f"{where} does not exist yet (the first push creates it)",
                       "mlgit data push")
    return Finding("remote", ERROR, f"{where} does not exist and cannot be created",
                   f"create it, or `dvc remote modify {remote.name} url DIR`")


def _check_cloud_remote(ctx: _Ctx, remote: Remote) -> Finding:
    assert ctx.root is not None
    where = f"default remote '{remote.name}' ({remote.url}" + (
        f" at {remote.endpoint_url})" if remote.endpoint_url else ")")
    fix = "check the URL, endpoint and credentials (environment, or `dvc remote modify --local`)"
    wanted = [p for p in _promoted(ctx) if p.hash]
    try:
        answer = dvc.check_remote(ctx.root, remote.name,
                                  [p.hash for p in wanted if p.hash and not p.legacy],
                                  [p.hash for p in wanted if p.hash and p.legacy],
                                  timeout=REMOTE_TIMEOUT)
    except CommandTimeout:
        return Finding("remote", ERROR, f"{where} did not answer within {REMOTE_TIMEOUT:g} s",
                       fix)
    except MlgitError as exc:
        return Finding("remote", ERROR, f"{where}: {exc.message}", fix)
    if not answer.reachable:
        return Finding("remote", ERROR, f"{where} is unreachable: {answer.error}", fix)
    ctx.missing = set(answer.missing)
    if not answer.exists and not answer.bucket_exists:
        return Finding("remote", ERROR, f"{where}: the bucket does not exist",
                       "create the bucket, or fix the remote URL")
    return Finding("remote", OK, f"{where} answers")


def _names(items: list[str]) -> str:
    more = f" and {len(items) - _LIST_MAX} more" if len(items) > _LIST_MAX else ""
    return ", ".join(items[:_LIST_MAX]) + more


def check_experiments_pushed(ctx: _Ctx) -> list[Finding]:
    if ctx.root is None or not ctx.committed:
        return []
    try:
        prefix = load_config(ctx.root).exp_prefix
    except MlgitError:
        prefix = DEFAULT_PREFIX
    rows = git.for_each_ref(ctx.root, [f"refs/heads/{prefix}", "refs/remotes/"],
                            ["%(refname)", "%(objectname)", "%(upstream)", "%(upstream:track)"])
    local = [r for r in rows if r[0].startswith("refs/heads/")]
    if not local:
        return [Finding("experiments", OK, f"no experiment branches ({prefix}*) yet")]
    remotes = git.remote_names(ctx.root)
    names = [r[0].removeprefix("refs/heads/") for r in local]
    if not remotes:
        return [Finding("experiments", WARN, f"{len(local)} experiment branches exist only in "
                        "this clone (no Git remote)",
                        "git remote add origin URL && git push -u origin " + " ".join(names[:3]))]
    tracking = {r[0]: r[1] for r in rows if r[0].startswith("refs/remotes/")}
    unpushed = []
    for (_ref, sha, upstream, track), name in zip(local, names, strict=True):
        if upstream:
            pushed = upstream in tracking and "ahead" not in track and "gone" not in track
        else:
            pushed = any(tracking.get(f"refs/remotes/{r}/{name}") == sha for r in remotes)
        if not pushed:
            unpushed.append(name)
    if unpushed:
        return [Finding("experiments", WARN, f"{len(unpushed)} of {len(local)} experiment "
                        f"branches not pushed: {_names(unpushed)}",
                        f"git push -u {remotes[0]} " + " ".join(unpushed[:_LIST_MAX]))]
    return [Finding("experiments", OK, f"all {len(local)} experiment branches are pushed")]


def check_tags_pushed(ctx: _Ctx) -> list[Finding]:
    if ctx.root is None or not ctx.committed:
        return []
    local = {name: sha for name, sha in _registry_tags(ctx.root)}
    if not local or "origin" not in git.remote_names(ctx.root):
        return []
    try:
        remote = git.ls_remote_tags(ctx.root, "origin", timeout=REMOTE_TIMEOUT)
    except MlgitError as exc:
        return [Finding("tags", WARN, f"could not list origin's tags: {exc.message}",
                        "check the network and your access to origin (`git ls-remote origin`)")]
    unpushed = sorted(t for t, sha in local.items() if remote.get(t) != sha)
    if unpushed:
        return [Finding("tags", WARN, f"{len(unpushed)} registry tags not pushed to origin: "
                        f"{_names(unpushed)}", "git push origin " + " ".join(
                            f"'refs/tags/{t}'" for t in unpushed[:_LIST_MAX]))]
    return [Finding("tags", OK, f"all {len(local)} registry tags are on origin")]


def _registry_tags(root: Path) -> list[tuple[str, str]]:
    rows = git.for_each_ref(root, ["refs/tags/"], ["%(refname:short)", "%(objectname)"])
    return [(n, sha) for n, sha in rows if any(fnmatch.fnmatchcase(n, p) for p in REGISTRY_TAGS)]


def check_promoted_outputs(ctx: _Ctx) -> list[Finding]:
    if ctx.root is None or not ctx.dvc_ok or ctx.remote is None:
        return []
    promoted = _promoted(ctx)
    if not promoted:
        return []
    findings = []
    for p in promoted:
        what = f"{p.artifact} in stage {p.stage} ({p.tag})"
        if p.hash is None:
            findings.append(Finding("promoted", WARN, f"{what}: cannot find the model's hash at "
                                    "that commit", "check `artifacts:` in its dvc.yaml"))
            continue
        present = _in_remote(ctx, p)
        if present is None:
            return [Finding("promoted", WARN, f"cannot check the {len(promoted)} promoted model "
                            "versions: the remote did not answer", "fix the remote first")]
        if not present:
            findings.append(Finding("promoted", ERROR, f"{what}: {p.path} is not in remote "
                                    f"'{ctx.remote.name}'; nobody else can fetch it",
                                    f"mlgit data push '{p.tag}'"))
    if not findings:
        findings.append(Finding("promoted", OK, f"the {len(promoted)} promoted model versions "
                                f"are in remote '{ctx.remote.name}'"))
    return findings


def _in_remote(ctx: _Ctx, p: _Promoted) -> bool | None:
    assert ctx.remote is not None and p.hash is not None
    if ctx.remote.is_local:
        base = ctx.remote.local_path
        if not p.legacy:
            base = base / "files" / "md5"
        return (base / p.hash[:2] / p.hash[2:]).is_file()
    if ctx.missing is None:
        return None
    return p.hash not in ctx.missing


def _promoted(ctx: _Ctx) -> list[_Promoted]:
    """The latest stage assignment of each (artifact, stage), with its model's hash."""
    if ctx.promoted or ctx.root is None:
        return ctx.promoted
    latest: dict[tuple[str, str], tuple[int, str, str]] = {}
    rows = git.for_each_ref(ctx.root, ["refs/tags/"],
                            ["%(refname:short)", "%(objecttype)", "%(*objectname)"])
    for name, kind, commit in rows:
        found = _ASSIGN_TAG.fullmatch(name)
        if found is None or kind != "tag":  # GTO ignores lightweight tags
            continue
        key, n = (found["name"], found["stage"]), int(found["n"])
        if key not in latest or n > latest[key][0]:
            latest[key] = (n, name, commit)
    with git.object_reader(ctx.root) as reader:
        for (artifact, stage), (_, tag, commit) in sorted(latest.items()):
            path, hash_, legacy = _model_hash(reader, commit, artifact)
            ctx.promoted.append(_Promoted(tag, artifact, stage, path, hash_, legacy))
    return ctx.promoted


def _model_hash(reader: git.ObjectReader, commit: str,
                artifact: str) -> tuple[str | None, str | None, bool]:
    """(path, md5, legacy?) of `artifact`'s output at `commit`, from dvc.yaml + dvc.lock/.dvc."""
    from mlgit.lockfile import recorded_output
    from mlgit.project import parse_pipeline

    sub, _, _ = artifact.rpartition("=")
    dvcyaml = f"{sub}/dvc.yaml" if sub else "dvc.yaml"
    try:
        text = reader.read(commit, dvcyaml)
        spec = None if text is None else next(
            (a for a in parse_pipeline(text, dvcyaml).artifacts if a.name == artifact), None)
        if spec is None:
            return None, None, False
        found = recorded_output(reader.read, commit, spec.path,
                                dvcyaml.removesuffix(".yaml") + ".lock")
    except MlgitError:  # a broken file at an old commit: reported as "cannot find the hash"
        return None, None, False
    return (spec.path, found[0].hash, found[1]) if found else (spec.path, None, False)


CHECKS: tuple[Callable[[_Ctx], list[Finding]], ...] = (
    check_git_version,
    check_dvc_version,
    check_repo,
    check_shallow,
    check_head,
    check_config,
    check_dvc_repo,
    check_remote,
    check_experiments_pushed,
    check_tags_pushed,
    check_promoted_outputs,
)
