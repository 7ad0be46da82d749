"""The pull-request metrics report (`mlgit ci report`), built on `mlgit diff`.

A headline (the primary metric, better or worse than the base, by how much), then `mlgit diff`'s
own Markdown (metrics, changed params, data/model changed), the experiment trailers of the
head commit, the registry's stages when the registry is available, and an optional Mermaid
chart. It starts with the hidden marker that `mlgit ci comment` uses to keep one sticky
comment. Every piece of repository text goes through `render.md_escape`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlgit import __version__, git
from mlgit.comments import MARKER
from mlgit.config import load_config
from mlgit.diffing import DiffResult, diff_revisions
from mlgit.errors import MlgitError
from mlgit.metrics import is_number
from mlgit.render import fmt_value, md_escape, md_table
from mlgit.views import fmt_change, render_diff_markdown

# Where each CI system names the branch a pull/merge request targets.
_TARGET_VARS = ("GITHUB_BASE_REF", "CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "CHANGE_TARGET")
_HEADLINE = {"better": "🟢", "worse": "🔴", "same": "⚪", "changed": "🟡", "added": "🆕",
             "removed": "⚠️", "error": "⚠️"}


@dataclass(frozen=True)
class RegistryStage:
    artifact: str
    stage: str
    version: str
    commit: str
    at_base: bool  # the base revision is the commit in this stage


@dataclass(frozen=True)
class PrReport:
    base: str  # revision compared against, as resolved (e.g. origin/main)
    head: str
    diff: DiffResult  # its sides carry the labels shown in the report
    headline: str  # plain text (no Markdown), e.g. "accuracy 0.91 → 0.94, +0.03 (+3.30%): better than main"
    trailers: dict[str, str]  # the head commit's Mlgit-* trailers
    registry: tuple[RegistryStage, ...]


def default_base(root: Path, env: Mapping[str, str]) -> str | None:
    """The pull request's target in CI (preferring its remote-tracking ref), else None."""
    for var in _TARGET_VARS:
        target = env.get(var, "").strip()
        if target:
            remote = f"origin/{target}"
            return remote if git.rev_parse(root, remote) else target
    return None


def build_report(root: Path, base: str | None = None, head: str | None = None, *,
                 base_label: str | None = None, head_label: str | None = None,
                 env: Mapping[str, str] | None = None, precision: int = 4) -> PrReport:
    """Diff `base` (default: the CI target branch, else the base branch) with `head` (HEAD)."""
    config = load_config(root)
    env = env or {}
    from_env = base is None
    base = base or default_base(root, env)
    if head is None:
        head = "HEAD"
        head_label = head_label or git.current_branch(root)
    result = diff_revisions(root, base, head, config=config)
    if base_label is None and from_env and result.a.label.startswith("origin/"):
        base_label = result.a.label.removeprefix("origin/")
    if base_label:
        result = dataclasses.replace(result, a=dataclasses.replace(result.a, label=base_label))
    if head_label:
        result = dataclasses.replace(result, b=dataclasses.replace(result.b, label=head_label))
    return PrReport(result.a.label if base is None else base, head, result,
                    headline_text(result, precision), _trailers(root, result.b.sha),
                    _registry_stages(root, result.a.sha))


def headline_text(result: DiffResult, precision: int = 4) -> str:
    """One line on the primary metric, plain text: value, change, verdict against the base."""
    m = result.primary
    if m is None:
        return "no metrics at either revision"
    old, new, base = fmt_value(m.old, precision), fmt_value(m.new, precision), result.a.label
    if m.status in ("better", "worse"):
        change = fmt_change(m.change, m.rel_change, precision)
        return f"{m.name} {old} → {new}, {change}: {m.status} than {base}"
    if m.status == "changed":
        return f"{m.name} {old} → {new}: changed from {base}"
    if m.status == "same":
        return f"{m.name} {new}: unchanged from {base}"
    if m.status == "added":
        return f"{m.name} {new}: new (not in {base})"
    if m.status == "removed":
        return f"{m.name}: missing (was {old} in {base})"
    return f"{m.name}: could not be read"


def _trailers(root: Path, sha: str | None) -> dict[str, str]:
    if sha is None:
        return {}
    with git.ObjectReader(root) as reader:
        info = reader.commit(sha)
    if info is None:
        return {}
    return {k: v for k, v in git.parse_trailers(info.message).items()
            if k.lower().startswith("mlgit-")}


def _registry_stages(root: Path, base_sha: str | None) -> tuple[RegistryStage, ...]:
    """Who holds each registry stage, if this mlgit has the registry (#6); else nothing."""
    from mlgit import registry

    load = getattr(registry, "load_registry", None)
    if load is None:
        return ()
    try:
        states = load(root)
    except MlgitError:
        return ()  # a broken tag must not stop the pull-request report
    return tuple(RegistryStage(s.artifact, h.stage, h.version, h.commit, h.commit == base_sha)
                 for s in states for h in s.stages)


# --- Markdown -----------------------------------------------------------------------------------


def render_report_markdown(report: PrReport, *, chart: bool = False,
                           precision: int = 4) -> str:
    """The pull-request comment: marker first, then headline, diff, trailers, registry."""
    d = report.diff
    m = d.primary
    icon = _HEADLINE.get(m.status, "ℹ️") if m else "ℹ️"
    parts = [MARKER,
             f"### {icon} {md_escape(report.headline)}",
             "",
             render_diff_markdown(d, precision).rstrip("\n"),
             ""]
    if report.trailers:
        parts += ["#### Experiment", "",
                  md_table(["Trailer", "Value"], sorted(report.trailers.items())).rstrip("\n"),
                  ""]
    if report.registry:
        rows = [[s.artifact, s.stage, s.version, s.commit[:7], "yes" if s.at_base else "no"]
                for s in report.registry]
        parts += ["#### Registry", "",
                  md_table(["Artifact", "Stage", "Version", "Commit",
                            f"Is {d.a.label}"], rows).rstrip("\n"), ""]
    if chart:
        parts += [_chart(d, precision).rstrip("\n"), ""]
    parts.append(f"<sub>mlgit {md_escape(__version__)} · one comment, updated on every push"
                 "</sub>")
    return "\n".join(parts) + "\n"


def _chart(d: DiffResult, precision: int) -> str:
    """A Mermaid bar chart of the primary metric, base vs head (GitHub renders it)."""
    from mlgit.views import _mermaid_label  # Mermaid's quoting rules live with compare's chart

    m = d.primary
    points = [(side.label, v) for side, v in ((d.a, m.old), (d.b, m.new))
              if is_number(v)] if m else []
    if m is None or not points:
        return "_No numeric values of the primary metric to chart._"
    xs = ", ".join(f'"{_mermaid_label(label)}"' for label, _ in points)
    ys = ", ".join(fmt_value(float(v), precision) for _, v in points)
    label = _mermaid_label(m.name)
    return ("```mermaid\nxychart-beta\n"
            f'    title "{label}"\n'
            f"    x-axis [{xs}]\n"
            f'    y-axis "{label}"\n'
            f"    bar [{ys}]\n```")


def report_data(report: PrReport) -> dict[str, Any]:
    """The JSON shape of `mlgit ci report --format json`."""
    primary = report.diff.primary
    return {"base": report.base, "head": report.head, "headline": report.headline,
            "status": primary.status if primary else None, "marker": MARKER,
            "diff": report.diff, "trailers": report.trailers, "registry": report.registry}
