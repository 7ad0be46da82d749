"""Metrics and params at any revision, read straight from Git objects (no checkout, no DVC).

`read_revisions` answers "what does each of these commits say": which dvc.yaml, which metrics
and params files it declares, and their flattened values, as `dvc metrics show` and
`dvc params diff` would report them. It works in phases over all revisions at once, so one
`git cat-file --batch` serves them with pipelined requests (one round trip per phase, not per
file):

1. the pipeline files of every revision (dvc.yaml, params.yaml, and dvc.lock when asked);
2. the metrics and params files those dvc.yaml files declare.

Parsed files are cached by Git blob id: most branches share one dvc.yaml blob and often the
same params files, so each distinct blob is parsed once.

Real-world layouts (#10): every `dvc.yaml` of a commit counts (found by walking its Git trees,
`mlgit.dvcfiles`), with top-level and per-stage declarations (`mlgit.declared`); a metrics file
inside a DVC-cached output is read from the local DVC cache by the hash in that revision's
dvc.lock (`mlgit.cachedfiles`). A declared file that is absent is recorded in `missing` (with a
note in `notes` when it is only missing from the cache); one that does not parse in `errors`.
"""

from __future__ import annotations

import math
import posixpath
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from mlgit.declared import DVC_LOCK, Plan, lock_path, plan_files, select_keys
from mlgit.dvcfiles import DvcfileFinder
from mlgit.errors import MlgitError
from mlgit.git import ObjectReader
from mlgit.params import flatten
from mlgit.project import DEFAULT_PARAMS, DVC_YAML, Pipeline, merge_pipelines, parse_pipeline
from mlgit.yamlio import load_structured

if TYPE_CHECKING:
    from mlgit.cachedfiles import CacheReader
    from mlgit.lockfile import Lock

WORKSPACE = "workspace"


@dataclass(frozen=True)
class RevisionData:
    rev: str  # as the user named it ("workspace" for the work tree)
    sha: str | None
    pipeline: Pipeline | None
    lock: Lock | None
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)  # file -> flat values
    params: dict[str, dict[str, Any]] = field(default_factory=dict)  # file -> flat values
    errors: dict[str, str] = field(default_factory=dict)  # file -> what went wrong
    missing: tuple[str, ...] = ()  # declared metrics files that are not there
    notes: dict[str, str] = field(default_factory=dict)  # file -> why it is missing
    pipelines: tuple[Pipeline, ...] = ()  # every dvc.yaml, the root one first

    def flat_metrics(self) -> dict[str, Any]:
        """All metrics by name; a name found in two files is prefixed with its file."""
        return _merge(self.metrics)

    def flat_params(self) -> dict[str, Any]:
        return _merge(self.params)


def _merge(per_file: dict[str, dict[str, Any]]) -> dict[str, Any]:
    seen: dict[str, int] = {}
    for values in per_file.values():
        for k in values:
            seen[k] = seen.get(k, 0) + 1
    out: dict[str, Any] = {}
    for file, values in per_file.items():
        for k, v in values.items():
            out[k if seen[k] == 1 else f"{file}:{k}"] = v
    return out


# --- where bytes come from ----------------------------------------------------------------------


class Blob(NamedTuple):  # not a dataclass: cheaper to define (see mlgit.quick.Opt)
    oid: str | None  # Git blob id: the key of the parse cache (None: not cacheable)
    data: bytes


class _Store(Protocol):
    cache_root: Path | None  # the repo whose DVC cache holds files kept out of Git (None: none)

    def fetch(self, wants: Sequence[tuple[str | None, str]]) -> Iterator[Blob | None]:
        """Bytes of each (commit, path), in order, as they come; None where absent."""

    def dvcfiles(self, keys: Sequence[str | None]) -> dict[str | None, tuple[str, ...]]:
        """The dvc.yaml paths of each commit (root first)."""


def _inside_repo(path: str) -> bool:
    """Paths come from repo files: never let one point outside the repository."""
    norm = posixpath.normpath(path)
    return not (norm.startswith(("/", "../")) or norm == ".." or "\n" in path or "\0" in path)


_FINDERS: weakref.WeakKeyDictionary[ObjectReader, DvcfileFinder] = weakref.WeakKeyDictionary()


class _GitStore:
    def __init__(self, reader: ObjectReader):
        self.reader = reader
        self.cache_root: Path | None = reader.root

    def dvcfiles(self, keys: Sequence[str | None]) -> dict[str | None, tuple[str, ...]]:
        # one finder per reader: callers that read commit after commit (exp list, lineage)
        # parse each shared tree once
        finder = _FINDERS.get(self.reader)
        if finder is None:
            finder = _FINDERS[self.reader] = DvcfileFinder(self.reader)
        found = finder.find([k for k in keys if k is not None])
        return {k: found.get(k, ()) if k is not None else () for k in keys}

    def fetch(self, wants: Sequence[tuple[str | None, str]]) -> Iterator[Blob | None]:
        names = [f"{sha}:{path}" if _inside_repo(path) else "\n" for sha, path in wants]
        for got in self.reader.iter_many(names):
            yield Blob(got[0], got[2]) if got is not None and got[1] == "blob" else None


class _WorktreeStore:
    cache_root: Path | None = None  # cached outputs are checked out in the work tree

    def __init__(self, root: Path):
        self.root = root

    def dvcfiles(self, keys: Sequence[str | None]) -> dict[str | None, tuple[str, ...]]:
        from mlgit.git import worktree_files_named

        found = tuple(worktree_files_named(self.root, DVC_YAML))
        return {k: found for k in keys}

    def fetch(self, wants: Sequence[tuple[str | None, str]]) -> Iterator[Blob | None]:
        for _, path in wants:
            try:
                data = (self.root / path).read_bytes() if _inside_repo(path) else None
            except OSError:
                data = None
            yield None if data is None else Blob(None, data)


# --- parsing, cached by blob id -----------------------------------------------------------------


class _Parsed:
    """Parse results by (blob id, how it was parsed); work-tree files are parsed uncached."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str, str], Any] = {}

    def get(self, blob: Blob, path: str, how: str) -> Any:
        key = (blob.oid or "", how, posixpath.splitext(path)[1].lower())
        if blob.oid is not None and key in self._cache:
            return self._cache[key]
        try:
            value: Any = _PARSERS[how](blob.data, path)
        except MlgitError as exc:
            value = exc
        if blob.oid is not None:
            self._cache[key] = value
        return value


def _parse_lock(data: bytes, path: str) -> Lock:
    from mlgit.lockfile import parse_lock  # only `diff` reads dvc.lock: keep compare's start light

    return parse_lock(data, path)


def _extract_metrics(value: Any) -> Any:
    """Keep what `dvc metrics show` keeps: numbers, strings and booleans, nested in mappings."""
    if isinstance(value, int | float | str):
        return value
    if not isinstance(value, dict):
        return None
    out = {}
    for key, val in value.items():
        got = _extract_metrics(val)
        if got not in (None, {}):
            out[key] = got
    return out


def _parse_metrics(data: bytes, path: str) -> dict[str, Any]:
    if path.endswith(".tsv") and b"\t" in data:  # DVC's YAML parser (ruamel) rejects the tabs
        raise MlgitError(f"{path} is not valid YAML: DVC reads metrics files as JSON, YAML "
                         "or TOML, not TSV")
    parsed = _extract_metrics(load_structured(data, path))
    if not isinstance(parsed, dict):  # a bare number: DVC shows it under the file's own name
        return {} if parsed is None else {"": parsed}
    return flatten(parsed)


def _parse_params(data: bytes, path: str) -> dict[str, Any]:
    parsed = load_structured(data, path)
    if parsed is None:
        return {}
    if not isinstance(parsed, dict):
        raise MlgitError(f"{path}: expected a mapping of params at the top level")
    # DVC's flatten (flatten_dict) drops empty sections; so do we, to report the same names
    return {k: v for k, v in flatten(parsed).items() if v != {}}


_PARSERS: dict[str, Any] = {
    "pipeline": lambda data, path: parse_pipeline(data, path),
    "lock": lambda data, path: _parse_lock(data, path),
    "metrics": _parse_metrics,
    "params": _parse_params,
}


def _merge_locks(locks: Sequence[Lock]) -> Lock | None:
    from mlgit.lockfile import merge_locks

    return merge_locks(locks)



# --- reading ------------------------------------------------------------------------------------


def _fetch(store: _Store, wants: list[tuple[str | None, str]], how: dict[str, str],
           blobs: dict[tuple[str | None, str], Blob | None], parsed: _Parsed) -> None:
    """Fetch `wants` into `blobs`, parsing each Git blob as it arrives: git looks up the next
    object (on another core) while we parse this one. The loops below then hit the cache."""
    for want, blob in zip(wants, store.fetch(wants), strict=True):
        blobs[want] = blob
        if blob is not None and blob.oid is not None and want[1] in how:
            parsed.get(blob, want[1], how[want[1]])


def _how(path: str) -> str:
    name = posixpath.basename(path)
    return {DVC_YAML: "pipeline", DVC_LOCK: "lock"}.get(name, "params")


def _parse_all(blobs: dict[tuple[str | None, str], Blob | None], k: str | None,
               paths: Sequence[str], how: str, parsed: _Parsed,
               errors: dict[str, str]) -> list[Any]:
    out = []
    for path in paths:
        blob = blobs.get((k, path))
        got = parsed.get(blob, path, how) if blob is not None else None
        if isinstance(got, MlgitError):
            errors[path] = got.message
        elif got is not None:
            out.append(got)
    return out


def _collect(store: _Store, snaps: Sequence[tuple[str, str | None]], with_lock: bool,
             parsed: _Parsed) -> list[RevisionData]:
    keys = list(dict.fromkeys(sha for _, sha in snaps))
    dvcfiles = store.dvcfiles(keys)
    blobs: dict[tuple[str | None, str], Blob | None] = {}
    first = [(k, p) for k in keys
             for p in [*dvcfiles[k], *(map(lock_path, dvcfiles[k]) if with_lock else ()),
                       DEFAULT_PARAMS]]
    _fetch(store, first, {p: _how(p) for _, p in first}, blobs, parsed)
    plans: dict[str | None, Plan] = {}
    pipes: dict[str | None, list[Pipeline]] = {}
    errors: dict[str | None, dict[str, str]] = {k: {} for k in keys}
    for k in keys:
        pipes[k] = _parse_all(blobs, k, dvcfiles[k], "pipeline", parsed, errors[k])
        plans[k] = plan_files(pipes[k], blobs[(k, DEFAULT_PARAMS)] is not None)
    later = [(k, p) for k in keys
             for p in dict.fromkeys([*plans[k].metrics, *plans[k].params])
             if (k, p) not in blobs]
    how = {p: "metrics" for k in keys for p in plans[k].metrics}
    how.update({p: "params" for k in keys for p in plans[k].params if p not in how})
    _fetch(store, later, how, blobs, parsed)
    # metrics DVC keeps in its cache: their hashes are in the dvc.lock of the declaring dvc.yaml
    absent = {k: [p for p in plans[k].metrics if blobs[(k, p)] is None] for k in keys}
    locks_needed = [(k, lock_path(owner)) for k in keys for p in absent[k]
                    if (owner := plans[k].metrics[p]) is not None]
    if store.cache_root is not None and locks_needed:
        wants = [w for w in dict.fromkeys(locks_needed) if w not in blobs]
        _fetch(store, wants, {p: "lock" for _, p in wants}, blobs, parsed)

    results: dict[str | None, RevisionData] = {}
    cache: CacheReader | None = None
    for k in keys:
        errs = errors[k]
        plan = plans[k]
        locks = _parse_all(blobs, k, [lock_path(f) for f in dvcfiles[k]], "lock", parsed, errs)
        metrics: dict[str, dict[str, Any]] = {}
        missing: list[str] = []
        notes: dict[str, str] = {}
        for path in plan.metrics:
            blob = blobs[(k, path)]
            if blob is None and store.cache_root is not None and plan.metrics[path]:
                if cache is None:
                    from mlgit.cachedfiles import CacheReader  # only repos that cache metrics pay

                    cache = CacheReader(store.cache_root)
                blob, note = _from_cache(cache, locks, path)
                if note:
                    notes[path] = note
            if blob is None:
                missing.append(path)
                continue
            got = parsed.get(blob, path, "metrics")
            if isinstance(got, MlgitError):
                errs[path] = got.message
                continue
            metrics[path] = got
            if path.endswith(".csv"):
                notes[path] = (f"{path}: DVC reads metrics files as JSON, YAML or TOML; "
                               "as YAML this CSV file gives no numbers")
        params: dict[str, dict[str, Any]] = {}
        for path, tracked in plan.params.items():
            blob = blobs[(k, path)]
            if blob is None:
                continue
            got = parsed.get(blob, path, "params")
            if isinstance(got, MlgitError):
                errs[path] = got.message
            else:
                params[path] = select_keys(got, tracked)
        pipeline = merge_pipelines(pipes[k])
        lock = _merge_locks(locks) if with_lock else None
        results[k] = RevisionData("", k, pipeline, lock, metrics, params, errs, tuple(missing),
                                  notes, tuple(pipes[k]))
    return [replace(results[sha], rev=label) for label, sha in snaps]


def _from_cache(cache: CacheReader, locks: Sequence[Lock], path: str) -> tuple[Blob | None, str]:
    """A metrics file DVC keeps in its cache, by the hash the revision's dvc.lock records."""
    from mlgit.cachedfiles import PULL_NOTE

    got = cache.read(locks, path)
    if got is None:
        return None, ""
    if got.data is None:
        return None, f"{path}: {PULL_NOTE}"
    return Blob("md5:" + got.md5, got.data), ""


def read_revisions(reader: ObjectReader, revs: Sequence[tuple[str, str]], *,
                   with_lock: bool = False) -> list[RevisionData]:
    """Metrics and params of many commits at once: `revs` are (label, commit sha) pairs.

    Commits are read once however many labels share them; dvc.lock only `with_lock`.
    """
    return _collect(_GitStore(reader), revs, with_lock, _Parsed())


def read_revision(reader: ObjectReader, rev: str) -> RevisionData:
    """Everything a commit declares and records, from Git objects alone."""
    info = reader.commit(rev)
    if info is None:
        return RevisionData(rev, None, None, None, errors={"": f"unknown revision '{rev}'"})
    return read_revisions(reader, [(rev, info.sha)], with_lock=True)[0]


def read_worktree(root: Path) -> RevisionData:
    """The same for the work tree (uncommitted changes count, as with `dvc metrics diff`)."""
    return _collect(_WorktreeStore(root), [(WORKSPACE, None)], True, _Parsed())[0]


def file_notes(data: RevisionData) -> dict[str, str]:
    """Warnings about the metrics files of `data`: why each declared one that has no values
    is missing, and which ones give no numbers."""
    notes = {m: f"{m}: declared in dvc.yaml but not found" for m in data.missing}
    return {**notes, **data.notes}


def is_number(value: Any) -> bool:
    """A finite int or float (not a bool): what can be compared, charted and sorted by."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def name_columns(pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """Display names for (file, flattened key) pairs, stable across revisions: the key alone
    when one file has it, `file:key` when several do, the file's name for a bare value."""
    files_of: dict[str, set[str]] = {}
    for file, key in pairs:
        files_of.setdefault(key, set()).add(file)
    return {(f, k): f if k == "" else k if len(files_of[k]) == 1 else f"{f}:{k}"
            for f, k in pairs}
