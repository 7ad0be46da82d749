"""`mlgit lineage`: what made a commit's model, from Git objects and dvc.lock alone."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

from tests.helpers import commit_all, dvc, git, repo_state, run_mlgit, write_files


def experiment_commit(repo: Path, message: str) -> tuple[str, str]:
    """An experiment branch `exp/fast` off main with train.lr 0.1 -> 0.5, run and committed
    with mlgit's trailers. Returns (base sha, experiment sha)."""
    base = git("rev-parse", "HEAD", cwd=repo).strip()
    git("switch", "-q", "-c", "exp/fast", cwd=repo)
    params = repo / "params.yaml"
    params.write_text(params.read_text().replace("lr: 0.1", "lr: 0.5"))
    dvc("repro", "-q", cwd=repo)
    git("add", "-A", cwd=repo)
    full = f"{message}\n\nMlgit-Experiment: fast\nMlgit-Base: {base}\n"
    git("commit", "-q", "-m", full, cwd=repo)
    return base, git("rev-parse", "HEAD", cwd=repo).strip()


def lineage_json(repo: Path, *args: str) -> dict:
    return json.loads(run_mlgit("lineage", *args, "--json", cwd=repo).stdout)["data"]


def test_lineage_json_tells_the_whole_story_of_an_experiment(repo: Path) -> None:
    base, sha = experiment_commit(repo, "Try a faster learning rate")
    shutil.rmtree(repo / ".dvc" / "cache")  # lineage needs Git alone: no cache, no remote
    before = repo_state(repo)

    data = lineage_json(repo, "fast")  # an experiment name resolves to exp/fast

    commit = data["commit"]
    assert commit["sha"] == sha and commit["subject"] == "Try a faster learning rate"
    assert commit["author"] == "Test User" and commit["author_email"] == "test@example.com"
    assert commit["experiment"] == "fast"
    assert commit["base"] == base and commit["base_from"] == "trailer"
    assert data["branches"] == ["exp/fast"]
    assert data["params"]["train.lr"] == 0.5 and data["params"]["prepare.seed"] == 7
    assert data["params_changed"] == [{"key": "train.lr", "base": 0.1, "value": 0.5}]
    metrics = json.loads((repo / "metrics.json").read_text())
    assert data["metrics"] == metrics

    lock = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    model = data["model"]
    assert model["name"] == "model" and model["path"] == "models/model.pkl"
    assert model["stage"] == "train" and model["hash"] == lock["train"]["outs"][0]["md5"]
    stages = {s["name"]: s for s in data["stages"]}
    assert list(stages) == ["prepare", "train", "evaluate"]
    assert stages["train"]["cmd"] == "python src/train.py"
    assert stages["train"]["params"] == {"train.lr": 0.5, "train.epochs": 20, "train.seed": 1}
    deps = {d["path"]: d for d in stages["train"]["deps"]}
    assert deps["data/prepared"]["source"] == "stage prepare"
    assert deps["data/prepared"]["nfiles"] == 2
    assert deps["src/train.py"]["source"] == "git"
    prepare_deps = {d["path"]: d for d in stages["prepare"]["deps"]}
    raw = (repo / "data" / "raw.csv").stat().st_size
    assert prepare_deps["data/raw.csv"]["source"] == "data"
    assert prepare_deps["data/raw.csv"]["size"] == raw
    assert data["data"] == [{"path": "data/raw.csv", "hash": prepare_deps["data/raw.csv"]["hash"],
                             "size": raw, "nfiles": None, "source": "data"}]
    assert stages["evaluate"]["outs"][0]["source"] == "metrics"
    assert data["legacy_hashes"] is False
    assert repo_state(repo) == before


def test_lineage_without_trailers_diffs_against_the_first_parent(repo: Path) -> None:
    first = git("rev-parse", "HEAD", cwd=repo).strip()
    params = repo / "params.yaml"
    params.write_text(params.read_text().replace("epochs: 20", "epochs: 5"))
    dvc("repro", "-q", cwd=repo)
    commit_all(repo, "fewer epochs")

    data = lineage_json(repo, "HEAD")

    assert data["commit"]["base"] == first and data["commit"]["base_from"] == "parent"
    assert data["commit"]["experiment"] is None
    assert data["params_changed"] == [{"key": "train.epochs", "base": 20, "value": 5}]
    assert data["branches"] == ["main"]
    assert data["registry"] == []


def test_model_card_escapes_what_the_repository_says(repo: Path) -> None:
    experiment_commit(repo, "Faster [click](https://evil.example) <img src=x> @team")
    before = repo_state(repo)

    card = run_mlgit("lineage", "exp/fast", "--format", "md", cwd=repo).stdout

    assert card.startswith("# Model card: model at ")
    assert "\\[click\\]\\(https:&#8203;//evil.example\\)" in card
    assert "\\<img src=x\\>" in card and "\\@team" in card
    assert "<img" not in card.replace("\\<img", "")
    assert "| train.lr | 0.5 | 0.1 |" in card
    assert "## Pipeline" in card and "python src/train.py" in card
    assert "`mlgit reproduce " in card and "--rerun --verify`" in card
    assert repo_state(repo) == before


def test_lineage_table_for_people(repo: Path) -> None:
    write_files(repo, {"notes.txt": "uncommitted\n"})
    res = run_mlgit("lineage", "main", cwd=repo)
    assert "commit " + git("rev-parse", "HEAD", cwd=repo).strip() in res.stdout
    for title in ("Metrics", "Params", "Data", "Stages"):
        assert title in res.stdout


def test_lineage_of_an_unknown_ref_is_a_one_line_error(repo: Path) -> None:
    res = run_mlgit("lineage", "nope", cwd=repo, check=False)
    assert res.returncode == 2
    assert res.stderr.startswith("error: unknown revision 'nope'")
    assert "Traceback" not in res.stderr

    bad = run_mlgit("lineage", "HEAD", "--format", "html", cwd=repo, check=False)
    assert bad.returncode == 2 and "--format html" in bad.stderr


def test_lineage_of_a_promoted_model_names_its_version_and_stage(reg_repo: Path) -> None:
    when = iter(range(1_750_000_000, 1_750_001_000, 60))

    def promote(rev: str) -> None:
        run_mlgit("promote", rev, "--to", "production", cwd=reg_repo,
                  env={"GIT_COMMITTER_DATE": f"@{next(when)} +0000"})

    promote("exp/fast")
    fast = git("rev-parse", "exp/fast", cwd=reg_repo).strip()

    data = lineage_json(reg_repo, "model#production")

    assert data["commit"]["sha"] == fast
    tags = {t["tag"]: t for t in data["registry"]}
    assert set(tags) == {"model@v0.1.0", "model#production#1"}
    assert tags["model@v0.1.0"]["action"] == "register"
    stage = tags["model#production#1"]
    assert stage["action"] == "assign" and stage["stage"] == "production"
    assert stage["version"] == "v0.1.0" and stage["current"] is True
    assert stage["by"] == "Test User" and stage["signed"] is False
    assert stage["when"].startswith("2025-06-15T")
    card = run_mlgit("lineage", "model@v0.1.0", "--format", "md", cwd=reg_repo).stdout
    assert "| model\\#production\\#1 | assign | v0.1.0 | production \\(current\\) |" in card

    promote("main")  # production moves on; the tag on exp/fast stays, no longer current
    moved = lineage_json(reg_repo, "exp/fast")
    assert {t["tag"]: t["current"] for t in moved["registry"]} == {
        "model@v0.1.0": None, "model#production#1": False}
