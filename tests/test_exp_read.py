"""`mlgit exp list` and `exp show`: everything read back from Git objects."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import copy_repo
from tests.exp_helpers import one_line_error, show_json
from tests.helpers import commit_all, git, run_mlgit


@pytest.fixture(scope="module")
def two_exps(template_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project with experiments lr0.05 and lr0.7 (one grid run), read-only for the tests."""
    base = tmp_path_factory.mktemp("two-exps")
    root = copy_repo(template_repo, base / "repo", base / "remote")
    run_mlgit("exp", "new", "g", "-S", "train.lr=0.05,0.7", "-j", "2", cwd=root)
    return root


def _list(root: Path, *args: str) -> dict:
    doc = json.loads(run_mlgit("exp", "list", "--json", *args, cwd=root).stdout)
    assert doc["command"] == "exp list" and doc["format"] == 1
    return doc["data"]


def test_list_json_has_base_params_metric_author_and_state(two_exps: Path) -> None:
    data = _list(two_exps)
    base = git("rev-parse", "main", cwd=two_exps).strip()
    assert data["metric"] == "accuracy" and data["direction"] == "max"
    by_name = {e["name"]: e for e in data["experiments"]}
    assert set(by_name) == {"g-lr0.05", "g-lr0.7"}
    for name, lr in (("g-lr0.05", 0.05), ("g-lr0.7", 0.7)):
        e = by_name[name]
        assert e["branch"] == f"exp/{name}" and e["base"] == base
        assert e["params"] == [{"key": "train.lr", "old": 0.1, "new": lr, "status": "changed"}]
        metrics = show_json(two_exps, f"exp/{name}", "metrics.json")
        assert e["value"] == metrics["accuracy"]
        assert e["base_value"] == show_json(two_exps, "main", "metrics.json")["accuracy"]
        assert e["author"] == "Test User" and e["date"][:4].isdigit()
        assert e["remote"]["state"] == "local" and e["current"] is False
    top = max(e["value"] for e in data["experiments"])
    assert by_name[data["best"]]["value"] == top


def test_list_table_and_sorting(two_exps: Path) -> None:
    res = run_mlgit("exp", "list", "--sort", "name", cwd=two_exps)
    assert res.stdout.index("g-lr0.05") < res.stdout.index("g-lr0.7")
    assert "train.lr=0.05" in res.stdout and "★" in res.stdout
    res = run_mlgit("exp", "list", "--sort", "size", cwd=two_exps, check=False)
    assert res.returncode == 2 and "--sort size" in one_line_error(res.stderr)


def test_show_json_has_trailers_params_metrics_and_outputs(two_exps: Path) -> None:
    doc = json.loads(run_mlgit("exp", "show", "g-lr0.7", "--json", cwd=two_exps).stdout)["data"]
    assert doc["trailers"]["Mlgit-Experiment"] == "g-lr0.7"
    assert doc["trailers"]["Mlgit-Params"] == "train.lr=0.7"
    assert doc["params"]["train.lr"] == 0.7 and doc["params"]["train.epochs"] == 20
    assert doc["metrics"] == show_json(two_exps, "exp/g-lr0.7", "metrics.json")
    assert doc["base_metrics"] == show_json(two_exps, "main", "metrics.json")
    assert doc["info"]["params"][0]["key"] == "train.lr"
    lock = yaml.safe_load(git("show", "exp/g-lr0.7:dvc.lock", cwd=two_exps))
    model = next(o for o in lock["stages"]["train"]["outs"] if o["path"] == "models/model.pkl")
    outputs = {o["path"]: o for o in doc["outputs"]}
    assert outputs["models/model.pkl"]["hash"] == model["md5"]
    assert outputs["models/model.pkl"]["stage"] == "train"
    # exp/NAME works too, and the table names the outputs
    res = run_mlgit("exp", "show", "exp/g-lr0.7", cwd=two_exps)
    assert "models/model.pkl" in res.stdout and model["md5"] in res.stdout


def test_show_unknown_is_one_line(two_exps: Path) -> None:
    res = run_mlgit("exp", "show", "nope", cwd=two_exps, check=False)
    assert res.returncode == 2
    assert "no experiment 'nope'" in one_line_error(res.stderr)


def test_list_branch_made_by_hand_finds_its_fork_point(repo: Path) -> None:
    base = git("rev-parse", "HEAD", cwd=repo).strip()
    git("switch", "-q", "-c", "exp/manual", cwd=repo)
    params = repo / "params.yaml"
    params.write_text(params.read_text().replace("epochs: 20", "epochs: 40"))
    commit_all(repo, "by hand")
    git("switch", "-q", "main", cwd=repo)
    (e,) = _list(repo)["experiments"]
    assert e["name"] == "manual" and e["base"] == base
    assert e["params"] == [{"key": "train.epochs", "old": 20, "new": 40, "status": "changed"}]


def test_list_remote_states(repo: Path, tmp_path: Path) -> None:
    bare = tmp_path / "origin.git"
    git("init", "-q", "--bare", str(bare), cwd=tmp_path)
    git("remote", "add", "origin", str(bare), cwd=repo)
    run_mlgit("exp", "new", "a", "-S", "train.lr=0.7", "--no-run", cwd=repo)
    run_mlgit("exp", "new", "b", "-S", "train.lr=0.5", "--no-run", cwd=repo)
    run_mlgit("exp", "new", "c", "-S", "train.lr=0.3", "--no-run", cwd=repo)
    git("push", "-q", "-u", "origin", "exp/a", "exp/b", "exp/c", cwd=repo)
    # a: one more local commit; b: pushed; c: only on the remote
    git("switch", "-q", "exp/a", cwd=repo)
    git("commit", "-q", "--allow-empty", "-m", "more", cwd=repo)
    git("switch", "-q", "main", cwd=repo)
    git("branch", "-q", "-D", "exp/c", cwd=repo)
    states = {e["name"]: e["remote"] for e in _list(repo, "--all")["experiments"]}
    assert states["a"]["state"] == "ahead" and states["a"]["ahead"] == 1
    assert states["b"]["state"] == "pushed"
    assert states["c"]["state"] == "remote-only"
    assert "c" not in {e["name"] for e in _list(repo)["experiments"]}


def test_list_is_empty_outside_experiments(repo: Path) -> None:
    assert _list(repo)["experiments"] == []
    res = run_mlgit("exp", "list", cwd=repo)
    assert "no experiments yet" in res.stderr


def test_list_outside_a_repo_is_one_line(tmp_path: Path) -> None:
    res = run_mlgit("exp", "list", cwd=tmp_path, check=False)
    assert res.returncode != 0 and "not inside a Git repository" in one_line_error(res.stderr)
