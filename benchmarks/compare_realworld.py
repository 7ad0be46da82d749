"""`mlgit compare` on real-world shapes (#10), beside DVC and the raw-git floor, in one run.

    python benchmarks/compare_realworld.py [--branches 100] [--commits 2000] [--reps 5]

Two throwaway repos, built by one `git fast-import` each (no pipeline run):
  - cached: N branches whose metrics live in the DVC cache, not in Git (a metrics file inside a
    cached directory output `eval/`; dvc.lock records the `.dir` hash; the `.dir` manifest and
    the file are written into `.dvc/cache/files/md5/` as DVC lays them out);
  - history: one branch of M commits, each changing metrics.json and params.yaml.
Times `mlgit compare --json` (--all-branches / --all-commits) against `dvc metrics show -A
--json` and the raw-git floor (one `git cat-file --batch` reading the same files). Uses the
helpers of benchmarks/compare.py (compiled copy of mlgit, interleaved runs, same columns).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compare as bench

CACHED_DVC = """\
stages:
  evaluate:
    cmd: python evaluate.py
    params: [k]
    outs: [eval]
metrics:
  - eval/metrics.json
"""
LOCK = """\
schema: '2.0'
stages:
  evaluate:
    cmd: python evaluate.py
    params:
      params.yaml:
        k: {k}
    outs:
    - path: eval
      hash: md5
      md5: {dir_md5}
      size: {size}
      nfiles: 1
"""


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def put(cache: Path, digest: str, data: bytes) -> None:
    target = cache / "files" / "md5" / digest[:2] / digest[2:]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


def init(path: Path, files: dict[str, str]) -> str:
    path.mkdir(parents=True)
    for cmd in (["git", "init", "-q", "--initial-branch=main"],
                ["git", "config", "user.name", "bench"],
                ["git", "config", "user.email", "bench@example.invalid"],
                [sys.executable, "-m", "dvc", "init", "-q"]):
        bench.run(cmd, path)
    for rel, text in files.items():
        (path / rel).parent.mkdir(parents=True, exist_ok=True)
        (path / rel).write_text(text)
    bench.run(["git", "add", "-A"], path)
    bench.run(["git", "commit", "-q", "-m", "start"], path)
    return bench.run(["git", "rev-parse", "HEAD"], path).decode().strip()


def build_cached(path: Path, branches: int) -> None:
    main = init(path, {"dvc.yaml": CACHED_DVC, "params.yaml": "k: 0\n", ".gitignore": "/eval\n",
                       "mlgit.yaml": "metric: acc\ndirection: max\n"})
    cache = path / ".dvc" / "cache"
    stream = bytearray()
    for i in range(1, branches + 1):
        metrics = json.dumps({"acc": i / (branches + 1), "loss": 1 - i / (branches + 1)}).encode()
        manifest = json.dumps([{"md5": md5(metrics), "relpath": "metrics.json"}],
                              sort_keys=True).encode()
        dir_md5 = md5(manifest) + ".dir"
        put(cache, md5(metrics), metrics)
        put(cache, dir_md5, manifest)
        stream += b"commit refs/heads/exp/e%04d\n" % i
        stream += b"committer bench <bench@example.invalid> %d +0000\n" % (1_700_000_000 + i)
        stream += bench._data(f"experiment {i}") + f"from {main}\n".encode()
        for rel, text in {"params.yaml": f"k: {i}\n",
                          "dvc.lock": LOCK.format(k=i, dir_md5=dir_md5, size=len(metrics))}.items():
            stream += f"M 100644 inline {rel}\n".encode() + bench._data(text)
        stream += b"\n"
    bench.run(["git", "fast-import", "--quiet"], path, stdin=bytes(stream))


def build_history(path: Path, commits: int) -> None:
    init(path, {"dvc.yaml": "stages:\n  train:\n    cmd: python train.py\n    params: [lr]\n"
                            "    metrics:\n      - metrics.json:\n          cache: false\n",
                "params.yaml": "lr: 0\n", "metrics.json": '{"acc": 0}\n',
                "mlgit.yaml": "metric: acc\ndirection: max\n"})
    stream = bytearray()
    for i in range(1, commits):
        stream += b"commit refs/heads/main\n"
        stream += b"committer bench <bench@example.invalid> %d +0000\n" % (1_700_000_000 + i)
        stream += bench._data(f"step {i}")
        if i == 1:
            stream += b"from refs/heads/main^0\n"
        for rel, text in {"params.yaml": f"lr: {i / commits}\n",
                          "metrics.json": json.dumps({"acc": i / commits}) + "\n"}.items():
            stream += f"M 100644 inline {rel}\n".encode() + bench._data(text)
        stream += b"\n"
    bench.run(["git", "fast-import", "--quiet", "--force"], path, stdin=bytes(stream))
    bench.run(["git", "reset", "-q", "--hard"], path)


CACHED_FLOOR = ("git for-each-ref --format='%(objectname)' refs/heads/ | while read -r sha; do "
                "printf '%s:dvc.yaml\\n%s:params.yaml\\n%s:dvc.lock\\n' \"$sha\" \"$sha\" \"$sha\"; "
                "done | git cat-file --batch > /dev/null && cat .dvc/cache/files/md5/*/* "
                "> /dev/null")
HISTORY_FLOOR = ("git rev-list --branches | while read -r sha; do "
                 "printf '%s:dvc.yaml\\n%s:params.yaml\\n%s:metrics.json\\n' \"$sha\" \"$sha\" "
                 "\"$sha\"; done | git cat-file --batch > /dev/null")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--branches", type=int, default=100)
    ap.add_argument("--commits", type=int, default=2000)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--dvc-reps", type=int, default=1)
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="mlgit-bench-realworld-"))
    os.environ["DVC_SITE_CACHE_DIR"] = str(base / "dvc-site-cache")
    bench.SOURCE = bench.install_copy(base)
    mlgit = [sys.executable, "-m", "mlgit"]
    dvc = [sys.executable, "-m", "dvc"]
    try:
        print(f"mlgit compare on real-world shapes · python {sys.version.split()[0]} · "
              f"{os.cpu_count()} cores · reps {args.reps} (dvc {args.dvc_reps})")
        print(f"  {'command':<48} {'first s':>8} {'min s':>8} {'median':>8} {'/mlgit':>9}")
        for title, build, size, flag, floor in (
                ("branches, metrics in the DVC cache", build_cached, args.branches,
                 "--all-branches", CACHED_FLOOR),
                ("commits on one branch", build_history, args.commits, "--all-commits",
                 HISTORY_FLOOR)):
            repo = base / title.split()[0]
            t0 = time.perf_counter()
            build(repo, size)
            print(f"\n{size} {title} (built in {time.perf_counter() - t0:.1f} s)")
            ours_name = f"mlgit compare {flag} --json"
            t = bench.timed({
                ours_name: ([*mlgit, "compare", flag, "--json"], args.reps),
                "raw git floor (cat-file --batch)": (floor, args.reps),
                "dvc metrics show -A --json": ([*dvc, "metrics", "show", "-A", "--json"],
                                               args.dvc_reps)}, repo)
            for name, times in t.items():
                print(bench.line(name, times, t[ours_name]))
            rows = json.loads(bench.run([*mlgit, "compare", flag, "--json"], repo))["data"]["rows"]
            print(f"  rows: {len(rows)}, with numbers: {sum(1 for r in rows if r['metrics'])}")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
