"""`mlgit compare`: the metrics and params of many refs side by side, straight from Git objects.

The ref list comes from one `git for-each-ref`; every file of every ref comes through one
`git cat-file --batch` (`metrics.read_revisions`). No checkout, no DVC, no process per ref:
this is what keeps hundreds of branches under a second where `dvc exp show -a` takes many.
"""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from mlgit import git
from mlgit.config import Config, infer_direction, load_config
from mlgit.errors import NotFoundError, UsageError
from mlgit.metrics import RevisionData, file_notes, is_number, name_columns, read_revisions

_GLOB = set("*?[")
_SPACES = {"refs/heads/": "branch", "refs/tags/": "tag", "refs/remotes/": "remote"}
_REF_FIELDS = ["%(refname)", "%(objectname)", "%(*objectname)", "%(committerdate:unix)",
               "%(*committerdate:unix)", "%(HEAD)", "%(objecttype)", "%(*objecttype)"]


@dataclass(frozen=True)
class CompareRow:
    ref: str  # as shown: branch or tag short name, or the revision as the user typed it
    sha: str
    date: str  # commit date, ISO 8601 UTC
    kind: str  # base | current | experiment | branch | tag | remote | revision
    metrics: dict[str, Any]  # column -> value (absent: not there at this ref)
    params: dict[str, Any]
    errors: dict[str, str] = field(default_factory=dict)  # file -> why it could not be read
    best: bool = False
    notes: dict[str, str] = field(default_factory=dict)  # file -> why its values are missing


@dataclass(frozen=True)
class CompareResult:
    metric: str | None  # primary metric column
    direction: str | None  # "max" or "min" for the primary metric
    sort_by: str | None
    descending: bool
    base: str | None  # the base branch's row, the reference for better/worse
    metric_columns: tuple[str, ...]
    param_columns: tuple[str, ...]
    directions: dict[str, str]  # metric column -> "max" | "min"
    column_files: dict[str, str]  # column -> the file it comes from
    rows: tuple[CompareRow, ...]
    warnings: tuple[str, ...] = ()


class _Ref(NamedTuple):  # not a dataclass: cheaper to define (see mlgit.quick.Opt)
    label: str
    sha: str
    time: int | None  # committer time, when for-each-ref already told us
    kind: str


def _iso(ts: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def _list_refs(root: Path, with_tags: bool, with_remotes: bool) -> tuple[
        list[_Ref], str | None]:
    """Branches (and tags, remote branches) in one `git for-each-ref`; also the current branch."""
    spaces = ["refs/heads", *(["refs/tags"] if with_tags else []),
              *(["refs/remotes"] if with_remotes else [])]
    refs, current = [], None
    for name, obj, peeled, ctime, pctime, head, kind, pkind in git.for_each_ref(
            root, spaces, _REF_FIELDS):
        if (pkind or kind) != "commit":
            continue  # a tag of a tree or blob: nothing to compare
        space = next((s for s in _SPACES if name.startswith(s)), None)
        if space is None:
            continue
        short, what = name[len(space):], _SPACES[space]
        if what == "remote" and short.endswith("/HEAD"):
            continue  # a symbolic alias of another remote branch
        stamp = pctime or ctime
        refs.append(_Ref(short, peeled or obj, int(stamp) if stamp else None, what))
        if head == "*":
            current = short
    return refs, current


def _resolve(root: Path, text: str, cfg: Config) -> str:
    from mlgit.refs import resolve_rev  # only for typed revisions: keep the default start light

    return resolve_rev(root, text, cfg).sha


def _select(root: Path, reader: git.ObjectReader, args: Sequence[str], all_branches: bool,
            tags: bool, cfg: Config, all_commits: bool = False) -> tuple[list[_Ref], str | None]:
    """The refs to compare, in display order, and the base branch's label."""
    patterns = [a for a in args if _GLOB & set(a)]
    explicit = [a for a in args if a not in patterns]
    listed, current = _list_refs(root, tags or bool(patterns), bool(patterns))
    heads = {r.label: r for r in listed if r.kind == "branch"}
    base = cfg.base_branch or next((b for b in ("main", "master") if b in heads), None)
    if base is None:
        found = git.default_branch_candidates(root)  # the remote's HEAD, rarely needed
        base = found[0] if found else None

    chosen: list[_Ref] = []
    for text in explicit:
        chosen.append(_Ref(text, _resolve(root, text, cfg), None, "revision"))
    for pattern in patterns:
        hits = [r for r in listed if fnmatch.fnmatchcase(r.label, pattern)]
        if not hits:
            raise NotFoundError(f"no branch or tag matches '{pattern}'",
                                hint="list them with `git branch -a` and `git tag`")
        chosen += hits
    if all_branches:
        chosen += [r for r in listed if r.kind == "branch"]
    if not explicit and not patterns and not all_branches:
        if base is not None:
            chosen.append(heads.get(base) or _Ref(base, _resolve(root, base, cfg),
                                                  None, "branch"))
        if current is not None:
            chosen.append(heads[current])
        else:
            chosen.append(_Ref("HEAD", _resolve(root, "HEAD", cfg), None, "revision"))
        chosen += [r for r in listed if r.kind == "branch" and r.label.startswith(cfg.exp_prefix)]
    if tags:
        chosen += [r for r in listed if r.kind == "tag"]
    if all_commits:  # every commit once; branch tips keep their branch's name
        tips = {r.sha for r in chosen}
        chosen += [_Ref(sha[:7], sha, when, "commit") for sha, when in git.all_commits(root)
                   if sha not in tips]

    unique: dict[str, _Ref] = {}
    for r in chosen:
        kind = ("base" if r.label == base else "current" if r.label == current
                else "experiment" if r.kind == "branch" and r.label.startswith(cfg.exp_prefix)
                else r.kind)
        unique.setdefault(r.label, _Ref(r.label, r.sha, r.time, kind))
    refs = list(unique.values())
    missing_time = [r.sha for r in refs if r.time is None]
    if missing_time:  # typed revisions: read their commit objects, all in one round trip
        times = {}
        for obj in reader.read_many(missing_time):
            if obj is not None:
                times[obj[0]] = git.parse_commit(obj[0], obj[2]).committer_time
        refs = [r if r.time is not None else _Ref(r.label, r.sha, times.get(r.sha, 0), r.kind)
                for r in refs]
    return refs, base if base in unique else None


def _columns(data: list[RevisionData], part: str) -> list[tuple[str, str]]:
    return list(dict.fromkeys((f, k) for d in data for f, vals in getattr(d, part).items()
                              for k in vals))


def _sort_key(value: Any, descending: bool) -> tuple[int, Any]:
    if is_number(value):
        return (0, -value if descending else value)
    if value is None:
        return (2, "")
    return (1, str(value))


def _differs(rows: list[CompareRow], column: str, part: str) -> bool:
    seen = {repr(getattr(r, part).get(column, "\0missing")) for r in rows}
    return len(seen) > 1


def _pick(columns: Sequence[str], patterns: Sequence[str], available: Sequence[str]) -> list[str]:
    out: list[str] = []
    for pattern in patterns:
        hits = [c for c in available if fnmatch.fnmatchcase(c, pattern)]
        if not hits:
            raise UsageError(f"--columns: no metric or param matches '{pattern}'",
                             hint="available: " + ", ".join(available[:20]))
        out += [c for c in hits if c in columns and c not in out]
    return out


def compare_revisions(root: Path, refs: Sequence[str] = (), *, pull: bool = False,
                      **options: Any) -> CompareResult:
    """`_compare_revisions`; with `pull`, metrics files missing from the local DVC cache are
    fetched from the DVC remote (just those files, at just those commits) and read again."""
    result = _compare_revisions(root, refs, **options)
    if not pull:
        return result
    from mlgit.cachedfiles import PULL_NOTE

    wanted = [(r.sha, f) for r in result.rows for f, note in r.notes.items() if PULL_NOTE in note]
    if not wanted:
        return result
    from mlgit import dvc

    dvc.fetch_revs(root, sorted({s for s, _ in wanted}), stream=False,
                   targets=sorted({f for _, f in wanted}))
    return _compare_revisions(root, refs, **options)


def _compare_revisions(
    root: Path,
    refs: Sequence[str] = (),
    *,
    all_branches: bool = False,
    tags: bool = False,
    sort: str | None = None,
    descending: bool | None = None,
    only_changed: bool = False,
    columns: Sequence[str] = (),
    all_params: bool = False,
    all_commits: bool = False,
    config: Config | None = None,
) -> CompareResult:
    """Metrics and params of `refs` (revisions or glob patterns like 'exp/*'); by default the
    base branch, the current branch and every experiment branch.

    Rows are sorted by `sort` (default: the primary metric, best first). Params columns are
    those that differ between rows unless `all_params`; `only_changed` drops unchanging metric
    columns too; `columns` keeps only the named (glob) columns, in that order.
    """
    cfg = config or load_config(root)
    with git.ObjectReader(root) as reader:
        selected, base = _select(root, reader, refs, all_branches, tags, cfg, all_commits)
        data = read_revisions(reader, [(r.label, r.sha) for r in selected])

    metric_pairs, param_pairs = _columns(data, "metrics"), _columns(data, "params")
    metric_names = name_columns(metric_pairs)
    param_names = name_columns(param_pairs)
    taken = set(metric_names.values())
    for pair, name in param_names.items():  # a param named like a metric: say which file
        if name in taken:
            param_names[pair] = f"{pair[0]}:{pair[1]}"
    column_files = {n: f for (f, _), n in (*metric_names.items(), *param_names.items())}

    metric_cols = list(metric_names.values())
    primary = None
    if cfg.metric:
        primary = next((n for (_, k), n in metric_names.items() if cfg.metric in (n, k)), None)
    primary = primary or (metric_cols[0] if metric_cols else None)
    if primary:
        metric_cols.remove(primary)
        metric_cols.insert(0, primary)
    directions = {n: infer_direction(k or f) for (f, k), n in metric_names.items()}
    if primary and cfg.direction:  # mlgit.yaml's direction is the primary metric's
        directions[primary] = cfg.direction
    for d in data:  # a broken metrics file no other ref can read still gets its error cell
        for file in d.errors:
            if d.pipeline and file in d.pipeline.metrics_files and file not in column_files:
                column_files[file] = file
                metric_cols.append(file)

    rows = []
    for ref, d in zip(selected, data, strict=True):
        rows.append(CompareRow(
            ref.label, ref.sha, _iso(ref.time or 0), ref.kind,
            {metric_names[(f, k)]: v for f, vals in d.metrics.items() for k, v in vals.items()},
            {param_names[(f, k)]: v for f, vals in d.params.items() for k, v in vals.items()},
            dict(d.errors), notes=file_notes(d)))

    best_row = None
    if primary:
        scored = [r for r in rows if is_number(r.metrics.get(primary))]
        if scored:
            pick = max if directions[primary] == "max" else min
            best_row = pick(scored, key=lambda r: r.metrics[primary])
    rows = [CompareRow(r.ref, r.sha, r.date, r.kind, r.metrics, r.params, r.errors,
                       r is best_row, r.notes) for r in rows]

    all_cols = [*metric_cols, *param_names.values()]
    sort_by = sort or primary
    if sort is not None and sort not in all_cols:
        raise UsageError(f"--sort: no metric or param named '{sort}'",
                         hint="available: " + ", ".join(all_cols[:20]))
    desc = descending if descending is not None else (
        directions.get(sort_by, "") == "max" if sort_by in directions else False)
    if sort_by is not None:
        rows.sort(key=lambda r: _sort_key(r.metrics.get(sort_by, r.params.get(sort_by)), desc))

    param_cols = [c for c in param_names.values()
                  if all_params or columns or _differs(rows, c, "params")]
    if only_changed:
        metric_cols = [c for c in metric_cols if _differs(rows, c, "metrics")]
        param_cols = [c for c in param_cols if _differs(rows, c, "params")]
    if columns:
        metric_cols = _pick(metric_cols, columns, all_cols)
        param_cols = _pick(param_cols, columns, all_cols)
    warnings = tuple(f"{r.ref}: {msg}" for r in rows
                     for msg in (*r.errors.values(), *r.notes.values()))
    if all_commits and git.is_shallow(root):  # say so rather than pass a stub for the history
        warnings += ("this is a shallow clone: commits before its cut are not here; run "
                     "`git fetch --unshallow` to compare the whole history",)
    return CompareResult(primary, directions.get(primary) if primary else None, sort_by, desc,
                         base, tuple(metric_cols), tuple(param_cols), directions, column_files,
                         tuple(rows), warnings)
