"""Time mlgit's data commands beside what a DVC user runs for the same answer, in one run.

    python benchmarks/data.py [--branches 10] [--reps 3] [--model-kb 512]

Builds a throwaway project (`mlgit init --template minimal`) with N experiment branches, each
with its own model (random bytes recorded with `dvc commit`, so no pipeline runs), then times
on the same repo and machine:
  - `mlgit data status --json`   vs `dvc data status --not-in-remote --json`
  - `mlgit remote list --json`   vs `dvc remote list`
  - `mlgit doctor --json`        vs `dvc doctor` (DVC's closest command; it checks much less)
  - pushing every experiment into an empty remote:
      `mlgit data push --all-experiments` vs `dvc push --all-branches` vs a checkout+push loop
  - pushing one other branch: `mlgit data push exp/e1` vs checkout, `dvc push`, checkout back
Prints min/median seconds and ratios. Nothing outside a temporary directory is touched.
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


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ROOT) + os.pathsep + e.get("PYTHONPATH", "")
    e.update(DVC_NO_ANALYTICS="1", DVC_NO_UPDATE_CHECK="1",
             PATH=str(Path(PY).parent) + os.pathsep + e.get("PATH", ""))
    return e


def run(*cmd: str, cwd: Path) -> None:
    subprocess.run(cmd, cwd=cwd, env=env(), check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def mlgit(*args: str) -> list[str]:
    return [PY, "-m", "mlgit", *args]


def dvc(*args: str) -> list[str]:
    return [PY, "-m", "dvc", *args]


def build(base: Path, branches: int, model_kb: int) -> Path:
    project = base / "project"
    run(*mlgit("init", str(project), "--template", "minimal", "--remote-dir",
               str(base / "remote")), cwd=base)
    for i in range(branches):
        run("git", "checkout", "-q", "-b", f"exp/e{i}", "main", cwd=project)
        (project / "models" / "model.pkl").write_bytes(os.urandom(model_kb * 1024))
        run(*dvc("commit", "-q", "-f", "train"), cwd=project)
        run("git", "commit", "-q", "-am", f"experiment e{i}", cwd=project)
    run("git", "checkout", "-q", "main", cwd=project)
    run(*dvc("checkout", "-q", "-f"), cwd=project)
    return project


def timed(fn: Callable[[], None], reps: int, reset: Callable[[], None] | None = None) -> list[float]:
    times = []
    for _ in range(reps):
        if reset:
            reset()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def show(label: str, rows: list[tuple[str, list[float]]]) -> None:
    print(f"\n{label}")
    base = min(rows[0][1])
    for name, times in rows:
        ratio = min(times) / base
        print(f"  {name:<48} min {min(times):6.2f} s  median {statistics.median(times):6.2f} s"
              f"  ({ratio:4.2f}x mlgit's time)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--branches", type=int, default=10)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--model-kb", type=int, default=512)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="mlgit-bench-data-"))
    try:
        t0 = time.perf_counter()
        project = build(base, args.branches, args.model_kb)
        remote = base / "remote"
        print(f"project with {args.branches} experiment branches built in "
              f"{time.perf_counter() - t0:.1f} s ({base})")
        r = args.reps

        def cmd(*c: str) -> Callable[[], None]:
            return lambda: run(*c, cwd=project)

        show("data status (modified / not in cache / not pushed)", [
            ("mlgit data status --json", timed(cmd(*mlgit("data", "status", "--json")), r)),
            ("dvc data status --not-in-remote --json",
             timed(cmd(*dvc("data", "status", "--not-in-remote", "--json")), r)),
        ])
        show("remote list", [
            ("mlgit remote list --json", timed(cmd(*mlgit("remote", "list", "--json")), r)),
            ("dvc remote list", timed(cmd(*dvc("remote", "list")), r)),
        ])
        show("doctor (mlgit: 11 checks incl. remote, branches, tags, models; dvc: versions)", [
            ("mlgit doctor --json", timed(lambda: subprocess.run(
                mlgit("doctor", "--json"), cwd=project, env=env(), check=False,
                stdout=subprocess.DEVNULL), r)),
            ("dvc doctor", timed(cmd(*dvc("doctor")), r)),
        ])

        def empty_remote() -> None:
            shutil.rmtree(remote, ignore_errors=True)
            remote.mkdir()

        def loop() -> None:
            for i in range(args.branches):
                run("git", "checkout", "-q", f"exp/e{i}", cwd=project)
                run(*dvc("push", "-q"), cwd=project)
            run("git", "checkout", "-q", "main", cwd=project)
            run(*dvc("checkout", "-q", "-f"), cwd=project)

        show(f"push the outputs of {args.branches} experiment branches into an empty remote", [
            ("mlgit data push --all-experiments",
             timed(cmd(*mlgit("data", "push", "--all-experiments")), r, empty_remote)),
            ("dvc push --all-branches (also main)",
             timed(cmd(*dvc("push", "-q", "--all-branches")), r, empty_remote)),
            ("loop: git checkout BRANCH && dvc push", timed(loop, r, empty_remote)),
        ])

        def one_by_checkout() -> None:
            run("git", "checkout", "-q", "exp/e1", cwd=project)
            run(*dvc("push", "-q"), cwd=project)
            run("git", "checkout", "-q", "main", cwd=project)
            run(*dvc("checkout", "-q", "-f"), cwd=project)

        show("push one other branch's outputs", [
            ("mlgit data push exp/e1 (no checkout)",
             timed(cmd(*mlgit("data", "push", "exp/e1")), r, empty_remote)),
            ("git checkout exp/e1, dvc push, checkout back", timed(one_by_checkout, r,
                                                                   empty_remote)),
        ])
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
