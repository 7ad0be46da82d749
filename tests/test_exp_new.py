"""`mlgit exp new`: one experiment, a grid, failures, bad input, --push, --switch, --from.

Real Git and DVC on copies of the minimal template project (params train.lr 0.1, epochs 20).
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.exp_helpers import (
    assert_no_leftovers,
    branches,
    one_line_error,
    show_json,
    state_without_refs,
    trailers,
)
from tests.helpers import commit_all, dvc, git, repo_state, run_mlgit


def test_new_commits_run_on_branch_with_trailers_and_leaves_checkout_alone(repo: Path) -> None:
    before = state_without_refs(repo)
    base = git("rev-parse", "HEAD", cwd=repo).strip()
    base_metrics = show_json(repo, "HEAD", "metrics.json")
    # 0.1 -> 0.7 keeps params.yaml's size: git must still see the edit
    res = run_mlgit("exp", "new", "fast", "-S", "train.lr=0.7", cwd=repo)
    assert "created exp/fast" in res.stderr
    assert "Running stage 'train'" in res.stderr  # DVC's own output is streamed
    assert branches(repo) == ["exp/fast"]
    assert state_without_refs(repo) == before
    assert_no_leftovers(repo)

    assert trailers(repo, "exp/fast") == {
        "Mlgit-Experiment": "fast", "Mlgit-Base": base, "Mlgit-Params": "train.lr=0.7"}
    assert git("rev-parse", "exp/fast^", cwd=repo).strip() == base
    params_text = git("show", "exp/fast:params.yaml", cwd=repo)
    assert "lr: 0.7       # step size of gradient descent" in params_text  # comment kept
    lock = yaml.safe_load(git("show", "exp/fast:dvc.lock", cwd=repo))
    assert lock["stages"]["train"]["params"]["params.yaml"]["train"]["lr"] == 0.7
    assert show_json(repo, "exp/fast", "metrics.json") != base_metrics
    # the new model went into the repo's own DVC cache, ready for `dvc checkout`
    model = next(o for o in lock["stages"]["train"]["outs"] if o["path"] == "models/model.pkl")
    md5 = model["md5"]
    assert (repo / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]).is_file()


def test_new_carries_uncommitted_changes_and_keeps_them(repo: Path) -> None:
    train = repo / "src" / "train.py"
    train.write_text(train.read_text() + "# tuned by hand\n")
    params = repo / "params.yaml"
    params.write_text(params.read_text().replace("epochs: 20", "epochs: 12"))
    (repo / "notes.md").write_text("staged, new\n")
    git("add", "notes.md", cwd=repo)
    before = state_without_refs(repo)
    res = run_mlgit("exp", "new", "carry", "-S", "train.lr=0.7", cwd=repo)
    assert "carried your uncommitted changes" in res.stderr and "src/train.py" in res.stderr
    assert state_without_refs(repo) == before  # still dirty, still staged, exactly as it was
    assert git("show", "exp/carry:src/train.py", cwd=repo).endswith("# tuned by hand\n")
    assert git("show", "exp/carry:notes.md", cwd=repo) == "staged, new\n"
    assert trailers(repo, "exp/carry")["Mlgit-Params"] == "train.lr=0.7; train.epochs=12"
    assert "carried from the work tree" in git("log", "-1", "--format=%b", "exp/carry", cwd=repo)
    assert_no_leftovers(repo)


def test_grid_in_parallel_makes_one_branch_per_combination(repo: Path) -> None:
    before = state_without_refs(repo)
    res = run_mlgit("exp", "new", "g", "-S", "train.lr=0.05,0.7", "-S", "train.epochs=5,10",
                    "-j", "2", cwd=repo)
    expected = ["exp/g-lr0.05-epochs10", "exp/g-lr0.05-epochs5", "exp/g-lr0.7-epochs10",
                "exp/g-lr0.7-epochs5"]
    assert branches(repo) == expected
    for branch in expected:
        assert branch in res.stdout  # the summary table
        lr, epochs = branch.removeprefix("exp/g-lr").split("-epochs")
        got = yaml.safe_load(git("show", f"{branch}:params.yaml", cwd=repo))["train"]
        assert (got["lr"], got["epochs"]) == (float(lr), int(epochs))
        assert trailers(repo, branch)["Mlgit-Params"] == f"train.lr={lr}; train.epochs={epochs}"
    assert state_without_refs(repo) == before
    assert_no_leftovers(repo)


def test_failed_pipeline_leaves_no_branch_and_shows_dvc_error(repo: Path) -> None:
    before = repo_state(repo)
    res = run_mlgit("exp", "new", "broken", "-S", "train.epochs=abc", cwd=repo, check=False)
    assert res.returncode != 0
    assert "ValueError" in res.stderr  # the stage's own error, through DVC
    assert "error: `dvc repro` failed" in res.stderr
    assert repo_state(repo) == before
    assert_no_leftovers(repo)

    res = run_mlgit("exp", "new", "broken", "-S", "train.epochs=abc", "--keep-failed",
                    cwd=repo, check=False)
    assert res.returncode != 0
    kept = Path(res.stderr.split("worktree is kept at ")[1].split()[0])
    assert f"git worktree remove --force {kept}" in res.stderr
    assert kept.is_dir() and (kept / "params.yaml").is_file()
    assert "epochs: abc" in (kept / "params.yaml").read_text()
    assert branches(repo) == []
    git("worktree", "remove", "--force", str(kept), cwd=repo)


def test_grid_keeps_the_points_that_worked(repo: Path) -> None:
    res = run_mlgit("exp", "new", "half", "-S", "train.epochs=abc,5", "-j", "2", cwd=repo,
                    check=False)
    assert res.returncode == 1
    assert branches(repo) == ["exp/half-epochs5"], res.stderr
    assert "1 of 2 experiments failed: half-epochsabc" in res.stderr
    assert "ValueError" in res.stderr  # captured DVC output of the failed point is shown
    assert_no_leftovers(repo)


def test_bad_input_is_one_line_and_changes_nothing(repo: Path) -> None:
    git("branch", "exp/taken", cwd=repo)
    (repo / "src" / "train.py").write_text("# dirty\n")
    before = repo_state(repo)
    cases = {
        ("my exp",): "contains space",
        ("my exp", "-S", "train.lr=0.1,0.2"): "name 'my exp' contains space",
        ("a..b",): "'..'",
        ("a~1",): "'~'",
        ("a^",): "'^'",
        ("a:b",): "':'",
        ("--", "-x"): "starts with '-'",
        ("taken",): "already exists",
        ("ok", "-S", "train.lr"): "has no '='",
        ("ok", "-S", "train.lrr=0.1"): "has no param 'train.lrr'",
        ("ok", "-S", "train=1"): "train is a section",
        ("ok", "-S", "train.lr=[1,"): "cannot read value",
        ("ok", "-S", "../x.yaml:a=1"): "not a params file inside the repo",
        ("ok", "-S", "train.lr=0.1", "-S", "train.lr=0.2"): "given twice",
        ("ok", "--from", "no-such-ref"): "unknown revision",
        ("ok", "--push"): "needs a Git remote named 'origin'",
        ("ok", "-j", "0"): "",  # Typer's range check
    }
    for args, expected in cases.items():
        res = run_mlgit("exp", "new", *args, cwd=repo, check=False)
        assert res.returncode == 2, (args, res.stderr)
        if expected:
            assert expected in one_line_error(res.stderr), (args, res.stderr)
        assert repo_state(repo) == before, args
    assert_no_leftovers(repo)


def test_add_creates_a_new_param(repo: Path) -> None:
    run_mlgit("exp", "new", "extra", "-S", "train.momentum=0.9", "--add", "--no-run", cwd=repo)
    got = yaml.safe_load(git("show", "exp/extra:params.yaml", cwd=repo))
    assert got["train"]["momentum"] == 0.9
    # --no-run: the lock is the base's, and the commit says so
    assert git("show", "exp/extra:dvc.lock", cwd=repo) == git("show", "HEAD:dvc.lock", cwd=repo)
    assert "not run" in git("log", "-1", "--format=%b", "exp/extra", cwd=repo)


def test_push_shares_branch_and_model_through_a_clone(repo: Path, tmp_path: Path) -> None:
    bare = tmp_path / "origin.git"
    git("init", "-q", "--bare", str(bare), cwd=tmp_path)
    git("remote", "add", "origin", str(bare), cwd=repo)
    git("push", "-q", "origin", "main", cwd=repo)
    run_mlgit("exp", "new", "shared", "-S", "train.lr=0.7", "--push", cwd=repo)
    listing = json.loads(run_mlgit("exp", "list", "--json", cwd=repo).stdout)
    assert listing["data"]["experiments"][0]["remote"]["state"] == "pushed"

    clone = tmp_path / "clone"
    git("clone", "-q", str(bare), str(clone), cwd=tmp_path)
    git("switch", "-q", "exp/shared", cwd=clone)
    dvc("remote", "add", "-d", "--local", "storage", str(tmp_path / "remote"), cwd=clone)
    dvc("pull", cwd=clone)
    lock = yaml.safe_load((clone / "dvc.lock").read_text())
    model = next(o for o in lock["stages"]["train"]["outs"] if o["path"] == "models/model.pkl")
    import hashlib

    assert hashlib.md5((clone / "models" / "model.pkl").read_bytes()).hexdigest() == model["md5"]


def test_switch_checks_out_the_experiment_with_its_outputs(repo: Path) -> None:
    train = repo / "src" / "train.py"
    train.write_text(train.read_text() + "# carried, then committed\n")
    stash_before = git("stash", "list", cwd=repo)
    run_mlgit("exp", "new", "sw", "-S", "train.lr=0.7", "--switch", cwd=repo)
    assert git("symbolic-ref", "--short", "HEAD", cwd=repo).strip() == "exp/sw"
    assert git("status", "--porcelain", cwd=repo) == ""  # the carried edit is in the commit
    assert train.read_text().endswith("# carried, then committed\n")
    assert git("stash", "list", cwd=repo) == stash_before
    assert "Data and pipelines are up to date" in dvc("status", cwd=repo).stdout
    assert_no_leftovers(repo)


def test_from_starts_elsewhere_and_does_not_carry(repo: Path) -> None:
    first = git("rev-parse", "HEAD", cwd=repo).strip()
    params = repo / "params.yaml"
    params.write_text(params.read_text().replace("epochs: 20", "epochs: 30"))
    commit_all(repo, "more epochs")
    (repo / "src" / "train.py").write_text("# dirty, not for this experiment\n")
    res = run_mlgit("exp", "new", "old", "--from", "HEAD~1", "-S", "train.lr=0.7", cwd=repo)
    assert "were not carried" in res.stderr
    assert trailers(repo, "exp/old")["Mlgit-Base"] == first
    got = yaml.safe_load(git("show", "exp/old:params.yaml", cwd=repo))["train"]
    assert (got["lr"], got["epochs"]) == (0.7, 20)
    assert "dirty" not in git("show", "exp/old:src/train.py", cwd=repo)


def test_two_runs_racing_for_one_name_make_one_branch(repo: Path) -> None:
    import subprocess

    from tests.helpers import mlgit_cmd, run_env

    procs = [subprocess.Popen([*mlgit_cmd(), "exp", "new", "race", "-S", f"train.lr={v}",
                               "--no-run"], cwd=repo, env=run_env(), text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for v in ("0.7", "0.5")]
    results = [(p.wait(timeout=120), p.communicate()[1]) for p in procs]
    # the loser fails at validation (exit 2) or, if both got past it, at the atomic branch
    # creation (exit 1)
    codes = sorted(code for code, _ in results)
    assert codes[0] == 0 and codes[1] in (1, 2), results
    loser = next(err for code, err in results if code != 0)
    assert "already exists" in loser or "created by another run meanwhile" in loser
    assert branches(repo) == ["exp/race"]
    assert_no_leftovers(repo)
