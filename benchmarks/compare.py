"""Time `mlgit compare` / `mlgit diff` beside DVC and the raw-git floor, in one run.

    python benchmarks/compare.py [--sizes 30,300] [--big 1000] [--reps 5] [--dvc-reps 3]

Builds throwaway DVC repos with N experiment branches cheaply (one `git fast-import` stream: no
checkout, no pipeline run), then times, on the same repo and machine:
  - `mlgit compare --json` (the base branch, the current branch and every exp/* branch)
  - `dvc metrics show -A --json` and `dvc exp show -a --json`
  - the raw-git floor: `git for-each-ref` piped through a shell loop into one
    `git cat-file --batch` that reads the same blobs mlgit reads (dvc.yaml, params.yaml,
    metrics.json of every branch)
  - `mlgit diff main exp/x --json` vs `dvc metrics diff` + `dvc params diff`
and prints the first (cold) run, min and median seconds of the runs after it, the ratio of
minimums, the goals of issue #5, and mlgit's peak memory at the biggest size (getrusage of the
child). Cases run interleaved. Nothing outside a temporary directory is touched.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

DVC_YAML = """\
stages:
  prepare:
    cmd: python src/prepare.py
    deps: [src/prepare.py, data/raw.csv]
    params: [prepare]
    outs: [data/prepared]
  train:
    cmd: python src/train.py
    deps: [src/train.py, data/prepared]
    params: [train]
    outs: [models/model.pkl]
  evaluate:
    cmd: python src/evaluate.py
    deps: [src/evaluate.py, models/model.pkl, data/prepared]
    metrics:
      - metrics.json:
          cache: false
artifacts:
  model:
    path: models/model.pkl
    type: model
"""

LOCK = """\
schema: '2.0'
stages:
  prepare:
    cmd: python src/prepare.py
    deps:
    - path: data/raw.csv
      hash: md5
      md5: e22641f6b63996239a5b508230c18d92
      size: 16101
    - path: src/prepare.py
      hash: md5
      md5: 27582c0ca2db09e0d4f37fa5ef0ce689
      size: 837
    params:
      params.yaml:
        prepare:
          test_size: 0.25
          seed: 7
    outs:
    - path: data/prepared
      hash: md5
      md5: c6d711bd32f062fd8b9f14bd41809434.dir
      size: 16120
      nfiles: 2
  train:
    cmd: python src/train.py
    deps:
    - path: data/prepared
      hash: md5
      md5: c6d711bd32f062fd8b9f14bd41809434.dir
      size: 16120
      nfiles: 2
    - path: src/train.py
      hash: md5
      md5: 98bba3cf6205538af2c3c5bd35189015
      size: 1194
    params:
      params.yaml:
        train:
          lr: {lr}
          epochs: {epochs}
          seed: 1
    outs:
    - path: models/model.pkl
      hash: md5
      md5: {model_md5}
      size: 82
  evaluate:
    cmd: python src/evaluate.py
    deps:
    - path: data/prepared
      hash: md5
      md5: c6d711bd32f062fd8b9f14bd41809434.dir
      size: 16120
      nfiles: 2
    - path: models/model.pkl
      hash: md5
      md5: {model_md5}
      size: 82
    - path: src/evaluate.py
      hash: md5
      md5: 62b18e970793db4a928d383ca78ce68d
      size: 874
    outs:
    - path: metrics.json
      hash: md5
      md5: {metrics_md5}
      size: 43
"""

PARAMS = ("prepare:\n  test_size: 0.25\n  seed: 7\n"
          "train:\n  lr: {lr}\n  epochs: {epochs}\n  seed: 1\n")


SOURCE = ROOT  # where `python -m mlgit` imports mlgit from (a compiled copy, see install_copy)


def install_copy(base: Path) -> Path:
    """A copy of this checkout's `mlgit` package with its bytecode compiled, as `pip install`
    leaves it. Timing the source tree instead would charge mlgit for compiling every module
    on every run when PYTHONDONTWRITEBYTECODE is set, while DVC runs from compiled files."""
    dest = base / "src"
    shutil.copytree(ROOT / "mlgit", dest / "mlgit",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(dest / "mlgit")], check=True,
                   env={k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"})
    return dest


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(SOURCE) + os.pathsep + e.get("PYTHONPATH", "")
    e.update({"DVC_NO_ANALYTICS": "1", "DVC_NO_UPDATE_CHECK": "1", "GIT_TERMINAL_PROMPT": "0"})
    return e


def run(cmd: list[str], cwd: Path, stdin: bytes | None = None) -> bytes:
    res = subprocess.run(cmd, cwd=cwd, input=stdin, capture_output=True, env=env())
    if res.returncode != 0:
        raise SystemExit(f"{cmd} failed ({res.returncode}):\n{res.stderr.decode()[-2000:]}")
    return res.stdout


def _data(text: str) -> bytes:
    raw = text.encode()
    return b"data %d\n" % len(raw) + raw + b"\n"


def variant(i: int, rng: random.Random) -> dict[str, str]:
    lr = round(rng.uniform(0.01, 1.0), 4)
    epochs = rng.choice([10, 20, 40])
    acc, loss = round(rng.uniform(0.6, 0.99), 6), round(rng.uniform(0.05, 0.9), 6)
    md5 = f"{rng.getrandbits(128):032x}"
    return {"params.yaml": PARAMS.format(lr=lr, epochs=epochs),
            "metrics.json": json.dumps({"accuracy": acc, "loss": loss}, indent=2) + "\n",
            "dvc.lock": LOCK.format(lr=lr, epochs=epochs, model_md5=md5,
                                    metrics_md5=f"{rng.getrandbits(128):032x}")}


def build_repo(path: Path, branches: int, seed: int = 5) -> None:
    """A DVC repo whose main has the pipeline files, plus `branches` exp/* branches, each one
    commit changing params.yaml, metrics.json and dvc.lock (built by one fast-import)."""
    rng = random.Random(seed)
    path.mkdir(parents=True)
    run(["git", "init", "-q", "--initial-branch=main"], path)
    run(["git", "config", "user.name", "bench"], path)
    run(["git", "config", "user.email", "bench@example.invalid"], path)
    run([sys.executable, "-m", "dvc", "init", "-q"], path)
    files = {"dvc.yaml": DVC_YAML, "mlgit.yaml": "metric: accuracy\ndirection: max\n",
             **variant(0, rng),
             "src/prepare.py": "print('prepare')\n", "src/train.py": "print('train')\n",
             "src/evaluate.py": "print('evaluate')\n",
             # what `mlgit init` also commits: the raw data tracked by DVC, ignore files
             "data/raw.csv.dvc": "outs:\n- md5: e22641f6b63996239a5b508230c18d92\n"
                                 "  size: 16101\n  hash: md5\n  path: raw.csv\n",
             "data/.gitignore": "/raw.csv\n/prepared\n", "models/.gitignore": "/model.pkl\n"}
    for rel, text in files.items():
        (path / rel).parent.mkdir(parents=True, exist_ok=True)
        (path / rel).write_text(text)
    run(["git", "add", "-A"], path)
    run(["git", "commit", "-q", "-m", "pipeline"], path)
    main = run(["git", "rev-parse", "HEAD"], path).decode().strip()
    stream = bytearray()
    stamp = 1_700_000_000
    for i in range(1, branches + 1):
        stream += b"commit refs/heads/exp/e%04d\n" % i
        stream += b"committer bench <bench@example.invalid> %d +0000\n" % (stamp + i)
        stream += _data(f"experiment {i}")
        stream += f"from {main}\n".encode()
        for rel, text in variant(i, rng).items():
            stream += f"M 100644 inline {rel}\n".encode() + _data(text)
        stream += b"\n"
    run(["git", "fast-import", "--quiet"], path, stdin=bytes(stream))


def run_once(cmd: list[str] | str, cwd: Path) -> float:
    start = time.perf_counter()
    res = subprocess.run(cmd if isinstance(cmd, list) else ["bash", "-c", cmd], cwd=cwd,
                         env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if res.returncode != 0:
        raise SystemExit(f"{cmd} failed:\n{res.stderr.decode()[-2000:]}")
    return elapsed


FIRST: dict[str, float] = {}  # the first (cold) run of each case: DVC caches `exp show` results


def timed(cases: dict[str, tuple[list[str] | str, int]], cwd: Path) -> dict[str, list[float]]:
    """Run the cases round-robin (one warm-up each, not counted but kept in FIRST), so load
    from other processes on a shared machine falls on all of them alike; `cases` = name ->
    (command, repetitions)."""
    times: dict[str, list[float]] = {name: [] for name in cases}
    for name, (cmd, _) in cases.items():
        FIRST[name] = run_once(cmd, cwd)
    for round_ in range(max(reps for _, reps in cases.values())):
        for name, (cmd, reps) in cases.items():
            if round_ < reps:
                times[name].append(run_once(cmd, cwd))
    return times


def peak_rss_mb(cmd: list[str], cwd: Path) -> float:
    """Peak resident memory of one run of `cmd` (its own rusage, via wait4)."""
    proc = subprocess.Popen(cmd, cwd=cwd, env=env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_maxrss / 1024  # KiB on Linux


WORK_ONLY = """
import contextlib, io, sys, time
import mlgit.compare, mlgit.quick, mlgit.render, yaml
from mlgit.quick import try_quick
best = []
for _ in range(int(sys.argv[1])):
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        try_quick(["compare", "--json"])
    best.append(time.perf_counter() - start)
print(" ".join(map(str, best)))
"""


def work_only(repo: Path, reps: int) -> list[float]:
    """`mlgit compare --json` inside one process after its imports: what mlgit itself costs
    beside the raw-git floor, without Python's start-up."""
    out = run([sys.executable, "-c", WORK_ONLY, str(reps)], repo)
    return [float(x) for x in out.split()]


FLOOR = ("git for-each-ref --format='%(objectname)' refs/heads/ | while read -r sha; do "
         "printf '%s:dvc.yaml\\n%s:params.yaml\\n%s:metrics.json\\n' \"$sha\" \"$sha\" \"$sha\"; "
         "done | git cat-file --batch > /dev/null")


def line(name: str, times: list[float], ref: list[float] | None) -> str:
    """min and median seconds, and the ratio of minimums (the least disturbed runs)."""
    ratio = f"{min(times) / min(ref):8.1f}x" if ref else "        -"
    first = f"{FIRST[name]:8.3f}" if name in FIRST else "       -"
    return f"  {name:<48} {first} {min(times):8.3f} {statistics.median(times):8.3f} {ratio}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="30,300", help="branch counts timed against DVC")
    ap.add_argument("--big", type=int, default=1000, help="branch count for mlgit alone")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--dvc-reps", type=int, default=3)
    ap.add_argument("--keep", action="store_true", help="keep the generated repos")
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="mlgit-bench-compare-"))
    os.environ["DVC_SITE_CACHE_DIR"] = str(base / "dvc-site-cache")
    global SOURCE
    SOURCE = install_copy(base)
    mlgit = [sys.executable, "-m", "mlgit"]
    dvc = [sys.executable, "-m", "dvc"]
    goals: list[tuple[str, bool, str]] = []
    try:
        sizes = [int(s) for s in args.sizes.split(",") if s]
        print(f"mlgit compare/diff benchmark · python {sys.version.split()[0]} · "
              f"{os.cpu_count()} cores · reps {args.reps} (dvc {args.dvc_reps})")
        print(f"  {'command':<48} {'first s':>8} {'min s':>8} {'median':>8} {'/mlgit':>9}")
        for n in [*sizes, args.big]:
            repo = base / f"repo{n}"
            t0 = time.perf_counter()
            build_repo(repo, n)
            print(f"\n{n} experiment branches (+ main; built in "
                  f"{time.perf_counter() - t0:.1f} s)")
            cases = {"mlgit compare --json": ([*mlgit, "compare", "--json"], args.reps),
                     "raw git floor (for-each-ref | cat-file --batch)": (FLOOR, args.reps)}
            if n != args.big:
                cases.update({
                    "dvc metrics show -A --json": ([*dvc, "metrics", "show", "-A", "--json"],
                                                   args.dvc_reps),
                    "dvc exp show -a --json": ([*dvc, "exp", "show", "-a", "--json"],
                                               args.dvc_reps)})
            t = timed(cases, repo)
            ours = t["mlgit compare --json"]
            for name, times in t.items():
                print(line(name, times, ours))
            floor = t["raw git floor (for-each-ref | cat-file --batch)"]
            work = work_only(repo, args.reps)
            print(line("  mlgit compare, work only (in-process)", work, ours))
            goals.append((f"{n} branches: mlgit compare <= 2x the raw-git floor",
                          min(ours) <= 2 * min(floor), f"{min(ours) / min(floor):.1f}x; "
                          f"without Python's start-up and imports {min(work) / min(floor):.1f}x"))
            if n == args.big:
                goals.append((f"{n} branches: mlgit compare under 1 s", min(ours) < 1.0,
                              f"{min(ours):.3f} s min, {statistics.median(ours):.3f} s median"))
                rss = peak_rss_mb([*mlgit, "compare", "--json"], repo)
                print(f"  peak memory of mlgit compare --json: {rss:.0f} MB")
                continue
            shown = t["dvc metrics show -A --json"]
            goals.append((f"{n} branches: compare >= 15x faster than dvc metrics show -A",
                          min(shown) / min(ours) >= 15, f"{min(shown) / min(ours):.1f}x"))
            d = timed({
                "mlgit diff main exp/e0001 --json":
                    ([*mlgit, "diff", "main", "exp/e0001", "--json"], args.reps),
                "dvc metrics diff": ([*dvc, "metrics", "diff", "main", "exp/e0001", "--json"],
                                     args.dvc_reps),
                "dvc params diff": ([*dvc, "params", "diff", "main", "exp/e0001", "--json"],
                                    args.dvc_reps)}, repo)
            ours_diff = d["mlgit diff main exp/e0001 --json"]
            both = [a + b for a, b in zip(d["dvc metrics diff"], d["dvc params diff"],
                                          strict=True)]
            print(line("mlgit diff main exp/e0001 --json", ours_diff, ours_diff))
            FIRST["dvc metrics diff + dvc params diff"] = (FIRST["dvc metrics diff"]
                                                           + FIRST["dvc params diff"])
            print(line("dvc metrics diff + dvc params diff", both, ours_diff))
            goals.append((f"{n} branches: diff >= 10x faster than the two DVC diffs",
                          min(both) / min(ours_diff) >= 10,
                          f"{min(both) / min(ours_diff):.1f}x"))
        print("\ngoals (issue #5)")
        for text, ok, figure in goals:
            print(f"  [{'met' if ok else 'MISSED'}] {text}: {figure}")
    finally:
        if args.keep:
            print(f"\nrepos kept in {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
