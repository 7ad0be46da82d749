"""Experiment names, grid naming and trailers: pure functions, checked against Git's parser."""

from __future__ import annotations

import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlgit.errors import UsageError
from mlgit.experiments import (
    ParamChange,
    build_message,
    format_params_trailer,
    name_problem,
    parse_params_trailer,
    plan_points,
    read_trailers,
)
from mlgit.params import parse_override


def _plan(name: str, *overrides: str) -> list[str]:
    return [p.name for p in plan_points(name, [parse_override(o) for o in overrides])]


def test_single_point_keeps_the_name() -> None:
    (point,) = plan_points("fast", [parse_override("train.lr=0.5")])
    assert point.name == "fast" and point.settings == (("params.yaml", "train.lr", 0.5),)


def test_grid_names_use_last_key_segment_and_value() -> None:
    assert _plan("s", "train.lr=0.01,0.1", "train.depth=3,5", "train.seed=1") == [
        "s-lr0.01-depth3", "s-lr0.01-depth5", "s-lr0.1-depth3", "s-lr0.1-depth5"]


def test_grid_names_disambiguate_keys_and_sanitise_values() -> None:
    assert _plan("s", "a.lr=1,2", "b.lr=3,4")[0] == "s-a.lr1-b.lr3"
    assert _plan("s", "opt.name=adam w,sgd") == ["s-nameadam_w", "s-namesgd"]
    assert _plan("s", "x=-1,-2") == ["s-x-1", "s-x-2"]


def test_grid_falls_back_to_numbers_when_names_collide() -> None:
    assert _plan("s", "opt.name=a b,a_b") == ["s-1", "s-2"]
    assert _plan("s", "x=[1],[2]", "y=.,..") == ["s-1", "s-2", "s-3", "s-4"]


def test_same_key_twice_is_an_error() -> None:
    with pytest.raises(UsageError, match="given twice"):
        plan_points("s", [parse_override("a=1"), parse_override("a=2")])


@pytest.mark.parametrize("name", ["a", "lr-0.01", "A_b.c-1", "x" * 100])
def test_good_names(name: str) -> None:
    assert name_problem(name) is None


@pytest.mark.parametrize("name", ["", "-a", ".a", "a b", "a..b", "a~", "a^", "a:b", "a/b",
                                  "a.", "a.lock", "a@{1}", "a*", "é", "x" * 101])
def test_bad_names(name: str) -> None:
    assert name_problem(name) is not None


_values = st.one_of(
    st.integers(-10**6, 10**6), st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(), st.none(),
    st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12),
    st.lists(st.integers(0, 9), max_size=3))
_keys = st.from_regex(r"[a-z][a-z0-9_]{0,5}(\.[a-z][a-z0-9_]{0,5}){0,2}", fullmatch=True)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_keys, _values, min_size=1, max_size=4))
def test_params_trailer_round_trips_through_git(params: dict) -> None:
    changes = [ParamChange(k, None, v, "added") for k, v in params.items()]
    message = build_message("n", "0" * 40, changes)
    parsed = subprocess.run(["git", "interpret-trailers", "--parse"], input=message, text=True,
                            capture_output=True, check=True).stdout
    git_trailers = dict(line.split(": ", 1) for line in parsed.splitlines())
    assert read_trailers(message) == git_trailers
    assert git_trailers["Mlgit-Params"] == format_params_trailer(changes)
    assert parse_params_trailer(git_trailers["Mlgit-Params"]) == params


def test_user_message_keeps_trailers_last() -> None:
    message = build_message("n", "0" * 40, [], message="Try it\n\nSigned-off-by: me <m@x>")
    assert read_trailers(message) == {"Mlgit-Experiment": "n", "Mlgit-Base": "0" * 40}


def test_every_exp_command_has_help_and_the_issue_flags(tmp_path) -> None:
    from tests.helpers import run_mlgit

    flags = {"new": ["--set-param", "--from", "--message", "--no-run", "--switch", "--push",
                     "--jobs", "--keep-failed", "--add", "--no-carry"],
             "run": ["--set-param", "--no-commit", "--add"], "list": ["--json", "--all", "--sort"],
             "show": ["--json"], "rm": ["--remote", "--force"], "import": ["--all"]}
    top = run_mlgit("exp", "--help", cwd=tmp_path).stdout
    for sub, names in flags.items():
        assert f" {sub} " in top
        text = run_mlgit("exp", sub, "--help", cwd=tmp_path).stdout
        assert "Usage:" in text
        for flag in names:
            line = next(line for line in text.splitlines()
                        if line.lstrip("│ *").startswith(f"{flag} "))
            assert len(line.split(flag, 1)[1].strip(" │")) > 10, line  # it says something
