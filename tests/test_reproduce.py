"""`mlgit reproduce`: real git + DVC + the minimal pipeline, in throwaway worktrees."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers import (
    commit_all,
    dvc,
    git,
    mlgit_cmd,
    repo_state,
    run_env,
    run_mlgit,
    write_files,
)


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def locked_hash(root: Path, rev: str, path: str) -> str:
    """The md5 that `rev`'s dvc.lock records for output `path`."""
    import yaml

    lock = yaml.safe_load(git("show", f"{rev}:dvc.lock", cwd=root))
    for stage in lock["stages"].values():
        for out in stage.get("outs", []):
            if out["path"] == path:
                return str(out["md5"])
    raise AssertionError(f"{path} not in dvc.lock at {rev}")


def set_param(root: Path, old: str, new: str) -> None:
    params = root / "params.yaml"
    text = params.read_text()
    assert old in text
    params.write_text(text.replace(old, new))


def run_and_commit(root: Path, message: str) -> str:
    dvc("repro", "-q", cwd=root)
    return commit_all(root, message)


def reproduce_json(root: Path, *args: str, check: bool = True) -> dict:
    res = run_mlgit("reproduce", *args, "--json", cwd=root, check=check)
    return json.loads(res.stdout)["data"]


def no_mlgit_worktrees(root: Path) -> bool:
    listed = git("worktree", "list", "--porcelain", cwd=root)
    leftovers = root / ".git" / "mlgit" / "worktrees"
    return listed.count("worktree ") == 1 and not (leftovers.exists() and any(leftovers.iterdir()))


def test_materialise_three_commits_back_leaves_a_dirty_checkout_alone(repo: Path,
                                                                      tmp_path: Path) -> None:
    old = git("rev-parse", "HEAD", cwd=repo).strip()
    for old_text, new_text in (("lr: 0.1", "lr: 0.3"), ("epochs: 20", "epochs: 12"),
                               ("seed: 1", "seed: 5")):
        set_param(repo, old_text, new_text)
        run_and_commit(repo, f"try {new_text}")
    assert locked_hash(repo, "HEAD~3", "models/model.pkl") != \
        locked_hash(repo, "HEAD", "models/model.pkl")
    # the user is mid-work: an edited param, a staged file, an untracked file
    set_param(repo, "lr: 0.3", "lr: 0.9")
    write_files(repo, {"notes.txt": "staged\n", "scratch.txt": "untracked\n"})
    git("add", "notes.txt", cwd=repo)
    before = repo_state(repo)

    out_dir = tmp_path / "rebuilt"
    res = run_mlgit("reproduce", "HEAD~3", "--output", str(out_dir), cwd=repo)

    assert f"all 4 outputs of {old[:8]} match its dvc.lock" in res.stdout
    model = (out_dir / "models" / "model.pkl").read_bytes()
    assert md5(model) == locked_hash(repo, old, "models/model.pkl")
    assert (out_dir / "data" / "prepared" / "train.csv").is_file()
    assert "copied to" in res.stderr and "models/model.pkl, data/prepared" in res.stderr
    assert repo_state(repo) == before
    assert no_mlgit_worktrees(repo)


def test_json_names_every_output_and_its_hashes(repo: Path) -> None:
    data = reproduce_json(repo, "main")
    assert data["ok"] is True and data["mode"] == "materialise"
    rows = {c["path"]: c for c in data["checks"]}
    assert set(rows) == {"data/prepared", "models/model.pkl", "metrics.json", "data/raw.csv"}
    model = rows["models/model.pkl"]
    assert model["kind"] == "model" and model["stage"] == "train"
    assert model["committed"] == model["found"] == locked_hash(repo, "HEAD", "models/model.pkl")
    assert rows["data/prepared"]["found"].endswith(".dir")
    assert rows["data/raw.csv"]["kind"] == "data" and rows["data/raw.csv"]["stage"] is None
    assert data["worktree"] is None and data["pulled"] == []


def test_rerun_of_a_deterministic_pipeline_matches_bit_for_bit(repo: Path) -> None:
    before = repo_state(repo)
    res = run_mlgit("reproduce", "HEAD", "--rerun", "--verify", cwd=repo)
    assert "Running stage 'train'" in res.stderr  # DVC's own output streams through
    assert "all 4 outputs" in res.stdout and "match its dvc.lock" in res.stdout
    assert "rebuilt" in res.stdout
    assert repo_state(repo) == before
    assert no_mlgit_worktrees(repo)


def patch_and_run(repo: Path, path: str, old: str, new: str, message: str) -> None:
    """Change a stage's code, run the pipeline, commit: a recorded run of that code."""
    source = repo / path
    text = source.read_text()
    assert old in text
    source.write_text(text.replace(old, new))
    run_and_commit(repo, message)


def test_rerun_of_a_nondeterministic_stage_is_reported_and_fails_verify(repo: Path) -> None:
    patch_and_run(repo, "src/train.py", '"bias": round(b, 12)}',
                  '"bias": round(b, 12), "trained_at": __import__("time").time_ns()}',
                  "stamp the model with the training time")
    before = repo_state(repo)

    strict = run_mlgit("reproduce", "HEAD", "--rerun", "--verify", cwd=repo, check=False)
    assert strict.returncode == 1
    assert "✗ differs" in strict.stdout
    assert "1 of 4 outputs" in strict.stderr and "models/model.pkl" in strict.stderr
    assert "Traceback" not in strict.stderr

    lenient = reproduce_json(repo, "HEAD", "--rerun")  # exit 0 without --verify
    rows = {c["path"]: c for c in lenient["checks"]}
    assert lenient["ok"] is False
    assert rows["models/model.pkl"]["status"] == "differ"
    assert rows["data/prepared"]["status"] == "match"
    assert repo_state(repo) == before
    assert no_mlgit_worktrees(repo)


def test_metrics_equal_within_rtol_are_reported_as_such(repo: Path) -> None:
    noise = '(1 + __import__("random").random() * 1e-12)'
    patch_and_run(repo, "src/evaluate.py", '"loss": round(loss / len(rows), 6)}',
                  f'"loss": round(loss / len(rows), 6) * {noise}}}',
                  "evaluation with float noise far below 1e-9")

    data = reproduce_json(repo, "HEAD", "--rerun", "--verify")
    metrics = next(c for c in data["checks"] if c["path"] == "metrics.json")
    assert metrics["status"] == "close" and "equal within rtol 1e-09" in metrics["detail"]
    assert data["ok"] is True

    strict = run_mlgit("reproduce", "HEAD", "--rerun", "--verify", "--rtol", "0", cwd=repo,
                       check=False)
    assert strict.returncode == 1 and "metrics.json" in strict.stderr


def test_outputs_missing_from_the_cache_are_pulled_from_the_remote(repo: Path) -> None:
    dvc("push", "-q", cwd=repo)
    shutil.rmtree(repo / ".dvc" / "cache")
    before = repo_state(repo)

    data = reproduce_json(repo, "HEAD")

    assert data["ok"] is True
    assert set(data["pulled"]) == {"data/prepared", "models/model.pkl", "data/raw.csv"}
    expected = locked_hash(repo, "HEAD", "models/model.pkl")
    assert (repo / ".dvc" / "cache" / "files" / "md5" / expected[:2] / expected[2:]).is_file()
    assert repo_state(repo) == before


def test_outputs_in_neither_cache_nor_remote_are_named_with_their_commit(repo: Path) -> None:
    set_param(repo, "lr: 0.1", "lr: 0.4")
    sha = run_and_commit(repo, "faster")
    shutil.rmtree(repo / ".dvc" / "cache")  # and the remote was never pushed to
    before = repo_state(repo)

    res = run_mlgit("reproduce", "HEAD", cwd=repo, check=False)

    assert res.returncode == 1
    errors = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert "missing from the DVC cache and the remote" in errors[0]
    assert f"models/model.pkl (from {sha[:8]})" in errors[0]
    assert "data/prepared (from " in errors[0] and "data/raw.csv" in errors[0]
    assert "hint:" in res.stderr and "Traceback" not in res.stderr
    assert repo_state(repo) == before
    assert no_mlgit_worktrees(repo)


def test_rerun_needs_only_the_source_data(repo: Path) -> None:
    shutil.rmtree(repo / ".dvc" / "cache")
    res = run_mlgit("reproduce", "HEAD", "--rerun", cwd=repo, check=False)
    assert res.returncode == 1
    assert "error: 1 input of " in res.stderr and "data/raw.csv" in res.stderr
    assert "models/model.pkl" not in res.stderr  # outputs are rebuilt, not needed


def _stage_started(worktrees: Path) -> Path | None:
    for flag in worktrees.glob("repro-*/started.flag"):
        return flag.parent
    return None


def _processes_inside(path: Path) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if str(path) in os.readlink(entry / "cwd"):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupt_during_rerun_leaves_no_worktree_lock_or_process(repo: Path,
                                                                   sig: signal.Signals) -> None:
    dvc_yaml = repo / "dvc.yaml"
    dvc_yaml.write_text(dvc_yaml.read_text().replace(
        "cmd: python src/prepare.py",
        "cmd: python -c \"open('started.flag', 'w')\" && sleep 60 && python src/prepare.py", 1))
    commit_all(repo, "a slow first stage")
    before = repo_state(repo)
    worktrees = repo / ".git" / "mlgit" / "worktrees"

    proc = subprocess.Popen([*mlgit_cmd(), "reproduce", "HEAD", "--rerun"], cwd=repo,
                            env=run_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        deadline = time.monotonic() + 60
        wt = None
        while wt is None and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)  # polling for the stage to start, not waiting for time to pass
            wt = _stage_started(worktrees)
        assert wt is not None, proc.communicate()
        proc.send_signal(sig)
        _out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    assert proc.returncode == 128 + sig
    assert "interrupted" in err and "Traceback" not in err
    assert not wt.exists()
    assert no_mlgit_worktrees(repo)
    assert not _processes_inside(wt)  # the stage's `sleep` was stopped too
    tmp = repo / ".dvc" / "tmp"
    assert not any((tmp / name).exists() for name in ("lock", "rwlock", "rwlock.lock"))
    assert repo_state(repo) == before


def test_dvc2_hashes_are_checked_with_dvc2_rules(repo: Path) -> None:
    # A commit as DVC 2 wrote it: no `hash: md5`, objects in the old cache layout, and a text
    # file with CRLF line ends, whose DVC 2 hash (after CRLF -> LF) is not its plain md5.
    cache = repo / ".dvc" / "cache"
    for obj in list((cache / "files" / "md5").rglob("*")):
        if obj.is_file():
            rel = obj.relative_to(cache / "files" / "md5")
            (cache / rel).parent.mkdir(parents=True, exist_ok=True)
            obj.rename(cache / rel)
    shutil.rmtree(cache / "files")
    for name in ("dvc.lock", "data/raw.csv.dvc"):
        path = repo / name
        path.write_text("".join(line for line in path.read_text().splitlines(True)
                                if line.strip() != "hash: md5"))
    crlf = b"id,label\r\n1,yes\r\n2,no\r\n"
    legacy = md5(crlf.replace(b"\r\n", b"\n"))
    assert legacy != md5(crlf)
    (cache / legacy[:2]).mkdir(exist_ok=True)
    (cache / legacy[:2] / legacy[2:]).write_bytes(crlf)
    write_files(repo, {
        "data/labels.csv.dvc": f"outs:\n- md5: {legacy}\n  size: {len(crlf)}\n  path: labels.csv\n",
        "data/.gitignore": (repo / "data" / ".gitignore").read_text() + "/labels.csv\n"})
    commit_all(repo, "as DVC 2 left it")

    res = run_mlgit("reproduce", "HEAD", "--json", cwd=repo)
    data = json.loads(res.stdout)["data"]

    rows = {c["path"]: c for c in data["checks"]}
    assert data["ok"] is True and data["legacy_hashes"] is True
    assert rows["data/labels.csv"]["found"] == legacy
    assert rows["models/model.pkl"]["status"] == "match"
    assert "dvc#9818" in data["notes"][0] and "dvc cache migrate" in data["notes"][0]


def test_keep_leaves_the_worktree_and_says_where(repo: Path) -> None:
    res = run_mlgit("reproduce", "HEAD", "--keep", cwd=repo)
    line = next(x for x in res.stdout.splitlines() if x.startswith("worktree kept at "))
    path = Path(line.removeprefix("worktree kept at ").split(" (")[0])
    try:
        assert (path / "models" / "model.pkl").is_file()
        assert str(path) in git("worktree", "list", cwd=repo)
    finally:
        git("worktree", "remove", "--force", str(path), cwd=repo)


@pytest.mark.parametrize(("args", "message"), [
    (["no-such-branch"], "unknown revision 'no-such-branch'"),
    (["--", "-x"], "unknown revision '-x'"),
    (["HEAD", "--jobs", "0"], "--jobs 0"),
    (["HEAD", "--rtol", "-1"], "--rtol -1.0"),
])
def test_bad_input_is_one_line_and_exit_2(repo: Path, args: list[str], message: str) -> None:
    before = repo_state(repo)
    res = run_mlgit("reproduce", *args, cwd=repo, check=False)
    assert res.returncode == 2
    assert res.stderr.startswith("error: ") and message in res.stderr
    assert "Traceback" not in res.stderr
    assert repo_state(repo) == before


def test_output_dir_must_be_new_or_empty(repo: Path, tmp_path: Path) -> None:
    full = tmp_path / "full"
    write_files(full, {"keep.txt": "mine\n"})
    res = run_mlgit("reproduce", "HEAD", "--output", str(full), cwd=repo, check=False)
    assert res.returncode == 2 and "not an empty directory" in res.stderr
    assert (full / "keep.txt").read_text() == "mine\n"


def test_commit_without_dvc_lock_is_refused(repo: Path) -> None:
    git("rm", "-q", "dvc.lock", cwd=repo)
    sha = commit_all(repo, "drop the lock")
    res = run_mlgit("reproduce", "HEAD", cwd=repo, check=False)
    assert res.returncode == 2
    assert f"commit {sha[:8]} ('HEAD') has no dvc.lock" in res.stderr
    assert no_mlgit_worktrees(repo)


def test_a_registry_ref_reproduces_the_promoted_commit(reg_repo: Path) -> None:
    run_mlgit("promote", "exp/fast", "--to", "production", cwd=reg_repo,
              env={"GIT_COMMITTER_DATE": "@1750000000 +0000"})
    before = repo_state(reg_repo)
    data = reproduce_json(reg_repo, "model#production", "--verify")
    assert data["sha"] == git("rev-parse", "exp/fast", cwd=reg_repo).strip()
    assert data["ok"] is True
    model = next(c for c in data["checks"] if c["kind"] == "model")
    assert model["found"] == locked_hash(reg_repo, "exp/fast", "models/model.pkl")
    assert repo_state(reg_repo) == before


def test_a_crafted_directory_listing_cannot_write_outside_the_worktree(repo: Path) -> None:
    cache = repo / ".dvc" / "cache" / "files" / "md5"
    model = locked_hash(repo, "HEAD", "models/model.pkl")
    listing = json.dumps([{"md5": model, "relpath": "../../../escape.txt"}],
                         sort_keys=True).encode()
    crafted = md5(listing) + ".dir"
    (cache / crafted[:2]).mkdir(exist_ok=True)
    (cache / crafted[:2] / crafted[2:]).write_bytes(listing)
    lock = repo / "dvc.lock"
    real = locked_hash(repo, "HEAD", "data/prepared")
    lock.write_text(lock.read_text().replace(real, crafted))
    commit_all(repo, "a lock pointing at a crafted listing")
    before = repo_state(repo)

    res = run_mlgit("reproduce", "HEAD", cwd=repo, check=False)

    assert res.returncode == 1
    assert "listing of data/prepared names files outside its directory" in res.stderr
    assert not list(repo.rglob("escape.txt")) and not (repo.parent / "escape.txt").exists()
    assert repo_state(repo) == before
    assert no_mlgit_worktrees(repo)


def test_an_output_outside_the_repository_is_refused(repo: Path) -> None:
    lock = repo / "dvc.lock"
    lock.write_text(lock.read_text().replace("path: models/model.pkl", "path: ../escape.pkl"))
    commit_all(repo, "a lock naming an output outside the repository")
    res = run_mlgit("reproduce", "HEAD", "--output", str(repo.parent / "out"), cwd=repo,
                    check=False)
    assert res.returncode == 1
    assert "dvc.lock at" in res.stderr and "outside the repository: ../escape.pkl" in res.stderr
    assert not (repo.parent / "escape.pkl").exists() and not (repo.parent / "out").exists()
    assert no_mlgit_worktrees(repo)


def test_a_cache_dir_configured_elsewhere_is_used(repo: Path, tmp_path: Path) -> None:
    shutil.move(repo / ".dvc" / "cache", tmp_path / "shared-cache")
    dvc("config", "--local", "cache.dir", "../shared-cache", cwd=repo)  # kept relative
    assert "../../shared-cache" in (repo / ".dvc" / "config.local").read_text()
    assert dvc("cache", "dir", cwd=repo).stdout.strip() == str(tmp_path / "shared-cache")
    data = reproduce_json(repo, "HEAD")
    assert data["ok"] is True and data["pulled"] == []


def test_demo_step_rebuilds_the_production_model_and_prints_its_card(
        reg_repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from mlgit.cli.demo import DemoContext
    from mlgit.cli.reproduce import demo_step

    ctx = DemoContext(base=tmp_path, project=reg_repo, template="minimal")
    demo_step(ctx)  # before any promotion: the best experiment
    assert "mlgit reproduce exp/fast --rerun --verify" in capsys.readouterr().out

    run_mlgit("promote", "exp/bad", "--to", "production", cwd=reg_repo,
              env={"GIT_COMMITTER_DATE": "@1750000000 +0000"})
    demo_step(ctx)
    shown = capsys.readouterr().out
    assert "mlgit reproduce model#production --rerun --verify" in shown
    assert "all 4 outputs of" in shown and "match its dvc.lock" in shown
    assert "# Model card: model at " + git("rev-parse", "exp/bad", cwd=reg_repo)[:8] in shown
    assert "production \\(current\\)" in shown
