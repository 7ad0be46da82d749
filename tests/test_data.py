"""`mlgit data add|status|push|pull` and `mlgit remote add|list`, on real Git + DVC repos."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tests.helpers import commit_all, dvc, git, repo_state, run_mlgit, write_files


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def in_remote(remote: Path, md5_hash: str) -> bool:
    """Whether a DVC 3 remote directory holds the object `md5_hash`."""
    return (remote / "files" / "md5" / md5_hash[:2] / md5_hash[2:]).is_file()


def model_hash(root: Path, rev: str = "HEAD") -> str:
    lock = git("show", f"{rev}:dvc.lock", cwd=root)
    import yaml

    outs = yaml.safe_load(lock)["stages"]["train"]["outs"]
    return next(o["md5"] for o in outs if o["path"] == "models/model.pkl")


def make_experiment(root: Path, name: str, lr: str) -> str:
    """An experiment branch the way a user makes one: branch, change a param, repro, commit."""
    git("checkout", "-q", "-b", f"exp/{name}", cwd=root)
    params = root / "params.yaml"
    params.write_text(params.read_text().replace("lr: 0.1", f"lr: {lr}"))
    dvc("repro", "-q", cwd=root)
    sha = commit_all(root, f"experiment {name}")
    git("checkout", "-q", "main", cwd=root)
    dvc("checkout", "-q", cwd=root)
    return sha


def one_line_error(res: object) -> str:
    err = res.stderr  # type: ignore[attr-defined]
    assert res.returncode != 0  # type: ignore[attr-defined]
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert 1 <= len(lines) <= 2, err
    assert lines[0].startswith("error:")
    return err


# --- data add ---------------------------------------------------------------------------------


def test_data_add_tracks_and_stages_dvc_file_and_gitignore(repo: Path) -> None:
    write_files(repo, {"data/extra.csv": "a,b\n1,2\n"})
    head = git("rev-parse", "HEAD", cwd=repo)
    res = run_mlgit("data", "add", "data/extra.csv", cwd=repo)
    assert "tracking data/extra.csv" in res.stderr
    staged = git("diff", "--cached", "--name-only", cwd=repo).split()
    assert staged == ["data/.gitignore", "data/extra.csv.dvc"]
    assert "/extra.csv" in (repo / "data" / ".gitignore").read_text()
    assert git("rev-parse", "HEAD", cwd=repo) == head  # staged, not committed
    assert "data/extra.csv" not in git("ls-files", cwd=repo).split()


def test_data_add_commit_from_subdir_with_spaces_and_unicode(repo: Path) -> None:
    write_files(repo, {"data/my set ü/a.txt": "one\n", "data/my set ü/b.txt": "two\n",
                       "notes.txt": "unrelated, staged by the user\n"})
    git("add", "notes.txt", cwd=repo)
    run_mlgit("data", "add", "my set ü", "--commit", "-m", "Add my set", cwd=repo / "data")
    show = git("-c", "core.quotePath=false", "show", "--name-only", "--format=%s", "HEAD",
               cwd=repo)
    assert show.splitlines()[0] == "Add my set"
    assert "data/my set ü.dvc" in show and "data/.gitignore" in show
    assert "notes.txt" not in show  # the user's staged file stays out of our commit
    assert "A  notes.txt" in git("status", "--porcelain", cwd=repo)
    assert dvc("status", cwd=repo).stdout.strip().endswith("up to date.")


@pytest.mark.parametrize("case", ["missing", "outside", "git-tracked", "dot-dvc"])
def test_data_add_bad_input_changes_nothing(repo: Path, tmp_path: Path, case: str) -> None:
    (tmp_path / "outside.csv").write_text("x\n")
    path = {"missing": "data/nope.csv", "outside": str(tmp_path / "outside.csv"),
            "git-tracked": "params.yaml", "dot-dvc": ".dvc/config"}[case]
    before = repo_state(repo)
    err = one_line_error(run_mlgit("data", "add", path, cwd=repo, check=False))
    assert {"missing": "no such file", "outside": "outside the repository",
            "git-tracked": "tracked by Git", "dot-dvc": "cannot be tracked"}[case] in err
    assert repo_state(repo) == before


# --- status, push, pull -----------------------------------------------------------------------


def test_status_push_clone_pull_round_trip(repo: Path, tmp_path: Path) -> None:
    remote = tmp_path / "remote"
    res = run_mlgit("data", "status", "--json", cwd=repo)
    doc = json.loads(res.stdout)["data"]
    assert doc["remote"] == "storage" and doc["remote_checked"] is True
    not_pushed = {e["path"] for e in doc["entries"] if e["state"] == "not pushed"}
    assert {"data/raw.csv", "models/model.pkl"} <= not_pushed

    before = repo_state(repo)
    run_mlgit("data", "push", cwd=repo)
    assert repo_state(repo) == before
    assert in_remote(remote, model_hash(repo))
    res = run_mlgit("data", "status", cwd=repo)
    assert "up to date" in res.stderr and res.stdout == ""

    clone = tmp_path / "clone"
    git("clone", "-q", str(repo), str(clone), cwd=tmp_path)
    (clone / ".dvc" / "config.local").write_text(f"['remote \"storage\"']\n    url = {remote}\n")
    assert not (clone / "models" / "model.pkl").exists()
    run_mlgit("data", "pull", cwd=clone)
    for rel in ("models/model.pkl", "data/raw.csv", "data/prepared/train.csv"):
        assert md5(clone / rel) == md5(repo / rel), rel


def test_status_reports_modified_and_not_in_cache(repo: Path) -> None:
    (repo / "data" / "raw.csv").write_text("x,y\n1,0\n")
    cached = repo / ".dvc" / "cache" / "files" / "md5"
    model = model_hash(repo)
    (cached / model[:2] / model[2:]).unlink()
    res = run_mlgit("data", "status", "--offline", "--json", cwd=repo)
    doc = json.loads(res.stdout)["data"]
    states = {(e["path"], e["state"]) for e in doc["entries"]}
    assert ("data/raw.csv", "modified") in states
    assert ("models/model.pkl", "not in cache") in states
    assert doc["remote_checked"] is False
    table = run_mlgit("data", "status", "--offline", cwd=repo).stdout
    assert "modified" in table and "mlgit data pull" in table


def test_push_all_experiments_pushes_every_experiment_branch(repo: Path, tmp_path: Path) -> None:
    remote = tmp_path / "remote"
    make_experiment(repo, "fast", "0.5")
    make_experiment(repo, "slow", "0.01")
    hashes = {name: model_hash(repo, f"exp/{name}") for name in ("fast", "slow")}
    assert len({*hashes.values(), model_hash(repo)}) == 3  # three different models
    before = repo_state(repo)
    res = run_mlgit("data", "push", "--all-experiments", cwd=repo)
    assert "exp/fast" in res.stderr and "exp/slow" in res.stderr
    assert all(in_remote(remote, h) for h in hashes.values())
    assert not in_remote(remote, model_hash(repo))  # main's model was not asked for
    assert repo_state(repo) == before  # nothing checked out


def test_push_and_pull_one_ref_without_checkout(repo: Path, tmp_path: Path) -> None:
    remote = tmp_path / "remote"
    make_experiment(repo, "fast", "0.5")
    make_experiment(repo, "slow", "0.01")
    fast, slow = model_hash(repo, "exp/fast"), model_hash(repo, "exp/slow")
    before = repo_state(repo)
    run_mlgit("data", "push", "fast", cwd=repo)  # an experiment name resolves to exp/fast
    assert in_remote(remote, fast) and not in_remote(remote, slow)

    cache = repo / ".dvc" / "cache" / "files" / "md5"
    (cache / fast[:2] / fast[2:]).unlink()
    res = run_mlgit("data", "pull", "exp/fast", cwd=repo)
    assert "into the cache" in res.stderr
    assert (cache / fast[:2] / fast[2:]).is_file()
    assert repo_state(repo) == before


@pytest.mark.parametrize("args,needle", [
    (["push", "no-such-ref"], "unknown revision 'no-such-ref'"),
    (["push", "--", "--all"], "unknown revision '--all'"),
    (["pull", "HEAD~5"], "unknown revision 'HEAD~5'"),
    (["push", "-r", "nope"], "no DVC remote named 'nope'"),
])
def test_push_pull_bad_input_transfers_nothing(repo: Path, tmp_path: Path, args: list[str],
                                               needle: str) -> None:
    before, stored = repo_state(repo), sorted((tmp_path / "remote").rglob("*"))
    err = one_line_error(run_mlgit("data", *args, cwd=repo, check=False))
    assert needle in err
    assert repo_state(repo) == before
    assert sorted((tmp_path / "remote").rglob("*")) == stored


def test_push_without_any_remote_says_how_to_add_one(repo: Path) -> None:
    (repo / ".dvc" / "config.local").unlink()
    dvc("remote", "remove", "storage", cwd=repo)
    err = one_line_error(run_mlgit("data", "push", cwd=repo, check=False))
    assert "no default DVC remote" in err and "mlgit remote add" in err


# --- remotes ----------------------------------------------------------------------------------


def test_remote_add_and_list(repo: Path, tmp_path: Path) -> None:
    run_mlgit("remote", "add", "backup", "../backup-store", cwd=repo / "data")
    doc = json.loads(run_mlgit("remote", "list", "--json", cwd=repo).stdout)["data"]
    by_name = {r["name"]: r for r in doc}
    assert by_name["storage"]["default"] is True
    assert by_name["backup"]["default"] is False
    assert Path(by_name["backup"]["url"]) == repo / "backup-store"  # relative to where we were
    run_mlgit("remote", "add", "s3store", "s3://bucket/project", "--default",
              "--endpoint-url", "http://127.0.0.1:9", cwd=repo)
    config = (repo / ".dvc" / "config").read_text()
    assert "endpointurl = http://127.0.0.1:9" in config and "remote = s3store" in config
    table = run_mlgit("remote", "list", cwd=repo).stdout
    assert table.index("s3store") < table.index("storage")  # the default first
    assert "http://127.0.0.1:9" in table


@pytest.mark.parametrize("args,needle", [
    (["bad name", "/tmp/x"], "not a valid remote name"),
    (["-x", "/tmp/x"], "No such option"),
    (["ok", ""], "remote URL is empty"),
    (["ok", "--", "-rf"], "must not start with '-'"),
    (["ok", "https://user:secret@example.com/store"], "contains a password"),
    (["ok", "/tmp/x", "--endpoint-url", "http://127.0.0.1:9"], "is for s3:// remotes"),
    (["ok", "s3://b/p", "--endpoint-url", "ftp://x"], "not an http(s) URL"),
    (["storage", "/tmp/x"], "already exists"),
])
def test_remote_add_bad_input_changes_nothing(repo: Path, args: list[str], needle: str) -> None:
    before = repo_state(repo)
    res = run_mlgit("remote", "add", *args, cwd=repo, check=False)
    assert res.returncode != 0 and "Traceback" not in res.stderr
    assert needle in res.stderr
    assert repo_state(repo) == before


def test_config_transaction_restores_dvc_config_on_failure(repo: Path) -> None:
    """A multi-step remote change that fails half-way leaves DVC's config files as they were."""
    from mlgit.data import _config_transaction

    config, local = repo / ".dvc" / "config", repo / ".dvc" / "config.local"
    before = (config.read_bytes(), local.read_bytes())
    with pytest.raises(RuntimeError), _config_transaction(repo):
        config.write_text("half-written")
        local.unlink()
        raise RuntimeError("dvc remote modify failed")
    assert (config.read_bytes(), local.read_bytes()) == before


def test_demo_step_pushes_experiments_and_runs_doctor(repo: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from mlgit.cli.data import demo_step
    from mlgit.cli.demo import DemoContext

    make_experiment(repo, "fast", "0.5")
    demo_step(DemoContext(base=tmp_path, project=repo, template="minimal"))
    printed = capsys.readouterr().out
    assert "mlgit data push --all-experiments" in printed and "mlgit doctor" in printed
    assert "0 errors" in printed
    assert in_remote(tmp_path / "remote", model_hash(repo, "exp/fast"))
    assert in_remote(tmp_path / "remote", model_hash(repo))


def test_push_old_commits_to_a_remote_added_after_them(repo: Path, tmp_path: Path) -> None:
    """DVC reads each commit's own config; a remote added today must still get old outputs."""
    make_experiment(repo, "old", "0.5")
    later = tmp_path / "later-remote"
    run_mlgit("remote", "add", "later", str(later), cwd=repo)
    commit_all(repo, "add a remote")
    old = model_hash(repo, "exp/old")
    run_mlgit("data", "push", "-r", "later", "exp/old", cwd=repo)
    assert in_remote(later, old)
    cached = repo / ".dvc" / "cache" / "files" / "md5" / old[:2] / old[2:]
    cached.unlink()  # and fetch it back from there
    run_mlgit("data", "pull", "-r", "later", "exp/old", cwd=repo)
    assert cached.is_file()
