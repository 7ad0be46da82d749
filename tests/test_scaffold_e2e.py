"""The real scikit-learn scaffolds, end to end (seconds each: scikit-learn imports)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import dvc, git, run_mlgit


@pytest.mark.slow
@pytest.mark.parametrize("template, metric", [("classifier", "accuracy"), ("regression", "rmse")])
def test_sklearn_template_runs_and_pushes(tmp_path: Path, template: str, metric: str) -> None:
    target = tmp_path / template
    run_mlgit("init", str(target), "-t", template, "--remote-dir", str(tmp_path / "remote"),
              cwd=tmp_path)
    metrics = json.loads((target / "metrics.json").read_text())
    assert isinstance(metrics[metric], float)
    assert (target / "models" / "model.pkl").stat().st_size > 1000  # a real fitted model
    assert git("status", "--porcelain", cwd=target) == ""
    assert "up to date" in dvc("status", cwd=target).stdout
    dvc("push", cwd=target)
    # a fresh clone gets the model back from the default remote recorded in .dvc/config
    clone = tmp_path / "clone"
    git("clone", "-q", str(target), str(clone), cwd=tmp_path)
    dvc("pull", cwd=clone)
    assert (clone / "models" / "model.pkl").read_bytes() == (target / "models" / "model.pkl").read_bytes()


@pytest.mark.slow
def test_demo_runs_start_to_finish(tmp_path: Path) -> None:
    res = run_mlgit("demo", "--dir", str(tmp_path / "demo"), cwd=tmp_path, timeout=900)
    assert "Done" in res.stdout
    project = tmp_path / "demo" / "project"
    assert git("status", "--porcelain", cwd=project) == ""
    # nothing of the demo leaks outside its directory (the remote lives inside it too)
    assert (tmp_path / "demo" / "dvc-remote").is_dir()
