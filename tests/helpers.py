"""Test helpers: run the real CLI, build files, snapshot a repo's state."""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def mlgit_cmd() -> list[str]:
    return [sys.executable, "-m", "mlgit"]


def run_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    # the tests run the mlgit of this checkout (also from a worktree), not an installed one
    env["PYTHONPATH"] = str(PROJECT_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("COLUMNS", "200")
    if extra:
        env.update(extra)
    return env


def run_mlgit(*args: str, cwd: Path, check: bool = True, env: dict[str, str] | None = None,
              input: str | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run `python -m mlgit ARGS` in `cwd` as a user would; assert success if `check`."""
    res = subprocess.run([*mlgit_cmd(), *args], cwd=cwd, env=run_env(env), text=True,
                         capture_output=True, input=input, timeout=timeout)
    if check and res.returncode != 0:
        raise AssertionError(
            f"mlgit {' '.join(args)} failed ({res.returncode})\n"
            f"stdout:\n{res.stdout}\nstderr:\n{res.stderr}")
    return res


def git(*args: str, cwd: Path, check: bool = True) -> str:
    res = subprocess.run(["git", *args], cwd=cwd, text=True, capture_output=True)
    if check and res.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {res.stderr}")
    return res.stdout


def dvc(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    res = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=cwd, text=True,
                         capture_output=True, env=run_env())
    if check and res.returncode != 0:
        raise AssertionError(f"dvc {' '.join(args)} failed:\n{res.stdout}\n{res.stderr}")
    return res


def write_files(root: Path, files: dict[str, str | bytes]) -> None:
    """build_file_tree: {relative path: content} becomes files."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


def commit_all(root: Path, message: str = "change") -> str:
    git("add", "-A", cwd=root)
    git("commit", "-q", "-m", message, cwd=root)
    return git("rev-parse", "HEAD", cwd=root).strip()


def worktree_hash(root: Path) -> str:
    """A hash of every file in the work tree (not .git, not DVC's cache and tmp)."""
    h = hashlib.sha256()
    skip = {".git"}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if rel.parts[0] in skip or rel.parts[:2] in ((".dvc", "cache"), (".dvc", "tmp")):
            continue
        if path.is_file() and not path.is_symlink():
            h.update(str(rel).encode() + b"\0" + path.read_bytes() + b"\0")
        elif path.is_symlink():
            h.update(str(rel).encode() + b"->" + os.readlink(path).encode())
    return h.hexdigest()


def repo_state(root: Path) -> dict[str, str]:
    """Everything a user would call 'my checkout': compare before/after a command."""
    return {
        "head": git("rev-parse", "HEAD", cwd=root, check=False).strip(),
        "branch": git("symbolic-ref", "-q", "HEAD", cwd=root, check=False).strip(),
        "refs": git("for-each-ref", "--format=%(refname) %(objectname)", cwd=root),
        "index": git("ls-files", "-s", cwd=root),
        "status": git("status", "--porcelain", "--untracked-files=all", cwd=root),
        "stash": git("stash", "list", cwd=root, check=False),
        "worktrees": git("worktree", "list", "--porcelain", cwd=root),
        "tree": worktree_hash(root),
    }


@contextlib.contextmanager
def running(proc: subprocess.Popen[str]) -> Iterator[subprocess.Popen[str]]:
    """A started command that is killed (and reaped) if the test leaves before it ended."""
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
