"""Writing the registry: promote, rollback, and declaring a model artifact (#6).

Every write is a set of annotated tags in GTO's format, created all or nothing: if a later step
(another tag, a push) fails or the user interrupts, the tags this run created are deleted again.
Tags of one artifact are at least one second apart and later than its newest tag, because GTO and
`dvc artifacts get --stage` order by tag time; with the real clock we wait for that second, with
GIT_COMMITTER_DATE set (tests, scripted imports) we count from it instead.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from mlgit import git, modelstore
from mlgit.config import Config, load_config
from mlgit.errors import MlgitError, NotFoundError, UsageError
from mlgit.gates import (
    GateReport,
    GatesFailed,
    Requirement,
    check_lock,
    check_model_stored,
    check_not_worse,
    check_requirements,
    parse_requirement,
)
from mlgit.git import ObjectReader
from mlgit.lockfile import LockedFile
from mlgit.metrics import RevisionData, read_revision
from mlgit.project import Artifact
from mlgit.refs import resolve_rev
from mlgit.registry import ArtifactState, iso_time, load_artifact, registry_lock
from mlgit.render import fmt_value
from mlgit.tags import (
    bump_version,
    format_message,
    stage_tag,
    validate_artifact,
    validate_stage,
    validate_version,
    version_tag,
)

MAX_CLOCK_WAIT = 5  # seconds we are willing to wait for a tag time later than the newest one


@dataclass(frozen=True)
class PromoteOptions:
    ref: str
    stage: str
    artifact: str | None = None
    version: str | None = None
    bump: str = "minor"
    requires: tuple[str, ...] = ()
    force: bool = False
    sign: bool = False
    push: bool = False
    remote: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class WriteResult:
    artifact: str
    version: str
    stage: str
    commit: str
    tags: tuple[str, ...]  # the tags created, in order
    registered: bool  # a new version was registered for the commit
    previous: str | None  # the version that held the stage before
    gates: GateReport
    pushed_to: str | None = None


class TagWriter:
    """Creates registry tags in time order; deletes them all unless `done()` is reached."""

    def __init__(self, root: Path, last_time: int):
        self.root, self.last = root, last_time
        self.created: list[str] = []
        self._attempted: list[str] = []
        self._objects: dict[str, str] = {}  # tag -> the tag object we made
        self._done = False
        self._fixed_clock = "GIT_COMMITTER_DATE" in os.environ

    def __enter__(self) -> TagWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if not self._done:
            for name in reversed(self._attempted):  # names that did not exist before this run
                if git.tag_exists(self.root, name):
                    git.tag_delete(self.root, name, self._objects.get(name))

    def create(self, name: str, target: str, message: str, *, sign: bool = False) -> None:
        if git.tag_exists(self.root, name):
            raise MlgitError(f"tag '{name}' already exists",
                             hint="run `mlgit history` to see the registry; nothing was written")
        when = self._next_time()
        self._attempted.append(name)
        self._objects[name] = git.tag_create(self.root, name, target, message, sign=sign,
                                             when=when)
        self.created.append(name)
        self.last = when[0]

    def done(self) -> None:
        self._done = True

    def _next_time(self) -> tuple[int, str]:
        now, tz = git.committer_clock(self.root)
        when = max(now, self.last + 1)
        if not self._fixed_clock:
            wait = when - time.time()
            if wait > MAX_CLOCK_WAIT:
                raise MlgitError(f"the newest registry tag is dated {iso_time(self.last)}, "
                                 "in the future", hint="check this machine's clock")
            if wait > 0:
                time.sleep(wait)
        return when, tz


def promote(root: Path, opts: PromoteOptions) -> WriteResult:
    """Register a version for REF's commit if it has none, then assign it to the stage."""
    with registry_lock(root):
        return _promote(root, opts)


def _promote(root: Path, opts: PromoteOptions) -> WriteResult:
    cfg = load_config(root)
    stage = validate_stage(opts.stage, cfg.stages)
    requires = [parse_requirement(t) for t in opts.requires]
    if opts.version:
        validate_version(opts.version)
    remote = _push_remote(root, opts.remote) if opts.push else None
    sha = resolve_rev(root, opts.ref, cfg).sha
    git.ensure_identity(root)
    with git.object_reader(root) as reader:
        rev = read_revision(reader, sha)
        artifact = _declared(rev, opts.artifact, cfg)
        state = load_artifact(root, artifact.name)
        version, register = _pick_version(state, sha, opts)
        holder = state.holder(stage)
        if holder is not None and holder.commit == sha:
            raise MlgitError(f"{artifact.name} {holder.version} is already in {stage}",
                             hint="nothing to do; `mlgit models` shows every stage")
        current = read_revision(reader, holder.commit) if holder else None
        locked = _locked(rev, artifact.path)
        metric = cfg.metric or next(iter(rev.flat_metrics()), None)
        report = _check_gates(root, reader, rev, current, requires, metric, cfg, opts.force,
                              f"{stage} ({holder.version})" if holder else stage, artifact,
                              locked)
        record = _record(reader, state, rev, artifact, locked, version, _experiment(
            reader, sha, opts.ref, cfg))
    forced = next((r for r in report.results if r.forced), None)
    reg_msg = format_message(
        opts.message or f"Register {artifact.name} {version} at {sha[:8]}" + _metric_note(
            rev, metric), {"action": "register", **record})
    assign_line = (opts.message or f"Promote {artifact.name} {version} to {stage}" + (
        f" (was {holder.version})" if holder else "")) + (
        f" [forced: {forced.detail}]" if forced else "")
    assign_msg = format_message(assign_line, {
        "action": "assign", **record, "stage": stage,
        "previous": holder.version if holder else None, **({"forced": True} if forced else {})})
    tags = [version_tag(artifact.name, version)] if register else []
    tags.append(stage_tag(artifact.name, stage, state.max_counter + 1))
    with TagWriter(root, state.last_time) as writer:
        if register:
            writer.create(tags[0], sha, reg_msg, sign=opts.sign)
        writer.create(tags[-1], sha, assign_msg, sign=opts.sign)
        if remote:
            _push(root, remote, writer.created, sha, artifact.path)
        writer.done()
    return WriteResult(artifact.name, version, stage, sha, tuple(tags), register,
                       holder.version if holder else None, report, remote)


def rollback(root: Path, artifact_name: str, stage: str = "production", to: str | None = None,
             *, sign: bool = False, push: bool = False, remote: str | None = None,
             message: str | None = None) -> WriteResult:
    """Put the previous (or the given) version back into `stage` with a new assignment tag."""
    with registry_lock(root):
        return _rollback(root, artifact_name, stage, to, sign=sign, push=push, remote=remote,
                         message=message)


def _rollback(root: Path, artifact_name: str, stage: str, to: str | None, *, sign: bool,
              push: bool, remote: str | None, message: str | None) -> WriteResult:
    cfg = load_config(root)
    name = validate_artifact(artifact_name)
    validate_stage(stage)
    if to:
        validate_version(to)
    push_remote = _push_remote(root, remote) if push else None
    git.ensure_identity(root)
    state = load_artifact(root, name)
    if not state.events:
        raise _unknown_artifact(name)
    holder = state.holder(stage)
    if holder is None:
        raise MlgitError(f"no version of {name} is in {stage}: nothing to roll back",
                         hint=f"`mlgit history {name}` shows the timeline")
    target = state.find_version(to) if to else _previous(state, stage, holder.version)
    if target is None:
        raise MlgitError(
            f"{name} has no version {to}" if to else
            f"nothing to roll back to: {holder.version} is the only version {name} had in {stage}",
            hint="pass --to vX.Y.Z with a registered version (`mlgit history " + name + "`)")
    if target.version == holder.version:
        raise MlgitError(f"{name} {target.version} is already in {stage}")
    with git.object_reader(root) as reader:
        rev = read_revision(reader, target.commit)
        try:
            artifact = _declared(rev, name, cfg)
        except MlgitError:  # registered by another tool at a commit that does not declare it
            artifact = Artifact(name, "")
        record = _record(reader, state, rev, artifact, _locked(rev, artifact.path),
                         target.version, None)
    line = message or f"Roll back {name} in {stage} to {target.version} (was {holder.version})"
    tag = stage_tag(name, stage, state.max_counter + 1)
    body = format_message(line, {"action": "assign", **record, "stage": stage,
                                 "previous": holder.version, "rollback": True})
    with TagWriter(root, state.last_time) as writer:
        writer.create(tag, target.commit, body, sign=sign)
        if push_remote:
            _push(root, push_remote, writer.created, None, None)
        writer.done()
    return WriteResult(name, target.version, stage, target.commit, (tag,), False,
                       holder.version, GateReport(()), push_remote)


def add_model(root: Path, name: str, path: str, *, type_: str | None = "model",
              desc: str | None = None, commit: bool = True) -> str | None:
    """Declare `name` under `artifacts:` in dvc.yaml (PATH must be a stage output) and commit."""
    from mlgit.dvcfile import declare_artifact

    if ":" in name or "=" in name:
        raise UsageError("declare an artifact of a sub-project from its own directory",
                         hint="cd into the directory of its dvc.yaml and run mlgit model add")
    validate_artifact(name)
    dvcfile = root / "dvc.yaml"
    if not dvcfile.is_file():
        raise NotFoundError("there is no dvc.yaml here", hint="run `mlgit init` first")
    if commit and git.path_modified(root, "dvc.yaml"):
        raise UsageError("dvc.yaml has uncommitted changes",
                         hint="commit or stash them first, or pass --no-commit")
    before = dvcfile.read_bytes()
    declare_artifact(root, name, path, type_=type_, desc=desc)
    if not commit:
        return None
    try:
        git.ensure_identity(root)
        return git.commit(root, f"Declare model artifact '{name}' ({path})\n\nSo that "
                          "`mlgit promote`, GTO and `dvc artifacts get` can find it.",
                          paths=["dvc.yaml"])
    except BaseException:
        dvcfile.write_bytes(before)
        raise


# --- helpers ----------------------------------------------------------------------------------


def _check_gates(root: Path, reader: ObjectReader, rev: RevisionData,
                 current: RevisionData | None, requires: list[Requirement], metric: str | None,
                 cfg: Config, force: bool, current_label: str, artifact: Artifact,
                 locked: LockedFile | None) -> GateReport:
    """Every gate, all reported together; raises GatesFailed unless all hold (or are forced)."""
    metrics = rev.flat_metrics()
    report = GateReport((
        *check_requirements(requires, metrics),
        check_not_worse(metric, cfg.direction_of(metric) if metric else "max", metrics,
                        current.flat_metrics() if current else None, current_label, force),
        check_lock(reader, rev),
        check_model_stored(root, rev.sha or "", artifact.path, locked.hash if locked else None),
    ))
    if not report.ok:
        raise GatesFailed(report)
    return report


def _unknown_artifact(name: str) -> NotFoundError:
    return NotFoundError(f"unknown artifact '{name}': no registry tags and not declared here",
                         hint=f"declare it with `mlgit model add {name} --path PATH`")


def _declared(rev: RevisionData, name: str | None, cfg: Config) -> Artifact:
    """The artifact as the commit's dvc.yaml declares it (what `dvc artifacts get` reads)."""
    wanted = validate_artifact(name) if name else cfg.model
    if wanted and ":" in wanted:
        raise UsageError(f"'{wanted}' belongs to a sub-project's dvc.yaml; mlgit promotes "
                         "artifacts of the top-level dvc.yaml", hint="use gto for this one")
    declared = rev.pipeline.artifacts if rev.pipeline else ()
    found = next((a for a in declared if a.name == wanted), None) if wanted else (
        declared[0] if declared else None)
    if found is None:
        at = (rev.sha or rev.rev)[:8]
        what = f"artifact '{wanted}' is not declared" if wanted else "no artifact is declared"
        raise NotFoundError(f"{what} in dvc.yaml at {at}",
                            hint=f"declare it with `mlgit model add {wanted or 'NAME'} --path "
                            "PATH` and commit the pipeline run")
    return found


def _locked(rev: RevisionData, path: str) -> LockedFile | None:
    """The dvc.lock entry of the output holding `path` (itself, or a directory above it)."""
    outs = rev.lock.outputs() if rev.lock else {}
    if path in outs:
        return outs[path]
    return next((o for p, o in outs.items() if path.startswith(p + "/")), None)


def _pick_version(state: ArtifactState, sha: str, opts: PromoteOptions) -> tuple[str, bool]:
    """(version, needs registering) for the commit."""
    existing = state.version_at(sha)
    gone = [e.version for e in state.events if e.action == "register" and e.commit == sha]
    if existing is None and gone:
        # GTO refuses a registry with two versions on one commit, even a deregistered one
        raise UsageError(f"commit {sha[:8]} was {state.artifact} {gone[-1]}, which is "
                         "deregistered; GTO allows one version per commit",
                         hint="promote a new commit (e.g. `git commit --allow-empty` on top)")
    if existing is not None:
        if opts.version and opts.version != existing.version:
            raise UsageError(f"commit {sha[:8]} is already {state.artifact} {existing.version}",
                             hint="omit --version to promote that version")
        return existing.version, False
    everything = [e.version for e in state.events if e.version and e.action == "register"]
    if opts.version:
        if opts.version in everything:  # a deregistered version keeps its tag
            raise UsageError(f"{state.artifact} {opts.version} already exists",
                             hint="pick another --version or use --bump")
        return opts.version, True
    highest = state.versions[0].version if state.versions else None
    version = bump_version(highest, opts.bump)
    while version in everything:  # a deregistered version keeps its tag: never reuse it
        version = bump_version(version, opts.bump)
    return version, True


def _previous(state: ArtifactState, stage: str, current: str) -> Any:
    for event in state.stage_history(stage):
        if event.version != current and state.find_version(event.version or "") is not None:
            return state.find_version(event.version or "")
    return None


def _experiment(reader: ObjectReader, sha: str, typed: str, cfg: Config) -> str | None:
    info = reader.commit(sha)
    trailer = git.parse_trailers(info.message).get("Mlgit-Experiment") if info else None
    if trailer:
        return trailer
    return typed if typed.startswith(cfg.exp_prefix) else None


def _record(reader: ObjectReader, state: ArtifactState, rev: RevisionData, artifact: Artifact,
            locked: LockedFile | None, version: str, experiment: str | None) -> dict[str, Any]:
    """The machine-readable part of a tag message."""
    baseline = state.holder("production")
    changed: dict[str, Any] = {}
    if baseline is not None and baseline.commit != rev.sha:
        old = read_revision(reader, baseline.commit).flat_params()
        new = rev.flat_params()
        changed = {k: {"old": old.get(k), "new": new.get(k)}
                   for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)}
    return {
        "artifact": artifact.name,
        "version": version,
        "commit": rev.sha,
        "experiment": experiment,
        "model": {"path": artifact.path, "md5": locked.hash if locked else None,
                  "size": locked.size if locked else None},
        "metrics": rev.flat_metrics(),
        "params_baseline": f"{artifact.name}@{baseline.version}" if baseline else None,
        "params_changed": changed,
    }


def _metric_note(rev: RevisionData, metric: str | None) -> str:
    value = rev.flat_metrics().get(metric) if metric else None
    return f": {metric} {fmt_value(value)}" if value is not None else ""


def _push_remote(root: Path, wanted: str | None) -> str:
    remotes = git.remote_names(root)
    if wanted:
        if wanted not in remotes:
            raise UsageError(f"no git remote named '{wanted}'",
                             hint="remotes: " + (", ".join(remotes) or "(none)"))
        return wanted
    if "origin" in remotes:
        return "origin"
    if len(remotes) == 1:
        return remotes[0]
    if remotes:
        raise UsageError("--push: which git remote?", hint="pass --remote NAME")
    raise UsageError("--push: this repo has no git remote", hint="git remote add origin URL")


def _push(root: Path, remote: str, tags: list[str], sha: str | None, path: str | None) -> None:
    """The model to the DVC remote first (a pushed tag must be fetchable), then the tags."""
    if sha and path:
        modelstore.push_model(root, sha, path)
    git.push_refs(root, remote, [f"refs/tags/{t}" for t in tags])

