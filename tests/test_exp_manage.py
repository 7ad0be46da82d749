"""`mlgit exp run` (in place), `exp rm` (like `git branch -d`) and `exp import` (from a real
`dvc exp run`)."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.exp_helpers import branches, one_line_error, trailers
from tests.helpers import dvc, git, repo_state, run_mlgit


def test_run_in_place_commits_with_updated_trailers(repo: Path) -> None:
    base = git("rev-parse", "HEAD", cwd=repo).strip()
    run_mlgit("exp", "new", "tune", "-S", "train.lr=0.7", "--switch", cwd=repo)
    first = git("rev-parse", "HEAD", cwd=repo).strip()
    train = repo / "src" / "train.py"
    train.write_text(train.read_text() + "# a code change\n")
    res = run_mlgit("exp", "run", "-S", "train.epochs=30", cwd=repo)
    assert "committed exp/tune" in res.stderr
    assert git("rev-parse", "HEAD^", cwd=repo).strip() == first
    assert trailers(repo, "HEAD") == {"Mlgit-Experiment": "tune", "Mlgit-Base": base,
                                      "Mlgit-Params": "train.lr=0.7; train.epochs=30"}
    assert git("status", "--porcelain", cwd=repo) == ""  # code, params, lock, metrics committed
    lock = yaml.safe_load(git("show", "HEAD:dvc.lock", cwd=repo))
    assert lock["stages"]["train"]["params"]["params.yaml"]["train"]["epochs"] == 30
    res = run_mlgit("exp", "run", cwd=repo)
    assert "nothing changed" in res.stderr


def test_run_refuses_off_experiment_branches_and_bad_params(repo: Path) -> None:
    before = repo_state(repo)
    res = run_mlgit("exp", "run", cwd=repo, check=False)
    assert res.returncode == 2
    assert "not on an experiment branch" in one_line_error(res.stderr)
    assert "mlgit exp new" in res.stderr
    git("switch", "-q", "-c", "exp/here", cwd=repo)
    before = repo_state(repo)
    for args, expected in ((("-S", "train.nope=1"), "has no param"),
                           (("-S", "train.lr=0.1,0.2"), "one value per key")):
        res = run_mlgit("exp", "run", *args, cwd=repo, check=False)
        assert res.returncode == 2 and expected in one_line_error(res.stderr)
        assert repo_state(repo) == before


def test_run_failure_puts_params_back(repo: Path) -> None:
    git("switch", "-q", "-c", "exp/fails", cwd=repo)
    before = (repo / "params.yaml").read_text()
    res = run_mlgit("exp", "run", "-S", "train.epochs=abc", cwd=repo, check=False)
    assert res.returncode != 0 and "ValueError" in res.stderr
    assert (repo / "params.yaml").read_text() == before
    assert git("log", "-1", "--format=%s", cwd=repo).startswith("Initialise")


def test_rm_refuses_unmerged_then_force_and_merged(repo: Path) -> None:
    for name in ("keep", "merged"):
        run_mlgit("exp", "new", name, "-S", "train.lr=0.7", "--no-run", cwd=repo)
    before = repo_state(repo)
    res = run_mlgit("exp", "rm", "keep", "merged", cwd=repo, check=False)
    assert res.returncode == 2 and "exp/keep is not merged" in one_line_error(res.stderr)
    assert repo_state(repo) == before  # all or nothing: 'merged' was not deleted either
    git("merge", "-q", "--ff-only", "exp/merged", cwd=repo)
    res = run_mlgit("exp", "rm", "merged", cwd=repo)
    assert "deleted exp/merged" in res.stderr
    res = run_mlgit("exp", "rm", "--force", "exp/keep", cwd=repo)
    sha = res.stderr.split("was ")[1][:12]
    assert branches(repo) == []
    git("branch", "exp/keep", sha, cwd=repo)  # the printed commit restores it
    res = run_mlgit("exp", "rm", "nope", cwd=repo, check=False)
    assert res.returncode == 2 and "no experiment 'nope'" in one_line_error(res.stderr)


def test_rm_refuses_checked_out_and_deletes_on_remote(repo: Path, tmp_path: Path) -> None:
    bare = tmp_path / "origin.git"
    git("init", "-q", "--bare", str(bare), cwd=tmp_path)
    git("remote", "add", "origin", str(bare), cwd=repo)
    run_mlgit("exp", "new", "pub", "-S", "train.lr=0.7", "--no-run", cwd=repo)
    git("push", "-q", "-u", "origin", "exp/pub", cwd=repo)
    git("switch", "-q", "exp/pub", cwd=repo)
    res = run_mlgit("exp", "rm", "pub", cwd=repo, check=False)
    assert res.returncode == 2 and "checked out" in one_line_error(res.stderr)
    git("switch", "-q", "main", cwd=repo)
    # pushed, so deleting the local branch loses nothing; deleting the remote one too needs
    # it merged, or --force
    res = run_mlgit("exp", "rm", "pub", "--remote", cwd=repo, check=False)
    assert res.returncode == 2 and "not merged" in one_line_error(res.stderr)
    run_mlgit("exp", "rm", "pub", "--remote", "--force", cwd=repo)
    assert git("ls-remote", str(bare), "refs/heads/exp/*", cwd=repo) == ""
    assert branches(repo) == []


def test_import_a_real_dvc_experiment(repo: Path) -> None:
    base = git("rev-parse", "HEAD", cwd=repo).strip()
    dvc("exp", "run", "-S", "train.lr=0.7", "-n", "dvc-fast", cwd=repo)
    git("checkout", "-q", "--", ".", cwd=repo)  # `dvc exp run` left its results in the tree
    refs = git("for-each-ref", "--format=%(refname)", "refs/exps/", cwd=repo).split()
    (ref,) = [r for r in refs if not r.startswith("refs/exps/exec/")]  # DVC's own bookkeeping
    assert ref == f"refs/exps/{base[:2]}/{base[2:]}/dvc-fast"
    res = run_mlgit("exp", "import", "dvc-fast", cwd=repo)
    assert "imported" in res.stderr and "exp/dvc-fast" in res.stderr
    assert trailers(repo, "exp/dvc-fast") == {
        "Mlgit-Experiment": "dvc-fast", "Mlgit-Base": base, "Mlgit-Params": "train.lr=0.7",
        "Mlgit-Imported-From": ref}
    assert git("rev-parse", "exp/dvc-fast^{tree}", cwd=repo) == \
        git("rev-parse", f"{ref}^{{tree}}", cwd=repo)
    assert git("rev-parse", "exp/dvc-fast^", cwd=repo).strip() == base
    # again: nothing new; --all finds the same one
    res = run_mlgit("exp", "import", "--all", cwd=repo)
    assert "already holds" in res.stderr
    res = run_mlgit("exp", "import", cwd=repo, check=False)
    assert res.returncode == 2 and "or pass --all" in one_line_error(res.stderr)
    res = run_mlgit("exp", "import", "nope", cwd=repo, check=False)
    assert res.returncode == 2 and "no DVC experiment 'nope'" in one_line_error(res.stderr)
