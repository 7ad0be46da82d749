"""A model card in Markdown from a `Lineage`: ready for a pull request or a release.

Every value that comes from the repository (messages, names, commands, params, paths) goes
through `md_escape`, so a crafted commit message cannot inject links, HTML or @mentions.
"""

from __future__ import annotations

from typing import Any

from mlgit.lineage import FileFact, Lineage
from mlgit.render import fmt_value, md_escape, md_table


def short_hash(value: str | None, width: int = 12) -> str:
    """A hash cut for people (`.dir` kept, so directories stay recognisable)."""
    if not value:
        return "-"
    suffix = ".dir" if value.endswith(".dir") else ""
    core = value.removesuffix(".dir")
    return core[:width] + suffix


def human_size(size: int | None) -> str:
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def model_card(lin: Lineage) -> str:
    """The whole lineage of one commit as a Markdown model card."""
    c = lin.commit
    title = lin.model.name if lin.model else "pipeline"
    parts = [f"# Model card: {md_escape(title)} at {c.sha[:8]}\n"]
    rows: list[tuple[str, Any]] = [
        ("Commit", c.sha), ("Author", f"{c.author} <{c.author_email}>"), ("Date", c.date),
        ("Message", c.subject)]
    if c.experiment:
        rows.append(("Experiment", c.experiment))
    if c.base:
        how = "Mlgit-Base trailer" if c.base_from == "trailer" else "first parent"
        rows.append(("Base", f"{c.base[:8]} ({how})"))
    rows.append(("Branches", ", ".join(lin.branches) or "(none)"))
    if lin.model:
        m = lin.model
        rows.append(("Model", f"{m.path} (md5 {m.hash or '-'}, {human_size(m.size)}"
                              + (f", stage {m.stage})" if m.stage else ")")))
    parts.append(md_table(["", ""], rows))
    if lin.registry:
        parts.append("## Registry\n")
        parts.append(md_table(
            ["tag", "action", "version", "stage", "by", "when", "signed"],
            [(t.tag, t.action, t.version or "-", _stage_cell(t.stage, t.current), t.by, t.when,
              "yes" if t.signed else "no") for t in lin.registry]))
    if lin.metrics:
        parts.append("## Metrics\n")
        parts.append(md_table(["metric", "value"],
                              [(k, fmt_value(v, 6)) for k, v in lin.metrics.items()],
                              align=["l", "r"]))
    if lin.params:
        changed = {p.key: p for p in lin.params_changed}
        parts.append("## Params\n")
        if lin.commit.base:
            parts.append(md_table(
                ["param", "value", f"base {lin.commit.base[:8]}"],
                [(k, fmt_value(v), fmt_value(changed[k].base) if k in changed else "same")
                 for k, v in lin.params.items()]))
        else:
            parts.append(md_table(["param", "value"],
                                  [(k, fmt_value(v)) for k, v in lin.params.items()]))
        removed = [p for p in lin.params_changed if p.key not in lin.params]
        if removed:
            parts.append("Removed since the base: " + ", ".join(md_escape(p.key) for p in removed)
                         + "\n")
    if lin.data:
        parts.append("## Data\n")
        parts.append(_files_table(lin.data))
    if lin.stages:
        parts.append("## Pipeline\n")
        parts.append(md_table(
            ["stage", "command", "deps", "outs"],
            [(s.name, s.cmd, _file_list(s.deps), _file_list(s.outs)) for s in lin.stages]))
    if lin.legacy_hashes:
        parts.append("Hashes were written by DVC 2 (see dvc#9818).\n")
    parts.append(f"Rebuild and verify: `mlgit reproduce {c.sha[:12]} --rerun --verify`\n")
    return "\n".join(parts)


def _stage_cell(stage: str | None, current: bool | None) -> str:
    if not stage:
        return "-"
    return stage + (" (current)" if current else " (moved on)" if current is False else "")


def _files_table(files: tuple[FileFact, ...]) -> str:
    return md_table(["path", "md5", "size", "files"],
                    [(f.path, f.hash or "-", human_size(f.size), f.nfiles or 1) for f in files])


def _file_list(files: tuple[FileFact, ...]) -> str:
    return "; ".join(f"{f.path} {short_hash(f.hash, 8)}" for f in files)
