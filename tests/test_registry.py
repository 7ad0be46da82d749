"""The model registry through the real CLI: promote, gates, rollback, models, history, model add.

Tag times come from GIT_COMMITTER_DATE per call (never `sleep`): `Clock.env()` moves it forward.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import dvc, git, repo_state, run_mlgit


class Clock:
    """Fake but increasing tag times, so ordering never depends on the real clock."""

    def __init__(self, start: int = 1_750_000_000):
        self.now = start

    def env(self, step: int = 60) -> dict[str, str]:
        self.now += step
        return {"GIT_COMMITTER_DATE": f"@{self.now} +0000"}


def tags(root: Path) -> list[str]:
    return git("tag", "-l", cwd=root).split()


def tag_record(root: Path, tag: str) -> dict:
    body = git("tag", "-l", "--format=%(contents)", tag, cwd=root)
    return json.loads(body.split("```json\n", 1)[1].split("\n```", 1)[0])


def tagger_time(root: Path, tag: str) -> int:
    return int(git("for-each-ref", "--format=%(taggerdate:unix)", f"refs/tags/{tag}",
                   cwd=root).strip())


def sha(root: Path, rev: str) -> str:
    return git("rev-parse", rev, cwd=root).strip()


def test_promote_registers_then_assigns_with_a_full_record(reg_repo: Path) -> None:
    clock = Clock()
    res = run_mlgit("promote", "exp/fast", "--to", "production", "--require", "accuracy>=0.5",
                    cwd=reg_repo, env=clock.env())
    assert "require accuracy>=0.5" in res.stdout and "FAILED" not in res.stdout
    assert tags(reg_repo) == ["model#production#1", "model@v0.1.0"]
    for tag in tags(reg_repo):  # annotated, on the experiment's commit
        assert git("cat-file", "-t", tag, cwd=reg_repo).strip() == "tag"
        assert sha(reg_repo, f"{tag}^{{commit}}") == sha(reg_repo, "exp/fast")
    # one second apart, register first: GTO orders by tag time
    assert tagger_time(reg_repo, "model#production#1") == tagger_time(reg_repo,
                                                                     "model@v0.1.0") + 1
    record = tag_record(reg_repo, "model#production#1")
    lock = git("show", "exp/fast:dvc.lock", cwd=reg_repo)
    assert record["action"] == "assign" and record["stage"] == "production"
    assert record["experiment"] == "exp/fast"
    assert record["model"]["md5"] in lock and record["model"]["path"] == "models/model.pkl"
    assert set(record["metrics"]) == {"accuracy", "loss"}
    assert "forced" not in record
    subject = git("tag", "-l", "--format=%(contents:subject)", "model#production#1", cwd=reg_repo)
    assert subject.strip() == "Promote model v0.1.0 to production"


def test_second_promotion_bumps_minor_and_records_changed_params(reg_repo: Path) -> None:
    clock = Clock()
    run_mlgit("promote", "main", "--to", "production", cwd=reg_repo, env=clock.env())
    run_mlgit("promote", "exp/fast", "--to", "production", cwd=reg_repo, env=clock.env())
    assert set(tags(reg_repo)) == {"model@v0.1.0", "model#production#1", "model@v0.2.0",
                                   "model#production#2"}
    record = tag_record(reg_repo, "model#production#2")
    assert record["previous"] == "v0.1.0"
    assert record["params_baseline"] == "model@v0.1.0"
    assert record["params_changed"] == {"train.lr": {"old": 0.1, "new": 0.5}}
    # the same commit again: already there, nothing written
    before = repo_state(reg_repo)
    res = run_mlgit("promote", "exp/fast", "--to", "production", cwd=reg_repo, env=clock.env(),
                    check=False)
    assert res.returncode == 1 and "already in production" in res.stderr
    assert repo_state(reg_repo) == before


def test_promote_reuses_version_explicit_version_and_bumps(reg_repo: Path) -> None:
    clock = Clock()
    run_mlgit("promote", "main", "--to", "staging", "--version", "v1.4.0", cwd=reg_repo,
              env=clock.env())
    run_mlgit("promote", "main", "--to", "production", cwd=reg_repo, env=clock.env())
    # the commit already is v1.4.0: only an assignment is added, with the next counter
    assert set(tags(reg_repo)) == {"model@v1.4.0", "model#staging#1", "model#production#2"}
    run_mlgit("promote", "exp/fast", "--to", "staging", "--bump", "major", cwd=reg_repo,
              env=clock.env())
    assert "model@v2.0.0" in tags(reg_repo) and "model#staging#3" in tags(reg_repo)
    res = run_mlgit("promote", "main", "--to", "canary", "--version", "v9.0.0", cwd=reg_repo,
                    env=clock.env(), check=False)
    assert res.returncode == 2 and "already model v1.4.0" in res.stderr


def test_tags_are_spaced_even_with_a_frozen_clock(reg_repo: Path) -> None:
    env = {"GIT_COMMITTER_DATE": "@1750000000 +0000"}
    run_mlgit("promote", "main", "--to", "staging", cwd=reg_repo, env=env)
    run_mlgit("promote", "exp/fast", "--to", "staging", cwd=reg_repo, env=env)
    times = sorted(tagger_time(reg_repo, t) for t in tags(reg_repo))
    assert times == [1750000000, 1750000001, 1750000002, 1750000003]


def test_failing_require_writes_nothing_and_shows_the_table(reg_repo: Path) -> None:
    before = repo_state(reg_repo)
    res = run_mlgit("promote", "exp/fast", "--to", "production", "--require", "accuracy>=0.99",
                    "--require", "f1>0.5", "--require", "loss<1", cwd=reg_repo, check=False)
    assert res.returncode == 1
    assert "2 promotion gates failed; no tag was written" in res.stderr
    assert "FAILED" in res.stderr and "accuracy = 0.93" in res.stderr
    assert "no metric 'f1'; it has: accuracy, loss" in " ".join(res.stderr.split())
    assert tags(reg_repo) == [] and repo_state(reg_repo) == before
    doc = json.loads(run_mlgit("promote", "exp/fast", "--to", "production", "--require",
                               "accuracy>=0.99", "--json", cwd=reg_repo, check=False).stdout)
    assert doc["data"]["ok"] is False
    assert doc["data"]["gates"][0] == {"gate": "require accuracy>=0.99", "ok": False,
                                       "detail": "accuracy = 0.93", "forced": False}


def test_worse_candidate_refused_unless_forced_and_the_tag_says_so(reg_repo: Path) -> None:
    clock = Clock()
    run_mlgit("promote", "main", "--to", "production", cwd=reg_repo, env=clock.env())
    before = repo_state(reg_repo)
    res = run_mlgit("promote", "exp/bad", "--to", "production", cwd=reg_repo, env=clock.env(),
                    check=False)
    assert res.returncode == 1 and "not worse than production (v0.1.0)" in res.stderr
    assert repo_state(reg_repo) == before
    res = run_mlgit("promote", "exp/bad", "--to", "production", "--force", cwd=reg_repo,
                    env=clock.env())
    assert "forced" in res.stdout
    record = tag_record(reg_repo, "model#production#2")
    assert record["forced"] is True
    subject = git("tag", "-l", "--format=%(contents:subject)", "model#production#2", cwd=reg_repo)
    assert "[forced: accuracy" in subject
    history = json.loads(run_mlgit("history", "model", "--json", cwd=reg_repo).stdout)
    assert [e["forced"] for e in history["data"]["entries"]] == [False, False, False, True]


def test_stale_lock_is_refused(reg_repo: Path) -> None:
    text = (reg_repo / "params.yaml").read_text().replace("epochs: 20", "epochs: 21")
    (reg_repo / "params.yaml").write_text(text)
    git("commit", "-q", "-am", "change params, forget to rerun", cwd=reg_repo)
    (reg_repo / "src" / "train.py").write_text((reg_repo / "src" / "train.py").read_text()
                                               + "\n# tweak\n")
    git("commit", "-q", "-am", "change code, forget to rerun", cwd=reg_repo)
    res = run_mlgit("promote", "HEAD", "--to", "staging", cwd=reg_repo, check=False)
    assert res.returncode == 1
    flat = " ".join(res.stderr.split())
    assert "params.yaml:train differs from what 'train' ran with" in flat
    assert "src/train.py changed after 'train' ran" in flat
    assert tags(reg_repo) == []


def _drop_from_cache(root: Path, rev: str) -> str:
    lock = git("show", f"{rev}:dvc.lock", cwd=root)
    md5 = lock.split("path: models/model.pkl", 1)[1].split("md5: ", 1)[1].split()[0]
    obj = root / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]
    obj.chmod(0o644)
    obj.unlink()
    return md5


def test_model_must_be_in_cache_or_remote(reg_repo: Path) -> None:
    dvc("push", "-q", "--all-branches", cwd=reg_repo)
    _drop_from_cache(reg_repo, "exp/fast")
    # in the remote only (pushed from elsewhere): good enough, DVC can fetch it
    res = run_mlgit("promote", "exp/fast", "--to", "staging", cwd=reg_repo)
    assert "in the DVC remote" in " ".join(res.stdout.split())
    assert git("worktree", "list", cwd=reg_repo).count("\n") == 1  # the probe worktree is gone
    # in neither: refused
    md5 = _drop_from_cache(reg_repo, "exp/bad")
    remote_obj = reg_repo.parent / "remote" / "files" / "md5" / md5[:2] / md5[2:]
    remote_obj.unlink()
    before = repo_state(reg_repo)
    res = run_mlgit("promote", "exp/bad", "--to", "canary", cwd=reg_repo, check=False)
    assert res.returncode == 1
    assert "in neither the DVC cache nor the remote" in " ".join(res.stderr.split())
    assert repo_state(reg_repo) == before


def test_rollback_to_previous_and_to_given_version(reg_repo: Path) -> None:
    clock = Clock()
    run_mlgit("promote", "main", "--to", "production", cwd=reg_repo, env=clock.env())
    run_mlgit("promote", "exp/fast", "--to", "production", cwd=reg_repo, env=clock.env())
    res = run_mlgit("rollback", "model", cwd=reg_repo, env=clock.env())
    assert "model v0.1.0 is now in production" in res.stderr
    assert sha(reg_repo, "model#production#3^{commit}") == sha(reg_repo, "main")
    assert tag_record(reg_repo, "model#production#3")["rollback"] is True
    models = json.loads(run_mlgit("models", "--json", cwd=reg_repo).stdout)["data"]
    assert models[0]["stages"]["production"]["version"] == "v0.1.0"
    assert models[0]["latest"] == "v0.2.0"
    # rolling back again goes to the one before: v0.2.0
    run_mlgit("rollback", "model", "--stage", "production", cwd=reg_repo, env=clock.env())
    assert sha(reg_repo, "model#production#4^{commit}") == sha(reg_repo, "exp/fast")
    run_mlgit("rollback", "model", "--to", "v0.1.0", "--json", cwd=reg_repo, env=clock.env())
    assert sha(reg_repo, "model#production#5^{commit}") == sha(reg_repo, "main")


def test_rollback_refuses_when_there_is_nothing_to_go_back_to(reg_repo: Path) -> None:
    clock = Clock()
    run_mlgit("promote", "main", "--to", "production", cwd=reg_repo, env=clock.env())
    before = repo_state(reg_repo)
    res = run_mlgit("rollback", "model", cwd=reg_repo, env=clock.env(), check=False)
    assert res.returncode == 1 and "nothing to roll back to" in res.stderr
    res = run_mlgit("rollback", "model", "--stage", "staging", cwd=reg_repo, check=False)
    assert res.returncode == 1 and "no version of model is in staging" in res.stderr
    res = run_mlgit("rollback", "model", "--to", "v0.1.0", cwd=reg_repo, check=False)
    assert res.returncode == 1 and "already in production" in res.stderr
    res = run_mlgit("rollback", "ghost", cwd=reg_repo, check=False)
    assert res.returncode == 2 and "mlgit model add ghost --path PATH" in res.stderr
    assert repo_state(reg_repo) == before


@pytest.mark.parametrize(("args", "code", "message"), [
    (["promote", "main", "--to", "Prod!"], 2, "'Prod!' is not a valid stage name"),
    (["promote", "main", "--to", "production", "--model", "-bad"], 2,
     "'-bad' is not a valid artifact name"),
    (["promote", "no-such-branch", "--to", "production"], 2, "unknown revision 'no-such-branch'"),
    (["promote", "main", "--to", "production", "--model", "churn"], 2,
     "mlgit model add churn --path PATH"),
    (["promote", "main", "--to", "production", "--require", "__import__('os')>=1"], 2,
     "is not METRIC OP NUMBER"),
    (["promote", "main", "--to", "production", "--require", "accuracy=>0.5"], 2,
     "is not METRIC OP NUMBER"),
    (["promote", "main", "--to", "production", "--version", "1.0.0"], 2,
     "'1.0.0' is not a version like v1.2.3"),
    (["promote", "main", "--to", "production", "--bump", "huge"], 2, "--bump huge"),
    (["promote", "main", "--to", "production", "--push"], 2, "this repo has no git remote"),
    (["history", "ghost"], 2, "unknown artifact 'ghost'"),
    (["verify", "model"], 2, "'model' is not a registry ref"),
    (["verify", "model@v3.0.0"], 2, "unknown artifact 'model'"),
])
def test_bad_input_is_one_line_and_changes_nothing(reg_repo: Path, args: list[str], code: int,
                                                   message: str) -> None:
    before = repo_state(reg_repo)
    res = run_mlgit(*args, cwd=reg_repo, check=False)
    assert res.returncode == code, res.stderr
    assert message in " ".join(res.stderr.split())
    assert "Traceback" not in res.stderr
    assert repo_state(reg_repo) == before


def test_stage_allow_list_from_config(reg_repo: Path) -> None:
    (reg_repo / "mlgit.yaml").write_text((reg_repo / "mlgit.yaml").read_text()
                                         + "stages: [staging, production]\n")
    res = run_mlgit("promote", "main", "--to", "canary", cwd=reg_repo, check=False)
    assert res.returncode == 2 and "allowed stages: staging, production" in res.stderr


def test_registry_refs_resolve_everywhere(reg_repo: Path) -> None:
    from mlgit.refs import resolve_rev
    from mlgit.registry import resolve_registry_ref, tags_for_commit

    clock = Clock()
    run_mlgit("promote", "main", "--to", "production", cwd=reg_repo, env=clock.env())
    run_mlgit("promote", "exp/fast", "--to", "staging", cwd=reg_repo, env=clock.env())
    main, fast = sha(reg_repo, "main"), sha(reg_repo, "exp/fast")
    assert resolve_registry_ref(reg_repo, "model#production") == (main, "model#production#1")
    assert resolve_registry_ref(reg_repo, "model@latest") == (fast, "model@v0.2.0")
    assert resolve_registry_ref(reg_repo, "model@v0.1.0") == (main, "model@v0.1.0")
    assert resolve_registry_ref(reg_repo, "model#canary") is None
    assert resolve_registry_ref(reg_repo, "ghost@latest") is None
    assert resolve_rev(reg_repo, "model#staging").sha == fast
    assert resolve_rev(reg_repo, "model@latest").kind == "registry"
    events = tags_for_commit(reg_repo, main)
    assert [(e.action, e.version, e.stage) for e in events] == [
        ("register", "v0.1.0", None), ("assign", "v0.1.0", "production")]
    assert events[0].author == "Test User" and events[0].signed is False
    assert tags_for_commit(reg_repo, sha(reg_repo, "exp/bad")) == []


def test_models_and_history_ignore_lightweight_and_release_tags(reg_repo: Path) -> None:
    clock = Clock()
    run_mlgit("promote", "main", "--to", "production", cwd=reg_repo, env=clock.env())
    git("tag", "model@v7.0.0", "exp/bad", cwd=reg_repo)  # lightweight: GTO ignores it too
    git("tag", "-a", "-m", "release", "v1.0.0", cwd=reg_repo)
    git("tag", "-a", "-m", "release", "release@2024", cwd=reg_repo)
    doc = json.loads(run_mlgit("models", "--json", cwd=reg_repo).stdout)
    assert doc["command"] == "models"
    [model] = doc["data"]
    assert model["name"] == "model" and model["latest"] == "v0.1.0"
    assert model["declared"] == "models/model.pkl" and model["deprecated"] is False
    assert model["stages"]["production"]["commit"] == sha(reg_repo, "main")
    debug = run_mlgit("--debug", "models", cwd=reg_repo)
    assert "ignoring lightweight tag model@v7.0.0" in debug.stderr
    table = run_mlgit("models", cwd=reg_repo).stdout
    assert "production" in table and "v0.1.0" in table and "v7.0.0" not in table
    hist = json.loads(run_mlgit("history", "model", "--json", cwd=reg_repo).stdout)["data"]
    assert hist["metric"] == "accuracy"
    assert [(e["action"], e["version"], e["stage"]) for e in hist["entries"]] == [
        ("register", "v0.1.0", None), ("assign", "v0.1.0", "production")]
    assert hist["entries"][0]["author"] == "Test User" and hist["entries"][0]["value"] > 0.5
    assert run_mlgit("models", "model", cwd=reg_repo).stdout.count("v0.1.0") == 2


def test_models_lists_declared_artifacts_before_any_promotion(reg_repo: Path) -> None:
    data = json.loads(run_mlgit("models", "--json", cwd=reg_repo).stdout)["data"]
    assert data == [{"name": "model", "latest": None, "latest_commit": None, "stages": {},
                     "versions": 0, "deprecated": False, "declared": "models/model.pkl"}]


def test_model_add_declares_keeps_comments_and_commits(reg_repo: Path) -> None:
    text = (reg_repo / "dvc.yaml").read_text()
    head = sha(reg_repo, "HEAD")
    res = run_mlgit("model", "add", "prepared", "--path", "data/prepared", "--type", "dataset",
                    "--desc", "train/test split", cwd=reg_repo)
    assert "declared artifact 'prepared'" in res.stderr
    new = (reg_repo / "dvc.yaml").read_text()
    # the file is kept byte for byte; the entry is added at the end of `artifacts:`
    assert new == text + ("  prepared:\n    path: data/prepared\n    type: dataset\n"
                          "    desc: train/test split\n")
    assert git("rev-parse", "HEAD~1", cwd=reg_repo).strip() == head
    assert git("status", "--porcelain", cwd=reg_repo) == ""
    before = repo_state(reg_repo)
    res = run_mlgit("model", "add", "x", "--path", "nowhere.pkl", cwd=reg_repo, check=False)
    assert res.returncode == 2 and "not an output of any stage" in res.stderr
    assert repo_state(reg_repo) == before
    (reg_repo / "dvc.yaml").write_text(new + "# my edit\n")
    res = run_mlgit("model", "add", "y", "--path", "data/prepared", cwd=reg_repo, check=False)
    assert res.returncode == 2 and "uncommitted changes" in res.stderr


def test_push_sends_tags_and_model_or_rolls_back(reg_repo: Path, tmp_path: Path) -> None:
    clock = Clock()
    bare = tmp_path / "origin.git"
    git("init", "-q", "--bare", str(bare), cwd=tmp_path)
    git("remote", "add", "origin", str(bare), cwd=reg_repo)
    run_mlgit("promote", "exp/fast", "--to", "production", "--push", cwd=reg_repo,
              env=clock.env())
    remote_tags = git("ls-remote", "--tags", str(bare), cwd=tmp_path)
    assert "refs/tags/model@v0.1.0" in remote_tags and "model#production#1" in remote_tags
    md5 = tag_record(reg_repo, "model@v0.1.0")["model"]["md5"]
    assert (tmp_path / "remote" / "files" / "md5" / md5[:2] / md5[2:]).is_file()
    # a push that fails leaves no local tags behind
    git("remote", "set-url", "origin", str(tmp_path / "missing.git"), cwd=reg_repo)
    before = repo_state(reg_repo)
    res = run_mlgit("promote", "main", "--to", "staging", "--push", cwd=reg_repo,
                    env=clock.env(), check=False)
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert repo_state(reg_repo) == before


def test_demo_step_promotes_the_best_experiment(reg_repo: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from mlgit.cli.demo import DemoContext
    from mlgit.cli.model import demo_step

    monkeypatch.setenv("GIT_COMMITTER_DATE", "@1750000000 +0000")
    ctx = DemoContext(base=tmp_path, project=reg_repo, template="minimal")
    demo_step(ctx)
    captured = capsys.readouterr()
    shown = captured.out
    assert 'mlgit promote exp/fast --to production --require "accuracy>=0.9"' in shown
    assert "model v0.1.0 is now in production" in captured.err
    assert sha(reg_repo, "model#production#1^{commit}") == sha(reg_repo, "exp/fast")
    assert ctx.notes["promoted"]["version"] == "v0.1.0"
    assert "Models" in shown and "v0.1.0" in shown


def test_an_interrupted_write_deletes_the_tags_it_made(reg_repo: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from mlgit.errors import Interrupted
    from mlgit.promote import TagWriter

    monkeypatch.setenv("GIT_COMMITTER_DATE", "@1750000000 +0000")
    git("tag", "-a", "-m", "keep me", "model@v0.0.9", "main", cwd=reg_repo)
    before = repo_state(reg_repo)
    with pytest.raises(Interrupted), TagWriter(reg_repo, 0) as writer:
        writer.create("model@v0.1.0", sha(reg_repo, "main"), "one\n")
        writer.create("model#production#1", sha(reg_repo, "main"), "two\n")
        assert set(tags(reg_repo)) == {"model@v0.0.9", "model@v0.1.0", "model#production#1"}
        raise Interrupted(2)  # what our SIGINT handler raises
    assert repo_state(reg_repo) == before
    with TagWriter(reg_repo, 0) as writer, pytest.raises(Exception, match="already exists"):
        writer.create("model@v0.0.9", sha(reg_repo, "main"), "clash\n")
    assert repo_state(reg_repo) == before  # someone else's tag is never deleted
