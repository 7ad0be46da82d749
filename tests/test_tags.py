"""The tag grammar (GTO's) and the --require parser, without a repository."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlgit.errors import UsageError
from mlgit.gates import check_not_worse, check_requirements, parse_requirement
from mlgit.tags import (
    Action,
    bump_version,
    format_message,
    parse_message,
    parse_registry_ref,
    parse_tag_name,
    stage_tag,
    validate_artifact,
    validate_stage,
    version_key,
    version_tag,
)

names = st.from_regex(r"[a-zA-Z0-9]([a-zA-Z0-9\-/_]{0,10}[a-zA-Z0-9])?", fullmatch=True)
versions = st.tuples(st.integers(0, 99), st.integers(0, 99), st.integers(0, 99)).map(
    lambda t: f"v{t[0]}.{t[1]}.{t[2]}")


@given(names, versions)
def test_version_tags_round_trip(name: str, version: str) -> None:
    parsed = parse_tag_name(version_tag(name, version))
    assert parsed is not None
    assert (parsed.artifact, parsed.action, parsed.version) == (name, Action.REGISTER, version)


@given(names, names, st.integers(1, 10_000))
def test_stage_tags_round_trip(name: str, stage: str, counter: int) -> None:
    parsed = parse_tag_name(stage_tag(name, stage, counter))
    assert parsed is not None
    assert (parsed.artifact, parsed.stage, parsed.counter) == (name, stage, counter)
    assert parsed.action == Action.ASSIGN


@pytest.mark.parametrize(("tag", "expected"), [
    ("model@v1.2.3!", ("model", Action.DEREGISTER, "v1.2.3", None, None)),
    ("model#prod!#4", ("model", Action.UNASSIGN, None, "prod", 4)),
    ("model#prod", ("model", Action.ASSIGN, None, "prod", None)),
    ("model@deprecated#7", ("model", Action.DEPRECATE, None, None, 7)),
    ("model@created", ("model", Action.CREATE, None, None, None)),
    ("sub/dir=clf@v0.1.0-rc.1", ("sub/dir:clf", Action.REGISTER, "v0.1.0-rc.1", None, None)),
])
def test_gto_tags_written_by_others_are_understood(tag: str, expected: tuple) -> None:
    p = parse_tag_name(tag)
    assert p is not None and (p.artifact, p.action, p.version, p.stage, p.counter) == expected


@pytest.mark.parametrize("tag", ["v1.2.3", "model@1.0.0", "model@v1.0", "-model@v1.0.0",
                                 "model#", "model##1", "release-2024", "model@v01.0.0"])
def test_other_tags_are_not_registry_tags(tag: str) -> None:
    assert parse_tag_name(tag) is None


def test_registry_refs() -> None:
    assert parse_registry_ref("model#production").stage == "production"  # type: ignore[union-attr]
    assert parse_registry_ref("model@latest").latest  # type: ignore[union-attr]
    assert parse_registry_ref("model@greatest").latest  # type: ignore[union-attr]
    assert parse_registry_ref("sub=m@v1.0.0").artifact == "sub:m"  # type: ignore[union-attr]
    for text in ("model", "HEAD~2", "model@v1", "exp/fast", "model#prod#3"):
        assert parse_registry_ref(text) is None


def test_names_and_stages_are_validated() -> None:
    assert validate_artifact("sub=model") == "sub:model"
    for bad in ("-x", "a b", "model!", "x_", ""):
        with pytest.raises(UsageError):
            validate_artifact(bad)
    with pytest.raises(UsageError, match=r"not allowed by mlgit\.yaml") as info:
        validate_stage("canary", ("staging",))
    assert info.value.hint == "allowed stages: staging"
    with pytest.raises(UsageError, match="not a valid stage"):
        validate_stage("prod#1")


def test_versions_sort_and_bump_like_semver() -> None:
    order = ["v0.9.9", "v0.9.10", "v1.0.0-rc.1", "v1.0.0-rc.2", "v1.0.0-rc.10", "v1.0.0"]
    assert sorted(reversed(order), key=version_key) == order
    assert bump_version(None, "minor") == "v0.1.0"
    assert bump_version("v1.2.3", "major") == "v2.0.0"
    assert bump_version("v1.2.3", "patch") == "v1.2.4"
    assert bump_version("v1.3.0-rc.1", "patch") == "v1.3.0"


def test_message_record_round_trips_and_ignores_foreign_text() -> None:
    text = format_message("Promote   model\nv1 to prod", {"metrics": {"acc": 0.9}})
    assert text.splitlines()[0] == "Promote model v1 to prod"
    assert parse_message(text) == {"mlgit": 1, "metrics": {"acc": 0.9}}
    assert parse_message("Registering artifact model version v0.0.1") is None
    assert parse_message("x\n\n```json\n{not json}\n```") is None


@pytest.mark.parametrize(("text", "metric", "op", "value"), [
    ("accuracy>=0.9", "accuracy", ">=", 0.9),
    (" loss < 1e-2 ", "loss", "<", 0.01),
    ("metrics.json:eval.f1!=-1", "metrics.json:eval.f1", "!=", -1.0),
    ("auc==.5", "auc", "==", 0.5),
])
def test_requirements_parse(text: str, metric: str, op: str, value: float) -> None:
    req = parse_requirement(text)
    assert (req.metric, req.op, req.value) == (metric, op, value)


@pytest.mark.parametrize("text", ["accuracy=>0.9", "accuracy>=", "accuracy>=high", ">=0.9",
                                  "__import__('os').system('x')>=1", "a>=1 or True",
                                  "accuracy >= 0.9; rm -rf /", "acc<=>1"])
def test_requirements_reject_anything_else(text: str) -> None:
    with pytest.raises(UsageError, match="METRIC OP NUMBER"):
        parse_requirement(text)


def test_requirement_and_not_worse_checks() -> None:
    reqs = [parse_requirement("acc>=0.9"), parse_requirement("loss<0.5"),
            parse_requirement("f1>0")]
    results = check_requirements(reqs, {"acc": 0.95, "loss": 0.7, "name": "x"})
    assert [r.ok for r in results] == [True, False, False]
    assert "it has: acc, loss, name" in results[2].detail
    worse = check_not_worse("loss", "min", {"loss": 0.3}, {"loss": 0.2}, "production", False)
    assert not worse.ok and not worse.forced
    forced = check_not_worse("loss", "min", {"loss": 0.3}, {"loss": 0.2}, "production", True)
    assert forced.forced
    assert check_not_worse("acc", "max", {"acc": 0.9}, {"acc": 0.9}, "production", False).ok
    assert check_not_worse("acc", "max", {"acc": 0.9}, None, "production", False).ok


def test_same_second_assignment_belongs_to_the_version_at_its_commit() -> None:
    from mlgit.registry import Event, build_state

    def ev(tag: str, action: str, version: str | None, stage: str | None, commit: str,
           time: int) -> Event:
        counter = parse_tag_name(tag).counter  # type: ignore[union-attr]
        return Event(tag, "model", action, version, stage, counter, commit, time, "a", "a@x",
                     False, "")

    # `gto register` then `gto assign` in one second: by name, the assignment sorts first
    state = build_state("model", [
        ev("model#staging#1", "assign", None, "staging", "c1", 100),
        ev("model@v0.0.1", "register", "v0.0.1", None, "c1", 100),
        ev("model#production#2", "assign", None, "production", "c2", 101),  # unregistered
        ev("model@v0.0.3", "register", "v0.0.3", None, "c3", 102),
        ev("model@v0.0.3!", "deregister", "v0.0.3", None, "c3", 103),
        ev("model#canary#3", "assign", None, "canary", "c3", 104),  # a deregistered version
    ])
    assert {h.stage: h.version for h in state.stages} == {"staging": "v0.0.1",
                                                          "production": "c2"}
    assert state.latest is not None and state.latest.version == "v0.0.1"
    assert state.max_counter == 3 and state.last_time == 104
