"""What a commit records about its data, read from Git objects alone (no checkout, no DVC).

Every `dvc.lock` (with the `dvc.yaml` beside it, for metrics files and artifacts), every `.dvc`
file, and the model artifact's path. `mlgit reproduce` checks outputs against this; `mlgit
lineage` reports it.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from pathlib import Path

from mlgit import git
from mlgit.config import Config, parse_config
from mlgit.errors import MlgitError
from mlgit.git import ObjectReader
from mlgit.lockfile import Lock, LockedFile, TrackedData, parse_dvcfile, parse_lock
from mlgit.project import Artifact, Pipeline, parse_pipeline


@dataclass(frozen=True)
class Recorded:
    sha: str
    locks: tuple[Lock, ...]
    pipelines: tuple[Pipeline, ...]
    tracked: tuple[TrackedData, ...]
    config: Config
    model: Artifact | None  # mlgit.yaml's `model` artifact, else the first of type model

    @property
    def legacy_hashes(self) -> bool:
        return any(lock.legacy_hashes for lock in self.locks) or \
            any(t.legacy_hashes for t in self.tracked)

    def uncached(self) -> set[str]:
        """Outputs declared `cache: false` (metrics, plots: their bytes live in Git)."""
        return {o.path for p in self.pipelines for o in p.outputs() if not o.cache}

    def metrics_files(self) -> set[str]:
        return {m for p in self.pipelines for m in p.metrics_files}

    def plots_files(self) -> set[str]:
        return {m for p in self.pipelines for m in p.plots_files}

    def stage_outputs(self) -> list[tuple[str, LockedFile]]:
        """(stage, output) for every output of every dvc.lock, in pipeline order."""
        return [(s.name, o) for lock in self.locks for s in lock.stages for o in s.outs]

    def data_files(self) -> list[LockedFile]:
        """What `.dvc` files track (`dvc add`): the pipeline's source data."""
        return [o for t in self.tracked for o in t.outs]

    def kind_of(self, path: str) -> str:
        if self.model is not None and self.model.path == path:
            return "model"
        if path in self.metrics_files():
            return "metrics"
        if path in self.plots_files():
            return "plots"
        return "output"


def read_recorded(root: Path, reader: ObjectReader, sha: str) -> Recorded:
    """Everything commit `sha` records about its pipeline and data. Files that do not parse
    raise MlgitError naming the file and the commit."""
    paths = git.tree_paths(root, sha)
    locks: list[Lock] = []
    pipelines: list[Pipeline] = []
    tracked: list[TrackedData] = []
    for path in paths:
        name = posixpath.basename(path)
        try:
            if name == "dvc.lock":
                locks.append(parse_lock(_read(reader, sha, path), path))
            elif name == "dvc.yaml":
                pipelines.append(parse_pipeline(_read(reader, sha, path), path))
            elif name.endswith(".dvc") and name != ".dvc" and not path.startswith(".dvc/"):
                tracked.append(parse_dvcfile(_read(reader, sha, path), path))
        except MlgitError as exc:
            raise MlgitError(f"{path} at {sha[:8]}: {exc.message}") from exc
    records: list[Lock | TrackedData] = [*locks, *tracked]
    for record in records:
        _check_paths(record, sha)
    raw_config = reader.read(sha, "mlgit.yaml")
    config = Config()
    if raw_config is not None:
        try:
            config = parse_config(raw_config, "mlgit.yaml")
        except MlgitError:
            config = Config()  # a broken mlgit.yaml of an old commit must not block a rebuild
    return Recorded(sha, tuple(locks), tuple(pipelines), tuple(tracked), config,
                    _model(pipelines, config))


def _check_paths(record: Lock | TrackedData, sha: str) -> None:
    """Outputs must stay inside the repository: a crafted dvc.lock naming `../x` must not make
    a restore or a copy write outside the worktree (DVC itself refuses such outputs)."""
    files = [o for s in record.stages for o in s.outs] if isinstance(record, Lock) \
        else list(record.outs)
    for f in files:
        if f.path.startswith("/") or f.path == ".." or f.path.startswith("../"):
            raise MlgitError(f"{record.dvcfile} at {sha[:8]} records an output outside the "
                             f"repository: {f.path}", hint="fix that file; nothing was run")


def _read(reader: ObjectReader, sha: str, path: str) -> bytes:
    data = reader.read(sha, path)
    return data if data is not None else b""


def _model(pipelines: list[Pipeline], config: Config) -> Artifact | None:
    artifacts = [a for p in pipelines for a in p.artifacts]
    if config.model:
        named = next((a for a in artifacts if a.name == config.model), None)
        if named is not None:
            return named
    return next((a for a in artifacts if a.type == "model"), artifacts[0] if artifacts else None)


def introduced_by(root: Path, reader: ObjectReader, sha: str, recorder: str, path: str,
                  value: str) -> str | None:
    """The oldest commit in the unbroken run of commits up to `sha` in which `recorder` (a
    dvc.lock or .dvc file) records hash `value` for `path`: the commit that produced it."""
    found = None
    for commit in git.commits_touching(root, sha, recorder):
        raw = reader.read(commit, recorder)
        if raw is None:
            break
        try:
            entries = _entries(raw, recorder)
        except MlgitError:
            break
        if entries.get(path) != value:
            break
        found = commit
    return found


def _entries(raw: bytes, recorder: str) -> dict[str, str | None]:
    if posixpath.basename(recorder) == "dvc.lock":
        lock = parse_lock(raw, recorder)
        files = [o for s in lock.stages for o in (*s.outs, *s.deps)]
    else:
        files = list(parse_dvcfile(raw, recorder).outs)
    return {f.path: f.hash for f in files}


def recorder_of(recorded: Recorded, path: str) -> str | None:
    """The dvc.lock or .dvc file that records `path`."""
    for lock in recorded.locks:
        if any(o.path == path for s in lock.stages for o in s.outs):
            return lock.dvcfile
    for t in recorded.tracked:
        if any(o.path == path for o in t.outs):
            return t.dvcfile
    return None
