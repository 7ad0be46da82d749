"""`mlgit diff`: metrics, params and dvc.lock hashes between revisions and the work tree."""

from __future__ import annotations

import io
import json
from pathlib import Path

from tests.helpers import commit_all, dvc, git, repo_state, run_mlgit, write_files
from tests.test_compare import branch, metrics


def diff_json(repo: Path, *args: str) -> dict:
    res = run_mlgit("diff", *args, "--json", cwd=repo)
    doc = json.loads(res.stdout)
    assert doc["command"] == "diff" and doc["format"] == 1
    return doc["data"]


def by_name(items: list[dict]) -> dict[str, dict]:
    return {i["name"]: i for i in items}


def test_real_runs_model_changed_then_data_changed(repo: Path) -> None:
    # a params change: the model changes, the data does not
    git("checkout", "-q", "-b", "exp/fast", cwd=repo)
    params = (repo / "params.yaml").read_text()
    (repo / "params.yaml").write_text(params.replace("lr: 0.1 ", "lr: 0.7 "))
    dvc("repro", "-q", cwd=repo)
    commit_all(repo, "faster")
    # a data change: one more row in the raw data
    git("checkout", "-q", "-b", "exp/moredata", "main", cwd=repo)
    dvc("checkout", "-q", cwd=repo)
    raw = repo / "data" / "raw.csv"
    lines = raw.read_text().splitlines()
    raw.write_text("\n".join([*lines, lines[-1]]) + "\n")
    dvc("add", "-q", "data/raw.csv", cwd=repo)
    dvc("repro", "-q", cwd=repo)
    commit_all(repo, "more data")
    git("checkout", "-q", "main", cwd=repo)
    dvc("checkout", "-q", "--force", cwd=repo)
    before = repo_state(repo)

    fast = diff_json(repo, "main", "exp/fast")
    assert fast["a"]["label"] == "main" and fast["b"]["label"] == "exp/fast"
    assert fast["model_changed"] is True and fast["data_changed"] is False
    assert fast["code_changed"] is False
    params = by_name(fast["params"])
    assert params["train.lr"] == {"name": "train.lr", "file": "params.yaml", "key": "train.lr",
                                  "old": 0.1, "new": 0.7, "status": "changed"}
    assert params["train.epochs"]["status"] == "same"
    loss = by_name(fast["metrics"])["loss"]
    assert loss["direction"] == "min" and loss["change"] == loss["new"] - loss["old"]
    assert loss["status"] == ("better" if loss["new"] < loss["old"] else "worse")
    files = {f["path"]: f for f in fast["files"]}
    assert files["models/model.pkl"]["role"] == "model"
    assert files["models/model.pkl"]["status"] == "changed"
    assert files["data/raw.csv"]["role"] == "data" and files["data/raw.csv"]["status"] == "same"
    assert files["src/train.py"]["role"] == "code"

    more = diff_json(repo, "main", "exp/moredata")
    assert more["data_changed"] is True
    changed = {f["path"] for f in more["files"] if f["status"] == "changed"}
    assert {"data/raw.csv", "data/prepared"} <= changed
    assert more["params"] and all(p["status"] == "same" for p in more["params"])

    table = run_mlgit("diff", "main", "exp/fast", cwd=repo).stdout
    assert "train.lr" in table and "Model changed: yes" in table
    assert "train.epochs" not in table  # unchanged params only with --all
    assert "train.epochs" in run_mlgit("diff", "main", "exp/fast", "--all", cwd=repo).stdout
    assert repo_state(repo) == before


def test_defaults_base_branch_against_the_work_tree(repo: Path) -> None:
    write_files(repo, {"metrics.json": metrics(0.99, 0.05)})  # uncommitted, like dvc
    data = diff_json(repo)
    assert data["a"]["label"] == "main" and data["b"] == {"label": "workspace", "sha": None,
                                                          "errors": {}}
    acc = by_name(data["metrics"])["accuracy"]
    assert acc["new"] == 0.99 and acc["status"] == "better" and acc["primary"] is True
    assert diff_json(repo, "main")["metrics"] == data["metrics"]
    assert diff_json(repo, "HEAD", "workspace")["metrics"] == data["metrics"]


def test_params_added_and_removed(repo: Path) -> None:
    branch(repo, "exp/p", {"params.yaml": "prepare: {test_size: 0.25, seed: 7}\n"
                                          "train: {lr: 0.1, epochs: 20, momentum: 0.9}\n"})
    params = by_name(diff_json(repo, "main", "exp/p")["params"])
    assert params["train.momentum"]["status"] == "added"
    assert params["train.momentum"]["old"] is None
    assert params["train.seed"]["status"] == "removed"
    md = run_mlgit("diff", "main", "exp/p", "-f", "md", cwd=repo).stdout
    assert "train.momentum" in md and "added" in md and "removed" in md


def test_broken_metrics_in_the_work_tree_is_an_error_not_a_crash(repo: Path) -> None:
    write_files(repo, {"metrics.json": "{oops"})
    res = run_mlgit("diff", cwd=repo)
    assert res.returncode == 0 and "warning" in res.stderr and "metrics.json" in res.stderr
    data = diff_json(repo)
    assert by_name(data["metrics"])["accuracy"]["status"] == "error"
    assert "metrics.json" in data["b"]["errors"]


def test_unknown_ref_is_a_one_line_error(repo: Path) -> None:
    res = run_mlgit("diff", "main", "nope", cwd=repo, check=False)
    assert res.returncode == 2
    assert "nope" in res.stderr and "Traceback" not in res.stderr and res.stdout == ""
    res = run_mlgit("diff", "--", "-rf", cwd=repo, check=False)  # never read as an option
    assert res.returncode == 2 and "-rf" in res.stderr


def test_markdown_and_csv_read_back(repo: Path) -> None:
    import pandas as pd

    branch(repo, "exp/<b>x", {"metrics.json": metrics(0.95, 0.2)})
    md = run_mlgit("diff", "main", "exp/<b>x", "--format", "md", cwd=repo).stdout
    assert "<b>" not in md and r"exp/\<b\>x" in md
    tables: list[list[str]] = []
    for line in md.splitlines():
        if line.startswith("|"):
            if not tables or not tables[-1]:
                tables.append([])
            tables[-1].append(line)
        elif tables and tables[-1]:
            tables.append([])
    tables = [t for t in tables if t]
    assert len(tables) == 1  # metrics only: no param and no dvc.lock entry changed
    for t in tables:
        assert len({ln.count(" | ") for ln in t}) == 1 and t[1].startswith("| --- |")
    assert "**accuracy**" in tables[0][2] and "🟢 better" in tables[0][2]
    assert "Model changed: **no**" in md

    out = run_mlgit("diff", "main", "exp/<b>x", "--format", "csv", cwd=repo).stdout
    frame = pd.read_csv(io.StringIO(out))
    acc = frame[frame["name"] == "accuracy"].iloc[0]
    assert acc["kind"] == "metric" and acc["new"] == 0.95 and acc["status"] == "better"
