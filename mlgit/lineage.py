"""`mlgit lineage`: everything that made a commit's model, from Git and DVC's files alone.

The commit and its trailers, the branches that contain it, params and how they differ from the
experiment's base, every stage with its command, dependency and output hashes, the source data
with sizes, metrics, and the registry tags pointing at it. No checkout, no DVC, no cache: one
`git cat-file --batch` serves every read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlgit import git
from mlgit.git import CommitInfo
from mlgit.lockfile import LockedFile
from mlgit.metrics import read_revision
from mlgit.recorded import Recorded, read_recorded
from mlgit.refs import resolve_rev

TRAILER_EXPERIMENT = "Mlgit-Experiment"
TRAILER_BASE = "Mlgit-Base"


@dataclass(frozen=True)
class CommitFacts:
    sha: str
    author: str
    author_email: str
    date: str  # ISO 8601, UTC
    subject: str
    body: str
    trailers: dict[str, str]
    experiment: str | None  # Mlgit-Experiment trailer
    base: str | None  # the base commit: Mlgit-Base trailer, else the first parent
    base_from: str | None  # "trailer" or "parent"


@dataclass(frozen=True)
class FileFact:
    path: str
    hash: str | None
    size: int | None
    nfiles: int | None
    source: str  # "git" (code, config), "data" (a .dvc file), or "stage NAME" (its output)


@dataclass(frozen=True)
class StageFacts:
    name: str
    cmd: str
    deps: tuple[FileFact, ...]
    outs: tuple[FileFact, ...]
    params: dict[str, Any]  # as recorded in dvc.lock, flattened ("train.lr": 0.1)


@dataclass(frozen=True)
class ParamChange:
    key: str
    base: Any  # None when the key is new
    value: Any  # None when the key was removed


@dataclass(frozen=True)
class RegistryTag:
    tag: str
    artifact: str
    action: str  # register, assign, deprecate, ...
    version: str | None
    stage: str | None
    by: str
    by_email: str
    when: str  # ISO 8601, UTC
    signed: bool
    current: bool | None  # stage assignments: does this commit still hold the stage?


@dataclass(frozen=True)
class Model:
    name: str
    path: str
    hash: str | None
    size: int | None
    stage: str | None  # the stage that produced it


@dataclass(frozen=True)
class Lineage:
    ref: str
    commit: CommitFacts
    branches: tuple[str, ...]
    model: Model | None
    metrics: dict[str, Any]
    params: dict[str, Any]
    params_changed: tuple[ParamChange, ...]  # against commit.base
    stages: tuple[StageFacts, ...]
    data: tuple[FileFact, ...]  # source data tracked by .dvc files
    registry: tuple[RegistryTag, ...]
    legacy_hashes: bool


def lineage(root: Path, ref: str) -> Lineage:
    """Everything commit `ref` records about how its model was made."""
    sha = resolve_rev(root, ref).sha
    with git.object_reader(root) as reader:
        info = reader.commit(sha)
        assert info is not None  # resolve_rev found it
        facts = _commit_facts(root, info)
        recorded = read_recorded(root, reader, sha)
        here = read_revision(reader, sha)
        params = here.flat_params()
        changed: tuple[ParamChange, ...] = ()
        if facts.base is not None:
            changed = _diff_params(read_revision(reader, facts.base).flat_params(), params)
    return Lineage(
        ref=ref, commit=facts, branches=tuple(git.branches_containing(root, sha)),
        model=_model(recorded), metrics=here.flat_metrics(), params=params,
        params_changed=changed, stages=_stages(recorded),
        data=tuple(_fact(f, "data") for f in recorded.data_files()),
        registry=tuple(registry_tags(root, sha)), legacy_hashes=recorded.legacy_hashes)


def _commit_facts(root: Path, info: CommitInfo) -> CommitFacts:
    subject, _, body = info.message.strip().partition("\n")
    trailers = git.parse_trailers(info.message) if info.message.strip() else {}
    base, base_from = None, None
    named = trailers.get(TRAILER_BASE)
    if named:
        base = git.rev_parse(root, named)
        base_from = "trailer" if base else None
    if base is None and info.parents:
        base, base_from = info.parents[0], "parent"
    date = datetime.fromtimestamp(info.author_time, UTC).isoformat()
    return CommitFacts(info.sha, info.author, info.author_email, date, subject.strip(),
                       body.strip(), trailers, trailers.get(TRAILER_EXPERIMENT), base, base_from)


def _diff_params(base: dict[str, Any], params: dict[str, Any]) -> tuple[ParamChange, ...]:
    keys = sorted(base.keys() | params.keys())
    return tuple(ParamChange(k, base.get(k), params.get(k)) for k in keys
                 if k not in base or k not in params or base[k] != params[k])


def _fact(f: LockedFile, source: str) -> FileFact:
    return FileFact(f.path, f.hash, f.size, f.nfiles, source)


def _stages(recorded: Recorded) -> tuple[StageFacts, ...]:
    from mlgit.params import flatten

    producer = {o.path: name for name, o in recorded.stage_outputs()}
    tracked = {f.path for f in recorded.data_files()}
    stages = []
    for lock in recorded.locks:
        for s in lock.stages:
            deps = tuple(_fact(d, f"stage {producer[d.path]}" if d.path in producer
                               else "data" if d.path in tracked else "git") for d in s.deps)
            outs = tuple(_fact(o, recorded.kind_of(o.path)) for o in s.outs)
            params: dict[str, Any] = {}
            for values in s.params.values():
                params.update(flatten(values))
            stages.append(StageFacts(s.name, s.cmd, deps, outs, params))
    return tuple(stages)


def _model(recorded: Recorded) -> Model | None:
    art = recorded.model
    if art is None:
        return None
    for stage, out in recorded.stage_outputs():
        if out.path == art.path:
            return Model(art.name, art.path, out.hash, out.size, stage)
    return Model(art.name, art.path, None, None, None)


def registry_tags(root: Path, sha: str) -> list[RegistryTag]:
    """Registry tags (GTO's format) pointing at `sha`, oldest first; for stage assignments,
    whether this commit still holds the stage (one ref scan per artifact involved)."""
    from mlgit import registry

    events = registry.tags_for_commit(root, sha)
    holders: dict[str, registry.ArtifactState] = {}
    out = []
    for e in events:
        current = None
        if e.stage and e.action == "assign":
            if e.artifact not in holders:
                holders[e.artifact] = registry.load_artifact(root, e.artifact)
            holder = holders[e.artifact].holder(e.stage)
            current = holder is not None and holder.commit == sha and holder.tag == e.tag
        out.append(RegistryTag(e.tag, e.artifact, e.action, e.version, e.stage, e.author,
                               e.author_email, e.when, e.signed, current))
    return out
