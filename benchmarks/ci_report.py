"""Time the pull-request report beside what a CML-style workflow runs for the same comment.

CML's recipe renders the PR comment with DVC: `dvc metrics diff A B --md` plus
`dvc params diff A B --md` (its old `--show-md` flag is gone in DVC 3). mlgit's
`mlgit ci report` reads the same files straight from Git objects and also reports data/model
changes and trailers. Both run here on the same repository, in the same process environment,
as CLI subprocesses (what a CI step pays), and the medians are printed side by side.

    python benchmarks/ci_report.py [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def sh(args: list[str], cwd: Path) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DVC_NO_ANALYTICS": "1",
           "DVC_NO_UPDATE_CHECK": "1"}
    return subprocess.run(args, cwd=cwd, env=env, check=True, capture_output=True,
                          text=True).stdout


def timed(runs: int, commands: list[list[str]], cwd: Path) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        for cmd in commands:
            sh(cmd, cwd)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    py = sys.executable
    with tempfile.TemporaryDirectory(prefix="mlgit-bench-ci-") as tmp:
        base = Path(tmp)
        project = base / "project"
        sh([py, "-m", "mlgit", "init", str(project), "--template", "minimal", "--remote-dir",
            str(base / "remote")], base)
        sh(["git", "switch", "-q", "-c", "exp/fast"], project)
        params = (project / "params.yaml").read_text().replace("lr: 0.1 ", "lr: 0.5 ")
        (project / "params.yaml").write_text(params)
        sh([py, "-m", "dvc", "repro", "-q"], project)
        sh(["git", "commit", "-qam", "fast"], project)
        sh(["git", "switch", "-q", "main"], project)

        mlgit = timed(args.runs, [[py, "-m", "mlgit", "ci", "report", "--base", "main",
                                   "--head", "exp/fast"]], project)
        dvc = timed(args.runs, [[py, "-m", "dvc", "metrics", "diff", "main", "exp/fast", "--md"],
                                [py, "-m", "dvc", "params", "diff", "main", "exp/fast", "--md"]],
                    project)
        floor = timed(args.runs, [[py, "-c", "pass"]], project)
    print(f"PR report, median of {args.runs} runs (subprocesses, like a CI step):")
    print(f"  mlgit ci report                          {mlgit:6.3f} s")
    print(f"  dvc metrics diff --md + dvc params diff  {dvc:6.3f} s")
    print(f"  python -c pass (interpreter floor)       {floor:6.3f} s")
    print(f"  ratio dvc / mlgit: {dvc / mlgit:.1f}x")


if __name__ == "__main__":
    main()
