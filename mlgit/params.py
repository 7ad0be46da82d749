"""Params: flatten as DVC does, parse `-S key=value` overrides, apply them keeping comments."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlgit.errors import MlgitError, UsageError

_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*(\.[A-Za-z0-9_][A-Za-z0-9_-]*)*")
_FILE = re.compile(r"[A-Za-z0-9_./-]+\.(yaml|yml|json|toml|py)")
_EXP_FLOAT = re.compile(r"[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)[eE][-+]?[0-9]+")


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings become dotted keys (`train.lr`), as `dvc params diff` shows them.

    Lists and scalars are leaf values."""
    out: dict[str, Any] = {}
    if not isinstance(data, dict):
        return {prefix: data} if prefix else {}
    for key, value in data.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            out.update(flatten(value, name))
        else:
            out[name] = value
    return out


@dataclass(frozen=True)
class Override:
    file: str  # params file, relative to the repo root
    key: str  # dotted key
    values: tuple[Any, ...]  # one value, or several for a grid
    texts: tuple[str, ...]  # the values as the user typed them (for names and trailers)

    @property
    def is_grid(self) -> bool:
        return len(self.values) > 1


def split_top_level(text: str, sep: str = ",") -> list[str]:
    """Split on `sep` outside brackets/quotes: `0.1,0.2` -> two values, `[1,2]` -> one."""
    parts: list[str] = []
    cur: list[str] = []
    depth, quote, escaped = 0, "", False
    for ch in text:
        if escaped:  # `\"` inside a double-quoted string (YAML and JSON) does not close it
            escaped = False
        elif quote:
            if ch == "\\" and quote == '"':
                escaped = True
            elif ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    parts.append("".join(cur))
    return parts


def parse_value(text: str) -> Any:
    """Type a value like a YAML scalar: 0.1 -> float, true -> bool, [1,2] -> list."""
    import yaml

    if _EXP_FLOAT.fullmatch(text.strip()):
        # YAML 1.1 (PyYAML) reads 1e-5 as a string; DVC's params (YAML 1.2) and `dvc exp run
        # -S` read it as a number, and so must we (found by tests/test_properties.py)
        return float(text)
    try:
        value = yaml.safe_load(text) if text.strip() else ""
    except yaml.YAMLError as exc:
        raise UsageError(f"cannot read value '{text}' as YAML",
                         hint="quote strings and close brackets, e.g. -S 'key=[1, 2]'") from exc
    if isinstance(value, dict):
        raise UsageError(f"value '{text}' is a mapping; set its keys one by one",
                         hint="e.g. -S train.opt.name=adam -S train.opt.beta=0.9")
    return value


def parse_override(text: str, default_file: str = "params.yaml") -> Override:
    """`key=value`, `key=v1,v2` (grid) or `file.yaml:key=value`."""
    if "=" not in text:
        raise UsageError(f"-S '{text}' has no '='", hint="write -S key=value, e.g. -S train.lr=0.1")
    lhs, _, rhs = text.partition("=")
    file = default_file
    if ":" in lhs:
        file, _, lhs = lhs.rpartition(":")
        if not _FILE.fullmatch(file) or ".." in file.split("/") or file.startswith(("/", "-")):
            raise UsageError(f"-S '{text}': '{file}' is not a params file inside the repo",
                             hint="write -S other.yaml:key=value with a relative path")
    key = lhs.strip()
    if not _KEY.fullmatch(key):
        raise UsageError(f"-S '{text}': '{key}' is not a valid param key",
                         hint="keys are dotted names like train.lr")
    texts = tuple(t.strip() for t in split_top_level(rhs))
    if len(texts) > 1 and any(t == "" for t in texts):
        raise UsageError(f"-S '{text}': empty value in a comma-separated grid")
    values = tuple(parse_value(t) for t in texts)
    return Override(file, key, values, texts)


@dataclass(frozen=True)
class AppliedChange:
    file: str
    key: str
    old: Any
    new: Any


def apply_overrides(root: Path, overrides: list[tuple[str, str, Any]], *,
                    allow_add: bool = False) -> list[AppliedChange]:
    """Set (file, key, value) triples in the params files under `root`.

    YAML files keep their comments and key order (ruamel.yaml round trip, as DVC does).
    Unknown keys are an error unless `allow_add`; a key whose value is a mapping is an error.
    """
    by_file: dict[str, list[tuple[str, Any]]] = {}
    for file, key, value in overrides:
        by_file.setdefault(file, []).append((key, value))
    changes: list[AppliedChange] = []
    for file, items in by_file.items():
        path = root / file
        doc, dump = _load_roundtrip(path, file, create=allow_add)
        for key, value in items:
            changes.append(_set_key(doc, file, key, value, allow_add))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dump(doc), encoding="utf-8")
    return changes


def _load_roundtrip(path: Path, file: str, create: bool) -> tuple[Any, Any]:
    import io
    import json

    if not path.is_file():
        if not create:
            raise UsageError(f"params file {file} does not exist",
                             hint="check the file name, or pass --add to create it")
        text = ""
    else:
        text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        try:
            doc = json.loads(text) if text.strip() else {}
        except ValueError as exc:
            raise MlgitError(f"{file} is not valid JSON", hint=f"fix {file} and rerun") from exc
        return doc, lambda d: json.dumps(d, indent=2) + "\n"
    if path.suffix == ".toml":
        import tomllib

        import tomlkit  # shipped with DVC; keeps TOML comments

        try:
            tomllib.loads(text)
            tdoc = tomlkit.parse(text)
        except Exception as exc:
            raise MlgitError(f"{file} is not valid TOML", hint=f"fix {file} and rerun") from exc
        return tdoc, lambda d: tomlkit.dumps(d)
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    rt = YAML(typ="rt")  # ruamel's round-trip loader: safe, and keeps comments and order
    rt.preserve_quotes = True
    try:
        doc = rt.load(text) if text.strip() else None
    except YAMLError as exc:
        raise MlgitError(f"{file} is not valid YAML", hint=f"fix {file} and rerun") from exc
    if doc is None:
        from ruamel.yaml.comments import CommentedMap

        doc = CommentedMap()

    def dump(d: Any) -> str:
        buf = io.StringIO()
        rt.dump(d, buf)
        return buf.getvalue()

    return doc, dump


def _set_key(doc: Any, file: str, key: str, value: Any, allow_add: bool) -> AppliedChange:
    if not isinstance(doc, dict):
        raise MlgitError(f"{file}: expected a mapping at the top level")
    parts = key.split(".")
    node = doc
    for i, part in enumerate(parts[:-1]):
        if part not in node:
            if not allow_add:
                raise _unknown(file, key, ".".join(parts[: i + 1]))
            node[part] = {}
        node = node[part]
        if not isinstance(node, dict):
            raise UsageError(f"{file}: {'.'.join(parts[: i + 1])} is a value, not a section",
                             hint=f"cannot set {key} inside it")
    last = parts[-1]
    if last not in node and not allow_add:
        raise _unknown(file, key, key)
    old = node.get(last)
    if isinstance(old, dict):
        raise UsageError(f"{file}: {key} is a section, not a value",
                         hint=f"set one of its keys, e.g. -S {key}.{next(iter(old), 'name')}=...")
    node[last] = value
    return AppliedChange(file, key, old, value)


def _unknown(file: str, key: str, missing: str) -> UsageError:
    return UsageError(f"{file} has no param '{missing}'",
                      hint=f"check the spelling of '{key}', or pass --add to create it")
