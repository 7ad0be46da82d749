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

Where real-world layouts (#10) plug in: `_plan_files` decides which files a revision needs
(several dvc.yaml files, top-level and per-stage declarations), and a `_Store` turns a path into
bytes (Git blobs or the work tree today; the DVC cache, by the hash in dvc.lock, later).
A file that is declared but absent is recorded in `missing`; one that does not parse in `errors`.
"""

from __future__ import annotations

import math
import posixpath
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from mlgit.errors import MlgitError
from mlgit.git import ObjectReader
from mlgit.params import flatten
from mlgit.project import DEFAULT_PARAMS, Pipeline, parse_pipeline
from mlgit.yamlio import load_structured

if TYPE_CHECKING:
    from mlgit.lockfile import Lock

WORKSPACE = "workspace"
DVC_YAML = "dvc.yaml"
DVC_LOCK = "dvc.lock"


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
    def fetch(self, wants: Sequence[tuple[str | None, str]]) -> Iterator[Blob | None]:
        """Bytes of each (commit, path), in order, as they come; None where absent."""


def _inside_repo(path: str) -> bool:
    """Paths come from repo files: never let one point outside the repository."""
    norm = posixpath.normpath(path)
    return not (norm.startswith(("/", "../")) or norm == ".." or "\n" in path or "\0" in path)


class _GitStore:
    def __init__(self, reader: ObjectReader):
        self.reader = reader

    def fetch(self, wants: Sequence[tuple[str | None, str]]) -> Iterator[Blob | None]:
        names = [f"{sha}:{path}" if _inside_repo(path) else "\n" for sha, path in wants]
        for got in self.reader.iter_many(names):
            yield Blob(got[0], got[2]) if got is not None and got[1] == "blob" else None


class _WorktreeStore:
    def __init__(self, root: Path):
        self.root = root

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


# --- which files a revision needs -----------------------------------------------------------------


class _Plan(NamedTuple):  # not a dataclass: cheaper to define (see mlgit.quick.Opt)
    metrics: tuple[str, ...]
    params: dict[str, tuple[str, ...] | None]  # file -> tracked keys (None: the whole file)


def _plan_files(pipeline: Pipeline | None, has_default_params: bool) -> _Plan:
    """The metrics and params files to read, and which params keys count, as DVC decides.

    Params: a file named without keys anywhere, top-level `params:` files and the default
    params.yaml (when present) count whole; otherwise only the keys the stages name
    (dvc/repo/params/show.py `_collect_params`, dvc/dependency `_merge_params`).
    """
    params: dict[str, list[str] | None] = {}
    if pipeline is not None:
        for stage in pipeline.stages:
            for ref in stage.params:
                if ref.keys is None or params.get(ref.file, []) is None:
                    params[ref.file] = None
                else:
                    keys = params.setdefault(ref.file, [])
                    assert keys is not None
                    keys.extend(k for k in ref.keys if k not in keys)
        declared = {r.file for s in pipeline.stages for r in s.params}
        for file in pipeline.params_files:
            if file not in declared:  # top-level `params:` entries are whole files
                params[file] = None
    if has_default_params:
        params[DEFAULT_PARAMS] = None
    metrics = pipeline.metrics_files if pipeline is not None else ()
    return _Plan(tuple(metrics),
                 {f: None if k is None else tuple(k) for f, k in params.items()})


def _select_keys(values: dict[str, Any], keys: tuple[str, ...] | None) -> dict[str, Any]:
    if keys is None:
        return values
    prefixes = tuple(k + "." for k in keys)
    return {n: v for n, v in values.items() if n in keys or n.startswith(prefixes)}


# --- reading ------------------------------------------------------------------------------------


def _fetch(store: _Store, wants: list[tuple[str | None, str]], how: dict[str, str],
           blobs: dict[tuple[str | None, str], Blob | None], parsed: _Parsed) -> None:
    """Fetch `wants` into `blobs`, parsing each Git blob as it arrives: git looks up the next
    object (on another core) while we parse this one. The loops below then hit the cache."""
    for want, blob in zip(wants, store.fetch(wants), strict=True):
        blobs[want] = blob
        if blob is not None and blob.oid is not None and want[1] in how:
            parsed.get(blob, want[1], how[want[1]])


def _collect(store: _Store, snaps: Sequence[tuple[str, str | None]], with_lock: bool,
             parsed: _Parsed) -> list[RevisionData]:
    keys = list(dict.fromkeys(sha for _, sha in snaps))
    first = {DVC_YAML: "pipeline", DEFAULT_PARAMS: "params", DVC_LOCK: "lock"}
    if not with_lock:
        del first[DVC_LOCK]
    blobs: dict[tuple[str | None, str], Blob | None] = {}
    _fetch(store, [(k, p) for k in keys for p in first], first, blobs, parsed)
    plans: dict[str | None, _Plan] = {}
    pipes: dict[str | None, Pipeline | MlgitError | None] = {}
    for k in keys:
        blob = blobs[(k, DVC_YAML)]
        pipes[k] = parsed.get(blob, DVC_YAML, "pipeline") if blob is not None else None
        pipe = pipes[k]
        plans[k] = _plan_files(pipe if isinstance(pipe, Pipeline) else None,
                               blobs[(k, DEFAULT_PARAMS)] is not None)
    later = [(k, p) for k in keys
             for p in dict.fromkeys([*plans[k].metrics, *plans[k].params])
             if (k, p) not in blobs]
    how = {p: "metrics" for k in keys for p in plans[k].metrics}
    how.update({p: "params" for k in keys for p in plans[k].params if p not in how})
    _fetch(store, later, how, blobs, parsed)

    results: dict[str | None, RevisionData] = {}
    for k in keys:
        errors: dict[str, str] = {}
        pipeline = pipes[k]
        if isinstance(pipeline, MlgitError):
            errors[DVC_YAML] = pipeline.message
            pipeline = None
        lock = None
        lock_blob = blobs.get((k, DVC_LOCK))
        if lock_blob is not None:
            got = parsed.get(lock_blob, DVC_LOCK, "lock")
            if isinstance(got, MlgitError):
                errors[DVC_LOCK] = got.message
            else:
                lock = got
        plan = plans[k]
        metrics: dict[str, dict[str, Any]] = {}
        missing: list[str] = []
        for path in plan.metrics:
            blob = blobs[(k, path)]
            if blob is None:
                missing.append(path)
                continue
            got = parsed.get(blob, path, "metrics")
            if isinstance(got, MlgitError):
                errors[path] = got.message
            else:
                metrics[path] = got
        params: dict[str, dict[str, Any]] = {}
        for path, tracked in plan.params.items():
            blob = blobs[(k, path)]
            if blob is None:
                continue
            got = parsed.get(blob, path, "params")
            if isinstance(got, MlgitError):
                errors[path] = got.message
            else:
                params[path] = _select_keys(got, tracked)
        results[k] = RevisionData("", k, pipeline, lock, metrics, params, errors, tuple(missing))
    return [replace(results[sha], rev=label) for label, sha in snaps]


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
