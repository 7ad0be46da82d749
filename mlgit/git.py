"""The one place that talks to Git: small named functions over `git` plumbing.

We drive the `git` binary rather than GitPython: every call is one short process (or one
long-lived `cat-file --batch` for many reads), startup stays free of GitPython's import, and no
`Repo` object can leak `cat-file` children (GitPython#1333).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from mlgit import proc
from mlgit.errors import CommandError, MlgitError, NotFoundError, UsageError

# Reading objects without a checkout lives in mlgit/gitobjects.py (one cat-file for many
# reads); re-exported so callers keep one import for everything Git.
from mlgit.gitobjects import CommitInfo as CommitInfo
from mlgit.gitobjects import ObjectReader as ObjectReader
from mlgit.gitobjects import object_reader as object_reader
from mlgit.gitobjects import parse_commit as parse_commit

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
    if not rev or rev.startswith("-") or "\0" in rev:  # a NUL cannot even be an argument
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


def for_each_ref(root: Path, patterns: Iterable[str], fields: Sequence[str], *,
                 points_at: str | None = None) -> list[list[str]]:
    """One `git for-each-ref` call; each row is the requested fields (e.g. "%(refname)").

    With `points_at`, only refs pointing at that object (annotated tags: at what they tag)."""
    fmt = FIELD_SEP.join(fields) + FIELD_SEP + "\x1e"
    extra = [f"--points-at={points_at}"] if points_at else []
    out = git(["for-each-ref", f"--format={fmt}", *extra, *patterns], root)
    rows = []
    for record in out.split("\x1e"):
        record = record.lstrip("\n")
        if not record:
            continue
        rows.append(record.split(FIELD_SEP)[: len(fields)])
    return rows


def branches_containing(root: Path, sha: str) -> list[str]:
    """Local and remote-tracking branches whose history contains commit `sha`."""
    out = git(["for-each-ref", f"--contains={sha}", "--format=%(refname:short)",
               "refs/heads/", "refs/remotes/"], root)
    return [line for line in out.splitlines() if line and not line.endswith("/HEAD")]


def commits_touching(root: Path, rev: str, path: str, limit: int = 200) -> list[str]:
    """Commits reachable from `rev` that changed `path`, newest first (at most `limit`)."""
    out = git(["log", f"--max-count={limit}", "--format=%H", "--end-of-options", rev, "--",
               path], root)
    return out.split()


def default_branch_candidates(root: Path) -> list[str]:
    rows = for_each_ref(root, ["refs/heads/main", "refs/heads/master"], ["%(refname:short)"])
    found = [r[0] for r in rows]
    remote_head = proc.run(
        ["git", "symbolic-ref", "-q", "--short", "refs/remotes/origin/HEAD"], root, check=False
    ).stdout.strip()
    if remote_head:
        found.append(remote_head.removeprefix("origin/"))
    return found


ZERO_SHA = "0" * 40


def create_ref(root: Path, ref: str, sha: str, reason: str) -> bool:
    """Create `ref` at `sha` only if it does not exist yet, atomically (the old value given to
    `update-ref` is all zeros), so of two concurrent creators exactly one wins. False if the
    ref already existed."""
    res = proc.run(["git", "update-ref", "--create-reflog", "-m", reason, ref, sha, ZERO_SHA],
                   root, check=False)
    if res.returncode == 0:
        return True
    if rev_parse(root, ref) is not None:
        return False
    raise CommandError(res.cmd, res.returncode, res.stdout, res.stderr)


def delete_branch(root: Path, name: str) -> None:
    """`git branch -D` (the caller decided it is safe); also drops the branch's config."""
    git(["branch", "-D", name], root)


def is_ancestor(root: Path, ancestor: str, descendant: str) -> bool:
    return git_ok(["merge-base", "--is-ancestor", ancestor, descendant], root)


def merge_base(root: Path, a: str, b: str) -> str | None:
    res = proc.run(["git", "merge-base", a, b], root, check=False)
    return res.stdout.strip() or None if res.returncode == 0 else None


def last_trailer(root: Path, rev: str, key: str) -> tuple[str, str] | None:
    """(commit, value) of the newest commit reachable from `rev` that has trailer `key`."""
    fmt = f"%H%x1f%(trailers:key={key},valueonly,separator=%x1e)"
    out = git(["log", "-1", "-E", f"--grep=^{key}: ", f"--format={fmt}", rev, "--"], root,
              check=False)
    sha, sep, value = out.strip().partition(FIELD_SEP)
    return (sha, value.split("\x1e")[0].strip()) if sep and value.strip() else None


def commit_tree(root: Path, tree: str, parents: Sequence[str], message: str,
                env: dict[str, str] | None = None) -> str:
    """A commit object (no ref moves, no checkout); `env` may carry GIT_AUTHOR_*."""
    args = ["commit-tree", tree]
    for parent in parents:
        args += ["-p", parent]
    return git(args, root, input=message, env=env).strip()


def tree_of(root: Path, rev: str) -> str:
    return git(["rev-parse", "--verify", "--end-of-options", f"{rev}^{{tree}}"], root).strip()


# --- remotes ----------------------------------------------------------------------------------


def remote_url(root: Path, name: str) -> str | None:
    return config_get(root, f"remote.{name}.url")


def push(root: Path, remote: str, refspecs: Sequence[str], *, set_upstream: bool = False,
         stream: bool = True) -> None:
    """`git push REMOTE REFSPEC...` (git's own progress goes to our stderr)."""
    args = ["push", *(["--set-upstream"] if set_upstream else []), remote, *refspecs]
    proc.run(["git", *args], root, stream=stream, to_stderr=True,
             hint=f"check that you can push to '{remote}' (`git push {remote}`), then retry")


# --- work tree state --------------------------------------------------------------------------


def status_porcelain(root: Path, untracked: bool = True) -> str:
    args = ["status", "--porcelain=v1", "-z"]
    if not untracked:
        args.append("--untracked-files=no")
    return git(args, root)


def is_dirty(root: Path, untracked: bool = False) -> bool:
    return bool(status_porcelain(root, untracked=untracked))


def path_modified(root: Path, path: str) -> bool:
    """`path` has staged or unstaged changes (or is untracked)."""
    return bool(git(["status", "--porcelain", "--", path], root).strip())


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


def tracked_changes(root: Path) -> list[str]:
    """Tracked paths whose work-tree content differs from HEAD (staged or not)."""
    out = git(["diff", "--name-only", "-z", "--no-renames", "HEAD", "--"], root)
    return [p for p in out.split("\0") if p]


def write_diff(root: Path, out: Path) -> None:
    """Uncommitted changes to tracked files (staged or not) as a binary-safe patch file."""
    git(["diff", "--binary", "--no-renames", "--no-ext-diff", "--no-textconv",
         f"--output={out}", "HEAD", "--"], root)


def apply_patch(root: Path, patch: Path) -> None:
    git(["apply", "--binary", "--whitespace=nowarn", str(patch)], root)


def add_tracked(root: Path) -> None:
    """`git add -u`: modifications and deletions of tracked files (like `git commit -a`)."""
    git(["add", "-u"], root)


def stash_create(root: Path) -> str | None:
    """A commit holding the index and work tree, stored in no ref (the stash list is untouched)."""
    return git(["stash", "create"], root).strip() or None


def stash_apply(root: Path, sha: str) -> None:
    git(["stash", "apply", "-q", "--index", sha], root)


def reset_hard(root: Path) -> None:
    git(["reset", "-q", "--hard", "HEAD"], root)


def switch(root: Path, branch: str) -> None:
    git(["switch", "-q", branch], root)


# --- worktrees --------------------------------------------------------------------------------


def worktree_add(root: Path, path: Path, rev: str, new_branch: str | None = None) -> None:
    args = ["worktree", "add", "-q", "--detach", str(path), rev]
    if new_branch:
        args = ["worktree", "add", "-q", "-b", new_branch, str(path), rev]
    git(args, root)


def worktree_remove(root: Path, path: Path) -> None:
    proc.run(["git", "worktree", "remove", "--force", "--force", str(path)], root, check=False)
    worktree_prune(root)


def worktree_prune(root: Path) -> None:
    proc.run(["git", "worktree", "prune"], root, check=False)


def worktree_paths(root: Path) -> list[Path]:
    out = git(["worktree", "list", "--porcelain"], root)
    return [Path(line[9:]) for line in out.splitlines() if line.startswith("worktree ")]


def checked_out_branches(root: Path) -> list[str]:
    """Branches checked out in any worktree of the repository (short names)."""
    out = git(["worktree", "list", "--porcelain"], root)
    return [line[len("branch refs/heads/"):] for line in out.splitlines()
            if line.startswith("branch refs/heads/")]




def tree_paths(root: Path, rev: str) -> list[str]:
    """Every file path in commit `rev` (one `git ls-tree -r`)."""
    out = git(["ls-tree", "-r", "-z", "--name-only", "--full-tree", "--end-of-options", rev],
              root)
    return [p for p in out.split("\0") if p]


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


# --- tags -------------------------------------------------------------------------------------


def committer_clock(root: Path) -> tuple[int, str]:
    """The time and UTC offset git would stamp on a tag now (honours GIT_COMMITTER_DATE)."""
    ident = git(["var", "GIT_COMMITTER_IDENT"], root).strip()
    when, _, tz = ident.rpartition("> ")[2].partition(" ")
    return int(when), tz or "+0000"


def tag_exists(root: Path, name: str) -> bool:
    return git_ok(["show-ref", "--verify", "-q", f"refs/tags/{name}"], root)


def tag_create(root: Path, name: str, target: str, message: str, *, sign: bool = False,
               when: tuple[int, str] | None = None) -> str:
    """Create the annotated (or signed) tag `name` on `target`; returns the tag object id.

    The message goes on stdin; `when` = (unix time, "+HHMM") fixes the tagger date."""
    env = {"GIT_COMMITTER_DATE": f"@{when[0]} {when[1]}"} if when else None
    args = ["tag", "-s" if sign else "-a", "--cleanup=whitespace", "-F", "-", "--", name, target]
    git(args, root, input=message, env=env)
    return git(["rev-parse", "--verify", f"refs/tags/{name}"], root).strip()


def tag_delete(root: Path, name: str, expected: str | None = None) -> None:
    """Delete refs/tags/NAME (only if it still is `expected`, when given)."""
    git(["update-ref", "-d", f"refs/tags/{name}", *([expected] if expected else [])], root)


def verify_tag(root: Path, name: str) -> tuple[bool, str]:
    """`git verify-tag`: (good signature?, what git said)."""
    res = proc.run(["git", "verify-tag", "--", f"refs/tags/{name}"], root, check=False)
    text = (res.stderr.strip() or res.stdout.strip()).splitlines()
    return res.returncode == 0, (text[-1] if text else "")

# --- versions and remotes (for `mlgit doctor`) -----------------------------------------------


def version() -> tuple[int, ...] | None:
    """The git binary's version, e.g. (2, 39, 5); None if it cannot be read."""
    import re

    res = proc.run(["git", "--version"], ".", check=False)
    found = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", res.stdout)
    return tuple(int(x) for x in found.groups() if x is not None) if found else None


def remote_names(root: Path) -> list[str]:
    return git(["remote"], root).split()


def push_refs(root: Path, remote: str, refs: Sequence[str]) -> None:
    """Push `refs` to `remote` all or nothing (`--atomic`)."""
    git(["push", "--atomic", "-q", "--", remote, *(f"{r}:{r}" for r in refs)], root)

def ls_remote_tags(root: Path, remote: str, *, timeout: float = 15.0) -> dict[str, str]:
    """{tag name: object id} on `remote` (tag objects for annotated tags), via the network.

    The timeout also bounds an ssh password prompt: a check must answer, not ask.
    """
    res = proc.run(["git", "ls-remote", "--tags", "--refs", "--end-of-options", remote], root,
                   timeout=timeout)
    tags = {}
    for line in res.stdout.splitlines():
        sha, _, ref = line.partition("\t")
        if ref.startswith("refs/tags/"):
            tags[ref.removeprefix("refs/tags/")] = sha
    return tags


def tracked_paths(root: Path, paths: Sequence[str]) -> list[str]:
    """Those of `paths` (files or directories) that hold files tracked by Git."""
    out = git(["--literal-pathspecs", "ls-files", "-z", "--", *paths], root) if paths else ""
    files = [f for f in out.split("\0") if f]
    return [p for p in paths if any(f == p or f.startswith(p.rstrip("/") + "/") for f in files)]
