"""Turning what a user types into a commit: Git revisions, experiment names, registry refs.

Every command that takes a revision (compare, diff, reproduce, lineage, promote) resolves it
here, so `exp/fast`, `fast`, `HEAD~2`, `origin/main`, `model@v1.2.0`, `model#production` and
`model@latest` mean the same thing everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlgit import git
from mlgit.config import Config, load_config
from mlgit.errors import NotFoundError


@dataclass(frozen=True)
class ResolvedRev:
    text: str  # what the user typed
    sha: str
    kind: str  # "git", "experiment" or "registry"
    ref: str  # the full ref or revision it resolved through


def _looks_like_registry_ref(text: str) -> bool:
    return "#" in text or text.endswith("@latest") or "@v" in text


def resolve_rev(root: Path, text: str, config: Config | None = None) -> ResolvedRev:
    """Resolve `text` to a commit, or raise NotFoundError naming it."""
    sha = git.rev_parse(root, text)
    if sha is not None:
        return ResolvedRev(text, sha, "git", text)
    cfg = config or load_config(root)
    if not text.startswith("-"):
        exp_ref = f"refs/heads/{cfg.exp_prefix}{text}"
        sha = git.rev_parse(root, exp_ref)
        if sha is not None:
            return ResolvedRev(text, sha, "experiment", exp_ref)
    if _looks_like_registry_ref(text):
        from mlgit import registry  # the registry's own grammar (GTO's tag format)

        hit = registry.resolve_registry_ref(root, text)
        if hit is not None:
            return ResolvedRev(text, hit[0], "registry", hit[1])
    raise _unknown(root, text)


def _unknown(root: Path, text: str) -> NotFoundError:
    """Why `text` names nothing: no commit at all yet, a shallow clone, or a plain typo."""
    if git.head_sha(root) is None and not git.for_each_ref(root, ["refs/"], ["%(refname)"]):
        return NotFoundError(f"unknown revision '{text}': the repository has no commits yet",
                             hint="commit your project first (`mlgit init` makes the first "
                             "commit)")
    if git.is_shallow(root):
        return NotFoundError(f"unknown revision '{text}' in this shallow clone (older commits, "
                             "branches and tags were not fetched)",
                             hint="fetch the whole history: git fetch --unshallow")
    return NotFoundError(
        f"unknown revision '{text}'",
        hint="use a branch, tag, commit, experiment name, or a registry ref like model#production",
    )


def base_branch(root: Path, config: Config | None = None) -> str | None:
    """The branch experiments start from: `base_branch` in mlgit.yaml, else main, master or the
    remote's HEAD; None when the repository has none of them."""
    cfg = config or load_config(root)
    if cfg.base_branch:
        return cfg.base_branch
    found = git.default_branch_candidates(root)
    return found[0] if found else None
