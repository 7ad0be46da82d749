"""The registry as people read it: the models table and one artifact's timeline."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlgit import git
from mlgit.errors import MlgitError, NotFoundError
from mlgit.project import parse_pipeline
from mlgit.registry import ArtifactState, iso_time, load_artifact, load_registry
from mlgit.tags import message_subject, parse_message, validate_artifact


@dataclass(frozen=True)
class StageEntry:
    version: str
    commit: str
    since: str  # ISO time of the assignment


@dataclass(frozen=True)
class ModelSummary:
    name: str
    latest: str | None  # highest registered version
    latest_commit: str | None
    stages: dict[str, StageEntry]
    versions: int
    deprecated: bool
    declared: str | None  # path in the work tree's dvc.yaml, if declared there


@dataclass(frozen=True)
class HistoryEntry:
    time: str  # ISO 8601, UTC
    action: str  # register, assign, deregister, unassign, deprecate, create
    version: str | None
    stage: str | None
    commit: str
    author: str
    author_email: str
    tag: str
    signed: bool
    metric: str | None  # the primary metric's name and value at that commit
    value: Any
    forced: bool
    message: str  # the human line


@dataclass(frozen=True)
class History:
    artifact: str
    metric: str | None
    entries: tuple[HistoryEntry, ...]  # oldest first


def _declared_here(root: Path) -> dict[str, str]:
    """Artifacts of every dvc.yaml in the work tree; `sub/dvc.yaml`'s named `sub:name`, as
    GTO and `dvc artifacts get` name them. A dvc.yaml that does not parse declares nothing."""
    out: dict[str, str] = {}
    for dvcfile in git.worktree_files_named(root, "dvc.yaml"):
        try:
            text = (root / dvcfile).read_bytes()
            out.update({a.name.replace("=", ":"): a.path
                        for a in parse_pipeline(text, dvcfile).artifacts})
        except (OSError, MlgitError):
            continue
    return out


def _summary(state: ArtifactState | None, name: str, declared: str | None) -> ModelSummary:
    if state is None:
        return ModelSummary(name, None, None, {}, 0, False, declared)
    latest = state.latest
    stages = {h.stage: StageEntry(h.version, h.commit, iso_time(h.since)) for h in state.stages}
    return ModelSummary(name, latest.version if latest else None,
                        latest.commit if latest else None, stages, len(state.versions),
                        state.deprecated, declared)


def list_models(root: Path) -> list[ModelSummary]:
    """Every artifact with registry tags, plus those dvc.yaml declares but nobody promoted yet."""
    states = {s.artifact: s for s in load_registry(root)}
    declared = _declared_here(root)
    names = sorted(set(states) | set(declared))
    return [_summary(states.get(n), n, declared.get(n)) for n in names]


def artifact_history(root: Path, name: str) -> History:
    """Registrations and stage moves of one artifact, with the primary metric at each commit."""
    from mlgit.config import load_config
    from mlgit.metrics import read_revision

    name = validate_artifact(name)
    state = load_artifact(root, name)
    if not state.events:
        raise NotFoundError(f"unknown artifact '{name}': it has no registry tags",
                            hint=f"promote a commit (`mlgit promote REF --model {name} --to "
                            f"staging`), or declare it with `mlgit model add {name} --path PATH`")
    metric = load_config(root).metric
    values: dict[str, Any] = {}
    with git.object_reader(root) as reader:
        for commit in dict.fromkeys(e.commit for e in state.events):
            flat = read_revision(reader, commit).flat_metrics()
            if metric is None and flat:
                metric = next(iter(flat))
            values[commit] = flat
    entries = []
    for e in state.events:
        record = parse_message(e.message) or {}
        entries.append(HistoryEntry(
            e.when, e.action, e.version, e.stage, e.commit, e.author, e.author_email, e.tag,
            e.signed, metric, values[e.commit].get(metric) if metric else None,
            bool(record.get("forced")), message_subject(e.message)))
    return History(name, metric, tuple(entries))
