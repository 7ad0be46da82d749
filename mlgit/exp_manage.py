"""Managing experiment branches: `exp rm` (like `git branch -d`) and `exp import` (DVC's hidden
`refs/exps` experiments become ordinary `exp/` branches with trailers)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mlgit import git
from mlgit.config import Config, load_config
from mlgit.errors import NotFoundError, UsageError
from mlgit.experiments import (
    TRAILER_IMPORTED,
    branch_of,
    build_message,
    name_problem,
    param_changes,
    read_trailers,
    strip_prefix,
)
from mlgit.metrics import read_revision

# refs/exps/<baseline sha[:2]>/<baseline sha[2:]>/<name>, as `dvc exp run` writes them
_DVC_EXP_REF = re.compile(r"refs/exps/([0-9a-f]{2})/([0-9a-f]{38})/([^/]+)")


# --- exp rm -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Removed:
    name: str
    branch: str
    sha: str | None  # the local tip that was deleted (to restore: git branch BRANCH SHA)
    remote: str | None  # the remote it was deleted from


def remove_experiments(root: Path, names: Sequence[str], *, remote: bool = False,
                       force: bool = False) -> list[Removed]:
    """Delete experiment branches, all or none: each must exist, not be checked out, and
    (without `force`) be merged into HEAD or the base branch, or pushed (unless `remote`
    deletes the pushed copy too)."""
    if not names:
        raise UsageError("name at least one experiment to remove",
                         hint="see them with `mlgit exp list`")
    config = load_config(root)
    checked_out = set(git.checked_out_branches(root))
    keep_refs = _safe_harbours(root, config)
    plan: list[tuple[str, str, str | None, str | None]] = []
    for text in dict.fromkeys(names):
        name = strip_prefix(config, text)
        problem = name_problem(name)
        if problem:
            raise UsageError(f"experiment name '{text}' {problem}")
        branch = branch_of(config, name)
        sha = git.rev_parse(root, f"refs/heads/{branch}")
        remote_name = _remote_of(root, branch) if remote else None
        if sha is None and remote_name is None:
            raise NotFoundError(f"no experiment '{name}' (no branch {branch})",
                                hint="list them with `mlgit exp list --all`")
        if remote and remote_name is None:
            raise NotFoundError(f"{branch} is not on any remote",
                                hint="drop --remote to delete only the local branch")
        if sha is not None and branch in checked_out:
            raise UsageError(f"{branch} is checked out", hint="switch to another branch first")
        if sha is not None and not force:
            harbours = keep_refs + ([] if remote else _pushed_copies(root, branch))
            if not any(git.is_ancestor(root, sha, ref) for ref in harbours):
                raise UsageError(f"{branch} is not merged" + ("" if remote else " or pushed"),
                                 hint=f"merge it first, or delete anyway with "
                                 f"`mlgit exp rm --force {name}` (its commit: {sha[:12]})")
        plan.append((name, branch, sha, remote_name))
    by_remote: dict[str, list[str]] = {}
    for _name, branch, _sha, remote_name in plan:
        if remote_name:
            by_remote.setdefault(remote_name, []).append(f":refs/heads/{branch}")
    for remote_name, specs in by_remote.items():
        git.push(root, remote_name, specs)
    for _name, branch, sha, _remote in plan:
        if sha is not None:
            git.delete_branch(root, branch)
    return [Removed(name, branch, sha, remote_name) for name, branch, sha, remote_name in plan]


def _safe_harbours(root: Path, config: Config) -> list[str]:
    """Where an experiment's commits count as kept: HEAD and the base branch."""
    names = [config.base_branch] if config.base_branch else git.default_branch_candidates(root)
    return ["HEAD", *(n for n in names if git.rev_parse(root, n))]


def _pushed_copies(root: Path, branch: str) -> list[str]:
    rows = git.for_each_ref(root, ["refs/remotes/"], ["%(refname)"])
    return [r[0] for r in rows if r[0].split("/", 3)[-1] == branch]


def _remote_of(root: Path, branch: str) -> str | None:
    """The remote that has `branch`: its upstream's, else one with a remote-tracking copy."""
    configured = git.config_get(root, f"branch.{branch}.remote")
    if configured and configured != ".":
        return configured
    for ref in _pushed_copies(root, branch):
        return ref.split("/")[2]
    return None


# --- exp import -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Imported:
    name: str
    dvc_ref: str
    branch: str
    sha: str | None  # the new commit (None: skipped or failed)
    status: str  # imported, already imported, failed
    reason: str | None = None


def list_dvc_experiments(root: Path) -> list[tuple[str, str, str]]:
    """(name, ref, commit) of every DVC experiment in `refs/exps/`."""
    rows = git.for_each_ref(root, ["refs/exps/"], ["%(refname)", "%(objectname)"])
    return [(m.group(3), r[0], r[1]) for r in rows if (m := _DVC_EXP_REF.fullmatch(r[0]))]


def import_dvc_experiments(root: Path, names: Sequence[str] = (), *,
                           import_all: bool = False) -> list[Imported]:
    """Turn DVC experiments (by name, ref or commit prefix; or all) into experiment branches:
    the same tree on the same baseline, the original author, and mlgit's trailers."""
    config = load_config(root)
    found = list_dvc_experiments(root)
    if not names and not import_all:
        raise UsageError("name the DVC experiments to import, or pass --all",
                         hint=f"{len(found)} found; see them with `dvc exp list`")
    if import_all:
        chosen = found
    else:
        chosen = []
        for text in dict.fromkeys(names):
            hits = [f for f in found if text in (f[0], f[1])
                    or (len(text) >= 7 and f[2].startswith(text))]
            if not hits:
                raise NotFoundError(f"no DVC experiment '{text}'",
                                    hint="see them with `dvc exp list --all-commits`")
            chosen += [h for h in hits if h not in chosen]
    if not chosen:
        raise NotFoundError("no DVC experiments in this repository (refs/exps/ is empty)",
                            hint="`dvc exp pull REMOTE` fetches them from a Git remote")
    git.ensure_identity(root)
    with git.object_reader(root) as reader:
        return [_import_one(root, reader, config, name, ref, sha) for name, ref, sha in chosen]


def _import_one(root: Path, reader: git.ObjectReader, config: Config, name: str, ref: str,
                sha: str) -> Imported:
    branch = branch_of(config, name)
    problem = name_problem(name)
    if problem:
        return Imported(name, ref, branch, None, "failed", f"name {problem}")
    existing = git.rev_parse(root, f"refs/heads/{branch}")
    if existing is not None:
        info = reader.commit(existing)
        if info is not None and read_trailers(info.message).get(TRAILER_IMPORTED) == ref:
            return Imported(name, ref, branch, existing, "already imported")
        return Imported(name, ref, branch, None, "failed", f"{branch} already exists")
    commit = reader.commit(sha)
    if commit is None:
        return Imported(name, ref, branch, None, "failed", "its commit is missing")
    match = _DVC_EXP_REF.fullmatch(ref)
    baseline = commit.parents[0] if commit.parents else (match.group(1) + match.group(2)
                                                         if match else sha)
    changes = param_changes(read_revision(reader, baseline), read_revision(reader, sha))
    message = build_message(
        name, baseline, changes,
        notes=[f"Imported from DVC experiment {ref} (commit {sha})."],
        extra=[(TRAILER_IMPORTED, ref)])
    author = {"GIT_AUTHOR_NAME": commit.author, "GIT_AUTHOR_EMAIL": commit.author_email,
              "GIT_AUTHOR_DATE": f"@{commit.author_time} +0000"}
    new = git.commit_tree(root, git.tree_of(root, sha), [baseline], message, env=author)
    if not git.create_ref(root, f"refs/heads/{branch}", new, f"mlgit exp import {ref}"):
        return Imported(name, ref, branch, None, "failed", f"{branch} already exists")
    return Imported(name, ref, branch, new, "imported")
