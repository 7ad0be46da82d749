"""Writing experiments: `exp new` (one run or a grid, in throwaway worktrees) and `exp run`.

`exp new` never touches the user's checkout (unless `--switch`): each run happens in a detached
worktree under the git dir, sharing the DVC cache; the branch appears only once its commit
exists, created atomically, so a failed, interrupted or concurrent run leaves no half-made
branch. Everything is validated before anything changes.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlgit import dvc, git, params, proc
from mlgit.config import Config, load_config
from mlgit.errors import CommandError, MlgitError, UsageError
from mlgit.experiments import (
    ParamChange,
    Point,
    branch_of,
    build_message,
    check_new_name,
    check_overrides,
    check_pipeline,
    metric_value,
    param_changes,
    plan_points,
    primary_metric,
    require_valid_name,
    strip_prefix,
)
from mlgit.metrics import RevisionData, read_revision, read_worktree
from mlgit.refs import resolve_rev
from mlgit.worktree import temporary_worktree

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Outcome:
    """What became of one experiment of an `exp new` run."""

    name: str
    branch: str
    settings: dict[str, str]  # display key -> value as typed
    sha: str | None = None  # the experiment's commit (None: failed)
    params: tuple[ParamChange, ...] = ()  # differences from the base
    metric: str | None = None
    value: Any = None
    error: str | None = None
    detail: str = ""  # the end of DVC's output, when it was captured (parallel runs)
    kept: str | None = None  # worktree left for debugging (--keep-failed)
    pushed: bool = False
    push_error: str | None = None

    @property
    def ok(self) -> bool:
        return self.sha is not None


@dataclass(frozen=True)
class NewResult:
    base: str  # commit sha
    base_label: str  # what the user called it (branch name, ref, "HEAD")
    carried: tuple[str, ...]  # uncommitted files copied into the experiments
    not_carried: tuple[str, ...]  # uncommitted files left out (--from is not HEAD, --no-carry)
    ran: bool
    metric: str | None
    base_value: Any
    outcomes: tuple[Outcome, ...]
    switched: bool = False

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]


@dataclass(frozen=True)
class _Plan:
    root: Path
    config: Config
    base: str
    base_data: RevisionData
    patch: Path | None
    run: bool
    push: bool
    message: str | None
    allow_add: bool
    keep_failed: bool
    carried: tuple[str, ...]
    metric: str | None
    progress: Progress


def new_experiments(root: Path, name: str, overrides: Sequence[str] = (), *, base: str = "HEAD",
                    message: str | None = None, run: bool = True, switch: bool = False,
                    push: bool = False, jobs: int = 1, keep_failed: bool = False,
                    allow_add: bool = False, carry: bool = True,
                    progress: Progress | None = None) -> NewResult:
    """Create experiment `name` (or one per grid combination) from `base` with `overrides`.

    Validates the name(s), every override and the flags before anything changes; failures of
    single grid points are reported in the result (the others are kept), not raised.
    """
    say = progress or (lambda _text: None)
    config = load_config(root)
    if run or push:
        dvc.require_dvc_repo(root)
    git.ensure_identity(root)
    if jobs < 1:
        raise UsageError(f"-j {jobs}: expected 1 or more parallel runs")
    name = strip_prefix(config, name)
    require_valid_name(name)  # a grid's names are built from it: say what is wrong with it
    parsed = [params.parse_override(text) for text in overrides]
    points = plan_points(name, parsed)
    if switch and len(points) > 1:
        raise UsageError("--switch needs a single experiment, not a grid",
                         hint="drop --switch, then `git switch` to the one you want")
    for point in points:
        check_new_name(root, config, point.name)
    if push and git.remote_url(root, "origin") is None:
        raise UsageError("--push needs a Git remote named 'origin'",
                         hint="add one (`git remote add origin URL`), or drop --push")
    resolved = resolve_rev(root, base, config)
    head = git.head_sha(root)
    dirty = git.tracked_changes(root) if head is not None else []
    carried = tuple(dirty) if carry and resolved.sha == head else ()
    with git.object_reader(root) as reader:
        base_data = read_revision(reader, resolved.sha)
        check_overrides(root, reader, resolved.sha, carried, points[0], allow_add)
        if run:
            check_pipeline(root, reader, resolved.sha, carried)
    label = _base_label(root, base, resolved.sha, head)
    metric = primary_metric(config, base_data)
    patch = _patch_path(root) if carried else None
    try:
        if patch is not None:
            git.write_diff(root, patch)
        plan = _Plan(root, config, resolved.sha, base_data, patch, run, push, message, allow_add,
                     keep_failed, carried, metric, say)
        outcomes = _run_points(plan, points, jobs)
        switched = False
        if switch and outcomes[0].ok:
            _switch_to(root, outcomes[0].branch, patch)
            switched = True
    finally:
        if patch is not None:
            patch.unlink(missing_ok=True)
            with contextlib.suppress(OSError):  # only if empty: other runs may use it
                patch.parent.rmdir()
    return NewResult(resolved.sha, label, carried, () if carried else tuple(dirty), run, metric,
                     metric_value(base_data, metric), tuple(outcomes), switched)


def _base_label(root: Path, text: str, sha: str, head: str | None) -> str:
    if text == "HEAD" and sha == head:
        return git.current_branch(root) or "HEAD"
    return text


def _patch_path(root: Path) -> Path:
    where = git.common_dir(root) / "mlgit"
    where.mkdir(parents=True, exist_ok=True)
    return where / f"carry-{secrets.token_hex(4)}.patch"


# --- running the points -----------------------------------------------------------------------


def _run_points(plan: _Plan, points: list[Point], jobs: int) -> list[Outcome]:
    total = len(points)
    if jobs == 1 or total == 1:
        outcomes = []
        for i, point in enumerate(points, 1):
            where = f" ({i}/{total})" if total > 1 else ""
            plan.progress(f"▶ {branch_of(plan.config, point.name)}{where}: running in a "
                          "temporary worktree")
            outcomes.append(_run_point(plan, point, stream=True))
        return outcomes
    cancel = threading.Event()

    def task(point: Point) -> Outcome:
        with proc.cancellable(cancel):
            return _run_point(plan, point, stream=False)

    plan.progress(f"▶ {total} experiments, up to {jobs} at a time in temporary worktrees")
    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="mlgit-exp") as pool:
        futures: list[Future[Outcome]] = [pool.submit(task, p) for p in points]
        pending = set(futures)
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    if fut.exception() is None:
                        o = fut.result()
                        plan.progress(f"{'✓' if o.ok else '✗'} {o.branch}"
                                      + ("" if o.ok else f": {o.error}"))
        except BaseException:
            # Interrupted (only this thread gets signals): stop the others' DVC runs; each
            # removes its own worktree on the way out, which we wait for.
            cancel.set()
            for fut in futures:
                fut.cancel()
            wait(futures)
            raise
    return [f.result() for f in futures]


def _run_point(plan: _Plan, point: Point, *, stream: bool) -> Outcome:
    branch = branch_of(plan.config, point.name)
    settings = dict(point.texts)
    workdir: list[Path] = []
    try:
        with temporary_worktree(plan.root, plan.base, point.name, keep_failed=plan.keep_failed,
                                share_cache=False) as wt:
            workdir.append(wt)
            return _make_experiment(plan, point, wt, branch, settings, stream)
    except MlgitError as exc:
        kept = str(workdir[0]) if workdir and workdir[0].is_dir() else None
        detail = ""
        if isinstance(exc, CommandError) and not stream:
            detail = _tail(exc.stderr or exc.stdout)
        return Outcome(point.name, branch, settings, error=exc.message, detail=detail, kept=kept)


def _make_experiment(plan: _Plan, point: Point, wt: Path, branch: str, settings: dict[str, str],
                     stream: bool) -> Outcome:
    if plan.patch is not None:
        git.apply_patch(wt, plan.patch)
    params.apply_overrides(wt, list(point.settings), allow_add=plan.allow_add)
    if plan.run:
        dvc.run_in_worktree(wt, plan.root, stream=stream, to_stderr=True)
    after = read_worktree(wt)
    changes = param_changes(plan.base_data, after)
    notes = []
    if plan.carried:
        notes.append("Includes uncommitted changes carried from the work tree:")
        notes += [f"  {path}" for path in plan.carried]
    if not plan.run:
        notes.append("The pipeline was not run (--no-run): dvc.lock and metrics are the base's.")
    git.add_all(wt)
    sha = git.commit(wt, build_message(point.name, plan.base, changes, message=plan.message,
                                       notes=notes), allow_empty=True)
    if not git.create_ref(plan.root, f"refs/heads/{branch}", sha, f"mlgit exp new {point.name}"):
        raise UsageError(f"experiment '{point.name}' was created by another run meanwhile",
                         hint="choose another name")
    pushed, push_error = False, None
    if plan.push:
        try:
            if not plan.run:
                dvc.share_cache(wt, plan.root)
            dvc.push(wt, stream=stream, to_stderr=True)
            git.push(plan.root, "origin", [f"refs/heads/{branch}:refs/heads/{branch}"],
                     set_upstream=True, stream=stream)
            pushed = True
        except MlgitError as exc:
            push_error = exc.message
    return Outcome(point.name, branch, settings, sha, tuple(changes), plan.metric,
                   metric_value(after, plan.metric), pushed=pushed, push_error=push_error)


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _switch_to(root: Path, branch: str, patch: Path | None) -> None:
    """`git switch` to the new experiment, then `dvc checkout` its outputs.

    Uncommitted changes that were carried into the experiment are in its commit: the work tree
    is reset to HEAD first (after checking nothing changed since they were copied), and put back
    exactly (index too) if the switch fails."""
    saved = None
    if patch is not None:
        now = patch.with_suffix(".now")
        try:
            git.write_diff(root, now)
            same = now.read_bytes() == patch.read_bytes()
        finally:
            now.unlink(missing_ok=True)
        if not same:
            raise MlgitError(f"created {branch}, but did not switch: your work tree changed "
                             "during the run", hint=f"commit or stash, then `git switch {branch}`")
    with proc.shielded():  # between the reset and the switch, the changes live in `saved`
        if patch is not None:
            saved = git.stash_create(root)
            git.reset_hard(root)
        try:
            git.switch(root, branch)
        except MlgitError as exc:
            if saved is not None:
                try:
                    git.stash_apply(root, saved)
                except MlgitError:
                    raise MlgitError(f"created {branch}, but could not switch to it, nor put "
                                     "your uncommitted changes back",
                                     hint=f"they are in commit {saved}: "
                                     f"`git stash apply --index {saved}`") from exc
            raise MlgitError(f"created {branch}, but could not switch to it: {exc.message}",
                             hint=f"move what is in the way, then `git switch {branch}`") from exc
    dvc.checkout(root)
