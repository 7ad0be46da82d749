"""Reading experiments: `exp list` and `exp show`, from Git objects only.

One `git for-each-ref` lists every experiment branch with its trailers and upstream state, and
one `git cat-file --batch` process serves every file read (params, metrics, dvc.lock at each
tip and base). No checkout, no DVC, no process per branch: this is what keeps `exp list` fast
with hundreds of experiments (see benchmarks/exp_new.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from mlgit import git
from mlgit.config import Config, load_config
from mlgit.errors import NotFoundError
from mlgit.experiments import (
    TRAILER_BASE,
    TRAILER_IMPORTED,
    ParamChange,
    delta,
    display_key,
    metric_value,
    param_changes,
    primary_metric,
    read_trailers,
    strip_prefix,
)
from mlgit.metrics import RevisionData, read_revision

_WALK_LIMIT = 500  # commits walked per branch to find a base or an ahead/behind count

_FIELDS = ("%(refname)", "%(objectname)", "%(upstream)", "%(upstream:track,nobracket)",
           "%(committerdate:unix)", "%(authorname)", "%(subject)",
           f"%(trailers:key={TRAILER_BASE},valueonly,separator=%x1d)",
           f"%(trailers:key={TRAILER_IMPORTED},valueonly,separator=%x1d)")


@dataclass(frozen=True)
class RemoteState:
    state: str  # local, pushed, ahead, behind, diverged, gone, remote-only
    ref: str | None = None  # the remote branch compared with
    ahead: int | None = None
    behind: int | None = None

    def describe(self) -> str:
        if self.state in ("ahead", "behind", "diverged") and self.ref:
            counts = ", ".join(f"{w} {n}" for w, n in (("ahead", self.ahead),
                                                      ("behind", self.behind)) if n)
            return f"{counts or self.state} ({_short_remote(self.ref)})"
        if self.state == "pushed" and self.ref:
            return f"pushed ({_short_remote(self.ref)})"
        return self.state


def _short_remote(ref: str) -> str:
    return ref.removeprefix("refs/remotes/")


@dataclass(frozen=True)
class ExperimentInfo:
    name: str
    branch: str  # local branch name, or the remote-tracking ref for a remote-only one
    sha: str
    base: str | None
    date: str  # ISO 8601, of the tip commit (when the latest result was recorded)
    timestamp: int
    author: str
    subject: str
    params: tuple[ParamChange, ...]  # differences from the base
    metric: str | None
    value: Any
    base_value: Any
    delta: float | None
    remote: RemoteState
    current: bool = False
    imported_from: str | None = None


@dataclass(frozen=True)
class ExperimentList:
    metric: str | None
    direction: str | None
    best: str | None  # name of the best experiment by the primary metric
    experiments: tuple[ExperimentInfo, ...]


@dataclass(frozen=True)
class OutputInfo:
    stage: str
    path: str
    hash: str | None
    size: int | None


@dataclass(frozen=True)
class ExperimentDetail:
    info: ExperimentInfo
    message: str
    trailers: dict[str, str]
    params: dict[str, Any]  # every param at the tip (display keys)
    metrics: dict[str, Any]
    base_metrics: dict[str, Any]
    outputs: tuple[OutputInfo, ...] = field(default_factory=tuple)
    errors: dict[str, str] = field(default_factory=dict)  # files that could not be read


@dataclass(frozen=True)
class _Ref:
    name: str
    branch: str
    sha: str
    upstream: str
    track: str
    timestamp: int
    author: str
    subject: str
    base: str
    imported: str


def list_experiments(root: Path, *, include_remote: bool = False,
                     sort: str = "date") -> ExperimentList:
    """Every experiment branch (and with `include_remote`, those only on a remote), newest
    first (`sort`: date, metric or name)."""
    config = load_config(root)
    local, remote = _read_refs(root, config)
    current = git.current_branch(root)
    wanted = list(local.values())
    if include_remote:
        wanted += [refs[0] for name, refs in remote.items() if name not in local]
    with git.object_reader(root) as reader:
        infos, _data = _describe(root, reader, config, wanted, remote, current)
    return _ranked(config, infos, sort)


def show_experiment(root: Path, name: str) -> ExperimentDetail:
    """One experiment in full: trailers, all params and metrics, param diff, locked outputs."""
    config = load_config(root)
    wanted_name = strip_prefix(config, name)
    local, remote = _read_refs(root, config)
    ref = local.get(wanted_name) or next(iter(remote.get(wanted_name, [])), None)
    if ref is None:
        raise NotFoundError(f"no experiment '{wanted_name}' (no branch "
                            f"{config.exp_prefix}{wanted_name})",
                            hint="list them with `mlgit exp list --all`")
    with git.object_reader(root) as reader:
        infos, data = _describe(root, reader, config, [ref], remote, git.current_branch(root))
        info = infos[0]
        commit = reader.commit(info.sha)
    tip, base = data[info.sha], data.get(info.base or "")
    outputs = tuple(OutputInfo(stage.name, o.path, o.hash, o.size)
                    for stage in (tip.lock.stages if tip.lock else ()) for o in stage.outs)
    all_params = {display_key(f, k): v for f, values in tip.params.items()
                  for k, v in values.items()}
    message = commit.message if commit else ""
    return ExperimentDetail(info, message, read_trailers(message), all_params,
                            tip.flat_metrics(), base.flat_metrics() if base else {}, outputs,
                            dict(tip.errors))


# --- collecting -------------------------------------------------------------------------------


def _read_refs(root: Path, config: Config) -> tuple[dict[str, _Ref], dict[str, list[_Ref]]]:
    """Local experiment branches by name; remote-tracking ones by name (origin first)."""
    prefix = config.exp_prefix
    rows = git.for_each_ref(root, [f"refs/heads/{prefix}", "refs/remotes/"], _FIELDS)
    local: dict[str, _Ref] = {}
    remote: dict[str, list[_Ref]] = {}
    for row in rows:
        refname, sha, upstream, track, when, author, subject, base, imported = row
        if refname.startswith(f"refs/heads/{prefix}"):
            name = refname[len(f"refs/heads/{prefix}"):]
            local[name] = _Ref(name, refname[len("refs/heads/"):], sha, upstream, track,
                               int(when or 0), author, subject, _first(base), _first(imported))
            continue
        _, _, rest = refname[len("refs/remotes/"):].partition("/")
        if rest.startswith(prefix) and rest != "HEAD":
            name = rest[len(prefix):]
            entry = _Ref(name, refname, sha, "", "", int(when or 0), author, subject,
                         _first(base), _first(imported))
            remote.setdefault(name, []).append(entry)
    for refs in remote.values():
        refs.sort(key=lambda r: not r.branch.startswith("refs/remotes/origin/"))
    return local, remote


def _describe(root: Path, reader: git.ObjectReader, config: Config, refs: list[_Ref],
              remote: dict[str, list[_Ref]], current: str | None
              ) -> tuple[list[ExperimentInfo], dict[str, RevisionData]]:
    fork_points: set[str] | None = None
    bases: dict[str, str | None] = {}
    for ref in refs:
        base = ref.base if ref.base and reader.commit(ref.base) else None
        if base is None:  # made by hand, or its base is not in this clone
            if fork_points is None:
                fork_points = _base_branch_history(root, reader, config)
            base = _find_base(reader, ref.sha, fork_points)
        bases[ref.branch] = base
    data = _read_all(reader, [r.sha for r in refs] + [b for b in bases.values() if b])
    metric = None
    infos = []
    for ref in refs:
        base = bases[ref.branch]
        tip, base_data = data[ref.sha], data[base] if base else None
        metric = metric or primary_metric(config, tip, base_data)
        value, base_value = metric_value(tip, metric), metric_value(base_data, metric)
        is_remote = ref.branch.startswith("refs/remotes/")
        infos.append(ExperimentInfo(
            ref.name, ref.branch, ref.sha, base, _iso(ref.timestamp), ref.timestamp, ref.author,
            ref.subject, tuple(param_changes(base_data, tip)), metric, value, base_value,
            delta(value, base_value),
            RemoteState("remote-only", ref.branch) if is_remote
            else _remote_state(reader, ref, remote.get(ref.name, [])),
            current == ref.branch, ref.imported or None))
    return infos, data


def _read_all(reader: git.ObjectReader, shas: list[str]) -> dict[str, RevisionData]:
    """Params, metrics and lock of every commit, each read once (bases are shared)."""
    return {sha: read_revision(reader, sha) for sha in dict.fromkeys(shas)}


def _base_branch_history(root: Path, reader: git.ObjectReader, config: Config) -> set[str]:
    """Commits of the base branch (main/master), to find where a trailer-less branch forked."""
    names = [config.base_branch] if config.base_branch else git.default_branch_candidates(root)
    seen: set[str] = set()
    for name in names:
        for commit in _walk(reader, f"refs/heads/{name}", limit=5000):
            seen.add(commit.sha)
    return seen


def _find_base(reader: git.ObjectReader, tip: str, fork_points: set[str]) -> str | None:
    """The newest `Mlgit-Base` trailer on the branch, else its first commit on the base branch."""
    for commit in _walk(reader, tip, limit=_WALK_LIMIT):
        if commit.sha in fork_points:
            return commit.sha
        base = read_trailers(commit.message).get(TRAILER_BASE)
        if base and re.fullmatch(r"[0-9a-f]{40}", base) and reader.commit(base):
            return base
    return None


def _walk(reader: git.ObjectReader, rev: str, limit: int) -> list[git.CommitInfo]:
    """First-parent history of `rev`, newest first, at most `limit` commits."""
    out: list[git.CommitInfo] = []
    info = reader.commit(rev)
    while info is not None and len(out) < limit:
        out.append(info)
        info = reader.commit(info.parents[0]) if info.parents else None
    return out


def _remote_state(reader: git.ObjectReader, ref: _Ref, remote_refs: list[_Ref]) -> RemoteState:
    if ref.upstream:
        if ref.track == "gone":
            return RemoteState("gone", ref.upstream)
        ahead = int(m.group(1)) if (m := re.search(r"ahead (\d+)", ref.track)) else 0
        behind = int(m.group(1)) if (m := re.search(r"behind (\d+)", ref.track)) else 0
        state = ("diverged" if ahead and behind else "ahead" if ahead
                 else "behind" if behind else "pushed")
        return RemoteState(state, ref.upstream, ahead, behind)
    if not remote_refs:
        return RemoteState("local")
    other = remote_refs[0]
    if other.sha == ref.sha:
        return RemoteState("pushed", other.branch, 0, 0)
    commits_ahead = _distance(reader, ref.sha, other.sha)
    if commits_ahead is not None:
        return RemoteState("ahead", other.branch, commits_ahead, 0)
    commits_behind = _distance(reader, other.sha, ref.sha)
    if commits_behind is not None:
        return RemoteState("behind", other.branch, 0, commits_behind)
    return RemoteState("diverged", other.branch)


def _distance(reader: git.ObjectReader, tip: str, ancestor: str) -> int | None:
    """How many first-parent commits `tip` is ahead of `ancestor` (None: not found)."""
    for i, commit in enumerate(_walk(reader, tip, limit=_WALK_LIMIT)):
        if commit.sha == ancestor:
            return i
    return None


def _iso(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp).astimezone().isoformat(timespec="seconds")


def _ranked(config: Config, infos: list[ExperimentInfo], sort: str) -> ExperimentList:
    metric = next((i.metric for i in infos if i.metric), config.metric)
    direction = config.direction_of(metric) if metric else None
    sign = -1 if direction == "max" else 1
    scored = [i for i in infos if _is_number(i.value)]
    best = min(scored, key=lambda i: sign * i.value).name if scored and direction else None
    if sort == "name":
        infos.sort(key=lambda i: i.name)
    elif sort == "metric":
        infos.sort(key=lambda i: (not _is_number(i.value),
                                  sign * i.value if _is_number(i.value) else 0, i.name))
    else:
        infos.sort(key=lambda i: (-i.timestamp, i.name))
    return ExperimentList(metric, direction, best, tuple(infos))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _first(text: str) -> str:
    """The first value of a `%(trailers:...,separator=%x1d)` field."""
    return text.split("\x1d")[0].strip()
