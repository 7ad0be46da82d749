"""The Typer-free front door for compare/diff: same answers as the full CLI, lighter start."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest

from mlgit.quick import COMPARE_OPTS, DIFF_OPTS, Format, parse_args
from tests.helpers import run_env, run_mlgit
from tests.test_compare import branch, metrics


@pytest.fixture
def two(repo: Path) -> Path:
    branch(repo, "exp/a", {"metrics.json": metrics(0.97, 0.1)})
    branch(repo, "exp/b", {"metrics.json": '{"accuracy": '})  # broken: a warning
    return repo


@pytest.mark.parametrize("args", [
    ("compare", "--json"),
    ("compare",),
    ("compare", "--chart", "--precision", "2"),
    ("compare", "-f", "md", "--chart", "--all-params"),
    ("compare", "--format=csv", "--sort=loss", "--asc"),
    ("compare", "exp/*", "-c", "loss", "--columns", "train.*"),
    ("diff", "--json"),
    ("diff", "main", "exp/a"),
    ("diff", "main", "exp/a", "-f", "md", "--all"),
    ("diff", "--format", "csv", "main", "--", "exp/a"),
])
def test_quick_and_full_cli_print_the_same(two: Path, args: tuple[str, ...]) -> None:
    quick = run_mlgit(*args, cwd=two)
    full = run_mlgit(*args, cwd=two, env={"MLGIT_NO_QUICK": "1"})
    assert quick.stdout == full.stdout and quick.stderr == full.stderr
    assert quick.stdout.strip()


def test_quick_path_imports_neither_typer_nor_heavy_libraries(two: Path) -> None:
    code = ("import sys, io, contextlib\n"
            "from mlgit.quick import try_quick\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    handled = try_quick(['compare', '--json'])\n"
            "heavy = sorted({m.split('.')[0] for m in sys.modules} &"
            " {'typer', 'click', 'pydantic', 'dvc', 'pandas', 'git', 'rich'})\n"
            "print(handled, heavy)\n")
    res = subprocess.run([sys.executable, "-c", code], cwd=two, env=run_env(),
                         capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "True []"


def test_what_it_does_not_understand_goes_to_typer(two: Path) -> None:
    assert "--only-changed" in run_mlgit("compare", "--help", cwd=two).stdout
    bad = run_mlgit("compare", "--bogus", cwd=two, check=False)
    assert bad.returncode == 2 and "--bogus" in bad.stderr
    high = run_mlgit("compare", "--precision", "99", cwd=two, check=False)
    assert high.returncode == 2 and "precision" in high.stderr.lower()
    unknown = run_mlgit("diff", "main", "nope", cwd=two, check=False)
    assert unknown.returncode == 2 and "unknown revision 'nope'" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    rooted = run_mlgit("-C", str(two), "compare", "--json", cwd=two.parent)
    assert json.loads(rooted.stdout)["command"] == "compare"


def test_parse_args() -> None:
    values, pos = parse_args(["exp/*", "--sort=loss", "-c", "a", "-c", "b,c", "--desc",
                              "-f", "md", "-p", "3", "--", "--odd"], COMPARE_OPTS) or ({}, [])
    assert pos == ["exp/*", "--odd"]
    assert values == {"sort": "loss", "columns": ["a", "b,c"], "ascending": False,
                      "fmt": Format.md, "precision": 3}
    assert parse_args(["--asc"], COMPARE_OPTS) == ({"ascending": True}, [])
    for typer_only in (["-aT"], ["--json=1"], ["--format", "xml"], ["--sort"], ["-h"]):
        assert parse_args(typer_only, COMPARE_OPTS) is None, typer_only
    assert parse_args(["--all", "main"], DIFF_OPTS) == ({"show_all": True}, ["main"])


def test_option_table_matches_the_typer_commands() -> None:
    from mlgit.cli.compare import compare_cmd, diff_cmd

    for cmd, opts, positional in ((compare_cmd, COMPARE_OPTS, {"refs"}),
                                  (diff_cmd, DIFF_OPTS, {"a", "b"})):
        params = set(inspect.signature(cmd).parameters)
        assert params == {o.name for o in opts} | positional
