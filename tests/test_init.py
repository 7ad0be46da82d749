"""`mlgit init`: scaffold, adopt, refuse, roll back; the CLI frame around it."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import dvc, git, run_env, run_mlgit, write_files


def test_init_empty_dir_gives_one_commit_clean_dvc_and_artifact(tmp_path: Path) -> None:
    target = tmp_path / "proj"
    res = run_mlgit("init", str(target), "--template", "minimal", "--remote-dir",
                    str(tmp_path / "remote"), cwd=tmp_path)
    assert "mlgit exp new" in res.stdout  # next steps are printed
    assert git("rev-list", "--count", "HEAD", cwd=target).strip() == "1"
    assert git("status", "--porcelain", cwd=target) == ""
    status = dvc("status", cwd=target)
    assert "up to date" in status.stdout
    metrics = json.loads((target / "metrics.json").read_text())
    assert 0.5 < metrics["accuracy"] <= 1.0
    tracked = git("ls-files", cwd=target).split()
    assert {"dvc.yaml", "dvc.lock", "params.yaml", "metrics.json", "data/raw.csv.dvc"} <= set(tracked)
    assert "models/model.pkl" not in tracked  # the model is DVC's, not Git's
    assert "artifacts:" in (target / "dvc.yaml").read_text()
    dvc("push", cwd=target)
    assert any((tmp_path / "remote").rglob("*")), "dvc push wrote nothing to the default remote"


def test_init_json_and_no_run(tmp_path: Path) -> None:
    target = tmp_path / "p"
    res = run_mlgit("init", str(target), "-t", "minimal", "--no-run", "--json", "--no-remote",
                    cwd=tmp_path)
    doc = json.loads(res.stdout)
    assert doc["command"] == "init" and doc["format"] == 1
    assert doc["data"]["ran"] is False
    assert not (target / "metrics.json").exists()
    assert not (target / "dvc.lock").exists()
    assert git("rev-list", "--count", "HEAD", cwd=target).strip() == "1"


def test_init_keeps_existing_history_and_unrelated_staged_work(empty_repo: Path,
                                                               tmp_path: Path) -> None:
    (empty_repo / "notes.txt").write_text("mine\n")
    git("add", "notes.txt", cwd=empty_repo)
    run_mlgit("init", ".", "-t", "minimal", "--remote-dir", str(tmp_path / "r"), cwd=empty_repo)
    log = git("log", "--format=%s", cwd=empty_repo).splitlines()
    assert log[-1] == "first" and len(log) == 2
    # the user's staged file is still staged, not swept into our commit
    assert "A  notes.txt" in git("status", "--porcelain", cwd=empty_repo)
    assert "notes.txt" not in git("show", "--name-only", "--format=", "HEAD", cwd=empty_repo)


def test_init_twice_refuses_then_force_overwrites(repo: Path) -> None:
    (repo / "dvc.yaml").unlink()  # so it is not adopted; params.yaml still exists
    git("rm", "-q", "--cached", "dvc.yaml", cwd=repo)
    res = run_mlgit("init", ".", "-t", "minimal", cwd=repo, check=False)
    assert res.returncode != 0
    assert "already exists" in res.stderr and "params.yaml" in res.stderr
    assert "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) <= 2
    run_mlgit("init", ".", "-t", "minimal", "--force", "--no-run", cwd=repo)
    assert (repo / "dvc.yaml").is_file()


def test_init_adopts_existing_pipeline(repo: Path) -> None:
    (repo / "mlgit.yaml").unlink()
    git("commit", "-qam", "drop config", cwd=repo)
    before = git("rev-parse", "HEAD", cwd=repo)
    res = run_mlgit("init", ".", cwd=repo)
    assert "Adopted" in res.stdout
    assert git("rev-parse", "HEAD", cwd=repo) == before  # no commit, only mlgit.yaml written
    assert git("status", "--porcelain", cwd=repo).strip() == "?? mlgit.yaml"
    cfg = (repo / "mlgit.yaml").read_text()
    assert "metric: accuracy" in cfg and "model: model" in cfg


def test_adopt_without_artifact_asks_for_model_then_declares_it(repo: Path) -> None:
    text = (repo / "dvc.yaml").read_text()
    (repo / "dvc.yaml").write_text(text[: text.index("artifacts:")])
    res = run_mlgit("init", ".", cwd=repo, check=False)
    assert res.returncode != 0 and "--model" in res.stderr
    res = run_mlgit("init", ".", "--model", "models/nope.pkl", cwd=repo, check=False)
    assert res.returncode != 0 and "not an output" in res.stderr
    run_mlgit("init", ".", "--model", "models/model.pkl", cwd=repo)
    assert "artifacts:" in (repo / "dvc.yaml").read_text()
    assert "# The pipeline" in (repo / "dvc.yaml").read_text()  # comments kept


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_init_in_unwritable_dir_fails_cleanly(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        res = run_mlgit("init", str(locked / "p"), cwd=tmp_path, check=False)
    finally:
        locked.chmod(stat.S_IRWXU)
    assert res.returncode != 0 and "cannot write" in res.stderr


def test_init_failure_rolls_back_everything(tmp_path: Path) -> None:
    """A pipeline that fails leaves no repo, no files behind."""
    target = tmp_path / "p"
    env = {"PATH": str(tmp_path / "nopython") + os.pathsep + "/usr/bin:/bin"}
    (tmp_path / "nopython").mkdir()
    fake = tmp_path / "nopython" / "python"
    fake.write_text("#!/bin/sh\necho 'stage exploded' >&2\nexit 1\n")
    fake.chmod(0o755)
    res = run_mlgit("init", str(target), "-t", "minimal", "--remote-dir", str(tmp_path / "r"),
                    cwd=tmp_path, check=False, env=env)
    assert res.returncode != 0
    assert "Traceback" not in res.stderr
    assert not target.exists()
    assert not (tmp_path / "r").exists()


def test_init_unknown_template(tmp_path: Path) -> None:
    res = run_mlgit("init", str(tmp_path / "x"), "-t", "nope", cwd=tmp_path, check=False)
    assert res.returncode == 2
    assert "unknown template 'nope'" in res.stderr and "classifier" in res.stderr
    assert not (tmp_path / "x" / "dvc.yaml").exists()


def test_not_a_repo_error_is_one_line(tmp_path: Path) -> None:
    res = run_mlgit("stage", "list", cwd=tmp_path, check=False)
    assert res.returncode == 1
    assert "not inside a Git repository" in res.stderr
    assert "Traceback" not in res.stderr


def test_version_does_not_import_heavy_modules() -> None:
    code = ("import sys, runpy; sys.argv=['mlgit','--version']\n"
            "try:\n  runpy.run_module('mlgit', run_name='__main__')\n"
            "except SystemExit: pass\n"
            "heavy = [m for m in ('dvc','pandas','sklearn','git','numpy') if m in sys.modules]\n"
            "print('HEAVY', heavy)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=run_env())
    assert "mlgit 0.1" in res.stdout
    assert "HEAVY []" in res.stdout


def test_git_mlgit_entry_point_and_python_m(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "git-mlgit"
    if not exe.exists():
        pytest.skip("git-mlgit console script not installed in this environment")
    res = subprocess.run(["git", "mlgit", "--version"], capture_output=True, text=True,
                         cwd=tmp_path, env=run_env())
    assert res.returncode == 0 and res.stdout.startswith("mlgit ")


def test_every_command_has_help(tmp_path: Path) -> None:
    top = run_mlgit("--help", cwd=tmp_path).stdout
    commands = [line.split()[1] for line in top.splitlines()
                if line.startswith("│ ") and len(line.split()) > 2 and line.split()[1].isalpha()]
    assert "init" in commands and "demo" in commands
    for name in commands:
        res = run_mlgit(name, "--help", cwd=tmp_path)
        assert "Usage:" in res.stdout


def test_templates_list_json(tmp_path: Path) -> None:
    doc = json.loads(run_mlgit("templates", "--json", cwd=tmp_path).stdout)
    names = {t["name"] for t in doc["data"]}
    assert {"classifier", "regression", "minimal"} <= names


def test_stage_add_and_list(repo: Path) -> None:
    run_mlgit("stage", "add", "report", "--template", "evaluate", "-d", "metrics.json",
              "-m", "report_metrics.json", cwd=repo)
    assert (repo / "src" / "report.py").is_file()
    doc = json.loads(run_mlgit("stage", "list", "--json", cwd=repo).stdout)
    names = [s["name"] for s in doc["data"]]
    assert names == ["prepare", "train", "evaluate", "report"]
    report = doc["data"][-1]
    assert "src/report.py" in report["deps"] and report["metrics"] == ["report_metrics.json"]


@pytest.mark.parametrize("args, message", [
    (["bad name", "-c", "echo hi"], "not a valid stage name"),
    (["x", "-c", "echo", "-d", "../outside"], "inside the repository"),
    (["x", "-c", "echo", "--template", "nope"], "unknown stage template"),
    (["train", "-c", "echo"], "already exists"),
])
def test_stage_add_bad_input(repo: Path, args: list[str], message: str) -> None:
    before = (repo / "dvc.yaml").read_text()
    res = run_mlgit("stage", "add", *args, cwd=repo, check=False)
    assert res.returncode != 0 and message in res.stderr
    assert (repo / "dvc.yaml").read_text() == before


def test_minimal_pipeline_reruns_from_dvc(repo: Path) -> None:
    write_files(repo, {"params.yaml": (repo / "params.yaml").read_text().replace("lr: 0.1", "lr: 0.5")})
    dvc("repro", cwd=repo)
    assert "metrics.json" in git("status", "--porcelain", cwd=repo)
