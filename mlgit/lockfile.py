"""What a `dvc.lock` records: per stage, the command, dependency and output hashes, params."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from mlgit.yamlio import load_yaml


@dataclass(frozen=True)
class LockedFile:
    path: str  # relative to the repository root
    hash: str | None  # md5 (DVC 3: "md5" with hash: md5; DVC 2: "md5" only); ".dir" for dirs
    size: int | None
    nfiles: int | None = None
    legacy: bool = False  # DVC 2 hash (CRLF->LF md5 of text files, old cache layout): dvc#9818

    @property
    def is_dir(self) -> bool:
        return bool(self.hash and self.hash.endswith(".dir"))


@dataclass(frozen=True)
class LockedStage:
    name: str
    cmd: str
    deps: tuple[LockedFile, ...]
    outs: tuple[LockedFile, ...]
    params: dict[str, dict[str, Any]]  # file -> {key: value} as recorded


@dataclass(frozen=True)
class Lock:
    dvcfile: str  # the dvc.lock path, e.g. "dvc.lock" or "sub/dvc.lock"
    schema: str | None
    stages: tuple[LockedStage, ...]
    legacy_hashes: bool  # written by DVC 2 (md5 without `hash: md5`): see dvc#9818

    def stage(self, name: str) -> LockedStage | None:
        return next((s for s in self.stages if s.name == name), None)

    def outputs(self) -> dict[str, LockedFile]:
        return {o.path: o for s in self.stages for o in s.outs}

    def deps(self) -> dict[str, LockedFile]:
        return {d.path: d for s in self.stages for d in s.deps}


def _join(base: str, path: str) -> str:
    import posixpath

    joined = posixpath.normpath(posixpath.join(base, path)) if base else posixpath.normpath(path)
    return joined


def _files(entries: Any, base: str) -> tuple[tuple[LockedFile, ...], bool]:
    out, legacy = [], False
    for e in entries or []:
        if not isinstance(e, dict) or "path" not in e:
            continue
        h = e.get("md5") or e.get("etag") or e.get("checksum")
        old = bool(e.get("md5") and e.get("hash") != "md5")
        legacy = legacy or old
        out.append(LockedFile(_join(base, str(e["path"])), str(h) if h else None,
                              e.get("size"), e.get("nfiles"), old))
    return tuple(out), legacy


def parse_lock(text: str | bytes, dvcfile: str = "dvc.lock") -> Lock:
    import posixpath

    data = load_yaml(text, dvcfile) or {}
    base = posixpath.dirname(dvcfile)
    stages, legacy_any = [], False
    raw = data.get("stages", {}) if isinstance(data, dict) else {}
    for name, spec in (raw or {}).items():
        if not isinstance(spec, dict):
            continue
        wdir = _join(base, str(spec.get("wdir", "."))) if spec.get("wdir") else base
        deps, l1 = _files(spec.get("deps"), wdir)
        outs, l2 = _files(spec.get("outs"), wdir)
        legacy_any = legacy_any or l1 or l2
        params = {(_join(wdir, str(f))): dict(v or {}) for f, v in (spec.get("params") or {}).items()}
        cmd = spec.get("cmd", "")
        cmd = " && ".join(map(str, cmd)) if isinstance(cmd, list) else str(cmd)
        stages.append(LockedStage(str(name), cmd, deps, outs, params))
    schema = data.get("schema") if isinstance(data, dict) else None
    return Lock(dvcfile, str(schema) if schema else None, tuple(stages), legacy_any)


@dataclass(frozen=True)
class TrackedData:
    """A `.dvc` file (`dvc add`): the data it tracks, with hashes as recorded."""

    dvcfile: str  # e.g. "data/raw.csv.dvc"
    outs: tuple[LockedFile, ...]
    legacy_hashes: bool


def parse_dvcfile(text: str | bytes, dvcfile: str) -> TrackedData:
    """Parse a `.dvc` file; output paths come back relative to the repository root."""
    import posixpath

    data = load_yaml(text, dvcfile) or {}
    raw = data.get("outs") if isinstance(data, dict) else None
    base = posixpath.dirname(dvcfile)
    wdir = _join(base, str(data.get("wdir", "."))) if isinstance(data, dict) and \
        data.get("wdir") else base
    outs, legacy = _files(raw, wdir)
    return TrackedData(dvcfile, outs, legacy)

def parse_dvc_file(text: str | bytes, dvcfile: str) -> tuple[tuple[LockedFile, ...], bool]:
    """The outputs a `.dvc` file (written by `dvc add`) records, and whether DVC 2 hashed them."""
    import posixpath

    data = load_yaml(text, dvcfile) or {}
    return _files(data.get("outs") if isinstance(data, dict) else None, posixpath.dirname(dvcfile))


def recorded_output(read: Callable[[str, str], bytes | None], rev: str, path: str,
                    dvclock: str = "dvc.lock") -> tuple[LockedFile, bool] | None:
    """How commit `rev` records the output `path`: from a stage in `dvclock`, else from
    `path.dvc` (`dvc add`); with whether DVC 2 hashed it. `read(rev, path)` reads Git objects
    (`ObjectReader.read`), so no checkout is needed."""
    text = read(rev, dvclock)
    if text is not None:
        lock = parse_lock(text, dvclock)
        out = lock.outputs().get(path)
        if out is not None and out.hash:
            return out, lock.legacy_hashes
    text = read(rev, path + ".dvc")
    if text is not None:
        outs, legacy = parse_dvc_file(text, path + ".dvc")
        if outs and outs[0].hash:
            return outs[0], legacy
    return None


DVC_LOCK = "dvc.lock"


def merge_locks(locks: Sequence[Lock]) -> Lock | None:
    """Several dvc.lock files as one, stages named as in `merge_pipelines`."""
    if len(locks) <= 1:
        return locks[0] if locks else None
    stages = tuple(s if lk.dvcfile == DVC_LOCK else
                   replace(s, name=lk.dvcfile[: -len(DVC_LOCK)] + f"dvc.yaml:{s.name}")
                   for lk in locks for s in lk.stages)
    return replace(locks[0], dvcfile=DVC_LOCK, stages=stages,
                   legacy_hashes=any(lk.legacy_hashes for lk in locks))
