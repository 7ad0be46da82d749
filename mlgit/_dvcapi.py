"""DVC operations its command line lacks, run in a DVC subprocess: `python -P _dvcapi.py OP JSON`.

mlgit never imports this module: `mlgit/dvc.py` runs it as a script by path, so DVC's imports,
state and locks stay out of mlgit's process exactly as with `python -m dvc` (and `-P` keeps
`mlgit/dvc.py` from shadowing the real `dvc` package). The operations:

- push / fetch: the outputs of given commits, without checking them out. `dvc push` only offers
  the work tree or *all* branches/tags/commits; DVC's own API takes `revs=` (as `dvc exp push`
  uses it), so we call that.
- check: is a remote reachable, and which of some object hashes does it hold (for `doctor`).
- status: `dvc data status` against the chosen remote, in one process with choosing it.

Output and exit codes follow DVC's CLI: progress on the terminal, `ERROR: ...` on stderr and
exit 1 on failure.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any


def _transfer(op: str, args: dict[str, Any]) -> dict[str, Any]:
    from dvc.config import Config
    from dvc.repo import Repo
    from dvc.ui import ui

    ui.enable()  # as DVC's CLI does: progress bars decide for themselves whether to draw
    # DVC reads each commit's own .dvc/config while it walks the commits; a remote added since
    # (or a URL changed since) would be missing or stale there. Pin the work tree's definition.
    workspace = Config(dvc_dir=os.path.join(args["root"], ".dvc"))
    name = args.get("remote") or workspace["core"].get("remote")
    if name not in workspace["remote"]:
        raise LookupError(f"remote '{name}' doesn't exist")
    conf = dict(workspace["remote"][name])
    with Repo(args["root"], remote=name, remote_config=conf) as repo:
        func = repo.push if op == "push" else repo.fetch
        count = func(targets=args.get("targets") or None, revs=args["revs"], workspace=False,
                     remote=name, jobs=args.get("jobs"))
    if op == "push":
        ui.write(f"{count} files pushed" if count else "Everything is up to date.")
    else:
        ui.write(f"{count} files fetched" if count else "Everything is up to date.")
    return {"transferred": count}


def _check(args: dict[str, Any]) -> dict[str, Any]:
    from dvc.repo import Repo

    result: dict[str, Any] = {"reachable": False, "error": None, "missing": []}
    with Repo(args["root"]) as repo:
        try:
            remote = repo.cloud.get_remote(args.get("remote"), "doctor")
            path = remote.path.strip("/")
            result["exists"] = bool(remote.fs.exists(remote.path))
            if not result["exists"] and "/" in path:
                # a bucket (container) must exist; the path below it appears on first push
                result["root_exists"] = bool(remote.fs.exists(path.split("/")[0]))
            result["reachable"] = True
            missing = []
            for oid in args.get("hashes") or []:
                if not remote.odb.exists(oid):
                    missing.append(oid)
            for oid in args.get("legacy_hashes") or []:
                if not remote.legacy_odb.exists(oid):
                    missing.append(oid)
            result["missing"] = missing
        except Exception as exc:  # any failure to reach the remote is the answer, not a crash
            text = str(exc).strip().splitlines()
            result["error"] = (text[0] if text else type(exc).__name__)[:300]
    return result


def _status(args: dict[str, Any]) -> dict[str, Any]:
    """`dvc data status --json`, choosing the remote in the same process: which one (the given
    or the default) and its URL come back with the answer, so mlgit reads no config itself."""
    from dvc.repo import Repo

    with Repo(args["root"]) as repo:
        remotes = repo.config["remote"]
        name = args.get("remote") or repo.config["core"].get("remote")
        if name and name not in remotes:
            return {"unknown_remote": name, "known": sorted(remotes)}
        url = str(remotes[name].get("url", "")) if name else None
        check = bool(name) and not args.get("offline")
        try:
            status = repo.data_status(remote=name if check else None, not_in_remote=check,
                                      remote_refresh=True)  # as `dvc data status` does
        except Exception as exc:
            if not check:
                raise
            return {"remote": name, "url": url, "remote_error": str(exc).strip()[:300]}
    for key in ("unchanged", "untracked", "git"):
        status.pop(key, None)
    return {"remote": name if check else None, "url": url, "status": status}


def main(argv: list[str]) -> int:
    op, args = argv[1], json.loads(argv[2])
    try:
        from dvc.logger import setup

        setup()
        if op in ("push", "fetch"):
            _transfer(op, args)
            return 0
        if op in ("check", "status"):
            answer = _check(args) if op == "check" else _status(args)
            sys.stdout.write(json.dumps(answer) + "\n")
            return 0
        sys.stderr.write(f"ERROR: unknown operation {op!r}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("ERROR: interrupted\n")
        return 130
    except Exception as exc:
        lines = str(exc).strip().splitlines()
        sys.stderr.write(f"ERROR: {lines[0] if lines else type(exc).__name__}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
