"""The model registry, read from Git tags in GTO's format (#6).

One `git for-each-ref` call reads every registry tag we need: its name, tagger, date, target and
message. GTO instead parses every tag of the repository on every command (gto#156); we ask git
for our refs only, so unrelated tags cost nothing.

State follows GTO's rules, so `gto show` and mlgit always agree: events are ordered by tag time
(ties by name); a version is registered until deregistered; a stage is held by the version whose
latest still-active assignment is the most recent. Lightweight tags are ignored, as GTO does
(gto#127), except that their counters are never reused.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from mlgit import git
from mlgit.errors import MlgitError
from mlgit.tags import Action, parse_registry_ref, parse_tag_name, ref_patterns, version_key

log = logging.getLogger("mlgit")

# All registry tags contain '@' or '#': release tags like v1.2.3 are never even loaded.
ALL_PATTERNS = ("refs/tags/*@*", "refs/tags/*#*")
_FIELDS = (
    "%(refname)", "%(objecttype)", "%(*objectname)", "%(*objecttype)", "%(taggerdate:unix)",
    "%(taggername)", "%(taggeremail)", "%(contents:signature)", "%(contents)", "%(objectname)",
)


@dataclass(frozen=True)
class Event:
    """One registry tag: a registration, stage assignment, or one of GTO's other actions."""

    tag: str
    artifact: str
    action: str  # register, deregister, assign, unassign, deprecate, create
    version: str | None  # for stage events: the version at that commit (or the commit SHA)
    stage: str | None
    counter: int | None
    commit: str
    time: int  # tagger date, unix seconds
    author: str
    author_email: str
    signed: bool
    message: str
    tag_object: str = ""

    @property
    def when(self) -> str:
        return iso_time(self.time)


@dataclass(frozen=True)
class VersionInfo:
    version: str
    commit: str
    registered_at: int
    author: str
    tag: str


@dataclass(frozen=True)
class StageHolder:
    stage: str
    version: str
    commit: str
    since: int  # time of the assignment that put it there
    tag: str


@dataclass(frozen=True)
class ArtifactState:
    artifact: str
    versions: tuple[VersionInfo, ...]  # registered and not deregistered, highest first
    stages: tuple[StageHolder, ...]  # in order of first use
    events: tuple[Event, ...]  # oldest first
    deprecated: bool = False
    max_counter: int = 0  # over every tag of the artifact, lightweight ones included
    last_time: int = 0  # newest tag time

    @property
    def latest(self) -> VersionInfo | None:
        return self.versions[0] if self.versions else None

    def holder(self, stage: str) -> StageHolder | None:
        return next((h for h in self.stages if h.stage == stage), None)

    def find_version(self, version: str) -> VersionInfo | None:
        return next((v for v in self.versions if v.version == version), None)

    def version_at(self, commit: str) -> VersionInfo | None:
        """The highest active version registered at `commit`."""
        return next((v for v in self.versions if v.commit == commit), None)

    def stage_history(self, stage: str) -> list[Event]:
        """Assignments to `stage`, newest first."""
        return [e for e in reversed(self.events)
                if e.stage == stage and e.action == Action.ASSIGN]


@dataclass(frozen=True)
class _Scan:
    events: list[Event] = field(default_factory=list)  # annotated tags on commits
    counters: dict[str, int] = field(default_factory=dict)  # artifact -> highest counter


def iso_time(unix: int) -> str:
    return datetime.fromtimestamp(unix, UTC).isoformat()


def _scan(root: Path, patterns: Iterable[str], points_at: str | None = None) -> _Scan:
    scan = _Scan()
    for row in git.for_each_ref(root, list(patterns), _FIELDS, points_at=points_at):
        (ref, objtype, target, target_type, when, name, email, signature, contents,
         objname) = row
        parsed = parse_tag_name(ref.removeprefix("refs/tags/"))
        if parsed is None:
            continue
        if parsed.counter is not None:
            best = scan.counters.get(parsed.artifact, 0)
            scan.counters[parsed.artifact] = max(best, parsed.counter)
        if objtype != "tag":
            log.debug("warning: ignoring lightweight tag %s (GTO ignores it too)", parsed.tag)
            continue
        if target_type != "commit":
            log.debug("warning: ignoring tag %s: it tags a %s, not a commit", parsed.tag,
                      target_type)
            continue
        message = contents[: len(contents) - len(signature)] if signature else contents
        scan.events.append(Event(
            parsed.tag, parsed.artifact, parsed.action.value, parsed.version, parsed.stage,
            parsed.counter, target, int(when or 0), name, email.strip("<>"), bool(signature),
            message.strip(), objname))
    # same second (gto assign + deprecate in one script): the counter orders them, as in GTO
    scan.events.sort(key=lambda e: (e.time, e.counter or 0, e.tag))
    return scan


def build_state(artifact: str, events: Iterable[Event], max_counter: int = 0) -> ArtifactState:
    """Replay one artifact's events as GTO does: versions first, then stages, each in time
    order. So an assignment belongs to the version registered at its commit even when both
    tags were made in the same second (gto register + gto assign)."""
    events = list(events)
    registered: dict[str, VersionInfo] = {}
    active: dict[str, bool] = {}
    for e in events:
        if e.action == Action.REGISTER and e.version:
            registered.setdefault(e.version, VersionInfo(e.version, e.commit, e.time, e.author,
                                                         e.tag))
            active[e.version] = True
        elif e.action == Action.DEREGISTER and e.version:
            active[e.version] = False
    at_commit: dict[str, str] = {}
    for v in sorted(registered.values(), key=lambda v: version_key(v.version)):
        at_commit[v.commit] = v.version  # the highest wins (GTO refuses two)
    replayed: list[Event] = []
    last: dict[tuple[str, str], Event] = {}  # (version, stage) -> latest assign/unassign
    for e in events:
        if e.action in (Action.ASSIGN, Action.UNASSIGN) and e.stage:
            e = replace(e, version=at_commit.get(e.commit, e.commit))
            last[(e.version or "", e.stage or "")] = e
        replayed.append(e)
    deprecated = bool(replayed) and replayed[-1].action == Action.DEPRECATE
    order: dict[str, int] = {}
    for e in replayed:
        if e.stage:
            order.setdefault(e.stage, len(order))
    holders: dict[str, Event] = {}
    for (version, stage), e in last.items():
        # an unregistered commit (assigned without a version) counts as active, as in GTO
        if e.action != Action.ASSIGN or not active.get(version, version not in registered):
            continue
        best = holders.get(stage)
        if best is None or (e.time, e.tag) > (best.time, best.tag):
            holders[stage] = e
    stages = tuple(StageHolder(s, e.version or e.commit, e.commit, e.time, e.tag)
                   for s, e in sorted(holders.items(), key=lambda kv: order[kv[0]]))
    versions = tuple(sorted((v for v in registered.values() if active.get(v.version)),
                            key=lambda v: version_key(v.version), reverse=True))
    return ArtifactState(artifact, versions, stages, tuple(replayed), deprecated,
                         max(max_counter, *(e.counter or 0 for e in replayed), 0),
                         max((e.time for e in replayed), default=0))


def load_artifact(root: Path, artifact: str) -> ArtifactState:
    """The state of one artifact, from its own tags only."""
    scan = _scan(root, ref_patterns(artifact))
    events = [e for e in scan.events if e.artifact == artifact]
    return build_state(artifact, events, scan.counters.get(artifact, 0))


def load_registry(root: Path) -> list[ArtifactState]:
    """Every artifact that has registry tags, by name."""
    scan = _scan(root, ALL_PATTERNS)
    by_artifact: dict[str, list[Event]] = {}
    for e in scan.events:
        by_artifact.setdefault(e.artifact, []).append(e)
    return [build_state(name, by_artifact[name], scan.counters.get(name, 0))
            for name in sorted(by_artifact)]


def resolve_registry_ref(root: Path, text: str) -> tuple[str, str] | None:
    """(commit sha, tag) for `NAME@vX.Y.Z`, `NAME#STAGE`, `NAME@latest`; None if no such tag."""
    ref = parse_registry_ref(text)
    if ref is None:
        return None
    state = load_artifact(root, ref.artifact)
    if ref.stage:
        holder = state.holder(ref.stage)
        return (holder.commit, holder.tag) if holder else None
    info = state.latest if ref.latest else state.find_version(ref.version or "")
    return (info.commit, info.tag) if info else None


def tags_for_commit(root: Path, sha: str) -> list[Event]:
    """The registry events whose tags point at commit `sha`, oldest first.

    Stage events carry the version registered at that commit (or the SHA if none was)."""
    scan = _scan(root, ALL_PATTERNS, points_at=sha)
    versions: dict[str, list[str]] = {}
    for e in scan.events:
        if e.action == Action.REGISTER and e.version and e.commit == sha:
            versions.setdefault(e.artifact, []).append(e.version)
    out = []
    for e in scan.events:
        if e.commit != sha:
            continue
        if e.stage:
            found = versions.get(e.artifact)
            e = replace(e, version=max(found, key=version_key) if found else e.commit)
        out.append(e)
    return out


@contextlib.contextmanager
def registry_lock(root: Path, timeout: float = 300) -> Iterator[None]:
    """One mlgit writing registry tags per repository at a time (its worktrees included).

    Two promotions at once would read the same tags, pick the same `#N` counter or version, and
    the loser's clean-up could delete the winner's tag. The lock covers read, gates and write."""
    try:
        import fcntl
    except ImportError:  # no flock (Windows): concurrent promotions are not guarded there
        yield
        return
    with open(git.common_dir(root) / "mlgit-registry.lock", "a+b") as fh:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise MlgitError("another mlgit has been writing registry tags here for "
                                     f"{timeout:.0f} s", hint="wait for it, then rerun") from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
