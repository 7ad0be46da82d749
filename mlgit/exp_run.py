"""`exp run`: re-run the pipeline in place on the checked-out experiment branch and commit the
result with fresh trailers (the in-place counterpart of `exp new`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlgit import dvc, git, params
from mlgit.config import Config, load_config
from mlgit.errors import UsageError
from mlgit.experiments import (
    TRAILER_BASE,
    ParamChange,
    build_message,
    check_overrides,
    check_pipeline,
    metric_value,
    param_changes,
    plan_points,
    primary_metric,
)
from mlgit.metrics import RevisionData, read_revision, read_worktree


@dataclass(frozen=True)
class RunResult:
    name: str
    branch: str
    base: str | None
    sha: str | None  # the new commit (None: --no-commit, or nothing changed)
    params: tuple[ParamChange, ...]
    metric: str | None
    value: Any
    committed: bool


def run_experiment(root: Path, overrides: Sequence[str] = (), *, commit: bool = True,
                   message: str | None = None, allow_add: bool = False) -> RunResult:
    """Re-run the pipeline in place on the checked-out experiment branch, then commit with
    fresh trailers. Params files are put back as they were if the run fails."""
    config = load_config(root)
    dvc.require_dvc_repo(root)
    branch = git.current_branch(root)
    if branch is None or not branch.startswith(config.exp_prefix):
        where = f"on '{branch}'" if branch else "on a detached HEAD"
        raise UsageError(f"you are {where}, not on an experiment branch ({config.exp_prefix}*)",
                         hint="start one with `mlgit exp new NAME [-S key=value]`, or "
                         f"`git switch {config.exp_prefix}NAME`")
    name = branch[len(config.exp_prefix):]
    parsed = [params.parse_override(text) for text in overrides]
    if any(o.is_grid for o in parsed):
        raise UsageError("exp run takes one value per key",
                         hint="for a grid of runs use `mlgit exp new NAME -S key=a,b`")
    if commit:
        git.ensure_identity(root)
    point = plan_points(name, parsed)[0]
    check_overrides(root, None, None, True, point, allow_add)
    check_pipeline(root, None, None, True)
    base = _experiment_base(root, config)
    saved = {f: (root / f).read_bytes() if (root / f).is_file() else None
             for f in {file for file, _k, _v in point.settings}}
    try:
        params.apply_overrides(root, list(point.settings), allow_add=allow_add)
        dvc.repro(root, stream=True)
    except BaseException:
        _restore(root, saved)
        raise
    after = read_worktree(root)
    base_data = None
    if base is not None:
        with git.object_reader(root) as reader:
            base_data = read_revision(reader, base)
    changes = param_changes(base_data, after)
    metric = primary_metric(config, after)
    sha = None
    if commit:
        sha = _commit_run(root, name, base, after, changes, message)
    return RunResult(name, branch, base, sha, tuple(changes), metric,
                     metric_value(after, metric), sha is not None)


def _restore(root: Path, saved: dict[str, bytes | None]) -> None:
    for file, data in saved.items():
        if data is None:
            (root / file).unlink(missing_ok=True)
        else:
            (root / file).write_bytes(data)


def _experiment_base(root: Path, config: Config) -> str | None:
    """The base the experiment started from: the newest `Mlgit-Base` trailer on the branch,
    else where it forked from the base branch."""
    found = git.last_trailer(root, "HEAD", TRAILER_BASE)
    if found is not None and git.rev_parse(root, found[1]):
        return found[1]
    for candidate in ([config.base_branch] if config.base_branch else
                      git.default_branch_candidates(root)):
        fork = git.merge_base(root, "HEAD", candidate)
        if fork:
            return fork
    return None


def _commit_run(root: Path, name: str, base: str | None, after: RevisionData,
                changes: Sequence[ParamChange], message: str | None) -> str | None:
    """Commit tracked changes (like `git commit -a`) plus the files the pipeline writes."""
    git.add_tracked(root)
    pipeline_files = ["dvc.lock", *after.params]
    if after.pipeline is not None:
        pipeline_files += [o.path for o in after.pipeline.outputs() if not o.cache]
        pipeline_files += [str(Path(o.path).parent / ".gitignore")
                           for o in after.pipeline.outputs() if o.cache]
    git.add(root, sorted({f for f in pipeline_files if (root / f).is_file()}))
    if not git.differs_from_head(root, []):
        return None
    return git.commit(root, build_message(name, base or "unknown", changes, message=message,
                                          notes=["Re-run in place with `mlgit exp run`."]))
