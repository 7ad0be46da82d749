"""Experiments as Git branches: the shared model.

An experiment is a branch `<prefix><name>` (prefix `exp/` by default) whose tip commit records a
run: params, `dvc.lock`, metrics, and Git trailers that say what it is, so everything can be
read back from Git alone:

    Mlgit-Experiment: lr-sweep-lr0.01
    Mlgit-Base: <sha of the commit it started from>
    Mlgit-Params: train.lr=0.01; other.yaml:model.depth=3

`Mlgit-Params` lists every param whose value differs from the base (the `-S` overrides plus any
params edit carried from the work tree), `key=value` joined by `; `, keys of files other than
params.yaml written `file:key`, values as JSON where plain text would be ambiguous.

This module holds names, grid planning, trailers and param diffs; `exp_create` writes
experiments, `exp_read` lists and shows them, `exp_manage` removes and imports them.
"""

from __future__ import annotations

import itertools
import json
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlgit import git, params
from mlgit.config import Config
from mlgit.errors import UsageError
from mlgit.metrics import RevisionData
from mlgit.params import Override, split_top_level
from mlgit.project import DEFAULT_PARAMS

TRAILER_EXPERIMENT = "Mlgit-Experiment"
TRAILER_BASE = "Mlgit-Base"
TRAILER_PARAMS = "Mlgit-Params"
TRAILER_IMPORTED = "Mlgit-Imported-From"

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
MAX_NAME = 100
_UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9._-]+")
_TRAILER_LINE = re.compile(r"([A-Za-z0-9][A-Za-z0-9-]*)\s*:\s?(.*)")


# --- names ------------------------------------------------------------------------------------


def branch_of(config: Config, name: str) -> str:
    return f"{config.exp_prefix}{name}"


def strip_prefix(config: Config, text: str) -> str:
    """`exp/foo`, `refs/heads/exp/foo` and `foo` all name experiment `foo`."""
    text = text.removeprefix("refs/heads/")
    return text.removeprefix(config.exp_prefix)


def name_problem(name: str) -> str | None:
    """Why `name` cannot be an experiment name, or None. Pure: no Git, no file system."""
    if not name:
        return "is empty"
    if name.startswith("-"):
        return "starts with '-'"
    if not NAME_PATTERN.fullmatch(name):
        bad = sorted({c for c in name if not re.fullmatch(r"[A-Za-z0-9._-]", c)})
        shown = ", ".join("space" if c == " " else repr(c) for c in bad[:3])
        return f"contains {shown}" if bad else "must start with a letter or digit"
    if ".." in name:
        return "contains '..'"
    if name.endswith(".") or name.endswith(".lock"):
        return "ends with '.' or '.lock'"
    if len(name) > MAX_NAME:
        return f"is longer than {MAX_NAME} characters"
    return None


def require_valid_name(name: str, branch: str | None = None) -> None:
    """A UsageError saying what is wrong with `name` (and its `branch`, checked by Git)."""
    problem = name_problem(name)
    if problem is None and branch is not None and not git.check_ref_format(branch):
        problem = "is not a valid Git branch name"
    if problem is not None:
        raise UsageError(f"experiment name '{name}' {problem}",
                         hint="use letters, digits, '.', '_' and '-', starting with a letter or "
                         "digit, e.g. lr-0.01")


def check_new_name(root: Path, config: Config, name: str) -> str:
    """The branch for a new experiment `name`, or a UsageError saying what is wrong with it."""
    branch = branch_of(config, name)
    require_valid_name(name, branch)
    if git.branch_exists(root, branch):
        raise UsageError(f"experiment '{name}' already exists (branch {branch})",
                         hint=f"choose another name, or remove it first: mlgit exp rm {name}")
    return branch


# --- a grid of runs ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Point:
    """One experiment to create: its name and the (file, key, value) settings it applies."""

    name: str
    settings: tuple[tuple[str, str, Any], ...]
    texts: tuple[tuple[str, str], ...]  # (display key, value as typed)


def display_key(file: str, key: str) -> str:
    return key if file == DEFAULT_PARAMS else f"{file}:{key}"


def plan_points(name: str, overrides: Sequence[Override]) -> list[Point]:
    """One point per combination of the overrides' values.

    A single combination keeps `name`. A grid names each point `NAME-<key><value>...` for the
    keys that vary, in the order given (`-S train.lr=0.01,0.1 -S train.depth=3,5` gives
    `NAME-lr0.01-depth3` ...): the key is its last segment (more segments if two grid keys share
    it), the value as typed with characters outside `[A-Za-z0-9._-]` replaced by `_`. If that
    cannot give distinct valid names, the points are `NAME-1` ... `NAME-N` instead.
    """
    seen: set[tuple[str, str]] = set()
    for o in overrides:
        if (o.file, o.key) in seen:
            raise UsageError(f"-S {display_key(o.file, o.key)} is given twice",
                             hint=f"for a grid, give the values once: -S {o.key}=A,B")
        seen.add((o.file, o.key))
    grid = [o for o in overrides if o.is_grid]
    labels = _grid_labels(grid)
    points = []
    for choice in itertools.product(*[range(len(o.values)) for o in overrides]):
        picked = list(zip(overrides, choice, strict=True))
        varying = [o.texts[i] for o, i in picked if o.is_grid]
        suffix = "-".join(label + _sanitise(t) for label, t in zip(labels, varying, strict=True))
        points.append(Point(
            f"{name}-{suffix}" if grid else name,
            tuple((o.file, o.key, o.values[i]) for o, i in picked),
            tuple((display_key(o.file, o.key), o.texts[i]) for o, i in picked),
        ))
    names = [p.name for p in points]
    if len(set(names)) != len(names) or any(name_problem(n) for n in names):
        points = [Point(f"{name}-{i}", p.settings, p.texts) for i, p in enumerate(points, 1)]
    return points


def _grid_labels(grid: Sequence[Override]) -> list[str]:
    depth = 1
    while True:
        labels = [".".join(o.key.split(".")[-depth:]) for o in grid]
        longest = max((len(o.key.split(".")) for o in grid), default=0)
        if len(set(labels)) == len(labels) or depth >= longest:
            break
        depth += 1
    if len(set(labels)) != len(labels):  # same key in two files
        labels = [f"{Path(o.file).stem}.{o.key}" for o in grid]
    return [_sanitise(label) for label in labels]


def _sanitise(text: str) -> str:
    return re.sub(r"\.{2,}", ".", _UNSAFE_CHARS.sub("_", text)).strip("_")


def check_overrides(root: Path, reader: git.ObjectReader | None, base: str | None,
                     from_worktree: Sequence[str] | bool, point: Point, allow_add: bool) -> None:
    """Apply `point`'s overrides to copies of the params files, to fail before anything changes
    (unknown key without `allow_add`, a key that is a section, a file that does not parse).

    A file comes from the work tree if `from_worktree` is True or lists it, else from `base`."""
    files = sorted({file for file, _key, _value in point.settings})
    with tempfile.TemporaryDirectory(prefix="mlgit-params-") as tmp:
        for file in files:
            if from_worktree is True or (from_worktree and file in from_worktree):
                path = root / file
                data = path.read_bytes() if path.is_file() else None
            else:
                data = reader.read(base, file) if reader is not None and base else None
            if data is not None:
                target = Path(tmp) / file
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
        params.apply_overrides(Path(tmp), list(point.settings), allow_add=allow_add)


def check_pipeline(root: Path, reader: git.ObjectReader | None, base: str | None,
                   from_worktree: Sequence[str] | bool) -> None:
    """Parse the dvc.yaml the run will use, so a broken one fails before a worktree exists or
    DVC starts (DVC's own message is many lines). Same file choice as `check_overrides`."""
    from mlgit.project import parse_pipeline

    if from_worktree is True or (from_worktree and "dvc.yaml" in from_worktree):
        path = root / "dvc.yaml"
        data = path.read_bytes() if path.is_file() else None
    else:
        data = reader.read(base, "dvc.yaml") if reader is not None and base else None
    if data is not None:
        parse_pipeline(data, "dvc.yaml")


# --- params and trailers ----------------------------------------------------------------------


@dataclass(frozen=True)
class ParamChange:
    key: str  # display key: `train.lr`, or `other.yaml:model.depth`
    old: Any
    new: Any
    status: str  # "changed", "added" or "removed"


def param_changes(base: RevisionData | None, head: RevisionData) -> list[ParamChange]:
    """Params whose value differs between `base` and `head`, per file, in file order."""
    old_files = base.params if base is not None else {}
    out: list[ParamChange] = []
    for file in dict.fromkeys([*head.params, *old_files]):
        old, new = old_files.get(file, {}), head.params.get(file, {})
        for key in dict.fromkeys([*new, *old]):
            shown = display_key(file, key)
            if key not in old:
                out.append(ParamChange(shown, None, new[key], "added"))
            elif key not in new:
                out.append(ParamChange(shown, old[key], None, "removed"))
            elif _differs(old[key], new[key]):
                out.append(ParamChange(shown, old[key], new[key], "changed"))
    return out


def _differs(a: Any, b: Any) -> bool:
    return type(a) is not type(b) or a != b


def format_value(value: Any) -> str:
    """A param value on one line: plain if unambiguous (`0.01`, `adam`), else JSON."""
    if isinstance(value, str):
        plain = (value and value.strip() == value and not re.search(r"[;\n\r\"'\[\]{},#]", value)
                 and _as_json(value) is _NOT_JSON)
        return value if plain else json.dumps(value, ensure_ascii=False)
    return json.dumps(value, ensure_ascii=False, default=str)


_NOT_JSON = object()


def _as_json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return _NOT_JSON


def parse_value_text(text: str) -> Any:
    value = _as_json(text)
    return text if value is _NOT_JSON else value


def format_params_trailer(changes: Sequence[ParamChange]) -> str:
    return "; ".join(f"{c.key}={format_value(c.new)}" for c in changes if c.status != "removed")


def parse_params_trailer(text: str) -> dict[str, Any]:
    """`train.lr=0.01; x=[1, 2]` -> {"train.lr": 0.01, "x": [1, 2]}."""
    out: dict[str, Any] = {}
    for part in split_top_level(text, ";"):
        key, sep, value = part.strip().partition("=")
        if sep and key:
            out[key.strip()] = parse_value_text(value.strip())
    return out


def read_trailers(message: str) -> dict[str, str]:
    """The trailers of a commit message (its last paragraph, when every line is `Key: value`).

    In process, for reading many commits; for our messages it agrees with
    `git interpret-trailers --parse`, which the tests check."""
    paragraphs = [p for p in re.split(r"\n\s*\n", message.strip()) if p.strip()]
    if len(paragraphs) < 2:
        return {}
    out: dict[str, str] = {}
    for line in paragraphs[-1].splitlines():
        match = _TRAILER_LINE.fullmatch(line.strip())
        if match is None:
            return {}
        out[match.group(1)] = match.group(2).strip()
    return out


def build_message(name: str, base: str, changes: Sequence[ParamChange], *,
                  message: str | None = None, notes: Sequence[str] = (),
                  extra: Sequence[tuple[str, str]] = ()) -> str:
    """Commit message of an experiment run: subject, notes, then the trailer block."""
    if message and message.strip():
        head = message.strip()
    else:
        settings = ", ".join(f"{c.key}={format_value(c.new)}" for c in changes
                             if c.status != "removed")
        head = f"Experiment {name}" + (f": {settings}" if settings else "")
        if len(head) > 72:
            head = head[:69].rstrip() + "..."
    trailers = [f"{TRAILER_EXPERIMENT}: {name}", f"{TRAILER_BASE}: {base}"]
    params_text = format_params_trailer(changes)
    if params_text:
        trailers.append(f"{TRAILER_PARAMS}: {params_text}")
    trailers += [f"{k}: {v}" for k, v in extra]
    parts = [head, *(["\n".join(notes)] if notes else []), "\n".join(trailers)]
    return "\n\n".join(parts) + "\n"


# --- metrics ----------------------------------------------------------------------------------


def primary_metric(config: Config, *revisions: RevisionData | None) -> str | None:
    """The metric to rank by: mlgit.yaml's `metric`, else the first metric any revision has."""
    if config.metric:
        return config.metric
    for rev in revisions:
        if rev is not None:
            names = list(rev.flat_metrics())
            if names:
                return names[0]
    return None


def metric_value(rev: RevisionData | None, metric: str | None) -> Any:
    if rev is None or metric is None:
        return None
    return rev.flat_metrics().get(metric)


def delta(new: Any, old: Any) -> float | None:
    if isinstance(new, int | float) and isinstance(old, int | float) \
            and not isinstance(new, bool) and not isinstance(old, bool):
        return float(new) - float(old)
    return None
