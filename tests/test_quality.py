"""The code standards CI holds us to: ruff's lint and mypy strict over the package."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import PROJECT_ROOT


def _tool(name: str) -> str:
    exe = Path(sys.executable).parent / name
    if not exe.exists():
        pytest.skip(f"{name} is not installed (pip install -e '.[test]')")
    return str(exe)


def test_ruff_lint_is_clean() -> None:
    res = subprocess.run([_tool("ruff"), "check", "mlgit", "tests", "benchmarks"],
                         cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout[-3000:]


def test_mypy_strict_is_clean() -> None:
    res = subprocess.run([_tool("mypy")], cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout[-3000:]
