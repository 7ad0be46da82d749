"""Reading structured files safely: YAML only through a safe loader (libyaml's CSafeLoader
when present), one helper per format.

Errors name the file so the user knows what to fix.
"""

from __future__ import annotations

import json
import os
from typing import Any

from mlgit.errors import MlgitError


class ParseError(MlgitError):
    """A file that exists but does not parse."""


def load_yaml(text: str | bytes, source: str) -> Any:
    import yaml  # pyyaml imports in ~20 ms; kept lazy so --version stays minimal

    # libyaml's CSafeLoader (same safe constructors as safe_load) parses ~10x faster: it is
    # what keeps reading dvc.lock/params at hundreds of revisions fast (`exp list`)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
    try:
        return loader.get_single_data()  # what yaml.load does, with a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ParseError(f"{source} is not valid YAML{where}",
                         hint=f"fix {source} and rerun") from exc
    finally:
        loader.dispose()


def dump_yaml(data: Any) -> str:
    import yaml

    return str(yaml.safe_dump(data, sort_keys=False, default_flow_style=False))


def load_structured(data: str | bytes, source: str) -> Any:
    """Parse a metrics/params file by its extension, as DVC does (JSON, YAML, TOML)."""
    suffix = os.path.splitext(source)[1].lower()  # not pathlib: called per file, per ref
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    if suffix == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ParseError(f"{source} is not valid JSON (line {exc.lineno})") from exc
    if suffix == ".toml":
        import tomllib  # rare for metrics and params: not paid by every start

        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ParseError(f"{source} is not valid TOML: {exc}") from exc
    if suffix in (".csv", ".tsv"):
        return _load_table(text, "\t" if suffix == ".tsv" else ",")
    return load_yaml(text, source)


def _load_table(text: str, sep: str) -> dict[str, Any]:
    """DVC reads a CSV/TSV metrics file's last row as the metrics (header = names)."""
    import csv
    import io

    rows = list(csv.reader(io.StringIO(text), delimiter=sep))
    if len(rows) < 2:
        return {}
    return {k: _number(v) for k, v in zip(rows[0], rows[-1], strict=False)}


def _number(value: str) -> Any:
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            continue
    return value
