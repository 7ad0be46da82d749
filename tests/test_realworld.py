"""Read commands on DVC repos mlgit did not make: monorepos, dvclive layouts, broken revisions,
metrics kept in the DVC cache. Each repo is built with plain git + `dvc init` (no `mlgit init`)
and mlgit's numbers are checked against `dvc metrics show` / `dvc params diff` on the same repo.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import dvc, git, run_mlgit, write_files
from tests.test_dvc_agreement import assert_same_values, flatten, row_values

ROOT_DVC = """\
stages:
  train:
    cmd: python train.py
    params:
      - train.lr
    metrics:
      - metrics.json:
          cache: false
metrics:
  - dvclive/metrics.json
params:
  - dvclive/params.yaml
"""
SUB_DVC = """\
stages:
  evaluate:
    cmd: python eval.py
    params:
      - lr
      - conf.yaml:
          - model.depth
    metrics:
      - results/evaluate/metrics.json:
          cache: false
artifacts:
  clf:
    path: model.pkl
    type: model
"""
DEEP_DVC = """\
metrics:
  - m.yaml
  - conf.toml
"""
MAIN = {
    "dvc.yaml": ROOT_DVC,
    "params.yaml": "train:\n  lr: 0.1\n  epochs: 3\nother: 1\n",
    "metrics.json": json.dumps({"accuracy": 0.81, "loss": 0.4}),
    "dvclive/metrics.json": json.dumps({"step": 9, "val": {"acc": 0.77}}),
    "dvclive/params.yaml": "batch: 32\nopt:\n  name: adam\n",
    "sub/dvc.yaml": SUB_DVC,
    "sub/params.yaml": "lr: 0.5\nunused: 2\n",
    "sub/conf.yaml": "model:\n  depth: 3\n  width: 5\n",
    "sub/results/evaluate/metrics.json": json.dumps({"f1": 0.6, "label": "cat"}),
    "deep/a/b/dvc.yaml": DEEP_DVC,
    "deep/a/b/m.yaml": "auc: 0.9\nok: true\n",
    "deep/a/b/conf.toml": "rmse = 1.25\n[per]\nx = 2\n",
}


def make_repo(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True)
    git("init", "-q", "-b", "main", cwd=root)
    dvc("init", "-q", cwd=root)
    write_files(root, files)
    git("add", "-A", cwd=root)
    git("commit", "-q", "-m", "start", cwd=root)
    return root


def on_branch(root: Path, name: str, files: dict[str, str], delete: tuple[str, ...] = ()) -> None:
    git("switch", "-q", "-c", name, "main", cwd=root)
    write_files(root, files)
    for path in delete:
        git("rm", "-q", "-r", path, cwd=root)
    git("add", "-A", cwd=root)
    git("commit", "-q", "-m", name, cwd=root)
    git("switch", "-q", "main", cwd=root)


@pytest.fixture(scope="module")
def mono(tmp_path_factory: pytest.TempPathFactory, isolated_env: None) -> Path:
    """Read-only: tests only read it."""
    root = make_repo(tmp_path_factory.mktemp("mono") / "repo", MAIN)
    on_branch(root, "exp/a", {
        "sub/params.yaml": "lr: 0.25\nunused: 3\n",
        "sub/conf.yaml": "model:\n  depth: 4\n  width: 5\n",
        "sub/results/evaluate/metrics.json": json.dumps({"f1": 0.65, "label": "dog"}),
        "dvclive/params.yaml": "batch: 64\nopt:\n  name: sgd\n",
        "dvclive/metrics.json": json.dumps({"step": 19, "val": {"acc": 0.79}}),
        "params.yaml": "train:\n  lr: 0.2\n  epochs: 3\nother: 5\n",
    })
    on_branch(root, "exp/missing", {}, delete=("deep/a/b/m.yaml",))
    on_branch(root, "exp/tables", {  # DVC reads these as YAML: a string and an error
        "deep/a/b/dvc.yaml": DEEP_DVC + "  - table.csv\n  - table.tsv\n",
        "deep/a/b/table.csv": "epoch,acc\n1,0.5\n2,0.75\n",
        "deep/a/b/table.tsv": "epoch\tname\n3\tfoo\n",
    })
    on_branch(root, "exp/badjson", {"sub/results/evaluate/metrics.json": "{oops"})
    return root


def compare_data(root: Path, *args: str) -> dict[str, Any]:
    return json.loads(run_mlgit("compare", "--json", *args, cwd=root).stdout)["data"]


def check_against_dvc_show(root: Path, data: dict[str, Any]) -> None:
    shown = json.loads(dvc("metrics", "show", "--all-branches", "--json", cwd=root).stdout)
    for row in data["rows"]:
        theirs_files = shown[row["ref"]]["data"]
        theirs = {(f, k): v for f, res in theirs_files.items() if "data" in res
                  for k, v in flatten(res["data"]).items()}
        ours_values = {(f, "" if k == f else k): v
                       for (f, k), v in row_values(data, row, "metrics").items()}
        assert_same_values(ours_values, theirs, row["ref"])
        # DVC's errors (unreadable or absent files) are errors or noted missing files for us
        dvc_errors = {f for f, res in theirs_files.items() if "error" in res}
        ours = set(row["errors"]) | {f for f, n in row["notes"].items() if f not in theirs_files
                                     or "error" in theirs_files[f]}
        assert dvc_errors == ours, row["ref"]


def test_monorepo_metrics_agree_with_dvc_at_every_branch(mono: Path) -> None:
    data = compare_data(mono, "--all-branches")
    assert {r["ref"] for r in data["rows"]} == {"main", "exp/a", "exp/missing", "exp/badjson",
                                                "exp/tables"}
    check_against_dvc_show(mono, data)
    main = next(r for r in data["rows"] if r["ref"] == "main")
    # sub/dvc.yaml, deep/a/b/dvc.yaml and dvclive's top-level metrics all count
    assert main["metrics"]["f1"] == 0.6 and main["metrics"]["val.acc"] == 0.77
    assert main["metrics"]["auc"] == 0.9 and main["metrics"]["rmse"] == 1.25
    assert data["column_files"]["f1"] == "sub/results/evaluate/metrics.json"


def test_broken_and_missing_files_are_warnings_and_strict_fails(mono: Path) -> None:
    res = run_mlgit("compare", "--all-branches", "-f", "csv", cwd=mono)
    assert res.returncode == 0
    assert "exp/missing: deep/a/b/m.yaml: declared in dvc.yaml but not found" in res.stderr
    assert "exp/badjson: sub/results/evaluate/metrics.json is not valid JSON" in res.stderr
    assert "exp/tables: deep/a/b/table.tsv is not valid YAML" in res.stderr
    assert "exp/tables: deep/a/b/table.csv: DVC reads metrics files as JSON" in res.stderr
    strict = run_mlgit("compare", "--all-branches", "--strict", "-f", "csv", cwd=mono,
                       check=False)
    assert strict.returncode == 1 and strict.stdout == res.stdout
    assert "--strict" in strict.stderr
    clean = run_mlgit("compare", "main", "exp/a", "--strict", cwd=mono, check=False)
    assert clean.returncode == 0, clean.stderr


def test_monorepo_params_diff_agrees_with_dvc(mono: Path) -> None:
    ours = json.loads(run_mlgit("diff", "main", "exp/a", "--all", "--json",
                                cwd=mono).stdout)["data"]
    p_diff = json.loads(dvc("params", "diff", "main", "exp/a", "--all", "--json",
                            cwd=mono).stdout)
    for side in ("old", "new"):
        theirs = {(f, k): v[side] for f, ks in p_diff.items() for k, v in ks.items()
                  if v[side] is not None}
        mine = {(p["file"], p["key"]): p[side] for p in ours["params"] if p[side] is not None}
        assert_same_values(mine, theirs, f"params {side}")
    names = {(p["file"], p["key"]) for p in ours["params"]}
    assert ("sub/conf.yaml", "model.depth") in names
    assert ("sub/conf.yaml", "model.width") not in names  # not declared: DVC skips it too
    assert ("sub/params.yaml", "lr") in names and ("dvclive/params.yaml", "opt.name") in names


@pytest.mark.parametrize(("files", "delete", "error_file", "gone"), [
    ({"dvc.yaml": "stages: [unclosed\n"}, (), "dvc.yaml",
     {"metrics.json", "dvclive/metrics.json"}),
    ({"sub/dvc.yaml": "stages:\n  - not a mapping\n"}, (), "sub/dvc.yaml",
     {"sub/results/evaluate/metrics.json"}),
    ({}, ("dvc.yaml", "sub/dvc.yaml", "deep/a/b/dvc.yaml"), None, None),
])
def test_revision_without_or_with_broken_dvc_yaml_still_compares(
        mono: Path, tmp_path: Path, files: dict[str, str], delete: tuple[str, ...],
        error_file: str | None, gone: set[str] | None) -> None:
    root = tmp_path / "repo"
    shutil.copytree(mono, root, symlinks=True)
    on_branch(root, "exp/odd", files, delete)
    res = run_mlgit("compare", "main", "exp/odd", "--json", cwd=root)
    data = json.loads(res.stdout)["data"]
    odd = next(r for r in data["rows"] if r["ref"] == "exp/odd")
    main = next(r for r in data["rows"] if r["ref"] == "main")
    assert main["metrics"]["f1"] == 0.6  # the rest still reads
    if gone is None:  # no dvc.yaml at all: nothing declared, nothing wrong
        assert odd["metrics"] == {} and odd["errors"] == {}
        return
    assert error_file in odd["errors"]
    files_with_values = {data["column_files"][k] for k in odd["metrics"]}
    assert not files_with_values & gone and files_with_values  # the other dvc.yaml files count
    assert "exp/odd" in " ".join(data["warnings"])


def test_monorepo_artifact_named_like_gto(mono: Path) -> None:
    models = json.loads(run_mlgit("models", "--json", cwd=mono).stdout)["data"]
    assert "sub:clf" in json.dumps(models)


EVALUATE = """\
import json, os
k = float(open("params.yaml").read().split(":")[1])
os.makedirs("eval", exist_ok=True)
json.dump({"acc": k / 10, "detail": {"n": int(k)}}, open("eval/metrics.json", "w"))
open("eval/other.txt", "w").write("x" * int(k))
json.dump({"f1": k / 20}, open("scores.json", "w"))
"""
CACHED_DVC = """\
stages:
  evaluate:
    cmd: python3 evaluate.py
    deps: [evaluate.py]
    params: [k]
    outs: [eval]
    metrics: [scores.json]
metrics:
  - eval/metrics.json
"""


@pytest.fixture(scope="module")
def cached(tmp_path_factory: pytest.TempPathFactory, isolated_env: None) -> Path:
    """Metrics DVC keeps in its cache: one inside a cached directory output, one cached file."""
    root = make_repo(tmp_path_factory.mktemp("cached") / "repo",
                     {"dvc.yaml": CACHED_DVC, "evaluate.py": EVALUATE, "params.yaml": "k: 7\n"})
    dvc("repro", "-q", cwd=root)
    git("add", "-A", cwd=root)
    git("commit", "-q", "-m", "run", cwd=root)
    git("switch", "-q", "-c", "exp/b", cwd=root)
    write_files(root, {"params.yaml": "k: 9\n"})
    dvc("repro", "-q", cwd=root)
    git("add", "-A", cwd=root)
    git("commit", "-q", "-m", "run b", cwd=root)
    git("switch", "-q", "main", cwd=root)
    dvc("checkout", "-q", cwd=root)
    return root


def test_metrics_in_the_dvc_cache_agree_with_dvc(cached: Path) -> None:
    assert "eval/metrics.json" not in git("ls-tree", "-r", "--name-only", "exp/b", cwd=cached)
    data = compare_data(cached, "--all-branches")
    rows = {r["ref"]: r for r in data["rows"]}
    assert rows["exp/b"]["metrics"]["acc"] == 0.9 and rows["exp/b"]["metrics"]["f1"] == 0.45
    assert rows["main"]["metrics"]["acc"] == 0.7 and rows["main"]["metrics"]["detail.n"] == 7
    check_against_dvc_show(cached, data)


def test_metrics_missing_from_the_cache_say_how_to_fetch(cached: Path, tmp_path: Path) -> None:
    root = tmp_path / "repo"
    shutil.copytree(cached, root, symlinks=True)
    shutil.rmtree(root / ".dvc" / "cache")
    res = run_mlgit("compare", "main", "exp/b", "-f", "csv", cwd=root)
    assert res.returncode == 0
    assert "exp/b: eval/metrics.json: not in the local DVC cache; run `mlgit data pull`" \
        in res.stderr
    data = compare_data(root, "main", "exp/b")
    b = next(r for r in data["rows"] if r["ref"] == "exp/b")
    assert b["metrics"] == {} and set(b["notes"]) == {"eval/metrics.json", "scores.json"}
    assert run_mlgit("compare", "exp/b", "--strict", cwd=root, check=False).returncode == 1


def test_monorepo_registry_written_by_gto(mono: Path, tmp_path: Path) -> None:
    from tests.test_registry_interop import GTO, gto, mlgit_models

    if not GTO.exists():
        pytest.skip("gto is not installed")
    root = tmp_path / "repo"
    shutil.copytree(mono, root, symlinks=True)
    gto("register", "sub:clf", "main", cwd=root)
    gto("register", "sub:clf", "exp/a", cwd=root)
    gto("assign", "sub:clf", "--version", "v0.0.1", "--stage", "prod", cwd=root)
    gto("assign", "sub:clf", "--version", "v0.0.2", "--stage", "dev", cwd=root)
    gto("deprecate", "sub:clf", "v0.0.2", "dev", cwd=root)  # unassign: `sub=clf#dev!#N`
    tags = git("tag", "-l", cwd=root).split()
    assert "sub=clf@v0.0.1" in tags and any(t.startswith("sub=clf#dev!#") for t in tags)
    theirs = json.loads(gto("show", "--json", cwd=root))["sub:clf"]
    ours = mlgit_models(root)["sub:clf"]
    assert ours["latest"] == theirs["version"] == "v0.0.2"
    assert {s: e["version"] for s, e in ours["stages"].items()} == theirs["stage"] == {
        "prod": "v0.0.1"}


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory, isolated_env: None) -> Path:
    """A line of commits on main, a feature branch merged back (a merge commit), a clone."""
    root = make_repo(tmp_path_factory.mktemp("history") / "repo",
                     {"dvc.yaml": "metrics:\n  - m.json\n", "m.json": '{"acc": 0.0}'})
    for i in range(1, 4):
        write_files(root, {"m.json": json.dumps({"acc": i / 10})})
        git("commit", "-q", "-am", f"step {i}", cwd=root)
    git("switch", "-q", "-c", "feature/x", "HEAD~1", cwd=root)
    write_files(root, {"m.json": json.dumps({"acc": 0.25, "f": 1})})
    git("commit", "-q", "-am", "feature", cwd=root)
    git("switch", "-q", "main", cwd=root)
    git("merge", "-q", "-X", "theirs", "--no-edit", "feature/x", cwd=root)
    return root


def test_all_commits_agree_with_dvc_metrics_show_A(history: Path) -> None:
    data = compare_data(history, "--all-commits")
    shas = git("rev-list", "--branches", cwd=history).split()
    assert len(data["rows"]) == len(shas) == 6  # 4 on main, the feature commit, the merge
    shown = json.loads(dvc("metrics", "show", "-A", "--json", cwd=history).stdout)
    by_sha = {r["sha"]: r for r in data["rows"]}
    shown.pop("workspace", None)  # DVC adds the work tree when it differs from HEAD
    for rev, res in shown.items():  # DVC names commits by sha, branch tips by branch
        sha = git("rev-parse", rev, cwd=history).strip()
        theirs = {k: v for f, r in res["data"].items() for k, v in flatten(r["data"]).items()}
        assert by_sha[sha]["metrics"] == theirs, rev
    merge = git("rev-parse", "main", cwd=history).strip()
    assert by_sha[merge]["ref"] == "main" and by_sha[merge]["metrics"] == {"acc": 0.25, "f": 1}


def test_remote_only_branches_and_shallow_clone(history: Path, tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    git("clone", "-q", "--no-local", "--depth", "1", f"file://{history}", str(clone),
        cwd=tmp_path)
    git("remote", "set-branches", "origin", "*", cwd=clone)
    git("fetch", "-q", "--depth", "1", "origin", cwd=clone)
    data = compare_data(clone, "origin/feature/x", "main")
    rows = {r["ref"]: r for r in data["rows"]}
    assert rows["origin/feature/x"]["metrics"] == {"acc": 0.25, "f": 1}  # no checkout needed
    assert "feature/x" not in git("branch", cwd=clone)
    res = run_mlgit("compare", "--all-commits", "-f", "csv", cwd=clone)
    assert "shallow clone" in res.stderr and "git fetch --unshallow" in res.stderr
    assert res.returncode == 0
    # only the commits that are here, each with its own numbers
    assert len(res.stdout.strip().splitlines()) - 1 == len(
        git("rev-list", "--branches", "--tags", cwd=clone).split())


def test_registry_tags_in_one_second_are_ordered_by_counter(mono: Path, tmp_path: Path) -> None:
    """A script running gto assign then unassign writes both tags in one second: GTO orders
    them by counter, so must we (tag names alone would put `dev!#2` before `dev#1`)."""
    from tests.test_registry_interop import GTO, gto, mlgit_models

    if not GTO.exists():
        pytest.skip("gto is not installed")
    root = tmp_path / "repo"
    shutil.copytree(mono, root, symlinks=True)
    env = {**os.environ, "GIT_COMMITTER_DATE": "@1700000000 +0000"}
    for tag in ("sub=clf@v0.0.1", "sub=clf#dev#1", "sub=clf#dev!#2", "sub=clf#prod#3"):
        subprocess.run(["git", "tag", "-a", "-m", tag, tag, "main"], cwd=root, env=env,
                       check=True)
    theirs = json.loads(gto("show", "--json", cwd=root))["sub:clf"]
    ours = mlgit_models(root)["sub:clf"]
    assert {s: e["version"] for s, e in ours["stages"].items()} == theirs["stage"] == {
        "prod": "v0.0.1"}


def test_pull_fetches_only_the_missing_metrics_then_shows_them(cached: Path, tmp_path: Path) -> None:
    root = tmp_path / "repo"
    shutil.copytree(cached, root, symlinks=True)
    dvc("remote", "add", "--local", "-d", "store", str(tmp_path / "store"), cwd=root)
    dvc("push", "--all-branches", "-q", cwd=root)
    shutil.rmtree(root / ".dvc" / "cache")
    without = compare_data(root, "main", "exp/b")
    assert next(r for r in without["rows"] if r["ref"] == "exp/b")["metrics"] == {}
    data = compare_data(root, "main", "exp/b", "--pull")
    rows = {r["ref"]: r for r in data["rows"]}
    assert rows["exp/b"]["metrics"]["acc"] == 0.9 and rows["main"]["metrics"]["acc"] == 0.7
    assert rows["exp/b"]["notes"] == {}
    assert git("status", "--porcelain", cwd=root) == ""
