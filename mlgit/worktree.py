"""Throwaway `git worktree`s: build or check an old commit without touching the user's checkout.

They live under the repository's own git dir (`<git-common-dir>/mlgit/worktrees/`), so they
never show up in the user's work tree, share the repository's objects, and disappear with it.
A DVC project in the worktree uses the main checkout's cache, so nothing is copied or
downloaded twice.
"""

from __future__ import annotations

import re
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mlgit import dvc, git

_PURPOSE = re.compile(r"[a-z][a-z0-9-]{0,30}")


def worktrees_dir(root: Path) -> Path:
    """Where mlgit keeps its worktrees: inside the shared git dir, never in the work tree."""
    return git.common_dir(root) / "mlgit" / "worktrees"


@contextmanager
def temporary_worktree(root: Path, rev: str, purpose: str, *, keep: bool = False,
                       share_cache: bool = True) -> Iterator[Path]:
    """A detached worktree of commit `rev`, removed on the way out (also on Ctrl-C/SIGTERM).

    `purpose` (e.g. "repro") names the directory `<purpose>-<sha8>-<random>`. With `keep`,
    the worktree is left in place for the caller to report. With `share_cache`, a DVC project in
    it uses the main checkout's DVC cache (and remotes from its `config.local`).
    """
    if not _PURPOSE.fullmatch(purpose):
        raise ValueError(f"bad worktree purpose {purpose!r}")
    sha = git.resolve_commit(root, rev)
    path = worktrees_dir(root) / f"{purpose}-{sha[:8]}-{secrets.token_hex(3)}"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        git.worktree_add(root, path, sha)
        if share_cache and dvc.is_dvc_repo(path):
            # a throwaway worktree: let DVC stage in its index rather than ask the user to
            dvc.share_cache(path, root, autostage=True)
        yield path
    finally:
        # `finally` also runs for Interrupted (a BaseException): a second signal is ignored by
        # the CLI's handler while we are here, so the removal completes.
        if not keep:
            remove_worktree(root, path)


def remove_worktree(root: Path, path: Path) -> None:
    """Remove a worktree and its administrative files, even if git lost track of it."""
    git.worktree_remove(root, path)
    if path.exists():
        shutil.rmtree(path, ignore_errors=True)
        git.worktree_prune(root)
    _remove_empty_parents(path.parent, stop=git.common_dir(root))


def _remove_empty_parents(directory: Path, stop: Path) -> None:
    """Leave no empty `mlgit/worktrees/` behind in the git dir."""
    while directory != stop and stop in directory.parents:
        try:
            directory.rmdir()
        except OSError:
            return
        directory = directory.parent
