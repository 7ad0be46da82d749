"""Which metrics and params files a revision's dvc.yaml files make count, as DVC decides.

Shared by every reader of revisions (`mlgit.metrics`): the files to fetch, the params keys
that count, and which metrics files live in the DVC cache rather than in Git.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from typing import Any, NamedTuple

from mlgit.project import DEFAULT_PARAMS, DVC_YAML, Pipeline

DVC_LOCK = "dvc.lock"



class Plan(NamedTuple):  # not a dataclass: cheaper to define (see mlgit.quick.Opt)
    metrics: dict[str, str | None]  # metrics file -> dvc.yaml of its cached output (None: in Git)
    params: dict[str, tuple[str, ...] | None]  # file -> tracked keys (None: the whole file)


def plan_files(pipelines: Sequence[Pipeline], has_default_params: bool) -> Plan:
    """The metrics and params files to read, and which params keys count, as DVC decides.

    Params: a file named without keys anywhere, top-level `params:` files and the default
    params.yaml (when present) count whole; otherwise only the keys the stages name
    (dvc/repo/params/show.py `_collect_params`, dvc/dependency `_merge_params`).
    """
    params: dict[str, list[str] | None] = {}
    for pipeline in pipelines:
        for stage in pipeline.stages:
            for ref in stage.params:
                if ref.keys is None or params.get(ref.file, []) is None:
                    params[ref.file] = None
                else:
                    keys = params.setdefault(ref.file, [])
                    assert keys is not None
                    keys.extend(k for k in ref.keys if k not in keys)
    for pipeline in pipelines:
        declared = {r.file for s in pipeline.stages for r in s.params}
        for file in pipeline.params_files:
            if file not in declared:  # top-level `params:` entries are whole files
                params[file] = None
    if has_default_params:
        params[DEFAULT_PARAMS] = None
    # a metrics file inside a DVC-cached output is not in Git: its bytes are found by the hash
    # in the dvc.lock next to the dvc.yaml declaring that output (cache: false ones are in Git)
    cached = {o.path.rstrip("/"): p.dvcfile for p in pipelines for s in p.stages
              for o in s.outs if o.cache}
    metrics = {m: _covering(cached, m) for p in pipelines for m in p.metrics_files}
    return Plan(metrics, {f: None if k is None else tuple(k) for f, k in params.items()})


def _covering(cached: dict[str, str], path: str) -> str | None:
    """The dvc.yaml declaring the cached output that is `path` or holds it, if any."""
    while path:
        if path in cached:
            return cached[path]
        path = posixpath.dirname(path)
    return None


def select_keys(values: dict[str, Any], keys: tuple[str, ...] | None) -> dict[str, Any]:
    if keys is None:
        return values
    prefixes = tuple(k + "." for k in keys)
    return {n: v for n, v in values.items() if n in keys or n.startswith(prefixes)}


def lock_path(dvcfile: str) -> str:
    """`sub/dvc.lock` for `sub/dvc.yaml`."""
    return dvcfile[: -len(DVC_YAML)] + DVC_LOCK
