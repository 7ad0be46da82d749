"""A tiny template renderer for CI files, with a syntax that cannot collide with shell
(`${X}`), GitHub expressions (`${{ x }}`) or GitLab variables (`$X`):

- `@@NAME@@` is replaced by a value; an `@@NAME@@` alone on a line expands to several lines
  indented like it (or to nothing, and the line goes);
- lines `@@if JOB@@` ... `@@endif@@` keep what is between them only when JOB is generated.

It knows nothing about validation: `mlgit.workflows` checks every value and quotes it (with
`yaml_str` / `groovy_str`) before it gets here. Template mistakes are bugs (exit 3).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence

from mlgit.errors import MlgitError

_PLACEHOLDER = re.compile(r"@@([A-Z_]+)@@")
_BLOCK = re.compile(r"^(?P<indent>[ \t]*)@@(?P<name>[A-Z_]+)@@[ \t]*$")
_IF = re.compile(r"^[ \t]*@@if (?P<job>[a-z]+)@@[ \t]*$")
_ENDIF = re.compile(r"^[ \t]*@@endif@@[ \t]*$")


def render_template(text: str, values: Mapping[str, str | list[str]],
                    jobs: Sequence[str] = ()) -> str:
    """Fill a template. Unknown placeholders and unbalanced sections are bugs: they raise."""
    out: list[str] = []
    keep: bool | None = None
    for line in text.splitlines():
        if m := _IF.match(line):
            if keep is not None:
                raise MlgitError("CI template: nested @@if@@", exit_code=3)
            keep = m["job"] in jobs
            continue
        if _ENDIF.match(line):
            if keep is None:
                raise MlgitError("CI template: @@endif@@ without @@if@@", exit_code=3)
            keep = None
            continue
        if keep is False:
            continue
        if m := _BLOCK.match(line):
            value = _lookup(values, m["name"])
            lines = value if isinstance(value, list) else [value]
            out.extend(m["indent"] + v for v in lines)
            continue
        out.append(_PLACEHOLDER.sub(lambda m: _scalar(values, m[1]), line))
    if keep is not None:
        raise MlgitError("CI template: @@if@@ without @@endif@@", exit_code=3)
    text_out = "\n".join(out) + "\n"
    if "@@" in text_out:
        raise MlgitError("CI template: a placeholder was left unfilled", exit_code=3)
    return text_out


def _lookup(values: Mapping[str, str | list[str]], name: str) -> str | list[str]:
    if name not in values:
        raise MlgitError(f"CI template: unknown placeholder @@{name}@@", exit_code=3)
    return values[name]


def _scalar(values: Mapping[str, str | list[str]], name: str) -> str:
    value = _lookup(values, name)
    if isinstance(value, list):
        raise MlgitError(f"CI template: @@{name}@@ is a block; put it alone on a line",
                         exit_code=3)
    return value


def yaml_str(value: str) -> str:
    """A double-quoted YAML scalar (JSON's string syntax is valid YAML)."""
    return json.dumps(value, ensure_ascii=True)


def groovy_str(value: str) -> str:
    """A single-quoted Groovy string: no interpolation. Values are validated: no ' or \\."""
    if "'" in value or "\\" in value or "\n" in value:
        raise MlgitError(f"cannot write {value!r} as a Groovy literal", exit_code=3)
    return f"'{value}'"
