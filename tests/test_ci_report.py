"""`mlgit ci report`: the pull-request comment, on real repositories."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.helpers import commit_all, git, repo_state, run_mlgit

MARKER = "<!-- mlgit:metrics-diff -->"
EVIL = "x<img src=x onerror=alert(1)>@admin [click](https://evil.invalid)"


def _branch_with_metrics(repo: Path, branch: str, metrics: dict, params_extra: str = "",
                         message: str = "change") -> str:
    git("switch", "-q", "-c", branch, cwd=repo)
    (repo / "metrics.json").write_text(json.dumps(metrics))
    if params_extra:
        with (repo / "params.yaml").open("a") as f:
            f.write(params_extra)
    sha = commit_all(repo, message)
    git("switch", "-q", "main", cwd=repo)
    return sha


def test_report_headline_tables_trailers_and_escaping(repo: Path) -> None:
    base = json.loads((repo / "metrics.json").read_text())
    _branch_with_metrics(
        repo, "exp/better", {"accuracy": base["accuracy"] + 0.05, "loss": 0.1, EVIL: 3},
        params_extra=f'  "{EVIL}": 1\n',
        message="Better model\n\nMlgit-Experiment: better\nMlgit-Params: train.lr=0.5\n")
    before = repo_state(repo)
    res = run_mlgit("ci", "report", "--base", "main", "--head", "exp/better", "--chart",
                    cwd=repo)
    assert repo_state(repo) == before
    text = res.stdout
    lines = text.splitlines()
    assert lines[0] == MARKER
    assert re.fullmatch(r"### 🟢 accuracy [0-9.]+ → [0-9.]+, \+0\.05 \(\+[0-9.]+%\): "
                        r"better than main", lines[1].replace("\\", "")), lines[1]
    # the crafted param (appended under `train:`) and metric are there, as inert text
    assert "| train.x\\<img src=x onerror=alert\\(1\\)\\>\\@admin" in text
    assert "| x\\<img src=x" in text
    assert "| Mlgit-Experiment | better |" in text and "| Mlgit-Params | train.lr=0.5 |" in text
    assert "```mermaid\nxychart-beta" in text and 'x-axis ["main", "exp/better"]' in text
    # nothing from the repo can become HTML, a link or a mention
    assert not re.search(r"(?<!\\)<img", text) and "](" not in text
    assert not re.search(r"(?<!\\)@admin", text)
    assert "https://" not in text
    # and the numbers are mlgit diff's
    diff = json.loads(run_mlgit("diff", "main", "exp/better", "--json", cwd=repo).stdout)
    doc = json.loads(run_mlgit("ci", "report", "--base", "main", "--head", "exp/better",
                               "--format", "json", cwd=repo).stdout)
    assert doc["command"] == "ci report" and doc["data"]["status"] == "better"
    assert doc["data"]["diff"]["metrics"] == diff["data"]["metrics"]
    assert doc["data"]["trailers"] == {"Mlgit-Experiment": "better",
                                       "Mlgit-Params": "train.lr=0.5"}


def test_base_from_ci_environment_prefers_the_remote_tracking_branch(repo: Path,
                                                                     tmp_path: Path) -> None:
    _branch_with_metrics(repo, "feature", {"accuracy": 0.5, "loss": 0.9})
    clone = tmp_path / "clone"
    git("clone", "-q", str(repo), str(clone), cwd=tmp_path)
    git("checkout", "-q", "feature", cwd=clone)
    git("branch", "-q", "-f", "main", "feature", cwd=clone)  # a stale local main must not win
    for var in ("GITHUB_BASE_REF", "CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "CHANGE_TARGET"):
        res = run_mlgit("ci", "report", cwd=clone, env={var: "main"})
        assert "worse than main" in res.stdout.splitlines()[1], res.stdout
        assert "#### Metrics: main (" in res.stdout.replace("\\(", "(")
        assert "→ feature (" in res.stdout.replace("\\(", "(")  # head label: the branch


def test_output_file_and_unchanged_and_new_metric(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "nested" / "report.md"
    res = run_mlgit("ci", "report", "--base", "main", "--head", "main", "--output", str(out),
                    cwd=repo)
    assert res.stdout == "" and "wrote" in res.stderr
    assert out.read_text().splitlines()[1].endswith(": unchanged from main")
    git("rm", "-q", "metrics.json", cwd=repo)
    git("commit", "-q", "-m", "no metrics", cwd=repo)
    res = run_mlgit("ci", "report", "--base", "HEAD", "--head", "HEAD~1", cwd=repo)
    assert re.search(r"accuracy [0-9.]+: new \(not in HEAD\)", res.stdout.replace("\\", ""))


@pytest.mark.parametrize("args, message", [
    (["--base", "no-such-branch"], "unknown revision 'no-such-branch'"),
    (["--base", "--upload-pack=evil", "--head", "HEAD"], "unknown revision"),
    (["--base", "main", "--precision", "0"], "precision"),
])
def test_bad_revisions_are_one_line_errors(repo: Path, args: list[str], message: str) -> None:
    res = run_mlgit("ci", "report", *args, cwd=repo, check=False)
    assert res.returncode == 2 and message in res.stderr and "Traceback" not in res.stderr


def test_registry_stages_are_shown_when_the_registry_is_available(repo: Path) -> None:
    from mlgit import registry

    if not hasattr(registry, "load_registry"):
        pytest.skip("the registry (#6) is not merged into this branch yet")
    sha = git("rev-parse", "HEAD", cwd=repo).strip()
    for i, tag in enumerate(["model@v1.0.0", "model#production#1"]):
        git("-c", f"core.tagdate=@{1700000000 + i}", "tag", "-a", "-m", "mlgit", tag, sha,
            cwd=repo)
    _branch_with_metrics(repo, "exp/x", {"accuracy": 0.99, "loss": 0.01})
    res = run_mlgit("ci", "report", "--base", "main", "--head", "exp/x", cwd=repo)
    assert "#### Registry" in res.stdout
    assert re.search(r"\| model \| production \| v1\.0\.0 \| [0-9a-f]{7} \| yes \|", res.stdout)


def test_demo_step_writes_workflows_and_prints_the_best_experiments_comment(
        repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from mlgit.cli.ci import demo_step
    from mlgit.cli.demo import DemoContext

    _branch_with_metrics(repo, "exp/worse", {"accuracy": 0.5, "loss": 0.9})
    _branch_with_metrics(repo, "exp/best", {"accuracy": 0.99, "loss": 0.1})
    ctx = DemoContext(base=tmp_path, project=repo, template="minimal")
    ctx.notes["best_experiment"] = "exp/best"  # what the compare step before this one leaves
    demo_step(ctx)
    shown = capsys.readouterr().out
    assert ".github/workflows/mlgit-pr.yml" in shown
    assert (repo / ".github" / "workflows" / "mlgit-pr-comment.yml").is_file()
    assert git("status", "--porcelain", cwd=repo) == ""  # committed, as a user would
    assert MARKER in shown and "better than main" in shown and "exp/best" in shown
    assert "exp/worse" not in shown.split(MARKER)[1]
