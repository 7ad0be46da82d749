"""Benchmark: `mlgit exp new` beside the same work by hand and beside `dvc exp run -S`;
`mlgit exp list` over 200 experiment branches beside `dvc exp show -a`.

    python benchmarks/exp_new.py [--reps 5] [--epochs 20,5000] [--branches 200] [--keep DIR]

Builds a project from the `minimal` template in a temporary directory. For each training
length (`--epochs`: the template's 20 trains in ~0.05 s, 5000 in ~2 s), each repetition
runs the three ways of making one experiment (train.lr changed, pipeline re-run, result
committed) with a value no run used before, so every run trains for real (no run-cache hit):

- mlgit:   `mlgit exp new NAME -S train.lr=V` (temporary worktree, user's checkout untouched)
- by hand: `git switch -c`, edit params.yaml, `dvc repro`, `git add -A`, `git commit`
- dvc:     `dvc exp run -S train.lr=V -n NAME` (DVC's own experiments, in the workspace)

Goals (issue #4): mlgit <= 1.2x the by-hand path; `exp list` over 200 branches < 0.5 s.
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
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(CHECKOUT) + os.pathsep + env.get("PYTHONPATH", "")
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env.update({"DVC_NO_ANALYTICS": "1", "DVC_NO_UPDATE_CHECK": "1", "COLUMNS": "200"})
    for key in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        env.pop(key, None)
    return env


ENV = _env()
MLGIT = [sys.executable, "-m", "mlgit"]
DVC = [sys.executable, "-m", "dvc"]


def run(cmd: list[str], cwd: Path, stdin: str | None = None) -> str:
    res = subprocess.run(cmd, cwd=cwd, env=ENV, text=True, capture_output=True, input=stdin)
    if res.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{res.stdout}\n{res.stderr}")
    return res.stdout


def timed(steps: list[tuple[list[str], Path]]) -> float:
    start = time.perf_counter()
    for cmd, cwd in steps:
        run(cmd, cwd)
    return time.perf_counter() - start


def set_param(root: Path, key: str, value: str) -> None:
    """What a user does in an editor (or with sed): change one line of params.yaml."""
    path = root / "params.yaml"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(f"  {key}: {value}\n" if line.startswith(f"  {key}:") else line
                            for line in lines))


def set_base_epochs(root: Path, epochs: int) -> None:
    """Make `epochs` the base on main: params, lock and metrics committed."""
    set_param(root, "epochs", str(epochs))
    run([*DVC, "repro", "-q"], root)
    run(["git", "add", "-A"], root)
    run(["git", "commit", "-q", "--allow-empty", "-m", f"base: {epochs} epochs"], root)


def by_hand(root: Path, name: str, value: str) -> float:
    start = time.perf_counter()
    run(["git", "switch", "-q", "-c", name], root)
    set_param(root, "lr", value)
    run([*DVC, "repro"], root)
    run(["git", "add", "-A"], root)
    run(["git", "commit", "-q", "-m", f"{name}: train.lr={value}"], root)
    elapsed = time.perf_counter() - start
    run(["git", "switch", "-q", "main"], root)  # back for the next run (not timed)
    run([*DVC, "checkout", "-q"], root)
    return elapsed


def dvc_exp(root: Path, name: str, value: str) -> float:
    elapsed = timed([([*DVC, "exp", "run", "-S", f"train.lr={value}", "-n", name], root)])
    run(["git", "checkout", "-q", "--", "."], root)  # `dvc exp run` leaves its result in the tree
    run([*DVC, "checkout", "-q"], root)
    return elapsed


def median_min(values: list[float]) -> str:
    return f"{statistics.median(values):6.2f} s  (min {min(values):5.2f})"


def bench_new(root: Path, reps: int, tag: str) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"mlgit exp new": [], "by hand": [], "dvc exp run -S": []}
    counter = 0
    for rep in range(reps):
        order = list(times)
        order = order[rep % 3:] + order[:rep % 3]  # rotate: no method always runs first
        for method in order:
            counter += 1
            value = f"0.{100 + counter}"  # never seen before: every run really trains
            name = f"{tag}-{rep}"
            if method == "mlgit exp new":
                t = timed([([*MLGIT, "exp", "new", f"m{name}", "-S", f"train.lr={value}"], root)])
            elif method == "by hand":
                t = by_hand(root, f"hand{name}", value)
            else:
                t = dvc_exp(root, f"d{name}", value)
            times[method].append(t)
    return times


def make_branches(root: Path, count: int) -> None:
    """`count` experiment branches, cheaply: one `git fast-import` writes commits that change
    params.yaml and metrics.json on top of main, with mlgit's trailers."""
    base = run(["git", "rev-parse", "main"], root).strip()
    params = (root / "params.yaml").read_text()
    stream = []
    for i in range(count):
        lr = f"0.{i + 1:03d}"
        p = params.replace("  lr: 0.1 ", f"  lr: {lr} ", 1)
        metrics = f'{{"accuracy": {0.8 + (i % 97) / 1000:.3f}, "loss": {0.3 - i / 2000:.4f}}}\n'
        msg = (f"Experiment b{i}: train.lr={lr}\n\nMlgit-Experiment: b{i}\nMlgit-Base: {base}\n"
               f"Mlgit-Params: train.lr={lr}\n")
        stream.append(
            f"commit refs/heads/exp/b{i}\n"
            f"committer Bench <bench@example.com> {1700000000 + i} +0000\n"
            f"data {len(msg.encode())}\n{msg}\nfrom {base}\n"
            f"M 100644 inline params.yaml\ndata {len(p.encode())}\n{p}\n"
            f"M 100644 inline metrics.json\ndata {len(metrics.encode())}\n{metrics}\n\n")
    run(["git", "fast-import", "--quiet"], root, stdin="".join(stream))


def bench_list(root: Path, reps: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"mlgit exp list --json": [], "dvc exp show -a --json": []}
    for _ in range(reps):
        out["mlgit exp list --json"].append(timed([([*MLGIT, "exp", "list", "--json"], root)]))
    out["dvc exp show -a --json"].append(timed([([*DVC, "exp", "show", "-a", "--json"], root)]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--epochs", default="20,5000",
                        help="training lengths to compare at (comma-separated)")
    parser.add_argument("--branches", type=int, default=200)
    parser.add_argument("--keep", type=Path, help="build here and keep it (default: a temp dir)")
    args = parser.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="mlgit-bench-exp-"))
    base.mkdir(parents=True, exist_ok=True)
    root = base / "project"
    try:
        for key, value in (("user.name", "Bench"), ("user.email", "bench@example.com")):
            if subprocess.run(["git", "config", "--get", key], capture_output=True).returncode:
                ENV[f"GIT_AUTHOR_{key.split('.')[1].upper()}"] = value
                ENV[f"GIT_COMMITTER_{key.split('.')[1].upper()}"] = value
        run([*MLGIT, "init", str(root), "--template", "minimal", "--remote-dir",
             str(base / "remote")], base)
        for epochs in [int(e) for e in args.epochs.split(",")]:
            set_base_epochs(root, epochs)
            print(f"mlgit exp new vs by hand vs dvc exp run: {args.reps} runs each, minimal "
                  f"template, train.epochs={epochs} ({os.cpu_count()} CPUs)")
            new = bench_new(root, args.reps, f"e{epochs}")
            hand = statistics.median(new["by hand"])
            for method, values in new.items():
                print(f"  {method:<24}{median_min(values)}   "
                      f"{statistics.median(values) / hand:4.2f}x by hand")
            ratio = statistics.median(new["mlgit exp new"]) / hand
            print(f"  goal: mlgit <= 1.2x by hand -> {ratio:.2f}x "
                  f"({'met' if ratio <= 1.2 else 'NOT met'})\n")

        make_branches(root, args.branches)
        total = len(run(["git", "for-each-ref", "refs/heads/exp/"], root).splitlines())
        print(f"listing {total} experiment branches")
        listed = bench_list(root, args.reps)
        for method, values in listed.items():
            print(f"  {method:<24}{median_min(values)}")
        best = statistics.median(listed["mlgit exp list --json"])
        print(f"  goal: exp list < 0.5 s -> {best:.2f} s ({'met' if best < 0.5 else 'NOT met'})")
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
