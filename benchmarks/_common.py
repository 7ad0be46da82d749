"""Shared helpers for the benchmark scripts: timing subprocesses and printing tables."""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ROOT) + os.pathsep + e.get("PYTHONPATH", "")
    e["PATH"] = str(BIN) + os.pathsep + e.get("PATH", "")
    e.setdefault("DVC_NO_ANALYTICS", "1")
    return e


def mlgit(*args: str) -> list[str]:
    """The installed console script (what users run); `python -m mlgit` if not installed."""
    exe = BIN / "mlgit"
    return [str(exe), *args] if exe.exists() else [sys.executable, "-m", "mlgit", *args]


def dvc(*args: str) -> list[str]:
    exe = BIN / "dvc"
    return [str(exe) if exe.exists() else "dvc", *args]


def time_cmd(cmd: Sequence[str], cwd: Path, reps: int = 5, warmup: int = 1,
             check: bool = True) -> list[float]:
    """Wall-clock seconds of `reps` runs of `cmd` (after `warmup` untimed runs)."""
    times = []
    for i in range(warmup + reps):
        t0 = time.perf_counter()
        res = subprocess.run(list(cmd), cwd=cwd, env=env(), capture_output=True, text=True)
        dt = time.perf_counter() - t0
        if check and res.returncode != 0:
            raise SystemExit(f"benchmark command failed: {cmd}\n{res.stderr[-2000:]}")
        if i >= warmup:
            times.append(dt)
    return times


def peak_rss_mb_of(cmd: Sequence[str], cwd: Path) -> float:
    """Peak resident memory (MiB) of one run of `cmd` (max over children, so run it alone)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    subprocess.run(list(cmd), cwd=cwd, env=env(), capture_output=True, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(before, after) / 1024


def summary(times: list[float]) -> tuple[float, float]:
    return min(times), statistics.median(times)


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[str(c) for c in header]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    print(f"\n{title}")
    for j, r in enumerate(cells):
        print("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
        if j == 0:
            print("  " + "  ".join("-" * w for w in widths))
