"""The registry against the real tools: GTO reads what mlgit writes and the other way round;
`dvc artifacts get --stage` fetches the promoted model; SSH-signed tags verify, tampered fail."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import dvc, git, run_env, run_mlgit
from tests.test_registry import Clock, sha, tag_record

GTO = Path(sys.executable).parent / "gto"


def gto(*args: str, cwd: Path) -> str:
    res = subprocess.run([str(GTO), *args], cwd=cwd, text=True, capture_output=True,
                         env=run_env())
    assert res.returncode == 0, f"gto {' '.join(args)} failed:\n{res.stdout}\n{res.stderr}"
    return res.stdout


def locked_md5(root: Path, rev: str, path: str = "models/model.pkl") -> str:
    lock = git("show", f"{rev}:dvc.lock", cwd=root)
    return lock.split(f"path: {path}", 1)[1].split("md5: ", 1)[1].split()[0]


def mlgit_models(root: Path) -> dict[str, dict]:
    data = json.loads(run_mlgit("models", "--json", cwd=root).stdout)["data"]
    return {m["name"]: m for m in data}


pytestmark = pytest.mark.skipif(not GTO.exists(), reason="gto is not installed")


def test_gto_show_and_history_agree_with_mlgit(reg_repo: Path) -> None:
    clock = Clock()
    run_mlgit("promote", "main", "--to", "staging", cwd=reg_repo, env=clock.env())
    run_mlgit("promote", "exp/fast", "--to", "production", cwd=reg_repo, env=clock.env())
    run_mlgit("promote", "main", "--to", "production", "--force", cwd=reg_repo, env=clock.env())
    ours = mlgit_models(reg_repo)["model"]
    theirs = json.loads(gto("show", "--json", cwd=reg_repo))["model"]
    assert theirs["version"] == ours["latest"] == "v0.2.0"
    assert theirs["stage"] == {s: e["version"] for s, e in ours["stages"].items()} == {
        "staging": "v0.1.0", "production": "v0.1.0"}
    versions = json.loads(gto("show", "model", "--json", cwd=reg_repo))
    assert {v["version"] for v in versions} == {"v0.1.0", "v0.2.0"}
    history = json.loads(run_mlgit("history", "model", "--json", cwd=reg_repo).stdout)["data"]
    kinds = {"registration": "register", "assignment": "assign"}
    gto_events = [(kinds[e["event"]], e["version"], e["stage"], e["commit"])
                  for e in json.loads(gto("history", "--json", cwd=reg_repo))
                  if e["event"] in kinds]
    our_events = [(e["action"], e["version"], e["stage"], e["commit"])
                  for e in history["entries"]]
    assert sorted(gto_events, key=str) == sorted(our_events, key=str)
    assert len(our_events) == 5


def test_dvc_artifacts_get_follows_promote_and_rollback(reg_repo: Path, tmp_path: Path) -> None:
    clock = Clock()
    dvc("push", "-q", "--all-branches", cwd=reg_repo)
    run_mlgit("promote", "main", "--to", "production", cwd=reg_repo, env=clock.env())
    run_mlgit("promote", "exp/fast", "--to", "production", cwd=reg_repo, env=clock.env())

    def fetch(name: str) -> str:
        clone = tmp_path / name
        git("clone", "-q", str(reg_repo), str(clone), cwd=tmp_path)
        (clone / ".dvc" / "config.local").write_text(
            (reg_repo / ".dvc" / "config.local").read_text())
        dvc("artifacts", "get", ".", "model", "--stage", "production", "-o", "got.pkl",
            cwd=clone)
        return hashlib.md5((clone / "got.pkl").read_bytes()).hexdigest()

    assert locked_md5(reg_repo, "exp/fast") != locked_md5(reg_repo, "main")
    assert fetch("after-promote") == locked_md5(reg_repo, "exp/fast")
    run_mlgit("rollback", "model", cwd=reg_repo, env=clock.env())
    assert fetch("after-rollback") == locked_md5(reg_repo, "main")


def test_tags_written_by_gto_show_in_mlgit(reg_repo: Path) -> None:
    gto("register", "model", "main", cwd=reg_repo)
    gto("register", "model", "exp/fast", cwd=reg_repo)
    gto("assign", "model", "--version", "v0.0.1", "--stage", "staging", cwd=reg_repo)
    gto("assign", "model", "--version", "v0.0.2", "--stage", "production", cwd=reg_repo)
    gto("register", "model", "exp/bad", "--version", "v0.1.0", cwd=reg_repo)
    gto("deprecate", "model", "v0.1.0", cwd=reg_repo)  # deregisters the version
    theirs = json.loads(gto("show", "--json", cwd=reg_repo))["model"]
    ours = mlgit_models(reg_repo)["model"]
    assert ours["latest"] == theirs["version"] == "v0.0.2"
    assert {s: e["version"] for s, e in ours["stages"].items()} == theirs["stage"] == {
        "staging": "v0.0.1", "production": "v0.0.2"}
    # GTO allows one version per commit, even a deregistered one: mlgit refuses to add one
    before = git("tag", "-l", cwd=reg_repo)
    res = run_mlgit("promote", "exp/bad", "--to", "canary", "--force", cwd=reg_repo,
                    check=False)
    assert res.returncode == 2 and "v0.1.0, which is deregistered" in res.stderr
    assert git("tag", "-l", cwd=reg_repo) == before
    # mlgit continues GTO's counter, and dates its tag after GTO's even from an older clock
    counters = [int(t.rsplit("#", 1)[1]) for t in before.split() if t.count("#") == 2]
    tag = f"model#canary#{max(counters) + 1}"
    newest = max(int(t) for t in git("for-each-ref", "--format=%(taggerdate:unix)",
                                     "refs/tags", cwd=reg_repo).split())
    run_mlgit("promote", "main", "--to", "canary", cwd=reg_repo,
              env={"GIT_COMMITTER_DATE": "@1600000000 +0000"})
    assert set(git("tag", "-l", cwd=reg_repo).split()) - set(before.split()) == {tag}
    when = git("for-each-ref", "--format=%(taggerdate:unix)", f"refs/tags/{tag}", cwd=reg_repo)
    assert int(when) == newest + 1
    assert json.loads(gto("show", "--json", cwd=reg_repo))["model"]["stage"]["canary"] == "v0.0.1"


@pytest.fixture
def ssh_signing(reg_repo: Path, tmp_path: Path) -> Path:
    """An ed25519 key made here, used by git for tag signatures, trusted for test@example.com."""
    key = tmp_path / "signing_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "mlgit-test", "-f",
                    str(key)], check=True)
    allowed = tmp_path / "allowed_signers"
    allowed.write_text("test@example.com " + (tmp_path / "signing_key.pub").read_text())
    for k, v in (("gpg.format", "ssh"), ("user.signingkey", str(key)),
                 ("gpg.ssh.allowedSignersFile", str(allowed))):
        git("config", k, v, cwd=reg_repo)
    return key


def test_verify_signed_tags_and_catch_tampering(reg_repo: Path, ssh_signing: Path,
                                                tmp_path: Path) -> None:
    clock = Clock()
    run_mlgit("promote", "exp/fast", "--to", "production", "--sign", cwd=reg_repo,
              env=clock.env())
    assert "-----BEGIN SSH SIGNATURE-----" in git("cat-file", "tag", "model@v0.1.0", cwd=reg_repo)
    res = run_mlgit("verify", "model#production", "--require-signed", cwd=reg_repo)
    assert "verified" in res.stderr and "Good" in res.stdout
    doc = json.loads(run_mlgit("verify", "model@v0.1.0", "--json", cwd=reg_repo).stdout)
    assert doc["data"]["ok"] is True and all(c["ok"] for c in doc["data"]["checks"])

    # 1. the signed tag re-pointed at another commit (same name, signature copied)
    raw = git("cat-file", "tag", "model@v0.1.0", cwd=reg_repo)
    moved = raw.replace(sha(reg_repo, "exp/fast"), sha(reg_repo, "exp/bad"), 1)
    obj = subprocess.run(["git", "mktag"], cwd=reg_repo, input=moved, text=True,
                         capture_output=True, check=True).stdout.strip()
    git("update-ref", "refs/tags/model@v0.1.0", obj, cwd=reg_repo)
    res = run_mlgit("verify", "model@v0.1.0", "--json", cwd=reg_repo, check=False)
    assert res.returncode == 1
    checks = {c["gate"]: c for c in json.loads(res.stdout)["data"]["checks"]}
    assert checks["signature of model@v0.1.0"]["ok"] is False
    assert checks["recorded commit"]["ok"] is False
    assert "the tag was moved" in checks["recorded commit"]["detail"]
    assert "did not hold" in res.stderr

    # 2. a validly signed assignment whose recorded model hash is not the commit's
    message = git("for-each-ref", "--format=%(contents:subject)%0a%0a%(contents:body)",
                  "refs/tags/model#production#1", cwd=reg_repo)
    md5 = tag_record(reg_repo, "model#production#1")["model"]["md5"]
    forged = tmp_path / "forged.txt"
    forged.write_text(message.replace(md5, "0" * 32))
    git("tag", "-f", "-s", "--cleanup=whitespace", "-F", str(forged), "model#production#1",
        "exp/fast", cwd=reg_repo)
    res = run_mlgit("verify", "model#production", "--json", cwd=reg_repo, check=False)
    assert res.returncode == 1
    checks = {c["gate"]: c for c in json.loads(res.stdout)["data"]["checks"]}
    assert checks["signature of model#production#1"]["ok"] is True
    assert checks["recorded model hash"]["ok"] is False


def test_verify_checks_the_bytes_and_unsigned_tags(reg_repo: Path) -> None:
    dvc("push", "-q", "--all-branches", cwd=reg_repo)
    run_mlgit("promote", "exp/fast", "--to", "production", cwd=reg_repo, env=Clock().env())
    res = run_mlgit("verify", "model@latest", "--require-signed", cwd=reg_repo, check=False)
    assert res.returncode == 1 and "not signed" in res.stdout
    md5 = locked_md5(reg_repo, "exp/fast")
    obj = reg_repo / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]
    obj.chmod(0o644)
    obj.write_bytes(b"not the model")
    res = run_mlgit("verify", "model#production", cwd=reg_repo, check=False)
    assert res.returncode == 1
    assert "content does not match its hash" in " ".join(res.stdout.split())
    # not in the cache: skipped without fetching, else fetched from the remote and checked
    obj.unlink()
    res = run_mlgit("verify", "model#production", "--no-fetch", cwd=reg_repo)
    assert "skipped" in res.stdout and not obj.exists()
    res = run_mlgit("verify", "model#production", cwd=reg_repo)
    assert "fetched from the DVC remote" in " ".join(res.stdout.split()) and obj.exists()
