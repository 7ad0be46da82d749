"""`mlgit reproduce`: bring back (or rebuild) a commit's outputs and prove they are the same.

Everything happens in a throwaway `git worktree` of that commit which shares the repository's
DVC cache, so the user's branch, work tree, index and stash are never touched, and the worktree
is removed afterwards, also on failure and on Ctrl-C. Two modes:

- materialise (default): `dvc checkout` what the commit recorded, pulling from the DVC remote
  only what the cache lacks; no stage runs.
- rerun: `dvc repro --force` from that commit's code, params and data.

Either way every output in the commit's `dvc.lock` (and every `.dvc`-tracked input) is hashed
the way DVC hashes it and compared with what the commit recorded. Metrics files are also compared
by value, so a rebuild that is numerically equal but not bit-exact is reported as such.
"""

from __future__ import annotations

import math
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard

from mlgit import dvc, dvchash, git
from mlgit.errors import MlgitError, NotFoundError, UsageError
from mlgit.git import ObjectReader
from mlgit.lockfile import LockedFile
from mlgit.params import flatten
from mlgit.recorded import Recorded, introduced_by, read_recorded, recorder_of
from mlgit.refs import resolve_rev
from mlgit.worktree import temporary_worktree
from mlgit.yamlio import load_structured

Progress = Callable[[str], None]
OK_STATUSES = ("match", "close")
LEGACY_NOTE = (
    "this commit's DVC files were written by DVC 2, which hashed text files after turning CRLF "
    "into LF and kept objects in the old cache layout (DVC 3 changed both, dvc#9818): hashes "
    "were checked with DVC 2's rules. `dvc cache migrate` moves old objects to DVC 3's layout "
    "and leaves links behind, so commits like this one stay reproducible."
)


@dataclass(frozen=True)
class OutputCheck:
    path: str
    stage: str | None  # None: source data tracked by a .dvc file
    kind: str  # "model", "output", "metrics", "plots" or "data"
    committed: str | None  # the hash the commit recorded
    found: str | None  # the hash of what is there now (None: missing)
    status: str  # "match", "close" (metrics equal within rtol), "differ" or "missing"
    detail: str = ""


@dataclass(frozen=True)
class ReproduceResult:
    ref: str
    sha: str
    mode: str  # "materialise" or "rerun"
    checks: tuple[OutputCheck, ...]
    pulled: tuple[str, ...]  # paths fetched from the DVC remote
    legacy_hashes: bool
    notes: tuple[str, ...]
    worktree: str | None  # the kept worktree (--keep), else None
    output_dir: str | None
    copied: tuple[str, ...]
    seconds: float

    @property
    def ok(self) -> bool:
        return all(c.status in OK_STATUSES for c in self.checks)

    @property
    def mismatches(self) -> tuple[OutputCheck, ...]:
        return tuple(c for c in self.checks if c.status not in OK_STATUSES)


def reproduce(root: Path, ref: str, *, rerun: bool = False, keep: bool = False,
              jobs: int | None = None, rtol: float = 1e-9, output: Path | None = None,
              progress: Progress | None = None) -> ReproduceResult:
    """Materialise (or with `rerun`, rebuild) commit `ref`'s outputs and check their hashes."""
    say = progress or (lambda _msg: None)
    started = time.perf_counter()
    _check_options(jobs, rtol, output)
    dvc.require_dvc_repo(root)
    sha = resolve_rev(root, ref).sha
    with git.object_reader(root) as reader:
        recorded = read_recorded(root, reader, sha)
        if not recorded.locks:
            raise NotFoundError(
                f"commit {sha[:8]} ('{ref}') has no dvc.lock: its pipeline was never run and "
                "committed, so there is nothing to reproduce",
                hint="pick a commit that has one (`git log --oneline -- dvc.lock`)")
        cache = dvc.cache_dir(root)
        needed = _needed(recorded, rerun)
        missing = [f for f in needed if not dvchash.in_cache(cache, f)]
        mode = "rerun" if rerun else "materialise"
        say(f"{mode} {sha[:8]} ({ref}) in a temporary worktree")
        # DVC runs in the worktree only to pull, to rerun, or later by the user (--keep)
        share = rerun or keep or bool(missing)
        with temporary_worktree(root, sha, "repro", keep=keep, share_cache=share) as wt:
            pulled = _pull_missing(root, reader, wt, recorded, missing, cache, jobs, rerun, say)
            _restore(wt, needed, cache, say)
            if rerun:
                say("running every stage again: dvc repro --force")
                dvc.repro_forced(wt)
            say("checking every output against the commit's dvc.lock")
            checks = _verify(wt, reader, recorded, cache, rtol)
            copied = _copy_outputs(wt, recorded, output) if output is not None else ()
    notes = (LEGACY_NOTE,) if recorded.legacy_hashes else ()
    return ReproduceResult(ref, sha, mode, tuple(checks), pulled, recorded.legacy_hashes, notes,
                           str(wt) if keep else None, str(output) if output else None, copied,
                           round(time.perf_counter() - started, 3))


def _check_options(jobs: int | None, rtol: float, output: Path | None) -> None:
    if jobs is not None and jobs < 1:
        raise UsageError(f"--jobs {jobs}: expected a number of at least 1")
    if not (rtol >= 0 and math.isfinite(rtol)):
        raise UsageError(f"--rtol {rtol}: expected a relative tolerance >= 0, like 1e-9")
    if output is not None and output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise UsageError(f"--output {output} exists and is not an empty directory",
                         hint="pass a new or empty directory, so nothing of yours is overwritten")
    if output is not None and not output.exists():
        # fail now, not after the outputs were restored: the nearest existing parent must be a
        # directory we can create things in
        parent = next(p for p in output.absolute().parents if p.exists())
        if not parent.is_dir() or not _can_create_in(parent):
            raise UsageError(f"--output {output}: cannot create it ({parent} is not a writable "
                             "directory)", hint="pass a directory you can write to")


def _can_create_in(directory: Path) -> bool:
    """Whether a directory can be made in `directory` (`os.access` is wrong for root and for
    read-only file systems such as /proc): try it."""
    import tempfile

    try:
        Path(tempfile.mkdtemp(prefix=".mlgit-probe-", dir=directory)).rmdir()
    except OSError:
        return False
    else:
        return True


def _needed(recorded: Recorded, rerun: bool) -> list[LockedFile]:
    """What must be in the cache: the source data to rerun; every cached output otherwise."""
    data = recorded.data_files()
    if rerun:
        return data
    uncached = recorded.uncached()
    outs = {o.path: o for _, o in recorded.stage_outputs() if o.path not in uncached}
    return [*outs.values(), *data]


def _pull_missing(root: Path, reader: ObjectReader, wt: Path, recorded: Recorded,
                  missing: list[LockedFile], cache: Path, jobs: int | None, rerun: bool,
                  say: Progress) -> tuple[str, ...]:
    """Pull from the DVC remote what the cache lacks; fail clearly if the remote lacks it too."""
    if not missing:
        return ()
    remote = dvc.has_remote(wt)
    if remote:
        say(f"{len(missing)} not in the DVC cache, pulling from the remote: "
            + ", ".join(f.path for f in missing))
        dvc.pull_for_repro(wt, [f.path for f in missing], jobs=jobs)
        still = [f for f in missing if not dvchash.in_cache(cache, f)]
    else:
        still = missing
    if still:
        raise _missing_error(root, reader, recorded, still, remote, rerun)
    return tuple(f.path for f in missing)


def _restore(wt: Path, needed: list[LockedFile], cache: Path, say: Progress) -> None:
    """Copy what the commit recorded from the cache into the worktree, as `dvc checkout` with
    `cache.type: copy` would, without DVC's start-up cost (see `dvchash.restore`)."""
    refused = [f.path for f in needed if not dvchash.restore(cache, f, wt)]
    if refused:
        raise MlgitError(
            "the DVC cache's listing of " + ", ".join(refused) + " names files outside its "
            "directory; nothing was restored from it",
            hint="the cache or the remote holds a crafted .dir object: inspect it with "
                 "`dvc status -c` and `dvc gc`")
    if needed:
        say("restored from the DVC cache: " + ", ".join(f.path for f in needed))


def _missing_error(root: Path, reader: ObjectReader, recorded: Recorded,
                   missing: list[LockedFile], remote: bool, rerun: bool) -> MlgitError:
    parts = []
    for f in missing:
        recorder = recorder_of(recorded, f.path)
        origin = introduced_by(root, reader, recorded.sha, recorder, f.path, f.hash or "") \
            if recorder else None
        parts.append(f"{f.path} (from {origin[:8]})" if origin else f.path)
    where = "the DVC cache and the remote" if remote else "the DVC cache (no DVC remote is set)"
    n = len(missing)
    what = ("input" if rerun else "output") + ("s" if n > 1 else "")
    data = {d.path for d in recorded.data_files()}
    rebuildable = not rerun and not any(f.path in data for f in missing)
    hint = ("push them from a clone that still has them (`dvc push` at the commit named), "
            + ("or rebuild them with --rerun" if rebuildable else "then rerun"))
    if not remote:
        hint = "configure a DVC remote that has them (`dvc remote add -d NAME URL`), then rerun"
    return MlgitError(f"{n} {what} of {recorded.sha[:8]} {'are' if n > 1 else 'is'} missing "
                      f"from {where}: "
                      + ", ".join(parts), hint=hint)


def _verify(wt: Path, reader: ObjectReader, recorded: Recorded, cache: Path,
            rtol: float) -> list[OutputCheck]:
    checks = []
    for stage, out in recorded.stage_outputs():
        checks.append(_check(wt, reader, recorded, cache, out, stage,
                             recorded.kind_of(out.path), rtol))
    for data in recorded.data_files():
        checks.append(_check(wt, reader, recorded, cache, data, None, "data", rtol))
    return checks


def _check(wt: Path, reader: ObjectReader, recorded: Recorded, cache: Path, entry: LockedFile,
           stage: str | None, kind: str, rtol: float) -> OutputCheck:
    path = wt / entry.path
    if not path.exists():
        return OutputCheck(entry.path, stage, kind, entry.hash, None, "missing",
                           "not produced" if stage else "not checked out")
    found, manifest = dvchash.hash_path(path, entry.legacy)
    if found == entry.hash:
        return OutputCheck(entry.path, stage, kind, entry.hash, found, "match")
    detail = ""
    if kind == "metrics":
        status, detail = _compare_metrics(reader.read(recorded.sha, entry.path),
                                          path.read_bytes(), entry.path, rtol)
        return OutputCheck(entry.path, stage, kind, entry.hash, found, status, detail)
    if manifest is not None and entry.hash:
        detail = _dir_detail(dvchash.read_manifest(cache, entry.hash, entry.legacy), manifest)
    return OutputCheck(entry.path, stage, kind, entry.hash, found, "differ", detail)


def _dir_detail(committed: dict[str, str] | None, found: dict[str, str]) -> str:
    if committed is None:
        return f"{len(found)} files; the committed listing is not in the cache"
    changed = sorted(p for p in committed.keys() & found.keys() if committed[p] != found[p])
    added = sorted(found.keys() - committed.keys())
    removed = sorted(committed.keys() - found.keys())
    bits = [f"{len(v)} {label}: {', '.join(v[:3])}{' ...' if len(v) > 3 else ''}"
            for label, v in (("changed", changed), ("new", added), ("gone", removed)) if v]
    return "; ".join(bits)


def _compare_metrics(old: bytes | None, new: bytes, path: str, rtol: float) -> tuple[str, str]:
    """("close", why) when every value is equal within `rtol`, else ("differ", what)."""
    if old is None:
        return "differ", "the committed file is not in Git"
    try:
        before = flatten(load_structured(old, path))
        after = flatten(load_structured(new, path))
    except MlgitError as exc:
        return "differ", exc.message
    worst, differ = 0.0, []
    for key in sorted(before.keys() | after.keys()):
        a, b = before.get(key), after.get(key)
        if _is_number(a) and _is_number(b) and a != b:
            rel = abs(a - b) / max(abs(a), abs(b))
            if rel <= rtol:
                worst = max(worst, rel)
                continue
        elif a == b and (key in before) == (key in after):
            continue
        differ.append(f"{key} {_show(a)} -> {_show(b)}")
    if differ:
        more = f" (+{len(differ) - 3} more)" if len(differ) > 3 else ""
        return "differ", "; ".join(differ[:3]) + more
    if worst == 0:
        return "close", "same values, different bytes"
    return "close", f"equal within rtol {rtol:g} (largest relative difference {worst:.1e})"


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and \
        math.isfinite(value)


def _show(value: Any) -> str:
    return "(none)" if value is None else repr(value)


def _copy_outputs(wt: Path, recorded: Recorded, dest: Path) -> tuple[str, ...]:
    """Copy every stage output out of the worktree, the model first."""
    paths = list(dict.fromkeys(o.path for _, o in recorded.stage_outputs()))
    if recorded.model is not None and recorded.model.path in paths:
        paths.remove(recorded.model.path)
        paths.insert(0, recorded.model.path)
    copied = []
    for rel in paths:
        src, target = wt / rel, dest / rel
        if not src.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, target, dirs_exist_ok=True)
        else:
            shutil.copy2(src, target)
        copied.append(rel)
    return tuple(copied)
