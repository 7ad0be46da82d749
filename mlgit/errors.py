"""The one user-facing exception family. Core code raises these; the CLI catches them once."""

from __future__ import annotations


class MlgitError(Exception):
    """An error the user can act on: a one-line message, an optional hint, an exit code."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None, exit_code: int | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(MlgitError):
    """Bad input: a name, a value, a flag combination. Nothing was changed."""

    exit_code = 2


class NotFoundError(MlgitError):
    """A ref, file, experiment or artifact that does not exist."""

    exit_code = 2


class CommandError(MlgitError):
    """An external command (git, dvc, gh) failed. Carries everything needed to debug it."""

    def __init__(
        self,
        cmd: list[str],
        returncode: int,
        stdout: str = "",
        stderr: str = "",
        message: str | None = None,
        hint: str | None = None,
    ):
        self.cmd = cmd
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        last = _last_line(stderr) or _last_line(stdout)
        text = message or f"`{' '.join(cmd[:3])}` failed (exit {returncode})" + (
            f": {last}" if last else ""
        )
        super().__init__(text, hint)


class CommandTimeout(CommandError):
    """An external command did not finish within its time limit (and was stopped)."""

    def __init__(self, cmd: list[str], timeout: float, hint: str | None = None):
        super().__init__(cmd, 124, message=f"`{' '.join(cmd[:3])}` did not answer within "
                         f"{timeout:g} s (stopped)", hint=hint)


class GateFailed(MlgitError):
    """A promotion gate (or a verification) did not hold."""

    exit_code = 1


class Interrupted(BaseException):
    """SIGINT/SIGTERM reached us. A BaseException, so no `except Exception` swallows it and
    every `finally` (worktree removal, branch rollback) runs on the way out."""

    def __init__(self, signum: int):
        super().__init__(f"interrupted by signal {signum}")
        self.signum = signum
        self.exit_code = 128 + signum


def _last_line(text: str) -> str:
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line:
            return line[:300]
    return ""
