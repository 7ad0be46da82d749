"""Promotion gates: checked before any tag is written; a failure writes nothing.

- `--require "METRIC>=VALUE"`: parsed by a strict pattern and compared with `operator`, never
  `eval`ed;
- not worse than the model now in the stage, on the primary metric (direction from config);
- `dvc.lock` consistent with the commit: the params it recorded are the params committed, and
  files tracked by Git hash to what it recorded (no stale pipeline);
- the model's bytes are in the DVC cache or remote (else nobody could `dvc artifacts get` it).
"""

from __future__ import annotations

import hashlib
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlgit import modelstore
from mlgit.errors import GateFailed, UsageError
from mlgit.git import ObjectReader
from mlgit.metrics import RevisionData
from mlgit.params import flatten
from mlgit.render import fmt_value

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
    "==": operator.eq, "!=": operator.ne,
}
_REQUIRE_RE = re.compile(
    r"\s*(?P<metric>[A-Za-z0-9_][A-Za-z0-9_.:/\-]*)\s*(?P<op><=|>=|==|!=|<|>)\s*"
    r"(?P<value>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*"
)


@dataclass(frozen=True)
class Requirement:
    metric: str
    op: str
    value: float
    text: str

    def holds(self, actual: float) -> bool:
        return _OPS[self.op](actual, self.value)


@dataclass(frozen=True)
class GateResult:
    gate: str
    ok: bool
    detail: str
    forced: bool = False  # it failed, and --force skipped it


@dataclass(frozen=True)
class GateReport:
    results: tuple[GateResult, ...]

    @property
    def ok(self) -> bool:
        return all(r.ok or r.forced for r in self.results)

    @property
    def failed(self) -> tuple[GateResult, ...]:
        return tuple(r for r in self.results if not r.ok and not r.forced)

    @property
    def forced(self) -> bool:
        return any(r.forced for r in self.results)


class GatesFailed(GateFailed):
    """Some gates failed; carries the report so the CLI can show the table."""

    def __init__(self, report: GateReport, what: str = "promotion gate"):
        n = len(report.failed)
        super().__init__(f"{n} {what}{'s' if n != 1 else ''} failed; no tag was written",
                         hint="fix what the table shows and rerun (--force skips only the "
                         "'not worse' gate)")
        self.report = report


def parse_requirement(text: str) -> Requirement:
    """`METRIC OP NUMBER` with OP one of < <= > >= == !=."""
    m = _REQUIRE_RE.fullmatch(text)
    if m is None:
        raise UsageError(f"--require '{text}' is not METRIC OP NUMBER",
                         hint='e.g. --require "accuracy>=0.9" (operators: < <= > >= == !=)')
    return Requirement(m["metric"], m["op"], float(m["value"]), text.strip())


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def check_requirements(reqs: list[Requirement], metrics: dict[str, Any]) -> list[GateResult]:
    out = []
    for req in reqs:
        gate = f"require {req.text}"
        if req.metric not in metrics:
            have = ", ".join(sorted(metrics)) or "(none)"
            out.append(GateResult(gate, False, f"the commit has no metric '{req.metric}'; "
                                  f"it has: {have}"))
            continue
        actual = _number(metrics[req.metric])
        if actual is None:
            out.append(GateResult(gate, False, f"{req.metric} = {metrics[req.metric]!r} is not "
                                  "a number"))
            continue
        out.append(GateResult(gate, req.holds(actual), f"{req.metric} = {fmt_value(actual)}"))
    return out


def check_not_worse(metric: str | None, direction: str, candidate: dict[str, Any],
                    current: dict[str, Any] | None, current_label: str, force: bool) -> GateResult:
    """The candidate's primary metric is at least as good as the current stage holder's."""
    gate = f"not worse than {current_label}"
    if current is None:
        return GateResult(gate, True, "nothing in the stage yet")
    if metric is None:
        return GateResult(gate, True, "no primary metric configured or found: skipped")
    new, old = _number(candidate.get(metric)), _number(current.get(metric))
    if new is None:
        return GateResult(gate, False, f"the candidate has no numeric '{metric}'", forced=force)
    if old is None:
        return GateResult(gate, True, f"{current_label} has no numeric '{metric}': nothing to "
                          "compare")
    worse = new < old if direction == "max" else new > old
    detail = f"{metric} {fmt_value(new)} vs {fmt_value(old)} ({direction} is better)"
    return GateResult(gate, not worse, detail, forced=worse and force)


def check_lock(reader: ObjectReader, rev: RevisionData) -> GateResult:
    """dvc.lock records the params and Git-tracked files the commit actually has."""
    gate = "dvc.lock matches the commit"
    if rev.pipeline is None or rev.lock is None:
        return GateResult(gate, False, "the commit has no dvc.yaml or no dvc.lock: run the "
                          "pipeline (dvc repro) and commit")
    problems: list[str] = []
    for stage in rev.pipeline.stages:
        locked = rev.lock.stage(stage.name)
        if locked is None:
            problems.append(f"stage '{stage.name}' never ran")
            continue
        for ref in stage.params:
            recorded = locked.params.get(ref.file, {})
            have = rev.params.get(ref.file, {})
            for key in ref.keys or tuple(recorded):
                want = flatten({key: recorded[key]}) if key in recorded else None
                got = {k: v for k, v in have.items() if k == key or k.startswith(key + ".")}
                if want is None or want != got:
                    problems.append(f"{ref.file}:{key} differs from what '{stage.name}' ran with")
        if not rev.lock.legacy_hashes:
            for item in (*locked.deps, *locked.outs):
                if item.is_dir or not item.hash:
                    continue
                blob = reader.read(rev.sha or rev.rev, item.path)
                if blob is not None and hashlib.md5(blob, usedforsecurity=False).hexdigest() \
                        != item.hash:
                    problems.append(f"{item.path} changed after '{stage.name}' ran")
    problems = list(dict.fromkeys(problems))
    if problems:
        more = f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""
        return GateResult(gate, False, "; ".join(problems[:3]) + more
                          + ": rerun the pipeline (dvc repro) and commit")
    return GateResult(gate, True, "params and tracked files match")


def check_model_stored(root: Path, sha: str, path: str, md5: str | None) -> GateResult:
    gate = "model stored"
    if md5 is None:
        return GateResult(gate, False, f"dvc.lock records no hash for {path}")
    where = modelstore.locate(root, sha, path, md5)
    ok = where.in_cache or bool(where.in_remote)
    hint = "" if ok else ": run the pipeline (or dvc pull) so it exists, then dvc push"
    return GateResult(gate, ok, f"{path} {where.detail}{hint}")
