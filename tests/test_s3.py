"""S3-compatible remotes against a real S3 API server (moto's server mode on 127.0.0.1)."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

from tests.conftest import S3_BUCKET, S3_ENV
from tests.helpers import commit_all, dvc, git, run_mlgit

KEY, SECRET = S3_ENV["AWS_ACCESS_KEY_ID"], S3_ENV["AWS_SECRET_ACCESS_KEY"]
OUTPUTS = ("models/model.pkl", "data/raw.csv", "data/prepared/train.csv",
           "data/prepared/test.csv")


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def use_s3_remote(repo: Path, endpoint: str, prefix: str) -> None:
    """Point the project at the S3 server, credentials where DVC keeps local secrets."""
    run_mlgit("remote", "add", "s3", f"s3://{S3_BUCKET}/{prefix}", "--default",
              "--endpoint-url", endpoint, cwd=repo)
    dvc("remote", "modify", "--local", "s3", "access_key_id", KEY, cwd=repo)
    dvc("remote", "modify", "--local", "s3", "secret_access_key", SECRET, cwd=repo)
    commit_all(repo, "Store data in S3")  # `git add -A`: everything that is not ignored


def test_s3_push_fresh_clone_pull_restores_outputs(repo: Path, tmp_path: Path,
                                                   s3_server: str) -> None:
    use_s3_remote(repo, s3_server, tmp_path.name)
    res = run_mlgit("data", "push", cwd=repo)  # credentials from config.local
    assert "remote 's3'" in res.stderr

    clone = tmp_path / "clone"
    git("clone", "-q", str(repo), str(clone), cwd=tmp_path)
    assert not (clone / "models" / "model.pkl").exists()
    status = json.loads(run_mlgit("data", "status", "--json", cwd=clone, env=S3_ENV).stdout)
    assert {e["state"] for e in status["data"]["entries"]} == {"not in cache"}
    run_mlgit("data", "pull", cwd=clone, env=S3_ENV)  # credentials from the environment only
    for rel in OUTPUTS:
        assert md5(clone / rel) == md5(repo / rel), rel
    # DVC itself agrees: the checked-out model is the one dvc.lock records
    assert "up to date" in dvc("status", cwd=clone).stdout


def test_no_committed_file_contains_the_credentials(repo: Path, tmp_path: Path,
                                                    s3_server: str) -> None:
    use_s3_remote(repo, s3_server, tmp_path.name)
    run_mlgit("data", "push", cwd=repo)
    files = git("ls-files", "-z", cwd=repo).split("\0")
    assert ".dvc/config" in files and ".dvc/config.local" not in files
    for path in filter(None, files):
        blob = subprocess.run(["git", "show", f"HEAD:{path}"], cwd=repo, capture_output=True,
                              check=True).stdout
        assert KEY.encode() not in blob and SECRET.encode() not in blob, path
    history = subprocess.run(["git", "log", "--all", "-p"], cwd=repo, capture_output=True,
                             check=True).stdout
    assert SECRET.encode() not in history and KEY.encode() not in history
    assert s3_server.encode() in (repo / ".dvc" / "config").read_bytes()  # endpoint is fine


def test_doctor_on_s3_remote_checks_reachability_and_promoted_model(
        repo: Path, tmp_path: Path, s3_server: str) -> None:
    use_s3_remote(repo, s3_server, tmp_path.name)
    git("tag", "-a", "-m", "promote", "model#production#1", cwd=repo)
    res = run_mlgit("doctor", "--json", cwd=repo, check=False)
    findings = {f["check"]: f for f in json.loads(res.stdout)["data"]["findings"]}
    assert findings["remote"]["status"] == "ok" and "answers" in findings["remote"]["message"]
    assert res.returncode == 1 and findings["promoted"]["status"] == "error"
    assert findings["promoted"]["fix"] == "mlgit data push 'model#production#1'"

    run_mlgit("data", "push", "model#production#1", cwd=repo)
    res = run_mlgit("doctor", "--json", cwd=repo, check=False)
    findings = {f["check"]: f for f in json.loads(res.stdout)["data"]["findings"]}
    assert findings["promoted"]["status"] == "ok", findings["promoted"]
    assert res.returncode == 0
