"""Metrics and params at any revision, read straight from Git objects (no checkout, no DVC).

`read_revision` answers "what does this commit say": which dvc.yaml, which metrics and params
files it declares, and their flattened values. One `ObjectReader` serves many revisions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlgit.errors import MlgitError
from mlgit.git import ObjectReader
from mlgit.lockfile import Lock, parse_lock
from mlgit.params import flatten
from mlgit.project import DEFAULT_PARAMS, Pipeline, parse_pipeline
from mlgit.yamlio import load_structured


@dataclass(frozen=True)
class RevisionData:
    rev: str  # as the user named it ("WORKSPACE" for the work tree)
    sha: str | None
    pipeline: Pipeline | None
    lock: Lock | None
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)  # file -> flat values
    params: dict[str, dict[str, Any]] = field(default_factory=dict)  # file -> flat values
    errors: dict[str, str] = field(default_factory=dict)  # file -> what went wrong

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


class _Source:
    """Reads files either from a Git revision or from the work tree."""

    def __init__(self, reader: ObjectReader | None, rev: str | None, root: Path | None):
        self.reader, self.rev, self.root = reader, rev, root

    def read(self, path: str) -> bytes | None:
        if self.reader is not None and self.rev is not None:
            return self.reader.read(self.rev, path)
        assert self.root is not None
        try:
            return (self.root / path).read_bytes()
        except OSError:
            return None


def _collect(rev: str, sha: str | None, src: _Source) -> RevisionData:
    errors: dict[str, str] = {}
    pipeline = lock = None
    raw = src.read("dvc.yaml")
    if raw is not None:
        try:
            pipeline = parse_pipeline(raw, "dvc.yaml")
        except MlgitError as exc:
            errors["dvc.yaml"] = exc.message
    raw_lock = src.read("dvc.lock")
    if raw_lock is not None:
        try:
            lock = parse_lock(raw_lock, "dvc.lock")
        except MlgitError as exc:
            errors["dvc.lock"] = exc.message
    metrics_files = list(pipeline.metrics_files) if pipeline else []
    params_files = list(pipeline.params_files) if pipeline else []
    if DEFAULT_PARAMS not in params_files:
        params_files.insert(0, DEFAULT_PARAMS)
    metrics = _read_files(src, metrics_files, errors, keep_missing=True)
    params = _read_files(src, params_files, errors, keep_missing=False)
    return RevisionData(rev, sha, pipeline, lock, metrics, params, errors)


def _read_files(src: _Source, files: list[str], errors: dict[str, str],
                keep_missing: bool) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for path in files:
        data = src.read(path)
        if data is None:
            continue
        try:
            parsed = load_structured(data, path)
        except MlgitError as exc:
            errors[path] = exc.message
            continue
        out[path] = flatten(parsed) if isinstance(parsed, dict) else {}
    return out


def read_revision(reader: ObjectReader, rev: str) -> RevisionData:
    """Everything a commit declares and records, from Git objects alone."""
    info = reader.commit(rev)
    if info is None:
        return RevisionData(rev, None, None, None, errors={"": f"unknown revision '{rev}'"})
    return _collect(rev, info.sha, _Source(reader, info.sha, None))


def read_worktree(root: Path) -> RevisionData:
    """The same for the work tree (uncommitted changes count, as with `dvc metrics diff`)."""
    return _collect("workspace", None, _Source(None, None, root))
