"""Editing `dvc.yaml` in place (ruamel round trip: comments and key order survive)."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

from mlgit.errors import MlgitError, UsageError
from mlgit.project import parse_pipeline
from mlgit.yamlio import load_yaml

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
    entry: dict[str, Any] = {"path": norm}
    if type_:
        entry["type"] = type_
    if desc:
        entry["desc"] = desc
    updated = _insert_artifact(text, name, entry)
    if updated is None or not _declares(updated, name, norm, dvcfile):
        updated = _round_trip_artifact(text, name, entry)
    try:
        file.write_text(updated, encoding="utf-8")
    except OSError as exc:
        raise MlgitError(f"cannot write {dvcfile}: {exc.strerror}") from exc


_PLAIN = re.compile(r"[A-Za-z0-9_./][A-Za-z0-9_./ ,()+-]*")


def _insert_artifact(text: str, name: str, entry: dict[str, Any]) -> str | None:
    """Add the entry as text at the end of a block-style `artifacts:` (or a new one), so the
    rest of the file stays byte for byte as the user wrote it; None if the layout is unusual."""
    lines = text.splitlines(keepends=True)
    indents = [len(ln) - len(ln.lstrip(" ")) for ln in lines if ln.strip()
               and not ln.lstrip().startswith("#") and ln.startswith(" ")]
    step = min(indents) if indents else 2
    pad = " " * step

    def scalar(v: str) -> str:
        plain = _PLAIN.fullmatch(v) and not v.endswith(" ") and load_yaml(v, "value") == v
        return v if plain else json.dumps(v)

    block = f"{pad}{name}:\n" + "".join(f"{pad * 2}{k}: {scalar(str(v))}\n"
                                        for k, v in entry.items())
    heads = [i for i, ln in enumerate(lines) if re.match(r"artifacts:\s*(#.*)?$", ln)]
    if not heads:
        if any(re.match(r"artifacts\s*:", ln) for ln in lines):
            return None  # a flow mapping or odd spacing: let the YAML round trip handle it
        sep = "" if not text or text.endswith("\n") else "\n"
        return f"{text}{sep}artifacts:\n{block}"
    end = heads[0] + 1
    for i in range(heads[0] + 1, len(lines)):
        ln = lines[i]
        if ln.strip() and not ln.startswith((" ", "#")):
            break
        if ln.strip() and not ln.lstrip().startswith("#"):
            end = i + 1
    if not lines[end - 1].endswith("\n"):
        lines[end - 1] += "\n"
    return "".join(lines[:end]) + block + "".join(lines[end:])


def _declares(text: str, name: str, path: str, dvcfile: str) -> bool:
    try:
        found = parse_pipeline(text, dvcfile).artifacts
    except MlgitError:
        return False
    return any(a.name == name and a.path == path for a in found)


def _round_trip_artifact(text: str, name: str, entry: dict[str, Any]) -> str:
    from ruamel.yaml import YAML

    rt = YAML(typ="rt")  # round trip: safe, keeps comments and order
    rt.preserve_quotes = True
    doc: Any = rt.load(text)
    if "artifacts" not in doc or doc["artifacts"] is None:
        doc["artifacts"] = {}
    doc["artifacts"][name] = entry
    buf = io.StringIO()
    rt.dump(doc, buf)
    return buf.getvalue()
