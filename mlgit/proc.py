"""The one process runner: argument lists only, explicit cwd, clean git environment.

Failures become `CommandError` carrying the command, exit code and both streams. On an
interrupt the child is asked to stop (SIGINT, then SIGTERM, then SIGKILL) and waited for, so a
DVC child gets the chance to release its locks before we clean up.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from mlgit.errors import CommandError, MlgitError


def _debug(message: str, *args: object) -> None:
    """Log through `logging` only if something imported it (`--debug` does): importing it costs
    ~2 ms on every start of commands that must answer in tens of milliseconds."""
    logging = sys.modules.get("logging")
    if logging is not None:
        logging.getLogger("mlgit").debug(message, *args)


# Variables a parent git (hooks, `git mlgit` aliases, worktrees) may set, which would point our
# git calls at the wrong repository (pre-commit#300, #808).
_GIT_ENV_DROP = (
    "GIT_DIR",
    "GIT_INDEX_FILE",
    "GIT_WORK_TREE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_PREFIX",
    "GIT_NAMESPACE",
    "GIT_COMMON_DIR",
)


@dataclass(frozen=True)
class Result:
    cmd: list[str]
    returncode: int
    stdout: str
    stderr: str


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _GIT_ENV_DROP}
    env.setdefault("GIT_TERMINAL_PROMPT", "0")
    if extra:
        env.update(extra)
    return env


def run(
    cmd: Sequence[str],
    cwd: str | Path | None = None,
    *,
    check: bool = True,
    env: Mapping[str, str] | None = None,
    input: str | None = None,
    stream: bool = False,
    hint: str | None = None,
) -> Result:
    """Run `cmd` (a list, never a shell string). With `stream`, output goes to our terminal."""
    args = [str(a) for a in cmd]
    _debug("run: %s (cwd=%s)", args, cwd)
    try:
        proc = subprocess.Popen(
            args,
            cwd=str(cwd) if cwd is not None else None,
            env=clean_env(env),
            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            stdout=None if stream else subprocess.PIPE,
            stderr=None if stream else subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
    except FileNotFoundError as exc:
        raise MlgitError(
            f"`{args[0]}` is not installed or not on PATH",
            hint=f"install {Path(args[0]).name} and rerun",
            exit_code=127,
        ) from exc
    try:
        out, err = proc.communicate(input)
    except BaseException:
        stop_process(proc)
        raise
    result = Result(args, proc.returncode, out or "", err or "")
    if check and proc.returncode != 0:
        raise CommandError(args, proc.returncode, result.stdout, result.stderr, hint=hint)
    return result


def stop_process(proc: subprocess.Popen[str], grace: float = 5.0) -> None:
    """Stop a child politely, then firmly; always reap it."""
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGINT, grace), (signal.SIGTERM, 2.0)):
        try:
            proc.send_signal(sig)
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue
        except ProcessLookupError:
            return
    proc.kill()
    proc.wait()
