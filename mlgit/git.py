"""The one place that talks to Git: small named functions over `git` plumbing.

We drive the `git` binary rather than GitPython: every call is one short process (or one
long-lived `cat-file --batch` for many reads), startup stays free of GitPython's import, and no
`Repo` object can leak `cat-file` children (GitPython#1333).
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from mlgit import proc
from mlgit.errors import CommandError, MlgitError, NotFoundError, UsageError

FIELD_SEP = "\x1f"  # unit separator: cannot appear in ref names, safe in for-each-ref formats


def git(
    args: Sequence[str],
    cwd: str | Path,
    *,
    check: bool = True,
    input: str | None = None,
    env: dict[str, str] | None = None,
    stream: bool = False,
) -> str:
    """Run `git ARGS` in `cwd` and return stdout (not stripped)."""
    return proc.run(["git", *args], cwd, check=check, input=input, env=env, stream=stream).stdout


def git_ok(args: Sequence[str], cwd: str | Path) -> bool:
    return proc.run(["git", *args], cwd, check=False).returncode == 0


# --- repository -------------------------------------------------------------------------------


def repo_root(path: str | Path = ".") -> Path:
    """The top of the work tree containing `path`, or a clear error."""
    path = Path(path)
    if not path.exists():
        raise NotFoundError(f"directory {path} does not exist")
    res = proc.run(["git", "rev-parse", "--show-toplevel"], path, check=False)
    if res.returncode != 0:
        if "not a git repository" in res.stderr:
            raise MlgitError(
                f"{path.resolve()} is not inside a Git repository",
                hint="run `mlgit init` to create one, or cd into your project",
            )
        raise CommandError(res.cmd, res.returncode, res.stdout, res.stderr)
    return Path(res.stdout.strip())


def is_repo(path: str | Path) -> bool:
    return Path(path).is_dir() and git_ok(["rev-parse", "--git-dir"], path)


def common_dir(root: Path) -> Path:
    """The shared git dir (the main repo's, even from a worktree); never assume `.git/`."""
    out = git(["rev-parse", "--path-format=absolute", "--git-common-dir"], root).strip()
    return Path(out)


def init_repo(path: Path, initial_branch: str = "main") -> None:
    git(["init", "-q", f"--initial-branch={initial_branch}"], path)


def has_commits(root: Path) -> bool:
    return git_ok(["rev-parse", "--verify", "-q", "HEAD^{commit}"], root)


def is_shallow(root: Path) -> bool:
    return git(["rev-parse", "--is-shallow-repository"], root).strip() == "true"


def config_get(root: Path, key: str) -> str | None:
    res = proc.run(["git", "config", "--get", key], root, check=False)
    return res.stdout.strip() or None if res.returncode == 0 else None


# --- refs and revisions -----------------------------------------------------------------------


def rev_parse(root: Path, rev: str) -> str | None:
    """The commit SHA `rev` names, or None. `rev` is data: it can never become an option."""
    if not rev or rev.startswith("-"):
        return None
    res = proc.run(["git", "rev-parse", "--verify", "-q", "--end-of-options", f"{rev}^{{commit}}"],
                   root, check=False)
    return res.stdout.strip() if res.returncode == 0 else None


def resolve_commit(root: Path, rev: str) -> str:
    sha = rev_parse(root, rev)
    if sha is None:
        raise NotFoundError(
            f"unknown revision '{rev}'",
            hint="use a branch, tag or commit that exists (`git branch -a`, `git log --oneline`)",
        )
    return sha


def current_branch(root: Path) -> str | None:
    """The checked-out branch name, or None on a detached HEAD."""
    res = proc.run(["git", "symbolic-ref", "-q", "--short", "HEAD"], root, check=False)
    return res.stdout.strip() or None if res.returncode == 0 else None


def head_sha(root: Path) -> str | None:
    return rev_parse(root, "HEAD")


def branch_exists(root: Path, name: str) -> bool:
    return git_ok(["show-ref", "--verify", "-q", f"refs/heads/{name}"], root)


def check_ref_format(name: str) -> bool:
    return proc.run(["git", "check-ref-format", "--branch", name], ".", check=False).returncode == 0


def for_each_ref(root: Path, patterns: Iterable[str], fields: Sequence[str]) -> list[list[str]]:
    """One `git for-each-ref` call; each row is the requested fields (e.g. "%(refname)")."""
    fmt = FIELD_SEP.join(fields) + FIELD_SEP + "\x1e"
    out = git(["for-each-ref", f"--format={fmt}", *patterns], root)
    rows = []
    for record in out.split("\x1e"):
        record = record.lstrip("\n")
        if not record:
            continue
        rows.append(record.split(FIELD_SEP)[: len(fields)])
    return rows


def default_branch_candidates(root: Path) -> list[str]:
    rows = for_each_ref(root, ["refs/heads/main", "refs/heads/master"], ["%(refname:short)"])
    found = [r[0] for r in rows]
    remote_head = proc.run(
        ["git", "symbolic-ref", "-q", "--short", "refs/remotes/origin/HEAD"], root, check=False
    ).stdout.strip()
    if remote_head:
        found.append(remote_head.removeprefix("origin/"))
    return found


# --- work tree state --------------------------------------------------------------------------


def status_porcelain(root: Path, untracked: bool = True) -> str:
    args = ["status", "--porcelain=v1", "-z"]
    if not untracked:
        args.append("--untracked-files=no")
    return git(args, root)


def is_dirty(root: Path, untracked: bool = False) -> bool:
    return bool(status_porcelain(root, untracked=untracked))


def stash_list(root: Path) -> str:
    return git(["stash", "list", "--format=%H"], root, check=False)


def add(root: Path, paths: Sequence[str], force: bool = False) -> None:
    if paths:
        git(["add", *(["-f"] if force else []), "--", *paths], root)


def add_all(root: Path) -> None:
    git(["add", "-A"], root)


def commit(root: Path, message: str, *, allow_empty: bool = False,
           paths: Sequence[str] | None = None) -> str:
    """Commit with `message` (passed on stdin, never on a command line).

    With `paths`, only those paths are committed (`git commit --only`), so whatever else the
    user had staged stays staged and out of our commit.
    """
    args = ["commit", "-q", "--no-verify", "-F", "-"]
    if allow_empty:
        args.append("--allow-empty")
    if paths is not None:
        args += ["--only", "--", *paths]
    git(args, root, input=message)
    return git(["rev-parse", "HEAD"], root).strip()


def differs_from_head(root: Path, paths: Sequence[str]) -> bool:
    """Whether the index differs from HEAD for `paths` (always true before the first commit)."""
    if not has_commits(root):
        return True
    return not git_ok(["diff", "--cached", "--quiet", "HEAD", "--", *paths], root)


def staged_paths(root: Path) -> list[str]:
    out = git(["diff", "--cached", "--name-only", "-z"], root)
    return [p for p in out.split("\0") if p]


def ensure_identity(root: Path) -> None:
    """A commit needs user.name/user.email; say how to set them instead of git's long text."""
    if config_get(root, "user.email") is None or config_get(root, "user.name") is None:
        raise MlgitError(
            "Git does not know who you are (user.name / user.email unset)",
            hint='run `git config --global user.name "Your Name"` and '
            '`git config --global user.email you@example.com`, then rerun',
        )


# --- worktrees --------------------------------------------------------------------------------


def worktree_add(root: Path, path: Path, rev: str, new_branch: str | None = None) -> None:
    args = ["worktree", "add", "-q", "--detach", str(path), rev]
    if new_branch:
        args = ["worktree", "add", "-q", "-b", new_branch, str(path), rev]
    git(args, root)


def worktree_remove(root: Path, path: Path) -> None:
    proc.run(["git", "worktree", "remove", "--force", "--force", str(path)], root, check=False)
    proc.run(["git", "worktree", "prune"], root, check=False)


def worktree_paths(root: Path) -> list[Path]:
    out = git(["worktree", "list", "--porcelain"], root)
    return [Path(line[9:]) for line in out.splitlines() if line.startswith("worktree ")]


# --- reading objects without a checkout -------------------------------------------------------


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    parents: tuple[str, ...]
    author: str
    author_email: str
    author_time: int
    committer_time: int
    message: str


class ObjectReader:
    """One `git cat-file --batch` process that serves any number of reads.

    Use as a context manager: the child is always reaped.
    """

    def __init__(self, root: Path):
        self.root = root
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ObjectReader:
        self._proc = subprocess.Popen(
            ["git", "cat-file", "--batch"],
            cwd=self.root,
            env=proc.clean_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        p = self._proc
        self._proc = None
        if p is None:
            return
        try:
            if p.stdin:
                p.stdin.close()
            p.wait(timeout=5)
        except Exception:
            p.kill()
            p.wait()
        finally:
            if p.stdout:
                p.stdout.close()

    def _pipes(self) -> tuple[IO[bytes], IO[bytes]]:
        p = self._proc
        if p is None or p.stdin is None or p.stdout is None:
            raise RuntimeError("ObjectReader used outside its `with` block")
        return p.stdin, p.stdout

    @staticmethod
    def _response(stdout: IO[bytes]) -> tuple[str, str, bytes] | None:
        header = stdout.readline().decode("utf-8", "replace").rstrip("\n")
        # "<name> missing" / "<name> ambiguous": the name itself may contain spaces
        if header.endswith((" missing", " ambiguous")) or not header:
            return None
        parts = header.split(" ")
        if len(parts) != 3:
            return None
        sha, kind, size = parts[0], parts[1], int(parts[2])
        data = stdout.read(size + 1)  # the content and git's trailing newline, in one call
        return sha, kind, data[:size]

    def _request(self, name: str) -> tuple[str, str, bytes] | None:
        if "\n" in name:
            return None
        stdin, stdout = self._pipes()
        stdin.write(name.encode() + b"\n")
        stdin.flush()
        return self._response(stdout)

    def read_many(self, names: Sequence[str]) -> list[tuple[str, str, bytes] | None]:
        """(object id, type, content) for each `rev:path` or object name, None where absent.

        All requests go out at once and the answers are read as they come: one round trip for
        any number of objects instead of one per object. A writer thread feeds git when the
        requests are larger than a pipe buffer, so neither side can block the other.
        """
        wanted = [i for i, n in enumerate(names) if "\n" not in n]
        results: list[tuple[str, str, bytes] | None] = [None] * len(names)
        if not wanted:
            return results
        stdin, stdout = self._pipes()
        payload = b"".join(names[i].encode() + b"\n" for i in wanted)
        writer = None
        if len(payload) <= 4096:  # fits in any pipe buffer: cannot block
            stdin.write(payload)
            stdin.flush()
        else:
            writer = threading.Thread(target=_write_all, args=(stdin, payload), daemon=True)
            writer.start()
        try:
            for i in wanted:
                results[i] = self._response(stdout)
        finally:
            if writer is not None:
                writer.join()
        return results

    def read(self, rev: str, path: str) -> bytes | None:
        """The bytes of `path` at `rev`, or None if the file is not there."""
        got = self._request(f"{rev}:{path}")
        if got is None or got[1] != "blob":
            return None
        return got[2]

    def tree_names(self, rev: str, path: str = "") -> list[str] | None:
        """Entry names of the directory `path` at `rev` (None if absent)."""
        got = self._request(f"{rev}:{path}")
        if got is None or got[1] != "tree":
            return None
        names, data, i = [], got[2], 0
        while i < len(data):
            sp = data.index(b" ", i)
            nul = data.index(b"\0", sp)
            names.append(data[sp + 1 : nul].decode("utf-8", "replace"))
            i = nul + 21
        return names

    def commit(self, rev: str) -> CommitInfo | None:
        if not rev or rev.startswith("-"):
            return None
        got = self._request(f"{rev}^{{commit}}")
        if got is None or got[1] != "commit":
            return None
        return parse_commit(got[0], got[2])


def _write_all(stream: IO[bytes], payload: bytes) -> None:
    try:
        stream.write(payload)
        stream.flush()
    except (BrokenPipeError, ValueError):  # git exited; the reader side reports it
        pass


def parse_commit(sha: str, raw: bytes) -> CommitInfo:
    text = raw.decode("utf-8", "replace")
    head, _, message = text.partition("\n\n")
    parents: list[str] = []
    author, email, atime, ctime = "", "", 0, 0
    for line in head.splitlines():
        key, _, value = line.partition(" ")
        if key == "parent":
            parents.append(value)
        elif key in ("author", "committer"):
            ident, _, rest = value.rpartition("> ")
            name, _, mail = ident.partition(" <")
            when = int(rest.split(" ")[0]) if rest else 0
            if key == "author":
                author, email, atime = name, mail, when
            else:
                ctime = when
    return CommitInfo(sha, tuple(parents), author, email, atime, ctime, message)


@contextmanager
def object_reader(root: Path) -> Iterator[ObjectReader]:
    with ObjectReader(root) as reader:
        yield reader


def parse_trailers(message: str) -> dict[str, str]:
    """Trailers of a commit message, as `git interpret-trailers --parse` reads them."""
    out = git(["interpret-trailers", "--parse"], ".", input=message)
    result: dict[str, str] = {}
    for line in out.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            result[key.strip()] = value.strip()
    return result


def require_clean_name(value: str, what: str) -> str:
    """Refuse text that git would read as an option."""
    if value.startswith("-"):
        raise UsageError(f"{what} '{value}' must not start with '-'")
    return value
