"""`mlgit init`: turn a directory into a working mlgit project, or adopt an existing pipeline.

Multi-step and all-or-nothing: if any step fails (or the user presses Ctrl-C), every file and
directory this run created is removed again, and a repository it created is deleted.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from mlgit import dvc, git
from mlgit.config import CONFIG_FILE, Config, dump_config, infer_direction
from mlgit.datasets import write_dataset
from mlgit.errors import MlgitError, NotFoundError, UsageError
from mlgit.project import parse_pipeline
from mlgit.yamlio import load_yaml

TEMPLATE_META = "template.yaml"
DEFAULT_TEMPLATE = "classifier"
# Files of the template that mlgit writes under another name (a dotfile would be ignored by
# packaging tools, so `.gitignore` is shipped as `gitignore`).
_RENAMES = {"gitignore": ".gitignore"}
_SKIP = {TEMPLATE_META, "__pycache__"}
# Files a user's repo may already have: kept (an ignore file gets our missing lines appended).
_KEEP_IF_EXISTS = {".gitignore", "README.md"}


def templates_root() -> Path:
    """Installed wheel: mlgit/templates. Source checkout / editable: <repo>/templates."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "templates", here.parent / "templates"):
        if (candidate / "project").is_dir():
            return candidate
    raise MlgitError("mlgit's templates are missing from this installation",
                     hint="reinstall mlgit (`pip install --force-reinstall mlgit`)", exit_code=3)


def list_templates() -> dict[str, str]:
    root = templates_root() / "project"
    out = {}
    for d in sorted(root.iterdir()):
        if (d / TEMPLATE_META).is_file():
            meta = load_yaml((d / TEMPLATE_META).read_text(), str(d / TEMPLATE_META)) or {}
            out[d.name] = str(meta.get("description", ""))
    return out


@dataclass(frozen=True)
class InitResult:
    root: Path
    template: str | None
    adopted: bool
    created_repo: bool
    created_dvc: bool
    files: tuple[str, ...]
    remote: str | None
    remote_created: bool
    ran: bool
    commit: str | None
    metrics: dict[str, object] = field(default_factory=dict)
    model: str | None = None


class _Undo:
    """Records what a run created so a failure can take it all back."""

    def __init__(self) -> None:
        self.paths: list[Path] = []

    def created(self, path: Path) -> None:
        self.paths.append(path)

    def rollback(self) -> None:
        for path in reversed(self.paths):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


@contextmanager
def _transaction() -> Iterator[_Undo]:
    undo = _Undo()
    try:
        yield undo
    except BaseException:
        undo.rollback()
        raise


def default_remote_dir(root: Path) -> Path:
    """Outside the work tree, per project, stable for clones on the same machine."""
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    digest = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:8]
    return base / "mlgit" / "remotes" / f"{root.name}-{digest}"


def _ensure_writable(target: Path) -> None:
    probe = target
    while not probe.exists():
        probe = probe.parent
    if not os.access(probe, os.W_OK | os.X_OK):
        raise MlgitError(f"cannot write to {probe}", hint="choose a directory you can write to")


def init_project(
    target: Path,
    *,
    template: str = DEFAULT_TEMPLATE,
    force: bool = False,
    run: bool = True,
    model_path: str | None = None,
    remote_dir: Path | None = None,
    no_remote: bool = False,
) -> InitResult:
    """Create (or adopt) an mlgit project in `target`."""
    target = target.absolute()
    _ensure_writable(target)
    existing_repo = git.is_repo(target) if target.exists() else False
    if existing_repo:
        top = git.repo_root(target)
        if top.resolve() != target.resolve():
            raise UsageError(f"{target} is inside the Git repository at {top}",
                             hint=f"run `mlgit init {top}` at the repository's top instead")
    if (target / "dvc.yaml").is_file() and not force:
        return _adopt(target, model_path=model_path, existing_repo=existing_repo)
    if model_path is not None:
        raise UsageError("--model is only for adopting an existing dvc.yaml",
                         hint="the scaffold declares its own model artifact")
    tdir = templates_root() / "project" / template
    if not (tdir / TEMPLATE_META).is_file():
        raise NotFoundError(f"unknown template '{template}'",
                            hint="choose one of: " + ", ".join(list_templates()))
    meta = load_yaml((tdir / TEMPLATE_META).read_text(), TEMPLATE_META) or {}
    files = _template_files(tdir)
    if not force:
        for rel in files:
            if (target / rel).exists() and rel not in _KEEP_IF_EXISTS:
                raise MlgitError(f"{target / rel} already exists; mlgit init will not overwrite it",
                                 hint="move it away, or rerun with --force to overwrite")

    with _transaction() as undo:
        if not target.exists():
            top_missing = target
            while not top_missing.parent.exists():
                top_missing = top_missing.parent
            target.mkdir(parents=True)
            undo.created(top_missing)
        created_repo = not existing_repo
        if created_repo:
            git.init_repo(target)
            undo.created(target / ".git")
        dirty_before = _dirty_paths(target)
        created_dvc = not dvc.is_dvc_repo(target)
        if created_dvc:
            dvc.init(target)
            undo.created(target / ".dvc")
            undo.created(target / ".dvcignore")
        written = _write_files(tdir, target, files, undo)
        data_path = str(meta.get("data_path", "data/raw.csv"))
        dest = target / data_path
        if not dest.exists():
            if not dest.parent.exists():
                dest.parent.mkdir(parents=True)
                undo.created(dest.parent)
            undo.created(dest)
            write_dataset(str(meta.get("dataset", "")), dest)
        dvc.add(target, [data_path])
        config = Config(metric=meta.get("metric"), direction=meta.get("direction"),
                        model=meta.get("model"))
        if not (target / CONFIG_FILE).exists() or force:
            (target / CONFIG_FILE).write_text(dump_config(config), encoding="utf-8")
            undo.created(target / CONFIG_FILE)
        remote, remote_created = _ensure_remote(target, remote_dir, no_remote, undo)
        if run:
            dvc.repro(target, stream=True)
        if created_repo or git.config_get(target, "user.email") is None:
            git.ensure_identity(target)
        dirty_after = _dirty_paths(target)
        new_paths = sorted((dirty_after - dirty_before) | (set(written) & dirty_after))
        git.add(target, new_paths)
        changed = bool(new_paths) and git.differs_from_head(target, new_paths)
        sha = None if not changed else git.commit(
            target,
            f"Initialise mlgit project from template '{template}'\n\n"
            "Scaffolded by `mlgit init`: params.yaml, dvc.yaml (prepare -> train -> evaluate),\n"
            f"src/ stages, and {data_path} tracked by DVC.\n",
            paths=new_paths,
        )
    metrics = _read_metrics(target) if run else {}
    return InitResult(target, template, False, created_repo, created_dvc, tuple(written), remote,
                      remote_created, run, sha, metrics, config.model)


def _template_files(tdir: Path) -> list[str]:
    files = []
    for path in sorted(tdir.rglob("*")):
        if path.is_file() and not (set(path.relative_to(tdir).parts) & _SKIP) \
                and path.suffix != ".pyc":
            rel = path.relative_to(tdir).as_posix()
            files.append(_RENAMES.get(rel, rel))
    return files


def _write_files(tdir: Path, target: Path, files: list[str], undo: _Undo) -> list[str]:
    reverse = {v: k for k, v in _RENAMES.items()}
    written = []
    for rel in files:
        src = tdir / reverse.get(rel, rel)
        dst = target / rel
        if rel == ".gitignore" and dst.exists():
            # keep the user's ignore file; add only the lines it lacks
            have = set(dst.read_text(encoding="utf-8").splitlines())
            extra = [ln for ln in src.read_text().splitlines() if ln and ln not in have]
            if extra:
                with dst.open("a", encoding="utf-8") as f:
                    f.write("\n" + "\n".join(extra) + "\n")
            continue
        if rel in _KEEP_IF_EXISTS and dst.exists():
            continue
        for parent in reversed(dst.relative_to(target).parents):
            if parent != Path(".") and not (target / parent).exists():
                (target / parent).mkdir()
                undo.created(target / parent)
        if not dst.exists():
            undo.created(dst)
        shutil.copyfile(src, dst)
        written.append(rel)
    return written


def _dirty_paths(root: Path) -> set[str]:
    if not git.is_repo(root):
        return set()
    out = git.git(["status", "--porcelain=v1", "-z", "--untracked-files=all"], root)
    paths = set()
    entries = out.split("\0")
    i = 0
    while i < len(entries):
        entry = entries[i]
        if len(entry) > 3:
            paths.add(entry[3:])
            if entry[0] in "RC":
                i += 1
        i += 1
    return paths


def _ensure_remote(target: Path, remote_dir: Path | None, no_remote: bool,
                   undo: _Undo) -> tuple[str | None, bool]:
    existing = dvc.remote_default(target)
    if existing or no_remote:
        return existing, False
    path = (remote_dir or default_remote_dir(target)).absolute()
    if not path.exists():
        path.mkdir(parents=True)
        undo.created(path)
    dvc.remote_add(target, "storage", str(path), default=True)
    return str(path), True


def _read_metrics(root: Path) -> dict[str, object]:
    import json

    path = root / "metrics.json"
    try:
        data = json.loads(path.read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


# --- adopting a pipeline mlgit did not create -------------------------------------------------


def _adopt(target: Path, *, model_path: str | None, existing_repo: bool) -> InitResult:
    from mlgit import dvcfile

    if not existing_repo:
        raise MlgitError(f"{target} has a dvc.yaml but is not a Git repository",
                         hint="run `git init` and commit your pipeline first, then `mlgit init`")
    text = (target / "dvc.yaml").read_text(encoding="utf-8")
    pipeline = parse_pipeline(text, "dvc.yaml")
    model = pipeline.artifacts[0].name if pipeline.artifacts else None
    files: list[str] = []
    if model is None:
        if model_path is None:
            raise MlgitError(
                "dvc.yaml declares no model artifact",
                hint="rerun with --model PATH (a stage output, e.g. models/model.pkl) to declare it",
            )
        model = dvcfile.artifact_name_for(model_path)
        dvcfile.declare_artifact(target, model, model_path, type_="model", desc=None)
        files.append("dvc.yaml")
    metric = None
    for path in pipeline.metrics_files:
        data = None
        try:
            from mlgit.yamlio import load_structured

            data = load_structured((target / path).read_bytes(), path)
        except (OSError, MlgitError):
            continue
        from mlgit.params import flatten

        flat = flatten(data) if isinstance(data, dict) else {}
        numeric = [k for k, v in flat.items() if isinstance(v, int | float)]
        if numeric:
            metric = numeric[0]
            break
    config = Config(metric=metric, direction=infer_direction(metric) if metric else None,
                    model=model)
    if not (target / CONFIG_FILE).exists():
        (target / CONFIG_FILE).write_text(dump_config(config), encoding="utf-8")
        files.append(CONFIG_FILE)
    return InitResult(target, None, True, False, False, tuple(files), dvc.remote_default(target),
                      False, False, None, {}, model)
