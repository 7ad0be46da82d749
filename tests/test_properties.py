"""Property tests (hypothesis): the `-S` parser, names and refs, registry tags, Markdown escaping.

These parsers see whatever a user, a branch name or a pull request puts in front of them; the
properties say what must hold for *any* input, not just the examples we thought of.
"""

from __future__ import annotations

import json
import math
import re
import string
from pathlib import Path

import pytest
from gto.constants import name_re, tag_re  # GTO's own grammar: the reference
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlgit.doctor import _ASSIGN_TAG
from mlgit.errors import MlgitError, NotFoundError, UsageError
from mlgit.params import _KEY, parse_override, parse_value

KEYS = st.from_regex(_KEY, fullmatch=True).filter(lambda k: len(k) < 60)
NUMBERS = st.one_of(st.integers(-10**12, 10**12),
                    st.floats(allow_nan=False, allow_infinity=False))
WORDS = st.text(alphabet=string.ascii_letters + string.digits + " ,.:=_-[]{}'#", max_size=20)


# --- `-S [file:]key=value[,value...]` ---------------------------------------------------------


@given(NUMBERS)
def test_numbers_read_back_as_the_same_number(value: float) -> None:
    """`-S lr=1e-05` is the float 1e-05, as in DVC, not the string YAML 1.1 would make of it."""
    parsed = parse_value(repr(value))
    assert parsed == value and type(parsed) is type(value)


@given(KEYS, st.lists(st.one_of(NUMBERS, WORDS.map(json.dumps), st.booleans()), min_size=1,
                      max_size=4))
def test_override_round_trip(key: str, values: list[object]) -> None:
    """Values, a comma grid, quoted strings with commas and '=' inside: all come back intact."""
    texts = [v if isinstance(v, str) else json.dumps(v) if isinstance(v, bool) else repr(v)
             for v in values]
    override = parse_override(f"{key}={','.join(texts)}")
    expected = tuple(json.loads(v) if isinstance(v, str) else v for v in values)
    assert (override.file, override.key, override.values) == ("params.yaml", key, expected)
    assert override.is_grid == (len(values) > 1)


@given(st.text(max_size=40))
def test_override_parser_fails_only_with_a_usage_error(text: str) -> None:
    """Any text: a parsed override with a valid key and a safe file, or a one-line UsageError."""
    try:
        override = parse_override(text)
    except UsageError as exc:
        assert "\n" not in exc.message.strip() or "\n" in text
        return
    assert _KEY.fullmatch(override.key)
    assert not override.file.startswith("/") and ".." not in override.file.split("/")


@given(st.sampled_from(["../x.yaml", "/etc/params.yaml", "a/../../b.yaml", "x.txt", "-a.yaml"]),
       KEYS)
def test_override_file_must_be_a_params_file_inside_the_repo(file: str, key: str) -> None:
    with pytest.raises(UsageError):
        parse_override(f"{file}:{key}=1")


# --- names and refs ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shared_repo(template_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.conftest import copy_repo

    base = tmp_path_factory.mktemp("props")
    return copy_repo(template_repo, base / "repo", base / "remote")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.one_of(st.text(max_size=30), st.text(max_size=20).map(lambda t: "-" + t),
                      st.sampled_from(["--all", "-h", "--output=/tmp/x", "HEAD\n--all",
                                       "main\0", "main..", "@{-1}", ":/init"])))
def test_resolve_rev_resolves_or_says_unknown(shared_repo: Path, text: str) -> None:
    """Whatever is typed: a commit, or NotFoundError. Never an option, never a crash."""
    from mlgit.refs import resolve_rev

    try:
        resolved = resolve_rev(shared_repo, text)
    except NotFoundError as exc:
        assert exc.message.startswith("unknown revision")
        return
    assert not text.startswith("-")
    assert re.fullmatch(r"[0-9a-f]{40}", resolved.sha)


@given(st.one_of(st.text(max_size=20),
                 st.from_regex(r"[a-zA-Z0-9]([a-zA-Z0-9\-/_]*[a-zA-Z0-9])?", fullmatch=True)))
def test_artifact_names_agree_with_gto(name: str) -> None:
    """mlgit accepts exactly the artifact names GTO (and `dvc artifacts get`) accept."""
    from mlgit.dvcfile import validate_artifact_name

    try:
        validate_artifact_name(name)
        ours = True
    except UsageError:
        ours = False
    assert ours == bool(name_re.match(name))


NAMES = st.from_regex(r"[a-zA-Z0-9]([a-zA-Z0-9\-/_]{0,8}[a-zA-Z0-9])?", fullmatch=True)


@given(dirname=st.none() | st.from_regex(r"[a-zA-Z0-9\-_./]{1,8}", fullmatch=True),
       name=NAMES, stage=NAMES, counter=st.integers(0, 10**6), cancel=st.booleans())
def test_stage_assignment_tags_parse_as_gto_parses_them(dirname: str | None, name: str,
                                                        stage: str, counter: int,
                                                        cancel: bool) -> None:
    """doctor's reading of `NAME#STAGE#N` matches GTO's; unassign tags (`!`) are not stages."""
    artifact = f"{dirname}={name}" if dirname else name
    tag = f"{artifact}#{stage}{'!' if cancel else ''}#{counter}"
    gto = tag_re.match(tag)
    ours = _ASSIGN_TAG.fullmatch(tag)
    assert gto is not None
    if cancel:
        assert ours is None
    else:
        assert ours is not None
        assert (ours["name"], ours["stage"], int(ours["n"])) == (
            gto["artifact"], gto["stage"], int(gto["counter"]))


@given(st.text(alphabet=string.printable + "ü#@=!", max_size=30))
def test_any_tag_doctor_reads_as_assignment_is_one_for_gto(tag: str) -> None:
    ours = _ASSIGN_TAG.fullmatch(tag)
    if ours is not None:
        gto = tag_re.match(tag)
        assert gto is not None and gto["stage"] == ours["stage"] and not gto["cancel"]


@given(st.text(max_size=30))
def test_remote_names_stay_one_word_in_dvc_config(name: str) -> None:
    """An accepted remote name cannot break DVC's `['remote "NAME"']` section or a command."""
    from mlgit.data import REMOTE_NAME

    if REMOTE_NAME.fullmatch(name):
        assert not name.startswith("-")
        assert not set(name) & set(" \t\n\r\"'[]=#;\\/\0")


# --- Markdown escaping ------------------------------------------------------------------------

ACTIVE = {"link_open", "image", "html_inline", "html_block", "code_inline", "em_open",
          "strong_open", "s_open"}


def render_cell(cell: str) -> list[object]:
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark").enable(["table", "strikethrough"])
    return md.parse(f"| head |\n| --- |\n| {cell} |\n")


def flatten(tokens: list[object]) -> list[object]:
    out = []
    for t in tokens:
        out.append(t)
        out += flatten(getattr(t, "children", None) or [])
    return out


@settings(max_examples=300)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60) |
       st.lists(st.sampled_from(["[x](http://e.co)", "![i](u)", "<img src=x>", "@octocat",
                                 "| a |", "\n", "www.e.co", "https://e.co", "<https://e.co>",
                                 "`c`", "**b**", "~~s~~", "\\", "&amp;", "&#64;", "x"]),
                max_size=8).map("".join))
def test_md_escape_leaves_nothing_active(text: str) -> None:
    """No link, image, HTML, code, emphasis, @mention or table break survives md_escape, and
    a reader sees the text itself."""
    from mlgit.render import md_escape

    escaped = md_escape(text)
    tokens = flatten(render_cell(escaped))
    kinds = [t.type for t in tokens]  # type: ignore[attr-defined]
    assert not ACTIVE & set(kinds), kinds
    assert kinds.count("tr_open") == 2 and kinds.count("td_open") == 1  # one row, one cell
    assert "\n" not in escaped and "://" not in escaped
    assert not re.search(r"(?i)www\.", escaped)  # GFM's extended autolinks
    for m in re.finditer(r"[@\[\]<>|!()`*_~]", escaped):
        backslashes = len(escaped[: m.start()]) - len(escaped[: m.start()].rstrip("\\"))
        assert backslashes % 2 == 1, (escaped, m.start())  # escaped, so never a mention etc.
    body = tokens[kinds.index("tbody_open"):]
    seen = "".join(t.content for t in body if t.type == "text")  # type: ignore[attr-defined]
    plain = text.replace("\r", " ").replace("\n", " ")
    assert seen.replace("\u200b", "").strip() == _collapse(plain)


def _collapse(text: str) -> str:
    # a table cell drops surrounding whitespace, and markdown-it turns NUL into U+FFFD
    return text.strip().replace("\0", "\ufffd")


def test_md_escape_example() -> None:
    from mlgit.render import md_escape

    assert md_escape("[x](y) @me") == r"\[x\]\(y\) \@me"
    assert not math.isnan(parse_value("1e-5"))
    with pytest.raises(MlgitError):
        parse_value("{a: 1}")
