"""Small files DVC keeps in its cache rather than in Git, read by the hash a revision records.

A metrics file declared without `cache: false`, or inside a cached output directory
(`outs: [eval]`, `metrics: [eval/metrics.json]`), is not in any commit: the commit's `dvc.lock`
holds its md5 (or the directory's `.dir` hash, whose manifest lists the file's own md5), and
the bytes are in the local cache at `files/md5/ab/cdef...`. Reading them takes a lookup and a
file read: no DVC import, no checkout.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from mlgit.dvchash import cache_object, read_manifest
from mlgit.lockfile import Lock, LockedFile

PULL_NOTE = "not in the local DVC cache; run `mlgit data pull` (or `dvc pull`) to fetch it"


class CachedFile(NamedTuple):
    md5: str  # the file's own hash: the key its parse is cached by
    data: bytes | None  # None: the revision records it, but the object is not in the cache


def locate(locks: Iterable[Lock], path: str) -> tuple[LockedFile, str] | None:
    """The recorded output holding `path` and `path` relative to it ("" for the file itself)."""
    for lock in locks:
        for out in lock.outputs().values():
            if out.hash and out.path == path:
                return out, ""
            if out.is_dir and path.startswith(out.path.rstrip("/") + "/"):
                return out, path[len(out.path.rstrip("/")) + 1:]
    return None


class CacheReader:
    """Reads recorded files from the DVC cache of `root`, found lazily (on first use only)."""

    def __init__(self, root: Path):
        self.root = root
        self._cache: Path | None = None
        self._manifests: dict[str, dict[str, str] | None] = {}

    @property
    def cache(self) -> Path:
        if self._cache is None:
            from mlgit.dvc import cache_dir  # configobj/platformdirs: only when a file is cached

            self._cache = cache_dir(self.root)
        return self._cache

    def read(self, locks: Iterable[Lock], path: str) -> CachedFile | None:
        """`path` as the revision whose `locks` these are recorded it; None if not recorded."""
        found = locate(locks, path)
        if found is None:
            return None
        out, rel = found
        md5 = out.hash or ""
        if rel:
            if md5 not in self._manifests:
                self._manifests[md5] = read_manifest(self.cache, md5, out.legacy)
            manifest = self._manifests[md5]
            if manifest is None:
                return CachedFile(md5, None)
            if rel not in manifest:
                return None  # the directory output does not hold this file
            md5 = manifest[rel]
        try:
            return CachedFile(md5, cache_object(self.cache, md5, out.legacy).read_bytes())
        except OSError:
            return CachedFile(md5, None)
