"""DVC's content hashes, computed as DVC computes them, and where its cache keeps each object.

DVC 3 hashes a file as the md5 of its bytes and stores it at `<cache>/files/md5/ab/cdef...`.
DVC 2 (a `dvc.lock` entry without `hash: md5`) hashed text files after turning CRLF into LF,
chunk by chunk, and stored them at `<cache>/ab/cdef...` (dvc#9818 explains the change). A
directory is a `.dir` object: a JSON list of {"md5", "relpath"} whose own md5 is its hash.
No DVC import, no subprocess: reading a few files beats DVC's ~0.35 s of YAML parsing and
index building before its checkout copies a byte.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

from mlgit.lockfile import LockedFile

CHUNK = 2**20  # DVC hashes in 1 MiB chunks; the DVC 2 text test looks at each chunk's start
_TEXT_PROBE = 512
_TEXT_CHARS = bytes(range(32, 127)) + b"\n\r\t\f\b"


def _is_text(block: bytes) -> bool:
    """DVC 2's guess (dvc_data istextblock): no NUL and at most 30% non-text bytes."""
    if not block:
        return True
    if b"\x00" in block:
        return False
    return len(block.translate(None, _TEXT_CHARS)) / len(block) <= 0.30


def file_md5(path: Path, legacy: bool = False) -> str:
    """md5 of a file as DVC records it (with `legacy`, as DVC 2 did)."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            if legacy and _is_text(chunk[:_TEXT_PROBE]):
                chunk = chunk.replace(b"\r\n", b"\n")
            digest.update(chunk)
    return digest.hexdigest()


def dir_manifest(path: Path, legacy: bool = False) -> dict[str, str]:
    """{relpath: md5} of every file under directory `path`, as DVC lists a directory output."""
    out: dict[str, str] = {}
    for base, dirs, files in os.walk(path):
        dirs.sort()
        for name in files:
            full = Path(base) / name
            out[full.relative_to(path).as_posix()] = file_md5(full, legacy)
    return out


def manifest_hash(manifest: dict[str, str]) -> str:
    """The `.dir` hash of a manifest: md5 of DVC's JSON serialisation of the sorted list."""
    entries = [{"md5": md5, "relpath": rel} for rel, md5 in sorted(manifest.items())]
    text = json.dumps(entries, sort_keys=True).encode("utf-8")
    return hashlib.md5(text, usedforsecurity=False).hexdigest() + ".dir"


def cache_object(cache: Path, value: str, legacy: bool = False) -> Path:
    """Where `value` (an md5, maybe ending in `.dir`) lives in the cache `cache`."""
    base = cache if legacy else cache / "files" / "md5"
    return base / value[:2] / value[2:]


def read_manifest(cache: Path, value: str, legacy: bool = False) -> dict[str, str] | None:
    """The committed `.dir` manifest {relpath: md5} from the cache, or None if absent/bad."""
    try:
        data = json.loads(cache_object(cache, value, legacy).read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(data, list):
        return None
    return {str(e["relpath"]): str(e["md5"]) for e in data
            if isinstance(e, dict) and "relpath" in e and "md5" in e}


def in_cache(cache: Path, entry: LockedFile) -> bool:
    """Whether every object of `entry` (a file, or a directory and all its files) is cached."""
    if not entry.hash:
        return False
    if not entry.is_dir:
        return cache_object(cache, entry.hash, entry.legacy).is_file()
    manifest = read_manifest(cache, entry.hash, entry.legacy)
    if manifest is None:
        return False
    return all(cache_object(cache, md5, entry.legacy).is_file() for md5 in manifest.values())


def hash_path(path: Path, legacy: bool = False) -> tuple[str, dict[str, str] | None]:
    """(hash, manifest) of a file or directory in the work tree; manifest is None for files."""
    if path.is_dir():
        manifest = dir_manifest(path, legacy)
        return manifest_hash(manifest), manifest
    return file_md5(path, legacy), None


def restore(cache: Path, entry: LockedFile, root: Path) -> bool:
    """Copy `entry`'s bytes from the cache to `root / entry.path` (a file, or a directory and
    every file its manifest lists), as `dvc checkout` would with `cache.type: copy`. False if
    an object is not there or a listing names a path outside its directory (nothing is written
    then). Only for a throwaway worktree: nothing is recorded in DVC's state, and an existing
    file at the target is replaced.
    """
    if not entry.hash or not in_cache(cache, entry):
        return False
    target = root / entry.path
    if not entry.is_dir:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(cache_object(cache, entry.hash, entry.legacy), target)
        return True
    manifest = read_manifest(cache, entry.hash, entry.legacy) or {}
    if any(rel.startswith("/") or ".." in rel.split("/") for rel in manifest):
        return False
    for rel, md5 in manifest.items():
        dest = target / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(cache_object(cache, md5, entry.legacy), dest)
    target.mkdir(parents=True, exist_ok=True)  # an empty directory output has no files
    return True
