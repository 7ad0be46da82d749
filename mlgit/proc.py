"""The one process runner: argument lists only, explicit cwd, clean git environment.

Failures become `CommandError` carrying the command, exit code and both streams. On an
interrupt the child is asked to stop (SIGINT, then SIGTERM, then SIGKILL) and waited for, so a
DVC child gets the chance to release its locks before we clean up.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

from mlgit.errors import CommandError, CommandTimeout, Interrupted, MlgitError


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
    to_stderr: bool = False,
    own_group: bool = False,
    timeout: float | None = None,
) -> Result:
    """Run `cmd` (a list, never a shell string). With `stream`, output goes to our terminal
    (with `to_stderr`, all of it to our stderr, so our stdout stays clean for --json).

    With `own_group`, the child leads its own process group and an interrupt is passed to the
    whole group: DVC ignores SIGINT while a stage's command runs (dvc/stage/run.py), so only
    signalling the command itself stops it, and then DVC exits cleanly, releasing its locks.

    Inside `cancellable(event)` (a worker thread), setting the event stops the child the same
    way and raises `Interrupted` in that thread, so its `finally` blocks clean up.

    With `timeout` (seconds), a child that does not finish in time is stopped and reaped, and a
    `CommandTimeout` says so: checks of remote servers must answer quickly, never hang.
    """
    args = [str(a) for a in cmd]
    _debug("run: %s (cwd=%s)", args, cwd)
    cancel = _cancel.get()
    if cancel is not None and cancel.is_set():
        raise Interrupted(signal.SIGINT)
    out_target = (2 if to_stderr else None) if stream else subprocess.PIPE  # 2: our stderr
    try:
        proc = subprocess.Popen(
            args,
            cwd=str(cwd) if cwd is not None else None,
            env=clean_env(env),
            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            stdout=out_target,
            stderr=None if stream else subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
            start_new_session=own_group,
        )
    except FileNotFoundError as exc:
        raise MlgitError(
            f"`{args[0]}` is not installed or not on PATH",
            hint=f"install {Path(args[0]).name} and rerun",
            exit_code=127,
        ) from exc
    try:
        out, err = _communicate(proc, input, cancel, timeout)
    except subprocess.TimeoutExpired as exc:
        stop_process(proc, grace=1.0, group=own_group)
        raise CommandTimeout(args, timeout or 0.0, hint=hint) from exc
    except BaseException:
        stop_process(proc, group=own_group)
        raise
    result = Result(args, proc.returncode, out or "", err or "")
    if check and proc.returncode != 0:
        raise CommandError(args, proc.returncode, result.stdout, result.stderr, hint=hint)
    return result


def stop_process(proc: subprocess.Popen[str], grace: float = 5.0, *, group: bool = False) -> None:
    """Stop a child politely, then firmly; always reap it. With `group`, signal the child's
    whole process group (it was started as its leader), and leave no member of it behind."""

    def send(sig: int) -> None:
        if group:
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)

    try:
        if proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGINT, grace), (signal.SIGTERM, 2.0)):
            try:
                send(sig)
                proc.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue
            except ProcessLookupError:
                return
        proc.kill()
        proc.wait()
    finally:
        if group:
            # the group id cannot be reused while any member lives, so this only reaches
            # leftovers of our own child (a stage command that outlived DVC)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)


# --- cancelling work in other threads ---------------------------------------------------------
# Signals reach only the main thread. Work that runs processes in worker threads (a parallel
# grid of experiments) runs inside `cancellable(event)`: the main thread sets the event when it
# is interrupted, and every `run` in those threads stops its child and raises `Interrupted`.
_cancel: ContextVar[threading.Event | None] = ContextVar("mlgit_cancel", default=None)


@contextlib.contextmanager
def cancellable(event: threading.Event) -> Iterator[None]:
    """Make every `run` in this thread stop (and raise `Interrupted`) once `event` is set."""
    token = _cancel.set(event)
    try:
        yield
    finally:
        _cancel.reset(token)


def _communicate(proc: subprocess.Popen[str], input: str | None, cancel: threading.Event | None,
                 timeout: float | None = None) -> tuple[str | None, str | None]:
    if cancel is None:
        return proc.communicate(input, timeout=timeout)
    import time

    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        if deadline is not None and time.monotonic() > deadline:
            raise subprocess.TimeoutExpired(proc.args, timeout or 0.0)
        try:
            return proc.communicate(input, timeout=0.2)
        except subprocess.TimeoutExpired:
            input = None  # already sent; communicate() keeps what it had not written yet
            if cancel.is_set():
                raise Interrupted(signal.SIGINT) from None


@contextlib.contextmanager
def shielded() -> Iterator[None]:
    """Let a block that must finish (cleanup: removing a worktree) finish.

    In the main thread SIGINT/SIGTERM are held until the block ends (a signal that arrives
    meanwhile is delivered then, and raises `Interrupted` then); in a worker thread inside
    `cancellable`, the cancel request is ignored within the block.
    """
    token = _cancel.set(None)
    try:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            yield
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)
    finally:
        _cancel.reset(token)
