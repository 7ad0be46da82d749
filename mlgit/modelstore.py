"""Where a commit's model bytes are: the DVC cache (read directly) or the DVC remote (via DVC).

The cache is a content store laid out by hash (`files/md5/ab/cdef...` since DVC 3, `ab/cdef...`
before), so presence and integrity are checked by reading files. The remote is asked through DVC
itself (`dvc status -c`, `dvc fetch`, `dvc push`) in a throwaway worktree at the commit that
shares the main cache and local config, because DVC only knows the outputs of its work tree.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from mlgit import dvc, git
from mlgit.errors import CommandError


@dataclass(frozen=True)
class Availability:
    in_cache: bool
    in_remote: bool | None  # None: not asked (it was in the cache) or no remote to ask
    detail: str


def md5_file(path: Path) -> str:
    h = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def object_path(cache: Path, md5: str) -> Path | None:
    """The cache file holding `md5` (a `.dir` manifest for directories), if present."""
    for path in (cache / "files" / "md5" / md5[:2] / md5[2:], cache / md5[:2] / md5[2:]):
        if path.is_file():
            return path
    return None


def _dir_entries(manifest: Path) -> list[tuple[str, str]]:
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [(str(e.get("relpath")), str(e.get("md5"))) for e in data if isinstance(e, dict)]


def in_cache(cache: Path, md5: str) -> bool:
    """The object (and, for a directory, every file in it) is in the cache."""
    path = object_path(cache, md5)
    if path is None:
        return False
    if not md5.endswith(".dir"):
        return True
    return all(object_path(cache, h) is not None for _, h in _dir_entries(path))


def bad_bytes(cache: Path, md5: str) -> list[str]:
    """What in the cached object does not hash to what it should (empty: all good)."""
    path = object_path(cache, md5)
    if path is None:
        return ["not in the cache"]
    if md5_file(path) != md5.removesuffix(".dir"):
        return [f"{path.name}: content does not match its hash"]
    bad = []
    if md5.endswith(".dir"):
        for rel, h in _dir_entries(path):
            entry = object_path(cache, h)
            if entry is None or md5_file(entry) != h:
                bad.append(f"{rel}: missing or altered")
    return bad


@contextmanager
def commit_worktree(root: Path, sha: str) -> Iterator[Path]:
    """A detached worktree at `sha` whose DVC uses the main cache and remotes; always removed."""
    tmp = Path(tempfile.mkdtemp(prefix="mlgit-wt-"))
    path = tmp / "wt"
    try:
        git.worktree_add(root, path, sha)
        dvc.share_config(path, root)
        yield path
    finally:
        git.worktree_remove(root, path)
        shutil.rmtree(tmp, ignore_errors=True)


def locate(root: Path, sha: str, path: str, md5: str) -> Availability:
    """Is the model `path` recorded at `sha` (hash `md5`) in the cache, else in the remote?"""
    cache = dvc.cache_dir(root)
    if in_cache(cache, md5):
        return Availability(True, None, f"in the DVC cache ({cache})")
    try:
        with commit_worktree(root, sha) as wt:
            status = dvc.status_cloud(wt, [path])
    except CommandError as exc:
        return Availability(False, None, f"not in the cache; the remote could not be asked: "
                            f"{exc.message}")
    state = status.get(path, "")
    if state in ("new", "missing"):
        return Availability(False, False, "in neither the DVC cache nor the remote")
    return Availability(False, True, "in the DVC remote")


def fetch_to_cache(root: Path, sha: str, path: str) -> bool:
    """`dvc fetch` the model of `sha` into the cache; True if it arrived."""
    with commit_worktree(root, sha) as wt:
        return dvc.fetch(wt, [path]).returncode == 0


def push_model(root: Path, sha: str, path: str) -> None:
    """`dvc push` the model recorded at `sha` to the default remote."""
    with commit_worktree(root, sha) as wt:
        dvc.push(wt, targets=[path], stream=False)
