"""The registry's tag grammar, GTO 1.x compatible: names, versions, stages, counters, messages.

What GTO and `dvc artifacts get --stage` parse (see gto/constants.py `tag_re`):
- `NAME@vX.Y.Z` registers a version, `NAME@vX.Y.Z!` deregisters it;
- `NAME#STAGE#N` assigns a stage, `NAME#STAGE!#N` unassigns it (N: a counter per artifact);
- `NAME@deprecated[#N]` deprecates the artifact, `NAME@created[#N]` creates it.
An artifact declared in `sub/dvc.yaml` is named `sub:NAME` by GTO and DVC, `sub=NAME` in tags.
mlgit writes only registrations and assignments; it reads all of them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from mlgit.dvcfile import ARTIFACT_NAME
from mlgit.errors import UsageError

_NAME = ARTIFACT_NAME.pattern  # GTO's rule for names and stages
_DIRNAME = r"[a-zA-Z0-9\-_./]+"
_SEMVER = (
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?"
)
_VERSION_RE = re.compile(rf"v{_SEMVER}")
_FULLNAME = rf"(?:{_DIRNAME}[=:])?{_NAME}"
_TAG_RE = re.compile(
    rf"(?P<artifact>(?:{_DIRNAME}=)?{_NAME})"
    rf"(?:(?:#(?P<stage>{_NAME})|@(?P<version>v{_SEMVER}))(?P<cancel>!?)"
    r"|@(?P<special>deprecated|created))"
    r"(?:#(?P<counter>[0-9]+))?"
)
_SHORTCUT_RE = re.compile(
    rf"(?P<artifact>{_FULLNAME})(?:#(?P<stage>{_NAME})|@(?P<version>latest|greatest|v{_SEMVER}))"
)
_FULLNAME_RE = re.compile(_FULLNAME)
_STAGE_RE = re.compile(_NAME)

# The machine-readable block of a tag message: a fenced JSON object whose first key is "mlgit".
_BLOCK_RE = re.compile(r"^```json\n(\{.*?\})\n```$", re.DOTALL | re.MULTILINE)
RECORD_FORMAT = 1


class Action(StrEnum):
    REGISTER = "register"
    DEREGISTER = "deregister"
    ASSIGN = "assign"
    UNASSIGN = "unassign"
    DEPRECATE = "deprecate"
    CREATE = "create"


@dataclass(frozen=True)
class TagName:
    """A parsed registry tag name."""

    tag: str
    artifact: str  # as GTO names it: "model" or "sub:model"
    action: Action
    version: str | None = None
    stage: str | None = None
    counter: int | None = None


@dataclass(frozen=True)
class RegistryRef:
    """What a user typed to name a registry entry: NAME@vX.Y.Z, NAME#STAGE or NAME@latest."""

    artifact: str
    version: str | None = None
    stage: str | None = None
    latest: bool = False


def parse_tag_name(tag: str) -> TagName | None:
    """The registry meaning of a tag name, or None for any other tag (releases, ...)."""
    m = _TAG_RE.fullmatch(tag)
    if m is None:
        return None
    artifact = m["artifact"].replace("=", ":")
    counter = int(m["counter"]) if m["counter"] else None
    cancel = m["cancel"] == "!"
    if m["special"]:
        action = Action.DEPRECATE if m["special"] == "deprecated" else Action.CREATE
        return TagName(tag, artifact, action, counter=counter)
    if m["version"]:
        action = Action.DEREGISTER if cancel else Action.REGISTER
        return TagName(tag, artifact, action, version=m["version"], counter=counter)
    action = Action.UNASSIGN if cancel else Action.ASSIGN
    return TagName(tag, artifact, action, stage=m["stage"], counter=counter)


def parse_registry_ref(text: str) -> RegistryRef | None:
    """`NAME@vX.Y.Z`, `NAME#STAGE`, `NAME@latest` (or GTO's `@greatest`); None otherwise."""
    m = _SHORTCUT_RE.fullmatch(text)
    if m is None:
        return None
    artifact = m["artifact"].replace("=", ":")
    if m["stage"]:
        return RegistryRef(artifact, stage=m["stage"])
    if m["version"] in ("latest", "greatest"):
        return RegistryRef(artifact, latest=True)
    return RegistryRef(artifact, version=m["version"])


def tag_artifact(artifact: str) -> str:
    """The artifact as written in tag names (`sub:model` -> `sub=model`)."""
    return artifact.replace(":", "=")


def version_tag(artifact: str, version: str) -> str:
    return f"{tag_artifact(artifact)}@{version}"


def stage_tag(artifact: str, stage: str, counter: int) -> str:
    return f"{tag_artifact(artifact)}#{stage}#{counter}"


def ref_patterns(artifact: str) -> list[str]:
    """`git for-each-ref` patterns for this artifact's tags only (names hold no glob chars)."""
    base = f"refs/tags/{tag_artifact(artifact)}"
    return [f"{base}@*", f"{base}#*"]


def validate_artifact(name: str) -> str:
    """GTO's artifact-name rule; returns the name as GTO shows it (`sub:model`)."""
    if not _FULLNAME_RE.fullmatch(name):
        raise UsageError(
            f"'{name}' is not a valid artifact name",
            hint="use letters, digits, '-', '_' or '/', starting and ending with a letter or digit "
            "(GTO's rule); an artifact of sub/dvc.yaml is written sub:name",
        )
    return name.replace("=", ":")


def validate_stage(stage: str, allowed: tuple[str, ...] = ()) -> str:
    """GTO's stage-name rule, and the `stages:` allow-list of mlgit.yaml if there is one."""
    if not _STAGE_RE.fullmatch(stage):
        raise UsageError(
            f"'{stage}' is not a valid stage name",
            hint="use letters, digits, '-', '_' or '/', starting and ending with a letter or "
            "digit, e.g. staging, canary, production",
        )
    if allowed and stage not in allowed:
        raise UsageError(f"stage '{stage}' is not allowed by mlgit.yaml",
                         hint="allowed stages: " + ", ".join(allowed))
    return stage


# --- versions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SemVer:
    major: int
    minor: int
    patch: int
    prerelease: str | None = None

    def sort_key(self) -> tuple[Any, ...]:
        """SemVer precedence: a pre-release sorts before its release; build metadata is ignored."""
        if self.prerelease is None:
            return (self.major, self.minor, self.patch, 1, ())
        parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p)
                      for p in self.prerelease.split("."))
        return (self.major, self.minor, self.patch, 0, parts)

    def __str__(self) -> str:
        pre = f"-{self.prerelease}" if self.prerelease else ""
        return f"v{self.major}.{self.minor}.{self.patch}{pre}"


def parse_version(text: str) -> SemVer | None:
    m = _VERSION_RE.fullmatch(text)
    if m is None:
        return None
    return SemVer(int(m[1]), int(m[2]), int(m[3]), m[4])


def version_key(text: str) -> tuple[Any, ...]:
    """Sort key for version strings; anything that is not SemVer sorts first."""
    v = parse_version(text)
    return (1, v.sort_key()) if v else (0, ())


def validate_version(text: str) -> str:
    if parse_version(text) is None:
        raise UsageError(f"'{text}' is not a version like v1.2.3",
                         hint="versions are SemVer with a leading 'v' (GTO's rule): v1.2.3")
    return text


def bump_version(highest: str | None, part: str) -> str:
    """The next version after `highest` (None: the first one) for a major/minor/patch bump."""
    if part not in ("major", "minor", "patch"):
        raise UsageError(f"--bump {part}: expected major, minor or patch")
    v = parse_version(highest) if highest else None
    if v is None:
        v = SemVer(0, 0, 0)
    if part == "major":
        return str(SemVer(v.major + 1, 0, 0))
    if part == "minor":
        return str(SemVer(v.major, v.minor + 1, 0))
    # a patch bump of a pre-release releases it, as SemVer orders them
    return str(SemVer(v.major, v.minor, v.patch + (0 if v.prerelease else 1)))


# --- tag messages -----------------------------------------------------------------------------


def format_message(human: str, record: dict[str, Any]) -> str:
    """A human line, then the machine-readable record as a fenced JSON block."""
    line = " ".join(human.split()) or "mlgit registry event"
    block = json.dumps({"mlgit": RECORD_FORMAT, **record}, indent=2, ensure_ascii=False,
                       sort_keys=False, default=str)
    return f"{line}\n\n```json\n{block}\n```\n"


def parse_message(message: str) -> dict[str, Any] | None:
    """The record mlgit wrote into a tag message, or None (GTO's own tags have none)."""
    m = _BLOCK_RE.search(message)
    if m is None:
        return None
    try:
        data = json.loads(m[1])
    except ValueError:
        return None
    return data if isinstance(data, dict) and "mlgit" in data else None


def message_subject(message: str) -> str:
    return message.strip().splitlines()[0] if message.strip() else ""
