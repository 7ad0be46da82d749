"""Throwaway `git worktree`s: run or rebuild a commit without touching the user's checkout.

They live under the repository's own git dir (`<git-common-dir>/mlgit/worktrees/`), so they
never show up in the user's work tree or `git status`, share the repository's objects, and
disappear with it. A DVC project in the worktree uses the main checkout's cache, so nothing is
copied or downloaded twice, and what a run adds to the cache is there for the main checkout.
"""

from __future__ import annotations

import re
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mlgit import dvc, git, proc
from mlgit.errors import MlgitError

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def worktrees_dir(root: Path) -> Path:
    """Where mlgit keeps its worktrees: inside the shared git dir, never in the work tree."""
    return git.common_dir(root) / "mlgit" / "worktrees"


@contextmanager
def temporary_worktree(root: Path, rev: str, purpose: str, *, keep: bool = False,
                       keep_failed: bool = False, share_cache: bool = True) -> Iterator[Path]:
    """A detached worktree of commit `rev`, ALWAYS removed on the way out, also on Ctrl-C and
    SIGTERM (`Interrupted`), unless:

    - `keep`: left in place for the caller to report;
    - `keep_failed`: left in place when the block raised an `MlgitError` (a failed pipeline,
      for debugging). Never on an interrupt or a bug.

    `purpose` names the directory `<purpose>-<random>`. With `share_cache`, a DVC project in it
    uses the main checkout's DVC cache and remotes (callers that run DVC through
    `dvc.run_in_worktree` do that in the same DVC process instead).
    """
    label = _UNSAFE.sub("_", purpose).strip("._-")[:60] or "worktree"
    path = worktrees_dir(root) / f"{label}-{secrets.token_hex(3)}"
    path.parent.mkdir(parents=True, exist_ok=True)
    remove = not keep
    try:
        git.worktree_add(root, path, rev)
        if share_cache and dvc.is_dvc_repo(path):
            dvc.share_cache(path, root)
        yield path
    except MlgitError:
        if keep_failed and path.is_dir():
            remove = False
        raise
    finally:
        if remove:
            # an interrupt now would leave a half-removed worktree: hold it until we are done
            with proc.shielded():
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
