"""The one place that runs DVC: as a subprocess with an argument list.

A subprocess keeps DVC's state, locks and heavy imports out of our process, and lets Ctrl-C reach
it. We run the DVC that is installed beside mlgit (`python -m dvc`), so versions match.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from mlgit import proc
from mlgit.errors import CommandError, MlgitError

DVC_ENV = {"DVC_NO_ANALYTICS": "1", "DVC_NO_UPDATE_CHECK": "1"}


def dvc_command() -> list[str]:
    return [sys.executable, "-m", "dvc"]


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
) -> proc.Result:
    """Run `dvc ARGS` in `cwd`. With `stream`, DVC's own progress goes to the terminal
    (`to_stderr` and `own_group`: see `proc.run`)."""
    return _run_dvc([*dvc_command(), *args], args, cwd, check=check, stream=stream, env=env,
                    hint=hint, to_stderr=to_stderr, own_group=own_group)


def _run_dvc(cmd: list[str], args: Sequence[str], cwd: str | Path, *, check: bool, stream: bool,
             env: dict[str, str] | None, hint: str | None, to_stderr: bool,
             own_group: bool) -> proc.Result:
    full_env = {**DVC_ENV, **(env or {})}
    try:
        return proc.run(cmd, cwd, check=check, stream=stream, env=full_env, hint=hint,
                        to_stderr=to_stderr, own_group=own_group)
    except CommandError as exc:
        # name the DVC command, not the interpreter that runs it
        lines = (exc.stderr.strip() or exc.stdout.strip()).splitlines()
        detail = f": {lines[-1].strip()[:300]}" if lines else "; see above" if stream else ""
        exc.message = f"`dvc {' '.join(args[:2])}` failed (exit {exc.returncode}){detail}"
        exc.args = (exc.message,)
        raise


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
