"""mlgit reports the same metrics and params, under the same flattened names, as DVC itself.

One generated repo: nested metrics in JSON, YAML and TOML across several files (one name in
two files, YAML 1.2 scalars like 1e-3), params from params.yaml, from another YAML file with
selected keys and from a TOML file tracked whole; a branch that changes them; one with a broken
metrics file; and an uncommitted change in the work tree.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import dvc, git, run_mlgit, write_files
from tests.test_compare import branch

DVC_YAML = """\
stages:
  train:
    cmd: python src/train.py
    params:
      - train
      - config/model.yaml:
          - model.depth
          - optim
    metrics:
      - metrics.json:
          cache: false
      - eval/scores.yaml:
          cache: false
  evaluate:
    cmd: python src/evaluate.py
    params:
      - config/extra.toml:
    metrics:
      - eval/summary.toml:
          cache: false
"""

MAIN = {
    "dvc.yaml": DVC_YAML,
    # YAML 1.2, as DVC reads it: 1e-8 is a number, `no` a string, 010 is ten
    "config/model.yaml": "model:\n  depth: 3\n  width: 64\noptim:\n  name: adam\n"
                         "  betas: [0.9, 0.99]\n  schedule: {}\n  eps: 1e-8\n  amsgrad: no\n"
                         "  warmup: 010\nunused: 1\n",
    "config/extra.toml": "[data]\nsplit = 0.2\n[data.aug]\nflip = true\n",
    "metrics.json": json.dumps({"accuracy": 0.9, "loss": 0.3, "note": "hi", "tags": ["a"],
                                "train": {"acc": 0.95, "nested": {"deep": 1, "empty": {}}}}),
    "eval/scores.yaml": "val:\n  acc: 0.88\n  f1: 0.7\nloss: 0.41\ntiny: 1e-3\n",
    "eval/summary.toml": "auc = 0.91\n[per_class]\ncat = 0.8\ndog = 0.85\n",
}
EXP = {
    "config/model.yaml": MAIN["config/model.yaml"].replace("depth: 3", "depth: 5")
                                                  .replace("adam", "sgd"),
    "params.yaml": "prepare:\n  test_size: 0.25\n  seed: 7\ntrain:\n  lr: 0.3\n  epochs: 20\n"
                   "  seed: 1\n  extra: true\n",
    "metrics.json": json.dumps({"accuracy": 0.92, "loss": 0.25,
                                "train": {"acc": 0.97, "nested": {"deep": 2}}}),
    "eval/summary.toml": "auc = 0.9300000001\n[per_class]\ncat = 0.82\n",
}


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """DVC's `flatten_dict(reducer="dot")`, written out so the test does not import DVC."""
    if not isinstance(data, dict):
        return {prefix: data}
    out: dict[str, Any] = {}
    for k, v in data.items():
        name = f"{prefix}.{k}" if prefix else str(k)
        out.update(flatten(v, name) if isinstance(v, dict) else {name: v})
    return out


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, int | float) and isinstance(b, int | float) and abs(a - b) < 1e-9
    return a == b and type(a) is type(b)


def assert_same_values(ours: dict[tuple[str, str], Any], theirs: dict[tuple[str, str], Any],
                       what: str) -> None:
    assert set(ours) == set(theirs), f"{what}: names differ: {set(ours) ^ set(theirs)}"
    for key, value in theirs.items():
        assert same(ours[key], value), f"{what} {key}: mlgit {ours[key]!r}, dvc {value!r}"


def row_values(data: dict, row: dict, part: str) -> dict[tuple[str, str], Any]:
    """A compare row's values keyed by (file, flattened key)."""
    out = {}
    for name, value in row[part].items():
        file = data["column_files"][name]
        key = name[len(file) + 1:] if name.startswith(file + ":") else name
        out[(file, key)] = value
    return out


@pytest.fixture
def agreement_repo(repo: Path) -> Path:
    write_files(repo, MAIN)
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "layout for the agreement test", cwd=repo)
    branch(repo, "exp/x", EXP)
    branch(repo, "exp/broken", {"eval/scores.yaml": "val: [unclosed\n"})
    return repo


def test_metrics_show_agrees_at_every_branch(agreement_repo: Path) -> None:
    repo = agreement_repo
    shown = json.loads(dvc("metrics", "show", "--all-branches", "--json", cwd=repo).stdout)
    data = json.loads(run_mlgit("compare", "--all-branches", "--json", cwd=repo).stdout)["data"]
    assert {r["ref"] for r in data["rows"]} == {"main", "exp/x", "exp/broken"}
    for row in data["rows"]:
        theirs_files = shown[row["ref"]]["data"]  # DVC names branch tips by branch
        theirs = {(f, k): v for f, res in theirs_files.items() if "data" in res
                  for k, v in flatten(res["data"]).items()}
        assert_same_values(row_values(data, row, "metrics"), theirs, row["ref"])
        # a file DVC could not read is an error for mlgit too, never a number
        dvc_errors = {f for f, res in theirs_files.items() if "error" in res}
        assert dvc_errors == set(row["errors"]), row["ref"]
    assert {r["ref"] for r in data["rows"] if r["errors"]} == {"exp/broken"}


def test_metrics_and_params_diff_agree(agreement_repo: Path) -> None:
    repo = agreement_repo
    ours = json.loads(run_mlgit("diff", "main", "exp/x", "--json", cwd=repo).stdout)["data"]
    m_diff = json.loads(dvc("metrics", "diff", "main", "exp/x", "--all", "--json",
                            cwd=repo).stdout)
    old = {(f, k): v["old"] for f, ks in m_diff.items() for k, v in ks.items()
           if v["old"] is not None}
    new = {(f, k): v["new"] for f, ks in m_diff.items() for k, v in ks.items()
           if v["new"] is not None}
    assert_same_values({(m["file"], m["key"]): m["old"] for m in ours["metrics"]
                        if m["old"] is not None}, old, "metrics old")
    assert_same_values({(m["file"], m["key"]): m["new"] for m in ours["metrics"]
                        if m["new"] is not None}, new, "metrics new")
    for m in ours["metrics"]:  # DVC's "diff" is new - old; ours is the same number
        theirs = m_diff[m["file"]][m["key"]].get("diff")
        if theirs is not None and not isinstance(m["old"], bool):
            assert abs(m["change"] - theirs) < 1e-9

    p_diff = json.loads(dvc("params", "diff", "main", "exp/x", "--all", "--json",
                            cwd=repo).stdout)

    def shown(value: Any) -> Any:  # DVC prints lists in params diff as their str()
        return str(value) if isinstance(value, list) else value

    for side in ("old", "new"):
        theirs = {(f, k): v[side] for f, ks in p_diff.items() for k, v in ks.items()
                  if v[side] is not None}
        mine = {(p["file"], p["key"]): shown(p[side]) for p in ours["params"]
                if p[side] is not None}
        assert_same_values(mine, theirs, f"params {side}")
    changed = {(f, k) for f, ks in p_diff.items() for k, v in ks.items() if v["old"] != v["new"]}
    assert changed == {(p["file"], p["key"]) for p in ours["params"] if p["status"] != "same"}


def test_work_tree_diff_agrees(agreement_repo: Path) -> None:
    repo = agreement_repo
    write_files(repo, {"eval/scores.yaml": "val:\n  acc: 0.5\n  f1: 0.6\nloss: 0.1\n",
                       "config/extra.toml": "[data]\nsplit = 0.3\n"})
    ours = json.loads(run_mlgit("diff", "main", "--json", cwd=repo).stdout)["data"]
    m_diff = json.loads(dvc("metrics", "diff", "main", "--json", cwd=repo).stdout)
    theirs = {(f, k): v["new"] for f, ks in m_diff.items() for k, v in ks.items()}
    assert_same_values({(m["file"], m["key"]): m["new"] for m in ours["metrics"]
                        if m["status"] not in ("same",)}, theirs, "work tree metrics")
    p_diff = json.loads(dvc("params", "diff", "main", "--json", cwd=repo).stdout)
    theirs_p = {(f, k): (v["old"], v["new"]) for f, ks in p_diff.items() for k, v in ks.items()}
    mine_p = {(p["file"], p["key"]): (p["old"], p["new"]) for p in ours["params"]
              if p["status"] != "same"}
    assert mine_p == theirs_p
