"""Ctrl-C or SIGTERM in the middle of `mlgit exp new`: no branch, no worktree, no held DVC lock,
no stage process left running, the user's checkout exactly as it was."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.exp_helpers import assert_no_leftovers, branches
from tests.helpers import mlgit_cmd, repo_state, run_env


def _wait_for_running_stages(root: Path, proc: subprocess.Popen[str], count: int = 1,
                             timeout: float = 120) -> list[Path]:
    """The experiments' worktrees, once DVC runs a process in `count` of them."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        busy = [wt for wt in (root / ".git" / "mlgit" / "worktrees").glob("*")
                if _processes_in(wt)]
        if len(busy) >= count:
            return busy
        time.sleep(0.1)  # polling a live process, not ordering events: no other way to wait
    raise AssertionError("the experiments never started running")


def _processes_in(directory: Path) -> list[int]:
    """PIDs whose working directory is inside `directory` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if cwd == str(directory) or cwd.startswith(f"{directory}/"):
            found.append(int(entry.name))
    return found


@pytest.mark.parametrize(("sig", "grid"), [(signal.SIGINT, False), (signal.SIGTERM, False),
                                         (signal.SIGTERM, True)],
                         ids=["SIGINT", "SIGTERM", "SIGTERM-parallel-grid"])
def test_interrupt_leaves_nothing_behind(repo: Path, sig: signal.Signals, grid: bool) -> None:
    (repo / "README.md").write_text("uncommitted edit that must survive\n")
    before = repo_state(repo)
    # 200000 epochs: the train stage runs for minutes, so we catch it mid-run
    args = ["-S", "train.epochs=200000,200001", "-j", "2"] if grid else \
        ["-S", "train.epochs=200000"]
    proc = subprocess.Popen([*mlgit_cmd(), "exp", "new", "slow", *args], cwd=repo,
                            env=run_env(), text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        worktrees = _wait_for_running_stages(repo, proc, count=2 if grid else 1)
        proc.send_signal(sig)
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 128 + sig, err
    assert "interrupted" in err
    assert branches(repo) == []
    for worktree in worktrees:
        assert not worktree.exists()
        assert _processes_in(worktree) == []  # the stage commands were stopped too
    assert repo_state(repo) == before
    assert_no_leftovers(repo)
