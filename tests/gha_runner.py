"""Runs the `run:` steps of a generated GitHub Actions job for real, as a runner would.

Each `run:` is written to a file and executed with `bash --noprofile --norc -eo pipefail`
(GitHub's default shell), in the job's workspace, with GitHub's default variables plus the
step's `env:` block. `${{ ... }}` expressions in `env:` and in a job's `if:` are evaluated
against a context built from the event JSON; anything else than a dotted context lookup (or
`a == b` / `a != b` of two lookups) fails loudly, so the test breaks if a template starts to
depend on something this runner does not model. `uses:` steps are the test's job (check out,
artifacts); steps whose id is in `skip` (installers) are skipped, and listed.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


@dataclass
class StepRun:
    id: str | None
    name: str
    kind: str  # "run", "uses" or "skipped"
    returncode: int = 0
    stdout: str = ""
    stderr: str = ""


@dataclass
class JobRun:
    name: str
    ran: bool
    steps: list[StepRun] = field(default_factory=list)


def lookup(context: Mapping[str, Any], path: str) -> Any:
    value: Any = context
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            raise KeyError(f"expression context has no {path!r}")
        value = value[part]
    return value


def evaluate(expr: str, context: Mapping[str, Any]) -> Any:
    expr = expr.strip()
    if m := re.fullmatch(r"([\w.-]+)\s*(==|!=)\s*([\w.-]+)", expr):
        left, right = lookup(context, m[1]), lookup(context, m[3])
        return (left == right) if m[2] == "==" else (left != right)
    if re.fullmatch(r"[\w.-]+", expr):
        return lookup(context, expr)
    raise ValueError(f"the test runner does not model the expression {expr!r}")


def substitute(text: str, context: Mapping[str, Any]) -> str:
    def one(m: re.Match[str]) -> str:
        value = evaluate(m[1], context)
        return "" if value is None else str(value)

    return _EXPR.sub(one, text)


def run_job(job_name: str, job: dict[str, Any], context: Mapping[str, Any], *,
            workspace: Path, env: Mapping[str, str], skip: set[str],
            on_uses: Callable[[dict[str, Any]], None]) -> JobRun:
    """Run one job's steps in order; stop at the first failing step (as GitHub does)."""
    cond = job.get("if")
    if cond is not None and not evaluate(str(cond), context):
        return JobRun(job_name, ran=False)
    result = JobRun(job_name, ran=True)
    for i, step in enumerate(job["steps"]):
        sid, name = step.get("id"), step.get("name", f"step {i}")
        if sid in skip:
            result.steps.append(StepRun(sid, name, "skipped"))
            continue
        if "uses" in step:
            on_uses(step)
            result.steps.append(StepRun(sid, name, "uses"))
            continue
        script = workspace.parent / f".step-{job_name}-{i}.sh"
        script.write_text(step["run"])
        step_env = dict(env)
        for key, value in (step.get("env") or {}).items():
            step_env[key] = substitute(str(value), context)
        proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
                              cwd=workspace, env=step_env, capture_output=True, text=True)
        result.steps.append(StepRun(sid, name, "run", proc.returncode, proc.stdout, proc.stderr))
        if proc.returncode != 0:
            break
    return result
