"""Reading structured files safely: YAML only through a safe loader (libyaml's CSafeLoader
when present), one helper per format.

Errors name the file so the user knows what to fix.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any, ClassVar

from mlgit.errors import MlgitError


class ParseError(MlgitError):
    """A file that exists but does not parse."""


def load_yaml(text: str | bytes, source: str) -> Any:
    import yaml  # pyyaml imports in ~20 ms; kept lazy so --version stays minimal

    # libyaml's CSafeLoader (same safe constructors as safe_load) parses ~10x faster: it is
    # what keeps reading dvc.lock/params at hundreds of revisions fast (`exp list`)
    return _load_with(getattr(yaml, "CSafeLoader", yaml.SafeLoader), text, source)


def _load_with(loader_class: Any, text: str | bytes, source: str) -> Any:
    import yaml

    loader = loader_class(text)
    try:
        return loader.get_single_data()  # what yaml.load does, with a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ParseError(f"{source} is not valid YAML{where}",
                         hint=f"fix {source} and rerun") from exc
    finally:
        loader.dispose()


# YAML 1.2 scalars, as DVC reads metrics and params files (ruamel.yaml, typ="safe"; the regular
# expressions are ruamel's). PyYAML speaks YAML 1.1, where `lr: 1e-5` is a string, `yes`/`on`
# are booleans, `010` is 8 and `1:20` is 80; DVC reads 1e-05, "yes", "on", 10 and "1:20".
_YAML12 = {
    "tag:yaml.org,2002:bool": (r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    "tag:yaml.org,2002:float": (
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |[-+]?\.[0-9_]+(?:[eE][-+][0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""", "-+0123456789."),
    "tag:yaml.org,2002:int": (
        r"""^(?:[-+]?0b[0-1_]+
        |[-+]?0o?[0-7_]+
        |[-+]?[0-9_]+
        |[-+]?0x[0-9a-fA-F_]+)$""", "-+0123456789"),
}
_loaders: dict[str, Any] = {}


def _yaml12_loader() -> Any:
    """libyaml's safe loader (PyYAML's if libyaml is missing) resolving scalars as YAML 1.2."""
    if "dvc" in _loaders:
        return _loaders["dvc"]
    import yaml

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class Yaml12Loader(base):  # type: ignore[misc,valid-type]
        yaml_implicit_resolvers: ClassVar[dict[str, list[Any]]] = {
            first: [(tag, rx) for tag, rx in resolvers if tag not in _YAML12]
            for first, resolvers in base.yaml_implicit_resolvers.items()}

    for tag, (pattern, firsts) in _YAML12.items():
        Yaml12Loader.add_implicit_resolver(tag, re.compile(pattern, re.X), list(firsts))
    Yaml12Loader.add_constructor("tag:yaml.org,2002:int", _construct_int12)
    _loaders["dvc"] = Yaml12Loader
    return Yaml12Loader


def _construct_int12(loader: Any, node: Any) -> int:
    """YAML 1.2 integers: `010` is ten, `0o10` is eight (PyYAML would read 8 and fail)."""
    text = str(loader.construct_scalar(node)).replace("_", "")
    sign = -1 if text.startswith("-") else 1
    text = text.lstrip("+-")
    for prefix, base in (("0b", 2), ("0x", 16), ("0o", 8)):
        if text.startswith(prefix):
            return sign * int(text[2:], base)
    return sign * int(text)


def load_dvc_yaml_file(text: str | bytes, source: str) -> Any:
    """A metrics or params YAML file read as DVC reads it (YAML 1.2 scalars, see _YAML12)."""
    return _load_with(_yaml12_loader(), text, source)


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
    return load_dvc_yaml_file(text, source)


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
