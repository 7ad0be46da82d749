"""Benchmark: `mlgit reproduce` (materialise and --rerun) beside the same work done by hand.

Builds a project from the `classifier` template (scikit-learn, so rerunning the pipeline has a
real cost), whose outputs are in the DVC cache, then times, interleaved in the same run:

- by hand, materialise: `git worktree add --detach` + `dvc config --local cache.dir` +
  `dvc checkout` + `git worktree remove`
- `mlgit reproduce HEAD` (the same, plus a hash check of every output)
- by hand, rerun: the same worktree + `dvc checkout` + `dvc repro --force` + remove
- `mlgit reproduce HEAD --rerun`

Goals (issue #8): materialise >= 10x faster than rerun; mlgit over the by-hand path <= 1.2x.

    python benchmarks/reproduce.py [--runs 5] [--template classifier] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "DVC_NO_ANALYTICS": "1",
       "DVC_NO_UPDATE_CHECK": "1",
       "PATH": str(Path(PY).parent) + os.pathsep + os.environ.get("PATH", "")}


def run(args: list[str], cwd: Path) -> None:
    subprocess.run(args, cwd=cwd, env=ENV, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def setup(base: Path, template: str) -> Path:
    project = base / "project"
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    for key, value in (("user.name", "Bench"), ("user.email", "bench@example.com")):
        subprocess.run(["git", "config", key, value], cwd=project, check=True)
    run([PY, "-m", "mlgit", "init", str(project), "--template", template, "--remote-dir",
         str(base / "remote")], base)
    return project


def by_hand(project: Path, rerun: bool) -> Callable[[], None]:
    cache = project / ".dvc" / "cache"

    def step() -> None:
        wt = Path(tempfile.mkdtemp(prefix="byhand-")) / "wt"
        run(["git", "worktree", "add", "-q", "--detach", str(wt), "HEAD"], project)
        try:
            run([PY, "-m", "dvc", "config", "--local", "cache.dir", str(cache)], wt)
            run([PY, "-m", "dvc", "checkout", "-q"], wt)
            if rerun:
                run([PY, "-m", "dvc", "repro", "-q", "--force"], wt)
        finally:
            run(["git", "worktree", "remove", "--force", "--force", str(wt)], project)
            shutil.rmtree(wt.parent, ignore_errors=True)

    return step


def with_mlgit(project: Path, rerun: bool) -> Callable[[], None]:
    args = [PY, "-m", "mlgit", "reproduce", "HEAD", "--verify", *(["--rerun"] if rerun else [])]
    return lambda: run(args, project)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--template", default="classifier")
    parser.add_argument("--keep", type=Path, help="build the project here and keep it")
    opts = parser.parse_args()
    base = opts.keep or Path(tempfile.mkdtemp(prefix="mlgit-bench-repro-"))
    base.mkdir(parents=True, exist_ok=True)
    try:
        print(f"building a '{opts.template}' project in {base} ...", flush=True)
        project = setup(base, opts.template)
        cases = {
            "by hand: worktree + dvc checkout": by_hand(project, rerun=False),
            "mlgit reproduce (materialise)": with_mlgit(project, rerun=False),
            "by hand: worktree + dvc repro --force": by_hand(project, rerun=True),
            "mlgit reproduce --rerun": with_mlgit(project, rerun=True),
        }
        for step in cases.values():  # warm caches (pyc, page cache) once, untimed
            step()
        times: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(opts.runs):  # interleaved, so machine load hits every case alike
            for name, step in cases.items():
                start = time.perf_counter()
                step()
                times[name].append(time.perf_counter() - start)
        report(times, opts.runs)
    finally:
        if not opts.keep:
            shutil.rmtree(base, ignore_errors=True)


def report(times: dict[str, list[float]], runs: int) -> None:
    med = {name: statistics.median(v) for name, v in times.items()}
    names = list(times)
    print(f"\n{'case':42} {'median s':>9} {'min s':>7} {'max s':>7}   ({runs} runs each)")
    for name in names:
        print(f"{name:42} {med[name]:9.2f} {min(times[name]):7.2f} {max(times[name]):7.2f}")
    hand_mat, mat, hand_rerun, rerun = (med[n] for n in names)
    print()
    print(f"materialise vs rerun (mlgit):   {rerun / mat:5.1f}x faster   (goal >= 10x)")
    print(f"mlgit materialise over by hand: {mat / hand_mat:5.2f}x          (goal <= 1.2x)")
    print(f"mlgit rerun over by hand:       {rerun / hand_rerun:5.2f}x          (goal <= 1.2x)")


if __name__ == "__main__":
    main()
