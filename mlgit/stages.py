"""`mlgit stage add/list`: pipeline stages through `dvc stage add`, validated first."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from mlgit import dvc
from mlgit.errors import MlgitError, NotFoundError, UsageError
from mlgit.project import Pipeline, parse_pipeline

STAGE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
STAGE_TEMPLATES = ("prepare", "train", "evaluate")


@dataclass(frozen=True)
class StageRow:
    name: str
    cmd: str
    deps: tuple[str, ...]
    outs: tuple[str, ...]
    params: tuple[str, ...]
    metrics: tuple[str, ...]


def _safe_path(value: str, what: str) -> str:
    p = Path(value)
    if not value or value.startswith("-") or p.is_absolute() or ".." in p.parts:
        raise UsageError(f"{what} '{value}' must be a relative path inside the repository")
    return value


def add_stage(root: Path, name: str, cmd: str, *, deps: list[str], outs: list[str],
              params: list[str], metrics: list[str], template: str | None,
              force: bool = False) -> Path | None:
    """Add a stage; with `template`, also write a stub script `src/<name>.py`."""
    dvc.require_dvc_repo(root)
    if not STAGE_NAME.fullmatch(name):
        raise UsageError(f"'{name}' is not a valid stage name",
                         hint="use letters, digits, '-' and '_', starting with a letter or digit")
    if template is not None and template not in STAGE_TEMPLATES:
        raise UsageError(f"unknown stage template '{template}'",
                         hint="choose one of: " + ", ".join(STAGE_TEMPLATES))
    if not cmd.strip():
        if template is None:
            raise UsageError("a stage needs a command", hint="pass -c 'python src/NAME.py'")
        cmd = f"python src/{name}.py"
    if cmd.lstrip().startswith("-"):
        raise UsageError("the stage command must not start with '-'")
    for d in deps:
        _safe_path(d, "dependency")
    for o in outs + metrics:
        _safe_path(o, "output")
    for p in params:
        if not re.fullmatch(r"([A-Za-z0-9_./-]+:)?[A-Za-z0-9_.,-]+", p):
            raise UsageError(f"'{p}' is not a valid param reference",
                             hint="use key, key1,key2 or file.yaml:key")
    if (root / "dvc.yaml").is_file():
        existing = parse_pipeline((root / "dvc.yaml").read_text(encoding="utf-8"))
        if existing.stage(name) and not force:
            raise MlgitError(f"stage '{name}' already exists in dvc.yaml",
                             hint="choose another name, or pass --force to replace it")
    script = None
    if template:
        from mlgit.scaffold import templates_root

        script = root / "src" / f"{name}.py"
        if not script.exists():
            body = (templates_root() / "stage" / f"{template}.py").read_text().format(name=name)
            script.parent.mkdir(parents=True, exist_ok=True)
            script.write_text(body, encoding="utf-8")
            if f"src/{name}.py" not in deps:
                deps = [f"src/{name}.py", *deps]
        else:
            script = None
    args = ["stage", "add", "-n", name, *(["--force"] if force else [])]
    for d in deps:
        args += ["-d", d]
    for o in outs:
        args += ["-o", o]
    for p in params:
        args += ["-p", p]
    for m in metrics:
        args += ["-M", m]
    args.append(cmd)
    try:
        dvc.dvc(args, root)
    except MlgitError:
        if script is not None:
            script.unlink(missing_ok=True)
        raise
    return script


def list_stages(root: Path) -> list[StageRow]:
    path = root / "dvc.yaml"
    if not path.is_file():
        raise NotFoundError(f"no dvc.yaml in {root}",
                            hint="add a stage with `mlgit stage add NAME -c CMD`, or `mlgit init`")
    pipeline: Pipeline = parse_pipeline(path.read_text(encoding="utf-8"))
    rows = []
    for s in pipeline.stages:
        rows.append(StageRow(
            s.name, s.cmd, s.deps,
            tuple(o.path for o in s.outs if o.kind == "out"),
            tuple(f"{p.file}:{','.join(p.keys)}" if p.keys else p.file for p in s.params),
            tuple(o.path for o in s.outs if o.kind == "metrics"),
        ))
    return rows
