"""Shared checks for the experiment tests."""

from __future__ import annotations

import fcntl
import json
import subprocess
from pathlib import Path

from tests.helpers import git, repo_state


def state_without_refs(root: Path) -> dict[str, str]:
    """`repo_state` minus the ref list (a successful `exp new` adds exactly one branch)."""
    state = repo_state(root)
    state.pop("refs")
    return state


def branches(root: Path, prefix: str = "exp/") -> list[str]:
    out = git("for-each-ref", "--format=%(refname:short)", f"refs/heads/{prefix}", cwd=root)
    return out.split()


def trailers(root: Path, rev: str) -> dict[str, str]:
    """The commit's trailers as Git itself parses them."""
    message = git("log", "-1", "--format=%B", rev, cwd=root)
    out = subprocess.run(["git", "interpret-trailers", "--parse"], cwd=root, input=message,
                         text=True, capture_output=True, check=True).stdout
    result = {}
    for line in out.splitlines():
        key, _, value = line.partition(":")
        result[key.strip()] = value.strip()
    return result


def show_json(root: Path, rev: str, path: str) -> dict:
    return json.loads(git("show", f"{rev}:{path}", cwd=root))


def assert_no_leftovers(root: Path) -> None:
    """No extra worktree, nothing under the git dir's mlgit/, no DVC lock in the main repo."""
    listed = git("worktree", "list", "--porcelain", cwd=root)
    assert listed.count("worktree ") == 1, listed
    assert not any((root / ".git" / "mlgit").glob("**/*")), list((root / ".git").glob("mlgit/**"))
    tmp = root / ".dvc" / "tmp"
    if (tmp / "lock").exists():  # DVC keeps the file; what matters is that nobody holds it
        with open(tmp / "lock", "a") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises if held
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    rwlock = tmp / "rwlock"
    if rwlock.exists():
        locks = json.loads(rwlock.read_text() or "{}")
        assert not any(locks.get(k) for k in ("read", "write")), locks


def one_line_error(stderr: str) -> str:
    """The error text; asserts it is an mlgit error line (+ optional hint), no traceback."""
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    assert "Traceback" not in stderr, stderr
    assert lines and lines[0].startswith("error:"), stderr
    assert len(lines) <= 2 and all(line.startswith(("error:", "hint:")) for line in lines), stderr
    return lines[0]
