"""Editing `dvc.yaml` in place (ruamel round trip: comments and key order survive)."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

from mlgit.errors import MlgitError, UsageError
from mlgit.project import parse_pipeline

# GTO's artifact-name grammar (gto/constants.py): what GTO and `dvc artifacts get` accept.
ARTIFACT_NAME = re.compile(r"[a-zA-Z0-9]([a-zA-Z0-9\-/_]*[a-zA-Z0-9])?")


def artifact_name_for(path: str) -> str:
    stem = Path(path).stem.lower()
    name = re.sub(r"[^a-z0-9-_]+", "-", stem).strip("-_") or "model"
    return name


def validate_artifact_name(name: str) -> str:
    if not ARTIFACT_NAME.fullmatch(name):
        raise UsageError(f"'{name}' is not a valid artifact name",
                         hint="use letters, digits, '-', '_' or '/', starting and ending with a "
                         "letter or digit (GTO's rule)")
    return name


def declare_artifact(root: Path, name: str, path: str, *, type_: str | None = "model",
                     desc: str | None = None, dvcfile: str = "dvc.yaml") -> None:
    """Add `artifacts: {name: {path, type, desc}}`; `path` must be a stage output."""
    from ruamel.yaml import YAML

    validate_artifact_name(name)
    file = root / dvcfile
    text = file.read_text(encoding="utf-8")
    pipeline = parse_pipeline(text, dvcfile)
    outs = {o.path for o in pipeline.outputs()}
    norm = Path(path).as_posix().strip("/")
    if norm not in outs and not any(norm.startswith(o + "/") for o in outs):
        raise UsageError(f"{path} is not an output of any stage in {dvcfile}",
                         hint="outputs are: " + (", ".join(sorted(outs)) or "(none)"))
    if any(a.name == name for a in pipeline.artifacts):
        raise UsageError(f"artifact '{name}' is already declared in {dvcfile}")
    yaml = YAML()
    yaml.preserve_quotes = True
    doc: Any = yaml.load(text)
    if "artifacts" not in doc or doc["artifacts"] is None:
        doc["artifacts"] = {}
    entry: dict[str, Any] = {"path": norm}
    if type_:
        entry["type"] = type_
    if desc:
        entry["desc"] = desc
    doc["artifacts"][name] = entry
    buf = io.StringIO()
    yaml.dump(doc, buf)
    try:
        file.write_text(buf.getvalue(), encoding="utf-8")
    except OSError as exc:
        raise MlgitError(f"cannot write {dvcfile}: {exc.strerror}") from exc
