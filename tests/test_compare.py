"""`mlgit compare`: real branches in a real repo, every output format read back."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from tests.helpers import commit_all, git, repo_state, run_mlgit, write_files


def branch(repo: Path, name: str, files: dict[str, str], *, base: str = "main",
           delete: tuple[str, ...] = ()) -> str:
    """Commit `files` on a new branch `name` from `base`, then go back to main."""
    git("checkout", "-q", "-b", name, base, cwd=repo)
    write_files(repo, files)
    for path in delete:
        git("rm", "-q", path, cwd=repo)
    sha = commit_all(repo, f"on {name}")
    git("checkout", "-q", "main", cwd=repo)
    return sha


def metrics(acc: float, loss: float) -> str:
    return json.dumps({"accuracy": acc, "loss": loss})


def compare_json(repo: Path, *args: str) -> dict:
    res = run_mlgit("compare", *args, "--json", cwd=repo)
    doc = json.loads(res.stdout)
    assert doc["command"] == "compare" and doc["format"] == 1
    return doc["data"]


@pytest.fixture
def branches(repo: Path) -> Path:
    """main (accuracy 0.93 from the real pipeline) + three experiments + an unrelated branch."""
    branch(repo, "exp/good", {"metrics.json": metrics(0.97, 0.11),
                              "params.yaml": "prepare: {test_size: 0.25, seed: 7}\n"
                              "train: {lr: 0.5, epochs: 20, seed: 1}\n"})
    branch(repo, "exp/bad", {"metrics.json": metrics(0.61, 0.9)})
    branch(repo, "exp/mid", {"metrics.json": metrics(0.8, 0.4)})
    branch(repo, "feature", {"metrics.json": metrics(0.99, 0.01)})
    return repo


def test_default_set_is_base_current_and_experiments_best_first(branches: Path) -> None:
    before = repo_state(branches)
    data = compare_json(branches)
    refs = [r["ref"] for r in data["rows"]]
    assert refs == ["exp/good", "main", "exp/mid", "exp/bad"]  # accuracy, max: best first
    assert "feature" not in refs  # not an experiment, not base, not current
    assert [r["best"] for r in data["rows"]] == [True, False, False, False]
    assert data["metric"] == "accuracy" and data["direction"] == "max"
    assert data["metric_columns"] == ["accuracy", "loss"]
    assert data["param_columns"] == ["train.lr"]  # the only param that differs
    main = data["rows"][1]
    assert main["kind"] == "base" and len(main["sha"]) == 40
    assert main["sha"] == git("rev-parse", "main", cwd=branches).strip()
    assert data["rows"][0]["params"]["train.lr"] == 0.5
    assert repo_state(branches) == before  # a read: nothing moved


def test_current_branch_joins_the_default_set(branches: Path) -> None:
    git("checkout", "-q", "feature", cwd=branches)
    rows = compare_json(branches)["rows"]
    assert rows[0]["ref"] == "feature" and rows[0]["kind"] == "current"


def test_sorting_both_ways_and_by_a_min_metric(branches: Path) -> None:
    asc = compare_json(branches, "--sort", "accuracy", "--asc")["rows"]
    assert [r["ref"] for r in asc] == ["exp/bad", "exp/mid", "main", "exp/good"]
    desc = compare_json(branches, "--sort", "accuracy", "--desc")["rows"]
    assert [r["ref"] for r in desc] == ["exp/good", "main", "exp/mid", "exp/bad"]
    by_loss = compare_json(branches, "--sort", "loss")  # loss: lower is better, so ascending
    assert [r["ref"] for r in by_loss["rows"]] == ["exp/good", "main", "exp/mid", "exp/bad"]
    assert by_loss["descending"] is False
    by_param = compare_json(branches, "--sort", "train.lr", "--desc")["rows"]
    assert by_param[0]["ref"] == "exp/good"
    res = run_mlgit("compare", "--sort", "nope", cwd=branches, check=False)
    assert res.returncode == 2 and "nope" in res.stderr and "Traceback" not in res.stderr


def test_patterns_tags_and_all_branches(branches: Path) -> None:
    git("tag", "-a", "-m", "release", "v1", "exp/mid", cwd=branches)
    assert {r["ref"] for r in compare_json(branches, "exp/*")["rows"]} == \
        {"exp/good", "exp/bad", "exp/mid"}
    with_tags = compare_json(branches, "--tags")["rows"]
    tag = next(r for r in with_tags if r["ref"] == "v1")
    assert tag["kind"] == "tag" and tag["metrics"]["accuracy"] == 0.8
    assert tag["sha"] == git("rev-parse", "exp/mid", cwd=branches).strip()  # peeled
    every = {r["ref"] for r in compare_json(branches, "--all-branches")["rows"]}
    assert every == {"main", "exp/good", "exp/bad", "exp/mid", "feature"}
    explicit = compare_json(branches, "main~0", "exp/bad")["rows"]
    assert [r["ref"] for r in explicit] == ["main~0", "exp/bad"]
    assert explicit[0]["kind"] == "revision" and explicit[0]["date"].startswith("20")


def test_unknown_ref_and_empty_pattern_are_one_line_errors(branches: Path) -> None:
    res = run_mlgit("compare", "main", "no-such-branch", cwd=branches, check=False)
    assert res.returncode == 2
    assert "no-such-branch" in res.stderr and "Traceback" not in res.stderr
    assert res.stdout == ""
    res = run_mlgit("compare", "nothing/*", cwd=branches, check=False)
    assert res.returncode == 2 and "nothing/*" in res.stderr


def test_json_yaml_toml_metrics_nested_and_name_clashes(repo: Path) -> None:
    dvc_yaml = (repo / "dvc.yaml").read_text().replace(
        "    metrics:\n      - metrics.json:\n          cache: false\n",
        "    metrics:\n      - metrics.json:\n          cache: false\n"
        "      - eval/scores.yaml:\n          cache: false\n"
        "      - eval/summary.toml:\n          cache: false\n")
    branch(repo, "exp/formats", {
        "dvc.yaml": dvc_yaml,
        "metrics.json": json.dumps({"accuracy": 0.9, "train": {"acc": 0.95,
                                                               "nested": {"deep": 3}}}),
        "eval/scores.yaml": "val:\n  acc: 0.88\n  f1: 0.7\naccuracy: 0.5\n",
        "eval/summary.toml": "auc = 0.91\n[per_class]\ncat = 0.8\n"})
    data = compare_json(repo, "exp/formats")
    row = data["rows"][0]
    assert row["metrics"] == {
        "metrics.json:accuracy": 0.9, "train.acc": 0.95, "train.nested.deep": 3,
        "val.acc": 0.88, "val.f1": 0.7, "eval/scores.yaml:accuracy": 0.5,
        "auc": 0.91, "per_class.cat": 0.8}
    # the configured primary metric is found by its plain name even when two files have it
    assert data["metric"] == "metrics.json:accuracy"
    assert data["column_files"]["auc"] == "eval/summary.toml"


def test_missing_file_at_one_ref_is_a_dash_not_an_error(branches: Path) -> None:
    branch(branches, "exp/none", {}, delete=("metrics.json",))
    res = run_mlgit("compare", "-f", "csv", cwd=branches)
    assert "warning" not in res.stderr
    rows = {r["ref"]: r for r in csv.DictReader(io.StringIO(res.stdout))}
    assert rows["exp/none"]["accuracy"] == "" and rows["exp/good"]["accuracy"] == "0.97"
    data = compare_json(branches)
    assert data["rows"][-1]["ref"] == "exp/none"  # missing values sort last
    assert data["rows"][-1]["metrics"] == {}
    table = run_mlgit("compare", cwd=branches).stdout
    line = next(ln for ln in table.splitlines() if "exp/none" in ln)
    assert " - " in line and "error" not in line


def test_broken_file_at_one_ref_is_an_error_cell_and_a_warning(branches: Path) -> None:
    branch(branches, "exp/broken", {"metrics.json": '{"accuracy": 0.5,'})
    res = run_mlgit("compare", cwd=branches)
    assert res.returncode == 0
    assert "warning" in res.stderr and "exp/broken" in res.stderr
    assert "metrics.json is not valid JSON" in res.stderr
    broken = next(ln for ln in res.stdout.splitlines() if "exp/broken" in ln)
    assert "error" in broken
    good = next(ln for ln in res.stdout.splitlines() if "exp/good" in ln)
    assert "0.97" in good  # the rest still renders
    data = compare_json(branches)
    row = next(r for r in data["rows"] if r["ref"] == "exp/broken")
    assert "metrics.json" in row["errors"] and row["metrics"] == {}
    out = run_mlgit("compare", "-f", "csv", cwd=branches).stdout
    rows = {r["ref"]: r for r in csv.DictReader(io.StringIO(out))}
    assert "not valid JSON" in rows["exp/broken"]["errors"] and rows["main"]["errors"] == ""


def test_broken_dvc_yaml_marks_the_whole_row(branches: Path) -> None:
    branch(branches, "exp/nopipe", {"dvc.yaml": "stages: [unclosed\n"})
    res = run_mlgit("compare", "-f", "md", cwd=branches)
    assert res.returncode == 0 and "dvc.yaml" in res.stderr
    line = next(ln for ln in res.stdout.splitlines() if "exp/nopipe" in ln)
    assert line.count("error") == 2  # accuracy and loss


def test_all_four_formats_read_back(branches: Path) -> None:
    import pandas as pd

    data = compare_json(branches, "--all-params")
    assert set(data["param_columns"]) == {"prepare.test_size", "prepare.seed", "train.lr",
                                          "train.epochs", "train.seed"}
    csv_out = run_mlgit("compare", "--format", "csv", "--all-params", cwd=branches).stdout
    frame = pd.read_csv(io.StringIO(csv_out))
    assert list(frame.columns) == ["ref", "sha", "date", "accuracy", "loss",
                                   *data["param_columns"]]
    assert list(frame["ref"]) == [r["ref"] for r in data["rows"]]
    main_loss = next(r for r in data["rows"] if r["ref"] == "main")["metrics"]["loss"]
    assert frame.loc[frame["ref"] == "main", "loss"].item() == main_loss  # full precision

    md = run_mlgit("compare", "--format", "md", "--precision", "2", "--chart",
                   cwd=branches).stdout
    lines = [ln for ln in md.splitlines() if ln.startswith("|")]
    assert len(lines) == 2 + len(data["rows"])
    assert len({ln.count(" | ") for ln in lines}) == 1  # every row has the header's cells
    assert lines[0].startswith("| ref | sha | date | accuracy | loss | train.lr |")
    assert lines[1].startswith("| --- |")
    assert "★ **exp/good**" in lines[2]
    assert "| 0.28 |" in md  # loss 0.277874 rounded to --precision 2
    assert "```mermaid\nxychart-beta" in md and 'x-axis ["exp/good", "main"' in md

    table = run_mlgit("compare", "--chart", cwd=branches).stdout
    assert "★ exp/good" in table and "accuracy" in table and "█" in table


def test_only_changed_and_columns(branches: Path) -> None:
    git("branch", "exp/same", "main", cwd=branches)  # identical metrics to main
    data = compare_json(branches, "main", "exp/same", "--only-changed", "--all-params")
    assert data["metric_columns"] == [] and data["param_columns"] == []
    picked = compare_json(branches, "--columns", "loss,train.*")
    assert picked["metric_columns"] == ["loss"]
    assert picked["param_columns"] == ["train.lr", "train.epochs", "train.seed"]
    res = run_mlgit("compare", "--columns", "nope", cwd=branches, check=False)
    assert res.returncode == 2 and "nope" in res.stderr


def test_repo_text_is_escaped_in_markdown(repo: Path) -> None:
    branch(repo, "exp/<img>@all", {"metrics.json": metrics(0.5, 0.5)})
    md = run_mlgit("compare", "--format", "md", "--chart", cwd=repo).stdout
    assert "<img>" not in md and r"exp/\<img\>\@all" in md
    assert '"exp/_img_@all"' in md  # Mermaid labels keep a safe alphabet


def test_repo_without_dvc_yaml(empty_repo: Path) -> None:
    data = compare_json(empty_repo)
    assert [r["ref"] for r in data["rows"]] == ["main"]
    assert data["metric"] is None and data["rows"][0]["metrics"] == {}


def test_demo_step_compares_then_diffs_the_best_experiment(branches: Path) -> None:
    import subprocess
    import sys

    from tests.helpers import run_env

    code = ("from pathlib import Path\n"
            "from mlgit.cli.compare import demo_step\n"
            "from mlgit.cli.demo import DemoContext\n"
            "ctx = DemoContext(base=Path('..'), project=Path('.').resolve(), template='minimal')\n"
            "demo_step(ctx)\n"
            "print('best:', ctx.notes['best_experiment'])\n")
    res = subprocess.run([sys.executable, "-c", code], cwd=branches, env=run_env(),
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "mlgit compare --chart" in res.stdout and "█" in res.stdout
    assert "mlgit diff main exp/good" in res.stdout and "train.lr" in res.stdout
    assert res.stdout.strip().endswith("best: exp/good")
