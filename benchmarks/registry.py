"""Benchmark: `mlgit models --json` beside `gto show --json` on a repo with many tags (gto#156).

Builds (with one `git fast-import`) a repository with 1,000 registry tags over 20 artifacts
(registrations and stage assignments, one second apart, messages in mlgit's format) plus ~2,000
unrelated annotated release tags, checks that both tools report the same state, and prints the
timings side by side.

    python benchmarks/registry.py [--artifacts 20] [--tags 1000] [--releases 2000] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mlgit.tags import format_message  # noqa: E402

STAGES = ("dev", "staging", "production")


def build_repo(path: Path, artifacts: int, tags: int, releases: int,
               packed: bool = True) -> dict[str, dict]:
    """Create the repo; return what the registry should show per artifact."""
    per_artifact = tags // artifacts
    versions = (per_artifact + 1) // 2  # every version: a registration, then an assignment
    commits = versions
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    stream: list[bytes] = []
    t0 = 1_700_000_000

    def data(text: str) -> None:
        raw = text.encode()
        stream.append(f"data {len(raw)}\n".encode() + raw + b"\n")

    for i in range(commits):
        stream.append(f"commit refs/heads/main\nmark :{i + 1}\n".encode())
        stream.append(f"committer Bench <bench@example.com> {t0 + i} +0000\n".encode())
        data(f"commit {i}\n")
        if i:
            stream.append(f"from :{i}\n".encode())
        stream.append(b"M 644 inline file.txt\n")
        data(f"{i}\n")
        if i == 0:  # a DVC project declares its artifacts, as `dvc artifacts get` needs
            stream.append(b"M 644 inline dvc.yaml\n")
            data("artifacts:\n" + "".join(f"  model-{a:02d}:\n    path: models/m{a}.pkl\n"
                                          f"    type: model\n" for a in range(artifacts)))
    expected: dict[str, dict] = {}
    when = t0 + 10_000
    for a in range(artifacts):
        name = f"model-{a:02d}"
        counter = 0
        stages: dict[str, str] = {}
        made = 0
        for v in range(versions):
            version = f"v0.{v + 1}.0"
            record = {"action": "register", "artifact": name, "version": version,
                      "metrics": {"accuracy": 0.5 + v / 1000}}
            tag_events = [(f"{name}@{version}", format_message(
                f"Register {name} {version}", record))]
            if made + 1 < per_artifact:
                counter += 1
                stage = STAGES[v % len(STAGES)]
                stages[stage] = version
                tag_events.append((f"{name}#{stage}#{counter}", format_message(
                    f"Promote {name} {version} to {stage}", {**record, "action": "assign"})))
            for tag, message in tag_events[: per_artifact - made]:
                when += 1
                stream.append(f"tag {tag}\nfrom :{v + 1}\n".encode())
                stream.append(f"tagger Bench <bench@example.com> {when} +0000\n".encode())
                data(message)
                made += 1
        expected[name] = {"latest": f"v0.{versions}.0", "stages": stages}
    for r in range(releases):
        stream.append(f"tag release-{r // 100}.{r % 100}.0\nfrom :{commits}\n".encode())
        stream.append(f"tagger Bench <bench@example.com> {t0 + 50_000 + r} +0000\n".encode())
        data(f"Release {r}\n")
    subprocess.run(["git", "fast-import", "--quiet"], cwd=path, input=b"".join(stream),
                   check=True)
    subprocess.run(["git", "checkout", "-q", "main"], cwd=path, check=True)
    if packed:  # as after a clone or `git gc`; tags made locally stay loose until then
        subprocess.run(["git", "pack-refs", "--all"], cwd=path, check=True)
    return expected


def time_commands(cmds: dict[str, list[str]], cwd: Path, runs: dict[str, int],
                  env: dict[str, str]) -> tuple[dict[str, tuple[float, float]], dict[str, str]]:
    """Run the commands interleaved (so load from elsewhere hits all alike): (best, median)."""
    times: dict[str, list[float]] = {k: [] for k in cmds}
    outs: dict[str, str] = {}
    for i in range(max(runs.values())):
        for key, cmd in cmds.items():
            if i >= runs[key]:
                continue
            start = time.perf_counter()
            res = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
            times[key].append(time.perf_counter() - start)
            if res.returncode != 0:
                raise SystemExit(f"{' '.join(cmd)} failed:\n{res.stderr}")
            outs[key] = res.stdout
    return {k: (min(v), statistics.median(v)) for k, v in times.items()}, outs


def run_scenario(base: Path, args: argparse.Namespace, packed: bool) -> tuple[float, float]:
    repo = base / ("packed" if packed else "loose")
    expected = build_repo(repo, args.artifacts, args.tags, args.releases, packed=packed)
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update({"DVC_NO_ANALYTICS": "1", "GTO_NO_ANALYTICS": "1"})
    gto = shutil.which("gto") or str(Path(sys.executable).parent / "gto")
    mlgit = [sys.executable, "-m", "mlgit"]
    cmds = {
        "mlgit models --json": [*mlgit, "models", "--json"],
        "gto show --json": [gto, "show", "--json"],
        "mlgit history model-07 --json": [*mlgit, "history", "model-07", "--json"],
        "gto history model-07 --json": [gto, "history", "model-07", "--json"],
        "mlgit models --help (startup)": [*mlgit, "models", "--help"],
    }
    runs = {k: args.gto_runs if k.startswith("gto") else args.runs for k in cmds}
    timing, outs = time_commands(cmds, repo, runs, env)
    ours, theirs = outs["mlgit models --json"], outs["gto show --json"]
    models = {m["name"]: m for m in json.loads(ours)["data"]}
    gto_state = json.loads(theirs)
    for name, want in expected.items():
        mine = {"latest": models[name]["latest"],
                "stages": {s: e["version"] for s, e in models[name]["stages"].items()}}
        gtos = {"latest": gto_state[name]["version"], "stages": gto_state[name]["stage"]}
        if not (mine == want == gtos):
            raise SystemExit(f"{name}: mlgit {mine} / gto {gtos} / expected {want}")
    print(f"\n{'packed refs (after clone or git gc)' if packed else 'loose refs (tags just made)'}"
          f": mlgit and gto agree on all {len(expected)} artifacts")
    print(f"  {'command':<34}{'best s':>9}{'median s':>10}")
    for label, (best, median) in timing.items():
        print(f"  {label:<34}{best:>9.3f}{median:>10.3f}")
    ours_t, gto_t = timing["mlgit models --json"][0], timing["gto show --json"][0]
    hist_t, gto_hist_t = (timing["mlgit history model-07 --json"][0],
                          timing["gto history model-07 --json"][0])
    print(f"  best of runs: models vs show {gto_t / ours_t:.1f}x; history "
          f"{gto_hist_t / hist_t:.1f}x")
    return ours_t, gto_t


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--artifacts", type=int, default=20)
    parser.add_argument("--tags", type=int, default=1000)
    parser.add_argument("--releases", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--gto-runs", type=int, default=3)
    args = parser.parse_args()
    typer_version = subprocess.run(
        [sys.executable, "-c", "import typer; print(typer.__version__)"], capture_output=True,
        text=True, env={**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep
                        + os.environ.get("PYTHONPATH", "")}).stdout.strip()
    print(f"{args.tags} registry tags over {args.artifacts} artifacts + {args.releases} release "
          f"tags; best and median of interleaved runs; typer {typer_version} (0.29 imports "
          "pydantic on every command)")
    base = Path(tempfile.mkdtemp(prefix="mlgit-bench-registry-"))
    try:
        results = [run_scenario(base, args, packed) for packed in (True, False)]
    finally:
        shutil.rmtree(base, ignore_errors=True)
    ours_t, gto_t = results[0]
    met = gto_t / ours_t >= 10 and ours_t < 0.3
    print(f"\ngoal (>= 10x faster than gto show, under 0.3 s): {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
