"""What a `dvc.yaml` declares: stages, metrics and params files, artifacts.

Parsed from text (read from the work tree or from a Git object), so the same code serves the
work tree and any revision. Paths come back relative to the repository root, POSIX style.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from mlgit.yamlio import ParseError, load_yaml

DEFAULT_PARAMS = "params.yaml"
DVC_YAML = "dvc.yaml"


@dataclass(frozen=True)
class Output:
    path: str
    cache: bool = True
    kind: str = "out"  # "out", "metrics" or "plots"


@dataclass(frozen=True)
class ParamsRef:
    file: str
    keys: tuple[str, ...] | None  # None: the whole file


@dataclass(frozen=True)
class Stage:
    name: str
    cmd: str
    wdir: str
    deps: tuple[str, ...]
    outs: tuple[Output, ...]
    params: tuple[ParamsRef, ...]


@dataclass(frozen=True)
class Artifact:
    name: str  # as GTO writes it: "name", or "sub=name" for sub/dvc.yaml
    path: str
    type: str | None = None
    desc: str | None = None
    labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class Pipeline:
    dvcfile: str  # e.g. "dvc.yaml" or "sub/dvc.yaml"
    stages: tuple[Stage, ...] = ()
    metrics_files: tuple[str, ...] = ()
    params_files: tuple[str, ...] = ()
    artifacts: tuple[Artifact, ...] = ()
    plots_files: tuple[str, ...] = field(default_factory=tuple)

    def stage(self, name: str) -> Stage | None:
        return next((s for s in self.stages if s.name == name), None)

    def outputs(self) -> list[Output]:
        return [o for s in self.stages for o in s.outs]


def _join(base: str, path: str) -> str:
    joined = posixpath.normpath(posixpath.join(base, path)) if base else posixpath.normpath(path)
    return "" if joined == "." else joined


def _entries(value: Any) -> list[tuple[str, dict[str, Any]]]:
    """DVC lists hold either 'path' or {'path': {options}}."""
    out: list[tuple[str, dict[str, Any]]] = []
    for item in value or []:
        if isinstance(item, str):
            out.append((item, {}))
        elif isinstance(item, dict):
            for key, opts in item.items():
                out.append((str(key), opts if isinstance(opts, dict) else {}))
    return out


def parse_pipeline(text: str | bytes, dvcfile: str = "dvc.yaml") -> Pipeline:
    """Parse one dvc.yaml. Raises ParseError if it is not valid YAML or not a mapping."""
    data = load_yaml(text, dvcfile) or {}
    if not isinstance(data, dict):
        raise ParseError(f"{dvcfile}: expected a mapping at the top level")
    base = posixpath.dirname(dvcfile)
    stages: list[Stage] = []
    metrics: list[str] = []
    plots: list[str] = []
    params_files: list[str] = []
    raw_stages = data.get("stages") or {}
    if not isinstance(raw_stages, dict):
        raise ParseError(f"{dvcfile}: 'stages' must be a mapping of stage names")
    for name, spec in raw_stages.items():
        if not isinstance(spec, dict):
            raise ParseError(f"{dvcfile}: stage {name!r} must be a mapping")
        if "foreach" in spec or "matrix" in spec:
            spec = spec.get("do", spec)  # templated stages: keep what is literal
        wdir = _join(base, str(spec.get("wdir", ".")))
        cmd = spec.get("cmd", "")
        cmd = " && ".join(map(str, cmd)) if isinstance(cmd, list) else str(cmd)
        outs: list[Output] = []
        for kind in ("outs", "metrics", "plots"):
            for path, opts in _entries(spec.get(kind)):
                full = _join(wdir, path)
                outs.append(Output(full, bool(opts.get("cache", True)),
                                   "out" if kind == "outs" else kind))
                if kind == "metrics":
                    metrics.append(full)
                elif kind == "plots":
                    plots.append(full)
        params: list[ParamsRef] = []
        for item in spec.get("params") or []:
            if isinstance(item, str):
                params.append(ParamsRef(_join(wdir, DEFAULT_PARAMS), (item,)))
            elif isinstance(item, dict):
                for file, keys in item.items():
                    params.append(ParamsRef(_join(wdir, str(file)),
                                            tuple(map(str, keys)) if keys else None))
        deps = tuple(_join(wdir, p) for p, _ in _entries(spec.get("deps")))
        stages.append(Stage(str(name), cmd, wdir, deps, tuple(outs), tuple(params)))
        for ref in params:
            if ref.file not in params_files:
                params_files.append(ref.file)
    for path, _ in _entries(data.get("metrics")):
        metrics.append(_join(base, path))
    for path, _ in _entries(data.get("plots")):
        plots.append(_join(base, path))
    for path, _ in _entries(data.get("params")):
        full = _join(base, path)
        if full not in params_files:
            params_files.append(full)
    artifacts = []
    raw_artifacts = data.get("artifacts") or {}
    if isinstance(raw_artifacts, dict):
        for name, spec in raw_artifacts.items():
            if not isinstance(spec, dict) or "path" not in spec:
                continue
            qualified = f"{base}={name}" if base else str(name)
            artifacts.append(Artifact(qualified, _join(base, str(spec["path"])), spec.get("type"),
                                      spec.get("desc"), tuple(spec.get("labels") or ())))
    return Pipeline(dvcfile, tuple(stages), tuple(dict.fromkeys(metrics)),
                    tuple(params_files), tuple(artifacts), tuple(dict.fromkeys(plots)))


def merge_pipelines(pipelines: Sequence[Pipeline]) -> Pipeline | None:
    """One view of several dvc.yaml files; stages of `sub/dvc.yaml` named as DVC addresses
    them (`sub/dvc.yaml:train`). The root dvc.yaml alone is returned as it is."""
    if len(pipelines) <= 1:
        return pipelines[0] if pipelines else None
    stages = tuple(s if p.dvcfile == DVC_YAML else replace(s, name=f"{p.dvcfile}:{s.name}")
                   for p in pipelines for s in p.stages)
    return Pipeline(DVC_YAML, stages,
                    tuple(m for p in pipelines for m in p.metrics_files),
                    tuple(dict.fromkeys(f for p in pipelines for f in p.params_files)),
                    tuple(a for p in pipelines for a in p.artifacts),
                    tuple(f for p in pipelines for f in p.plots_files))
