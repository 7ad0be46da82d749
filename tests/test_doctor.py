"""`mlgit doctor`: each finding with status and fix, exit 1 on errors; real repos throughout."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import S3_ENV, free_port
from tests.helpers import dvc, git, repo_state, run_mlgit


def doctor(root: Path, env: dict[str, str] | None = None) -> tuple[int, dict[str, dict[str, str]]]:
    res = run_mlgit("doctor", "--json", cwd=root, check=False, env=env)
    assert "Traceback" not in res.stderr
    doc = json.loads(res.stdout)
    assert doc["command"] == "doctor"
    findings = {f["check"]: f for f in doc["data"]["findings"]}
    assert doc["data"]["errors"] == sum(f["status"] == "error" for f in findings.values())
    assert (res.returncode == 1) == (doc["data"]["errors"] > 0)
    return res.returncode, findings


def test_healthy_repo_exits_zero_and_changes_nothing(repo: Path) -> None:
    before = repo_state(repo)
    res = run_mlgit("doctor", cwd=repo)
    assert "0 errors" in res.stdout
    assert repo_state(repo) == before
    code, findings = doctor(repo)
    assert code == 0
    assert {"git", "dvc", "repo", "shallow", "head", "config", "dvc-init", "remote",
            "experiments"} <= set(findings)
    assert findings["remote"]["status"] == "ok" and "writable" in findings["remote"]["message"]
    assert findings["git"]["message"].startswith("git 2.")


def test_shallow_clone_warns_with_the_fix(repo: Path, tmp_path: Path) -> None:
    git("commit", "-q", "--allow-empty", "-m", "second", cwd=repo)
    shallow = tmp_path / "shallow"
    git("clone", "-q", "--depth", "1", f"file://{repo}", str(shallow), cwd=tmp_path)
    _, findings = doctor(shallow)
    assert findings["shallow"]["status"] == "warn"
    assert findings["shallow"]["fix"] == "git fetch --unshallow"


def test_detached_head_warns(repo: Path) -> None:
    git("checkout", "-q", "--detach", cwd=repo)
    code, findings = doctor(repo)
    assert code == 0 and findings["head"]["status"] == "warn"
    assert "detached" in findings["head"]["message"] and "git switch" in findings["head"]["fix"]


def test_missing_remote_is_an_error(repo: Path) -> None:
    (repo / ".dvc" / "config.local").unlink()
    dvc("remote", "remove", "storage", cwd=repo)
    code, findings = doctor(repo)
    assert code == 1 and findings["remote"]["status"] == "error"
    assert "no default DVC remote" in findings["remote"]["message"]
    assert "mlgit remote add" in findings["remote"]["fix"]


def test_local_remote_directory_missing_warns(repo: Path, tmp_path: Path) -> None:
    (repo / ".dvc" / "config.local").write_text(
        f"['remote \"storage\"']\n    url = {tmp_path / 'not-yet'}\n")
    _, findings = doctor(repo)
    assert findings["remote"]["status"] == "warn"
    assert "does not exist yet" in findings["remote"]["message"]


def test_unreachable_s3_endpoint_is_an_error_not_a_hang(repo: Path) -> None:
    port = free_port()  # nothing listens there: connections are refused
    dvc("remote", "add", "-d", "s3", "s3://bucket/path", cwd=repo)
    dvc("remote", "modify", "s3", "endpointurl", f"http://127.0.0.1:{port}", cwd=repo)
    git("tag", "-a", "-m", "promote", "model#production#1", cwd=repo)
    code, findings = doctor(repo, env=S3_ENV)
    assert code == 1 and findings["remote"]["status"] == "error"
    # refused at once, not stopped by our time limit
    assert "is unreachable" in findings["remote"]["message"], findings["remote"]
    assert f"127.0.0.1:{port}" in findings["remote"]["message"]
    # the promoted model cannot be checked, and doctor does not pretend it was
    assert findings["promoted"]["status"] == "warn"
    assert "did not answer" in findings["promoted"]["message"]


def test_invalid_mlgit_yaml_is_an_error(repo: Path) -> None:
    (repo / "mlgit.yaml").write_text("direction: sideways\n")
    code, findings = doctor(repo)
    assert code == 1 and findings["config"]["status"] == "error"
    assert "direction" in findings["config"]["message"]


def test_not_a_repository(tmp_path: Path) -> None:
    code, findings = doctor(tmp_path)
    assert code == 1 and findings["repo"]["status"] == "error"
    assert set(findings) == {"git", "dvc", "repo"}  # nothing else can be checked


def test_repo_without_dvc(empty_repo: Path) -> None:
    code, findings = doctor(empty_repo)
    assert code == 1 and findings["dvc-init"]["status"] == "error"
    assert "remote" not in findings


def test_unpushed_experiment_branches_and_registry_tags(repo: Path, tmp_path: Path) -> None:
    origin = tmp_path / "origin.git"
    git("init", "-q", "--bare", str(origin), cwd=tmp_path)
    git("remote", "add", "origin", str(origin), cwd=repo)
    git("push", "-q", "-u", "origin", "main", cwd=repo)
    git("branch", "exp/fast", cwd=repo)
    git("branch", "exp/slow", cwd=repo)
    git("tag", "-a", "-m", "register", "model@v1.0.0", cwd=repo)
    git("tag", "unrelated", cwd=repo)
    _, findings = doctor(repo)
    assert findings["experiments"]["status"] == "warn"
    assert "2 of 2 experiment branches not pushed: exp/fast, exp/slow" in \
        findings["experiments"]["message"]
    assert findings["experiments"]["fix"] == "git push -u origin exp/fast exp/slow"
    assert findings["tags"]["status"] == "warn"
    assert "model@v1.0.0" in findings["tags"]["message"]
    assert "unrelated" not in findings["tags"]["message"]

    git("push", "-q", "-u", "origin", "exp/fast", "exp/slow", "model@v1.0.0", cwd=repo)
    git("commit", "-q", "--allow-empty", "-m", "more", cwd=repo)  # main ahead: not our concern
    _, findings = doctor(repo)
    assert findings["experiments"]["status"] == "ok"
    assert findings["tags"]["status"] == "ok"


def test_promoted_model_missing_from_local_remote(repo: Path) -> None:
    git("tag", "-a", "-m", "register", "model@v1.0.0", cwd=repo)
    git("tag", "-a", "-m", "promote", "model#production#1", cwd=repo)
    git("tag", "model#staging#2", cwd=repo)  # lightweight: GTO ignores it, so do we
    code, findings = doctor(repo)
    assert code == 1 and findings["promoted"]["status"] == "error"
    assert "model in stage production (model#production#1)" in findings["promoted"]["message"]
    run_mlgit("data", "push", findings["promoted"]["fix"].split("'")[1], cwd=repo)
    code, findings = doctor(repo)
    assert code == 0 and findings["promoted"]["status"] == "ok"
    assert "1 promoted model versions" in findings["promoted"]["message"]
