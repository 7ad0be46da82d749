"""The one place that runs DVC: as a subprocess with an argument list.

A subprocess keeps DVC's state, locks and heavy imports out of our process, and lets Ctrl-C reach
it. We run the DVC that is installed beside mlgit (`python -m dvc`), so versions match.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlgit import proc
from mlgit.errors import CommandError, CommandTimeout, MlgitError

DVC_ENV = {"DVC_NO_ANALYTICS": "1", "DVC_NO_UPDATE_CHECK": "1"}


def dvc_command() -> list[str]:
    # `dvc ARGS` through our child: the same DVC, but config files are written as UTF-8
    # (plain DVC cannot save a non-ASCII path into .dvc/config; see write_config_as_utf8)
    return [sys.executable, "-P", str(Path(__file__).with_name("_dvc_child.py")), "--dvc"]


def dvc(
    args: Sequence[str],
    cwd: str | Path,
    *,
    check: bool = True,
    stream: bool = False,
    env: dict[str, str] | None = None,
    hint: str | None = None,
    to_stderr: bool = False,
    own_group: bool = False,
    timeout: float | None = None,
) -> proc.Result:
    """Run `dvc ARGS` in `cwd`. With `stream`, DVC's own progress goes to the terminal
    (`to_stderr` and `own_group`: see `proc.run`)."""
    return _run_dvc([*dvc_command(), *args], args, cwd, check=check, stream=stream, env=env,
                    hint=hint, to_stderr=to_stderr, own_group=own_group, timeout=timeout)


def _run_dvc(cmd: list[str], args: Sequence[str], cwd: str | Path, *, check: bool, stream: bool,
             env: dict[str, str] | None, hint: str | None, to_stderr: bool,
             own_group: bool, timeout: float | None = None) -> proc.Result:
    full_env = {**DVC_ENV, **(env or {})}
    try:
        return proc.run(cmd, cwd, check=check, stream=stream, env=full_env, hint=hint,
                        to_stderr=to_stderr, own_group=own_group, timeout=timeout)
    except CommandTimeout:
        raise
    except CommandError as exc:
        # name the DVC command, not the interpreter that runs it
        lines = (exc.stderr.strip() or exc.stdout.strip()).splitlines()
        detail = f": {lines[-1].strip()[:300]}" if lines else "; see above" if stream else ""
        if dvc_error(exc.stderr):
            detail = f": {dvc_error(exc.stderr)}"
        exc.message = f"`dvc {' '.join(args[:2])}` failed (exit {exc.returncode}){detail}"
        exc.args = (exc.message,)
        raise


def dvc_error(stderr: str) -> str:
    """DVC's own error line ("ERROR: ..."), without the support footer it prints after it."""
    for line in stderr.splitlines():
        if line.startswith("ERROR:"):
            return line.removeprefix("ERROR:").strip()[:300]
    return ""


def is_dvc_repo(root: Path) -> bool:
    return (root / ".dvc").is_dir()


def require_dvc_repo(root: Path) -> None:
    if not is_dvc_repo(root):
        raise MlgitError(
            f"{root} is a Git repository but not a DVC project (no .dvc/)",
            hint="run `mlgit init` (or `dvc init`) first",
        )


def init(root: Path) -> None:
    dvc(["init", "-q"], root)


def repro(root: Path, targets: Sequence[str] = (), *, force: bool = False, stream: bool = True,
          pull: bool = False) -> proc.Result:
    args = ["repro", *(["--force"] if force else []), *(["--pull"] if pull else []), *targets]
    return dvc(args, root, stream=stream, hint="fix the failing stage, then rerun")


def add(root: Path, paths: Sequence[str]) -> None:
    dvc(["add", "-q", *paths], root)


def push(root: Path, *, remote: str | None = None, stream: bool = True,
         targets: Sequence[str] = (), to_stderr: bool = False) -> proc.Result:
    args = ["push", *(["-r", remote] if remote else []), *targets]
    return dvc(args, root, stream=stream, to_stderr=to_stderr)


def pull(root: Path, *, remote: str | None = None, stream: bool = True,
         targets: Sequence[str] = ()) -> proc.Result:
    args = ["pull", *(["-r", remote] if remote else []), *targets]
    return dvc(args, root, stream=stream)


def checkout(root: Path, *, stream: bool = False) -> proc.Result:
    return dvc(["checkout", "-q"], root, stream=stream, check=False)


def status(root: Path) -> str:
    return dvc(["status", "-q"], root, check=False).stdout


def remote_default(root: Path) -> str | None:
    res = dvc(["remote", "default"], root, check=False)
    return res.stdout.strip() or None if res.returncode == 0 else None


def remote_add(root: Path, name: str, url: str, *, default: bool = True,
               local: bool = False) -> None:
    args = ["remote", "add", *(["-d"] if default else []), *(["--local"] if local else []),
            name, url]
    dvc(args, root)


def config_set(root: Path, key: str, value: str, *, local: bool = False) -> None:
    dvc(["config", *(["--local"] if local else []), key, value], root)


def share_cache(worktree: Path, main_root: Path) -> None:
    """Point a throwaway worktree's DVC at the main checkout's cache and remotes (no copy, no
    re-download), in process through DVC's config code (0.15 s; a `dvc config` run is 0.3 s).

    `run_in_worktree(worktree, main_root)` does the same inside its DVC process, for free."""
    from mlgit._dvc_child import configure_worktree

    configure_worktree(str(worktree.absolute() / ".dvc"), str(main_root.absolute() / ".dvc"))


def cache_dir(root: Path) -> Path:
    """The DVC cache directory of `root`, without a subprocess.

    `cache.dir` is read from DVC's config files in DVC's order (system, global, repo, local; a
    relative path is relative to its file) with configobj, DVC's own parser: importing DVC's
    config module would cost 0.07 s of a 0.3 s `mlgit reproduce`. If a file does not parse,
    DVC's own code reads them.
    """
    import platformdirs
    from configobj import ConfigObj, ConfigObjError

    app = ("dvc", "iterative")  # dvc/dirs.py
    files = [Path(os.getenv("DVC_SYSTEM_CONFIG_DIR") or platformdirs.site_config_dir(*app)),
             Path(os.getenv("DVC_GLOBAL_CONFIG_DIR") or platformdirs.user_config_dir(*app))]
    found = root / ".dvc" / "cache"
    try:
        for path in [d / "config" for d in files] + [root / ".dvc" / "config",
                                                       root / ".dvc" / "config.local"]:
            if not path.is_file():
                continue
            sections = {k.lower(): v for k, v in ConfigObj(str(path)).items()}
            cache = {k.lower(): v for k, v in dict(sections.get("cache") or {}).items()}
            if cache.get("dir"):
                found = path.parent / os.path.expanduser(str(cache["dir"]))
    except (ConfigObjError, OSError, AttributeError):
        from dvc.config import Config

        conf = Config(dvc_dir=str(root / ".dvc"), validate=False)
        return Path(conf["cache"].get("dir") or root / ".dvc" / "cache")
    return Path(os.path.normpath(found))


def has_remote(root: Path) -> bool:
    """Whether a default DVC remote is configured at any level (no subprocess)."""
    from dvc.config import Config

    conf = Config(dvc_dir=str(root / ".dvc"), validate=False)
    return bool(conf["core"].get("remote"))


def pull_for_repro(root: Path, targets: Sequence[str] = (), *,
                   jobs: int | None = None) -> proc.Result:
    """`dvc pull [-j N] [TARGETS]`, streamed to stderr; the caller checks what arrived."""
    args = ["pull", *(["-j", str(jobs)] if jobs else []), *targets]
    return dvc(args, root, stream=True, check=False, to_stderr=True)


def repro_forced(root: Path) -> None:
    """`dvc repro --force --no-commit`: every stage again; the results are not added to the
    shared cache (a rebuild must not change the user's cache)."""
    dvc(["repro", "--force", "--no-commit"], root, stream=True, to_stderr=True, own_group=True,
        hint="the pipeline of that commit failed; see DVC's output above")


def run_in_worktree(worktree: Path, main_root: Path | None, *, checkout: bool = True,
                    repro_args: Sequence[str] | None = (), stream: bool = True,
                    to_stderr: bool = False) -> proc.Result:
    """In ONE DVC process: share `main_root`'s cache (if given), `dvc checkout`, `dvc repro ARGS`
    (`repro_args=None`: no repro). Fails with DVC's output (shown or captured) if repro fails.

    The child leads its own process group, so an interrupt stops the stage command too."""
    child = Path(__file__).with_name("_dvc_child.py")
    args: list[str] = []
    if main_root is not None:
        args += ["--share-cache", str(main_root.absolute() / ".dvc")]  # the child runs elsewhere
    if checkout:
        args.append("--checkout")
    if repro_args is not None:
        args += ["--repro", *repro_args]
    return _run_dvc([sys.executable, "-P", str(child), *args], ["repro", *(repro_args or ())],
                    worktree, check=True, stream=stream, env=None,
                    hint="fix the failing stage, then rerun", to_stderr=to_stderr,
                    own_group=True)

def share_config(worktree: Path, main_root: Path) -> None:
    """The main checkout's cache, remotes and `config.local` for a worktree: `share_cache`
    does all of it (kept under this name for the registry's callers)."""
    share_cache(worktree, main_root)


def status_cloud(root: Path, targets: Sequence[str]) -> dict[str, str]:
    """`dvc status -c --json TARGETS`: {path: "new" | "deleted" | "missing" | ...}, {} if in sync.

    "new": only in the cache; "deleted": only in the remote; "missing": in neither."""
    import json

    res = dvc(["status", "-c", "--json", *targets], root)
    data = json.loads(res.stdout or "{}")
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def fetch(root: Path, targets: Sequence[str]) -> proc.Result:
    return dvc(["fetch", "-q", *targets], root, check=False)


def version() -> str | None:
    """The installed DVC's version, read from package metadata (no import, no process)."""
    from importlib import metadata

    try:
        return metadata.version("dvc")
    except metadata.PackageNotFoundError:
        return None


def has_plugin(scheme: str) -> bool:
    """Whether DVC can talk to `scheme://` remotes here (s3 needs dvc-s3, and so on)."""
    from importlib.util import find_spec

    module = _PLUGINS.get(scheme)
    return module is None or find_spec(module) is not None


_PLUGINS = {"s3": "dvc_s3", "gs": "dvc_gs", "gcs": "dvc_gs", "azure": "dvc_azure",
            "ssh": "dvc_ssh", "hdfs": "dvc_hdfs", "webdav": "dvc_webdav",
            "webdavs": "dvc_webdav", "oss": "dvc_oss", "gdrive": "dvc_gdrive"}


def config_list(root: Path) -> dict[str, str]:
    """DVC's merged configuration (system, global, repo, local), flattened like `dvc config -l`:
    {"core.remote": ..., "remote.NAME.url": ...}, relative local remote paths made absolute.

    Read in-process with DVC's own `Config` (0.1 s, it only reads files) instead of running
    `dvc config -l` (0.3-0.4 s): every data command and `doctor` needs it first. The values
    can include credentials from `config.local`: callers pick the keys they show.
    """
    from dvc.config import Config, ConfigError

    try:
        conf = Config(dvc_dir=str(root / ".dvc"), validate=False)
    except ConfigError as exc:
        raise MlgitError(f"cannot read DVC's config: {exc}",
                         hint="fix .dvc/config (or .dvc/config.local)") from exc
    values: dict[str, str] = {}
    for section, options in conf.items():
        for key, value in options.items():
            if section == "remote" and isinstance(value, dict):
                values.update({f"remote.{key}.{k}": str(v) for k, v in value.items()})
            elif not isinstance(value, dict):
                values[f"{section}.{key}"] = str(value)
    return values


def remote_modify(root: Path, name: str, option: str, value: str, *,
                  local: bool = False) -> None:
    dvc(["remote", "modify", *(["--local"] if local else []), name, option, value], root)


def data_status(root: Path, *, remote: str | None = None,
                offline: bool = False) -> dict[str, Any]:
    """`dvc data status --json` against `remote` (default: the default remote; none: offline).

    Returns {"remote", "url", "status"} (DVC's JSON: uncommitted, committed, not_in_cache,
    not_in_remote), or {"unknown_remote", "known"}, or {"remote", "url", "remote_error"}.
    """
    import json

    res = _api("status", {"remote": remote, "offline": offline}, root, stream=False)
    try:
        data = json.loads(res.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError) as exc:
        raise MlgitError("`dvc data status` gave no answer",
                         hint="rerun with --debug and report it") from exc
    return data if isinstance(data, dict) else {}


def _api(op: str, payload: dict[str, object], root: Path, *, stream: bool,
         timeout: float | None = None, env: dict[str, str] | None = None) -> proc.Result:
    """Run one operation of `mlgit/_dvcapi.py` (DVC's Python API) in a DVC subprocess."""
    import json

    script = Path(__file__).with_name("_dvcapi.py")
    cmd = [sys.executable, "-P", str(script), op, json.dumps({"root": str(root), **payload})]
    try:
        return proc.run(cmd, root, stream=stream, env={**DVC_ENV, **(env or {})},
                        timeout=timeout)
    except CommandError as exc:
        if isinstance(exc, CommandTimeout):
            exc.message = f"DVC did not answer within {timeout:g} s ({op}); stopped it"
        elif stream and not exc.stderr:
            exc.message = f"DVC {op} failed (exit {exc.returncode}); see above"
        else:
            exc.message = f"DVC {op} failed: {dvc_error(exc.stderr) or exc.stderr.strip()[:300]}"
        exc.args = (exc.message,)
        raise


def push_revs(root: Path, revs: Sequence[str], *, remote: str | None = None,
              stream: bool = True) -> proc.Result:
    """Push the outputs recorded at the commits `revs` (no checkout; one DVC process)."""
    return _api("push", {"revs": list(revs), "remote": remote}, root, stream=stream)


def fetch_revs(root: Path, revs: Sequence[str], *, remote: str | None = None,
               stream: bool = True, targets: Sequence[str] = ()) -> proc.Result:
    """Fetch the outputs recorded at the commits `revs` into the cache (no checkout); with
    `targets`, only those paths (DVC fetches a file inside a directory output on its own)."""
    return _api("fetch", {"revs": list(revs), "remote": remote, "targets": list(targets)}, root,
                stream=stream)


@dataclass(frozen=True)
class RemoteCheck:
    reachable: bool
    error: str | None  # why not, in one line
    exists: bool  # the remote's path (DVC creates it on the first push)
    bucket_exists: bool  # for cloud remotes: the bucket/container that path lives in
    missing: frozenset[str]  # of the hashes asked about, those the remote lacks


def check_remote(root: Path, remote: str | None, hashes: Sequence[str] = (),
                 legacy_hashes: Sequence[str] = (), *, timeout: float = 20.0) -> RemoteCheck:
    """Ask the remote (through DVC's filesystem) whether it answers and which hashes it holds.

    Cloud SDKs retry a refused connection for several seconds; one attempt is enough to tell a
    user "unreachable", and the timeout bounds a server that never answers.
    """
    import json

    res = _api("check", {"remote": remote, "hashes": list(hashes),
                         "legacy_hashes": list(legacy_hashes)}, root, stream=False,
               timeout=timeout, env={"AWS_MAX_ATTEMPTS": "1", "AWS_RETRY_MODE": "standard"})
    try:
        data = json.loads(res.stdout.strip().splitlines()[-1])
        return RemoteCheck(bool(data["reachable"]), data.get("error"), bool(data.get("exists")),
                           bool(data.get("root_exists", True)),
                           frozenset(map(str, data.get("missing") or ())))
    except (ValueError, IndexError, KeyError, TypeError) as exc:
        raise MlgitError("the DVC remote check gave no answer",
                         hint="rerun with --debug and report it") from exc
