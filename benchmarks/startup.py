"""Startup time: `mlgit --version` beside `dvc --version`, in the same run.

Goal (issue #3): mlgit <= 0.5x dvc. Run: python benchmarks/startup.py [--reps N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import dvc, mlgit, print_table, summary, time_cmd


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=15)
    args = ap.parse_args()
    cwd = Path(tempfile.mkdtemp())
    cases = {
        "mlgit --version": mlgit("--version"),
        "mlgit --help": mlgit("--help"),
        "dvc --version": dvc("--version"),
    }
    results = {name: summary(time_cmd(cmd, cwd, reps=args.reps)) for name, cmd in cases.items()}
    base = results["dvc --version"][1]
    rows = [(name, f"{mn * 1000:.0f} ms", f"{med * 1000:.0f} ms", f"{med / base:.2f}x")
            for name, (mn, med) in results.items()]
    print_table(f"Startup ({args.reps} runs each)", ["command", "min", "median", "vs dvc"], rows)
    ratio = results["mlgit --version"][1] / base
    print(f"\nmlgit --version / dvc --version = {ratio:.2f}x (goal <= 0.5x): "
          + ("met" if ratio <= 0.5 else "NOT met"))


if __name__ == "__main__":
    main()
