"""`mlgit diff A B`: what changed between two revisions (or a revision and the work tree).

Metrics (old, new, absolute and relative change, better or worse by the metric's direction),
params (changed, added, removed) and the dependency/output hashes recorded in dvc.lock (did the
data change? the model?). Everything is read from Git objects (and, for the work tree, from
files on disk, uncommitted changes included, like `dvc metrics diff`); nothing is checked out.

`DiffResult` is a stable interface: `mlgit ci report` renders it into a pull-request comment
(`mlgit.views.render_diff_markdown`). Add fields at the end; do not rename.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlgit import git
from mlgit.config import Config, infer_direction, load_config
from mlgit.errors import NotFoundError
from mlgit.lockfile import Lock
from mlgit.metrics import (
    WORKSPACE,
    RevisionData,
    is_number,
    name_columns,
    read_revisions,
    read_worktree,
)
from mlgit.project import Pipeline
from mlgit.refs import base_branch, resolve_rev


@dataclass(frozen=True)
class Side:
    label: str  # what the user typed (or the base branch's name), "workspace" for the work tree
    sha: str | None  # None for the work tree
    errors: dict[str, str] = field(default_factory=dict)  # file -> why it could not be read

    @property
    def short(self) -> str:
        return self.sha[:7] if self.sha else WORKSPACE

    @property
    def heading(self) -> str:
        """`main (1a2b3c4)`, or `workspace` for the work tree."""
        return f"{self.label} ({self.short})" if self.sha else self.label


@dataclass(frozen=True)
class MetricChange:
    name: str  # display name: the flattened key, or `file:key` if two files share it
    file: str
    key: str
    old: Any  # None: absent at A
    new: Any  # None: absent at B
    change: float | None  # new - old, for numbers
    rel_change: float | None  # (new - old) / |old|; None when old is 0 or not a number
    direction: str  # "max" or "min": which way is better
    status: str  # better | worse | same | changed | added | removed | error
    primary: bool = False


@dataclass(frozen=True)
class ParamChange:
    name: str
    file: str
    key: str
    old: Any
    new: Any
    status: str  # changed | added | removed | same


@dataclass(frozen=True)
class FileChange:
    """One dependency or output recorded in dvc.lock."""

    path: str
    stage: str  # the stage that produces it (outputs) or first uses it (dependencies)
    role: str  # model | data | metrics | code
    old: str | None  # hash at A (md5, `.dir` for directories); None: not recorded
    new: str | None
    status: str  # changed | added | removed | same


@dataclass(frozen=True)
class DiffResult:
    a: Side
    b: Side
    metric: str | None  # the primary metric's display name, if either side has it
    metrics: tuple[MetricChange, ...]  # all metrics, primary first (unchanged ones too)
    params: tuple[ParamChange, ...]  # all params (status "same" for unchanged)
    files: tuple[FileChange, ...]  # all dvc.lock deps and outs (status "same" for unchanged)
    data_changed: bool
    model_changed: bool
    code_changed: bool
    warnings: tuple[str, ...] = ()

    @property
    def primary(self) -> MetricChange | None:
        return next((m for m in self.metrics if m.primary), None)

    @property
    def changed_params(self) -> tuple[ParamChange, ...]:
        return tuple(p for p in self.params if p.status != "same")

    @property
    def changed_files(self) -> tuple[FileChange, ...]:
        return tuple(f for f in self.files if f.status != "same")


def compare_values(old: Any, new: Any, direction: str) -> tuple[float | None, float | None, str]:
    """(absolute change, relative change, status) of a metric going from `old` to `new`."""
    if old is None and new is None:
        return None, None, "same"
    if old is None:
        return None, None, "added"
    if new is None:
        return None, None, "removed"
    if not (is_number(old) and is_number(new)):
        return None, None, "same" if old == new else "changed"
    change = new - old
    rel = change / abs(old) if old != 0 else None
    if change == 0:
        return change, rel, "same"
    better = change > 0 if direction == "max" else change < 0
    return change, rel, "better" if better else "worse"


def _diff_metrics(a: RevisionData, b: RevisionData, config: Config) -> tuple[
        str | None, tuple[MetricChange, ...]]:
    pairs = list(dict.fromkeys((f, k) for d in (a, b) for f, vals in d.metrics.items()
                               for k in vals))
    names = name_columns(pairs)
    primary = _primary_name(config, names)
    changes = []
    for file, key in pairs:
        name = names[(file, key)]
        old, new = a.metrics.get(file, {}).get(key), b.metrics.get(file, {}).get(key)
        direction = (config.direction if name == primary and config.direction
                     else infer_direction(key or file))
        change, rel, status = compare_values(old, new, direction)
        if file in a.errors or file in b.errors:
            change, rel, status = None, None, "error"
        changes.append(MetricChange(name, file, key, old, new, change, rel, direction, status,
                                    name == primary))
    changes.sort(key=lambda m: not m.primary)  # stable: the rest keep file and key order
    return primary, tuple(changes)


def _primary_name(config: Config, names: dict[tuple[str, str], str]) -> str | None:
    """The configured metric (by display name or plain key), else the first one."""
    if config.metric:
        for (_, key), name in names.items():
            if config.metric in (name, key):
                return name
    return next(iter(names.values()), None)


def _diff_params(a: RevisionData, b: RevisionData) -> tuple[ParamChange, ...]:
    pairs = list(dict.fromkeys((f, k) for d in (a, b) for f, vals in d.params.items()
                               for k in vals))
    names = name_columns(pairs)
    out = []
    for file, key in pairs:
        in_a, in_b = key in a.params.get(file, {}), key in b.params.get(file, {})
        old, new = a.params.get(file, {}).get(key), b.params.get(file, {}).get(key)
        status = ("added" if not in_a else "removed" if not in_b
                  else "same" if old == new and type(old) is type(new) else "changed")
        out.append(ParamChange(names[(file, key)], file, key, old, new, status))
    return tuple(out)


def _model_paths(pipelines: list[Pipeline | None], config: Config) -> set[str]:
    arts = [a for p in pipelines if p is not None for a in p.artifacts]
    chosen = [a for a in arts if a.name == config.model] or \
        [a for a in arts if a.type == "model"] or arts
    return {a.path for a in chosen}


def _within(path: str, roots: set[str]) -> bool:
    return any(path == r or path.startswith(r + "/") or r.startswith(path + "/") for r in roots)


def _entries(lock: Lock | None) -> tuple[dict[str, tuple[str, str | None]],
                                         dict[str, tuple[str, str | None]]]:
    """(outs, deps) of a lock: path -> (stage, hash); deps produced by a stage are left out."""
    outs: dict[str, tuple[str, str | None]] = {}
    deps: dict[str, tuple[str, str | None]] = {}
    for stage in lock.stages if lock else ():
        for o in stage.outs:
            outs.setdefault(o.path, (stage.name, o.hash))
        for d in stage.deps:
            deps.setdefault(d.path, (stage.name, d.hash))
    return outs, {p: v for p, v in deps.items() if p not in outs}


def _diff_files(a: RevisionData, b: RevisionData, config: Config,
                tracked: set[str]) -> tuple[FileChange, ...]:
    """dvc.lock entries of both sides; `tracked` = dependency paths Git tracks (code)."""
    a_outs, a_deps = _entries(a.lock)
    b_outs, b_deps = _entries(b.lock)
    models = _model_paths([a.pipeline, b.pipeline], config)
    metric_paths = {p for d in (a, b) if d.pipeline
                    for p in (*d.pipeline.metrics_files, *d.pipeline.plots_files)}
    out = []
    for is_out, old_map, new_map in ((True, a_outs, b_outs), (False, a_deps, b_deps)):
        for path in dict.fromkeys([*old_map, *new_map]):
            stage, old = old_map.get(path, ("", None))
            stage_b, new = new_map.get(path, ("", None))
            if is_out:
                role = ("model" if _within(path, models) else
                        "metrics" if path in metric_paths else "data")
            else:
                role = "code" if path in tracked else "data"
            status = ("added" if path not in old_map else "removed" if path not in new_map
                      else "same" if old == new else "changed")
            out.append(FileChange(path, stage or stage_b, role, old, new, status))
    return tuple(out)


def _resolve_side(root: Path, text: str, config: Config) -> tuple[str, str | None]:
    try:
        return text, resolve_rev(root, text, config).sha
    except NotFoundError:
        if text == WORKSPACE:  # DVC's name for the work tree, unless a ref is called that
            return text, None
        raise


def diff_revisions(root: Path, a: str | None = None, b: str | None = None, *,
                   config: Config | None = None) -> DiffResult:
    """Compare revision `a` (default: the base branch) with `b` (default: the work tree)."""
    cfg = config or load_config(root)
    if a is None:
        a = base_branch(root, cfg)
        if a is None:
            raise NotFoundError("no base branch to compare with (no main, master or origin/HEAD)",
                                hint="name the revision: mlgit diff A [B], or set base_branch "
                                "in mlgit.yaml")
    a_label, a_sha = _resolve_side(root, a, cfg)
    b_label, b_sha = _resolve_side(root, b, cfg) if b is not None else (WORKSPACE, None)
    with git.ObjectReader(root) as reader:
        commits = [(lbl, sha) for lbl, sha in ((a_label, a_sha), (b_label, b_sha)) if sha]
        got = iter(read_revisions(reader, commits, with_lock=True))
        data_a = next(got) if a_sha else read_worktree(root)
        data_b = next(got) if b_sha else read_worktree(root)
        tracked = _git_tracked(reader, [data_a, data_b])
    primary, metrics = _diff_metrics(data_a, data_b, cfg)
    params = _diff_params(data_a, data_b)
    files = _diff_files(data_a, data_b, cfg, tracked)
    changed = {f.role for f in files if f.status != "same"}
    warnings = tuple(f"{d.rev}: {msg}" for d in (data_a, data_b) for msg in d.errors.values())
    return DiffResult(
        Side(a_label, a_sha, dict(data_a.errors)), Side(b_label, b_sha, dict(data_b.errors)),
        primary, metrics, params, files,
        data_changed="data" in changed, model_changed="model" in changed,
        code_changed="code" in changed, warnings=warnings)


def _git_tracked(reader: git.ObjectReader, sides: list[RevisionData]) -> set[str]:
    """Dependency paths that Git tracks at either side (code, config), as opposed to data
    that DVC tracks. The work tree counts as HEAD."""
    commits = {d.sha for d in sides if d.sha}
    if any(d.sha is None for d in sides):
        head = reader.commit("HEAD")
        if head is not None:
            commits.add(head.sha)
    paths = sorted({dep.path for d in sides if d.lock for s in d.lock.stages for dep in s.deps})
    wants = [(c, p) for c in sorted(commits) for p in paths]
    got = reader.read_many([f"{c}:{p}" for c, p in wants])
    return {p for (_, p), obj in zip(wants, got, strict=True)
            if obj is not None and obj[1] in ("blob", "tree")}
