"""CI files from `templates/ci/`: GitHub Actions workflows, a `.gitlab-ci.yml`, a `Jenkinsfile`.

Every user value is checked against a strict pattern before it is written, and is then written
only as a quoted literal (a YAML string, a Groovy string) in a place that is not a script:
`on:` filters, `with:` inputs, `env:`/`variables:` blocks. Scripts read values from the
environment, quoted. The template syntax is `mlgit.citemplate`'s.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mlgit import __version__
from mlgit.citemplate import groovy_str, render_template, yaml_str
from mlgit.errors import MlgitError, UsageError

PROVIDERS = ("github", "gitlab", "jenkins")
ALL_JOBS = ("pr", "promote", "retrain", "sweep")
# What each provider can generate (the order is the order of the files and sections).
PROVIDER_JOBS: dict[str, tuple[str, ...]] = {
    "github": ("pr", "promote", "retrain", "sweep"),
    "gitlab": ("pr", "promote", "retrain"),
    "jenkins": ("pr", "promote"),
}
# GitHub: one or more workflow files per job; the pr job comes with its fork-safe commenter.
_GITHUB_FILES = {
    "pr": ("mlgit-pr.yml", "mlgit-pr-comment.yml"),
    "promote": ("mlgit-promote.yml",),
    "retrain": ("mlgit-retrain.yml",),
    "sweep": ("mlgit-sweep.yml",),
}
DEFAULT_PYTHON = "3.11"
DEFAULT_CRON = "0 3 * * 1"  # Mondays 03:00 UTC
DEFAULT_STAGES = ("production",)
DEFAULT_ENVIRONMENT = "mlgit"
DEFAULT_ARTIFACT = "mlgit-report"
DEFAULT_INSTALL_SPEC = f"mlgit=={__version__}"

# --- validation --------------------------------------------------------------------------------

_BRANCH = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,99}")
_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9_-]{0,62}[A-Za-z0-9])?")  # GTO-like names
_ARTIFACT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_SECRET = re.compile(r"[A-Z][A-Z0-9_]{0,63}")
_PYTHON = re.compile(r"3\.[0-9]{1,2}")
_PREFIX = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*/")
_CRON_ITEM = re.compile(r"(\*|[0-9]{1,2}(-[0-9]{1,2})?)(/[0-9]{1,2})?")
_CRON_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))
_CRON_FIELDS = ("minute", "hour", "day of month", "month", "day of week")
# pip arguments we accept in an install spec: requirement specifiers, -r/-c FILE, a local path
_REQ = re.compile(
    r"[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9._-]+(,[A-Za-z0-9._-]+)*\])?"
    r"((==|>=|<=|~=|!=|<|>)[A-Za-z0-9.*+!]+(,(==|>=|<=|~=|!=|<|>)[A-Za-z0-9.*+!]+)*)?"
)
_PIP_FILE = re.compile(r"[A-Za-z0-9._][A-Za-z0-9._/-]{0,199}")
_PIP_FLAGS = {"-r", "--requirement", "-c", "--constraint", "-e", "--editable"}
_RESERVED_SECRETS = {"GITHUB_TOKEN", "GH_TOKEN", "GIT_CONFIG_COUNT"}


def _bad(what: str, value: str, rule: str) -> UsageError:
    return UsageError(f"invalid {what} {value!r}: {rule}",
                      hint="mlgit only writes values it has checked into CI files")


def validate_branch(value: str) -> str:
    """A branch name safe in any CI file: letters, digits, `._/-`, git's ref rules."""
    if (not _BRANCH.fullmatch(value) or ".." in value or "//" in value or value.endswith("/")
            or value.endswith(".") or value.endswith(".lock") or "/." in value):
        raise _bad("branch", value, "use letters, digits and . _ / - (git ref rules)")
    return value


def validate_name(value: str, what: str) -> str:
    """A registry stage or environment name: letters, digits, `_-`, at most 64 characters."""
    if not _NAME.fullmatch(value):
        raise _bad(what, value, "use letters, digits, _ and -, starting and ending with a "
                   "letter or digit")
    return value


def validate_artifact_name(value: str) -> str:
    if not _ARTIFACT.fullmatch(value):
        raise _bad("artifact name", value, "use letters, digits, . _ and -")
    return value


def validate_secret(value: str) -> str:
    if not _SECRET.fullmatch(value) or value in _RESERVED_SECRETS or value.startswith("GITHUB_"):
        raise _bad("secret name", value, "use an UPPER_CASE name (not GITHUB_*, GH_TOKEN)")
    return value


def validate_python(value: str) -> str:
    if not _PYTHON.fullmatch(value):
        raise _bad("Python version", value, "use a version like 3.11")
    return value


def validate_prefix(value: str) -> str:
    if not _PREFIX.fullmatch(value):
        raise _bad("experiment prefix", value, "use a name ending in '/', like 'exp/'")
    return value


def validate_cron(value: str) -> str:
    """Five numeric cron fields (`*`, `N`, `N-M`, `/STEP`, comma lists), each in its range."""
    fields = value.split(" ")
    if len(fields) != 5:
        raise _bad("cron expression", value, "use five fields separated by single spaces, "
                   "like '0 3 * * 1'")
    for text, (low, high), label in zip(fields, _CRON_RANGES, _CRON_FIELDS, strict=True):
        for item in text.split(","):
            if not _CRON_ITEM.fullmatch(item):
                raise _bad("cron expression", value, f"{label} field {text!r}: use numbers, "
                           "*, ranges N-M, steps /N and commas")
            numbers = [int(n) for n in re.findall(r"[0-9]+", item.partition("/")[0])]
            if any(n < low or n > high for n in numbers):
                raise _bad("cron expression", value, f"{label} must be {low}-{high}")
            step = item.partition("/")[2]
            if step and int(step) == 0:
                raise _bad("cron expression", value, f"{label} step must not be 0")
    return value


def validate_install_spec(value: str) -> str:
    """What `pip install` gets: requirement specifiers, `-r FILE`, `-c FILE`, `-e PATH`, `.`."""
    words = value.split()
    if not words or len(value) > 500:
        raise _bad("install spec", value, "give pip requirements, like 'mlgit' or "
                   "'-r requirements.txt'")
    expect_file = False
    for word in words:
        if expect_file:
            if not _PIP_FILE.fullmatch(word) or ".." in word.split("/"):
                raise _bad("install spec", value, f"{word!r} is not a plain relative path")
            expect_file = False
        elif word in _PIP_FLAGS:
            expect_file = True
        elif word == "." or (word.startswith("./") and _PIP_FILE.fullmatch(word[2:])):
            if ".." in word.split("/"):
                raise _bad("install spec", value, f"{word!r} leaves the repository")
        elif not _REQ.fullmatch(word):
            raise _bad("install spec", value, f"{word!r} is not a requirement like "
                       "'mlgit', 'mlgit[s3]==0.1.0' or '-r requirements.txt'")
    if expect_file:
        raise _bad("install spec", value, f"{words[-1]} needs a file after it")
    return " ".join(words)


def parse_jobs(text: str | None, provider: str) -> tuple[str, ...]:
    """`pr,promote` -> ("pr", "promote"), checked against what the provider supports."""
    supported = PROVIDER_JOBS[provider]
    if text is None or text.strip() in ("", "all"):
        return supported
    wanted = [j.strip() for j in text.split(",") if j.strip()]
    for job in wanted:
        if job not in ALL_JOBS:
            raise UsageError(f"unknown job {job!r}", hint=f"choose from {', '.join(ALL_JOBS)}")
        if job not in supported:
            raise UsageError(f"{provider} has no {job!r} job",
                             hint=f"{provider} supports: {', '.join(supported)}")
    return tuple(j for j in supported if j in wanted)


# --- options and results -----------------------------------------------------------------------


@dataclass(frozen=True)
class CiOptions:
    """Everything a generator needs; build it with `make_options`, which validates."""

    provider: str
    jobs: tuple[str, ...]
    branch: str = "main"
    python: str = DEFAULT_PYTHON
    cron: str = DEFAULT_CRON
    install_spec: str = DEFAULT_INSTALL_SPEC
    comment_install_spec: str = DEFAULT_INSTALL_SPEC
    stages: tuple[str, ...] = DEFAULT_STAGES
    environment: str = DEFAULT_ENVIRONMENT
    secrets: tuple[str, ...] = ()
    artifact: str = DEFAULT_ARTIFACT
    exp_prefix: str = "exp/"
    max_parallel: int = 4


def make_options(provider: str, *, jobs: str | None = None, branch: str = "main",
                 python: str = DEFAULT_PYTHON, cron: str = DEFAULT_CRON,
                 install_spec: str = DEFAULT_INSTALL_SPEC,
                 comment_install_spec: str = DEFAULT_INSTALL_SPEC,
                 stages: Sequence[str] = DEFAULT_STAGES, environment: str = DEFAULT_ENVIRONMENT,
                 secrets: Sequence[str] = (), artifact: str = DEFAULT_ARTIFACT,
                 exp_prefix: str = "exp/", max_parallel: int = 4) -> CiOptions:
    """Validate every value, or raise UsageError naming the first bad one."""
    if provider not in PROVIDERS:
        raise UsageError(f"unknown CI provider {provider!r}",
                         hint=f"choose one of: {', '.join(PROVIDERS)}")
    if not 1 <= max_parallel <= 256:
        raise UsageError(f"--max-parallel {max_parallel}: use 1 to 256")
    stage_list = tuple(dict.fromkeys(validate_name(s, "stage") for s in stages))
    if not stage_list:
        raise UsageError("give at least one registry stage for the promote job")
    return CiOptions(
        provider=provider, jobs=parse_jobs(jobs, provider), branch=validate_branch(branch),
        python=validate_python(python), cron=validate_cron(cron),
        install_spec=validate_install_spec(install_spec),
        comment_install_spec=validate_install_spec(comment_install_spec),
        stages=stage_list, environment=validate_name(environment, "environment"),
        secrets=tuple(dict.fromkeys(validate_secret(s) for s in secrets)),
        artifact=validate_artifact_name(artifact), exp_prefix=validate_prefix(exp_prefix),
        max_parallel=max_parallel)


@dataclass(frozen=True)
class CiFile:
    path: str  # relative to the output directory, POSIX style
    content: str


@dataclass(frozen=True)
class WrittenFile:
    path: str  # as written (absolute)
    status: str  # "created", "overwritten" or "unchanged"


@dataclass(frozen=True)
class GenerateResult:
    provider: str
    jobs: tuple[str, ...]
    out_dir: str
    files: tuple[WrittenFile, ...] = field(default_factory=tuple)


# --- rendering ---------------------------------------------------------------------------------

def _values(opts: CiOptions) -> dict[str, str | list[str]]:
    q = groovy_str if opts.provider == "jenkins" else yaml_str
    stages_re = "|".join(opts.stages)
    secrets = [f"{s}: ${{{{ secrets.{s} }}}}" for s in opts.secrets]
    return {
        "MLGIT_VERSION": __version__,
        "BRANCH": q(opts.branch),
        "BRANCH_COMMENT": opts.branch,
        "PYTHON": q(opts.python),
        "IMAGE": yaml_str(f"python:{opts.python}"),
        "CRON": yaml_str(opts.cron),
        "CRON_COMMENT": opts.cron,
        "INSTALL_SPEC": q(opts.install_spec),
        "COMMENT_INSTALL_SPEC": q(opts.comment_install_spec),
        "ARTIFACT": yaml_str(opts.artifact),
        "ENVIRONMENT": yaml_str(opts.environment),
        "ENVIRONMENT_NAME": opts.environment,
        "EXP_PREFIX": yaml_str(opts.exp_prefix),
        "MAX_PARALLEL": str(opts.max_parallel),
        "STAGE_TAG_FILTERS": [f"- {yaml_str(f'**#{s}#*')}" for s in opts.stages],
        "STAGE_TAG_REGEX": (q(f".*#({stages_re})#[0-9]+") if opts.provider == "jenkins"
                            else f"/#({stages_re})#[0-9]+$/"),
        "SECRETS_ENV": secrets,
        # a whole `env:` block, or nothing: an empty `env:` is invalid
        "SECRETS_ENV_BLOCK": ["env:", *(f"  {s}" for s in secrets)] if secrets else [],
    }


def render_files(opts: CiOptions, templates: Path) -> list[CiFile]:
    """The files for `opts`, rendered in memory (nothing is written)."""
    values = _values(opts)
    base = templates / opts.provider

    def read(name: str) -> str:
        return (base / name).read_text(encoding="utf-8")

    if opts.provider == "github":
        return [CiFile(f".github/workflows/{name}", render_template(read(name), values))
                for job in opts.jobs for name in _GITHUB_FILES[job]]
    if opts.provider == "gitlab":
        return [CiFile(".gitlab-ci.yml", render_template(read("gitlab-ci.yml"), values,
                                                         opts.jobs))]
    return [CiFile("Jenkinsfile", render_template(read("Jenkinsfile"), values, opts.jobs))]


def write_files(out_dir: Path, files: Sequence[CiFile], *, force: bool) -> list[WrittenFile]:
    """Write all files, or none: existing different files are refused first unless `force`."""
    plan: list[tuple[Path, CiFile, str]] = []
    for f in files:
        target = out_dir / f.path
        if target.is_dir():
            raise UsageError(f"{target} is a directory")
        if not target.exists():
            plan.append((target, f, "created"))
        elif target.read_text(encoding="utf-8", errors="replace") == f.content:
            plan.append((target, f, "unchanged"))
        elif not force:
            raise UsageError(f"{target} already exists and differs; not overwriting it",
                             hint="rerun with --force to replace it, or --dry-run to see the "
                             "new content")
        else:
            plan.append((target, f, "overwritten"))
    # All or nothing, also on Ctrl-C: undo what was written, newest first.
    undo: list[tuple[Path, str | None]] = []  # (path, previous text; None = did not exist)
    try:
        for target, f, status in plan:
            if status == "unchanged":
                continue
            for parent in reversed(target.relative_to(out_dir).parents):
                if not (out_dir / parent).exists():
                    (out_dir / parent).mkdir(parents=True)
                    undo.append((out_dir / parent, None))
            previous = target.read_text(encoding="utf-8") if status == "overwritten" else None
            undo.append((target, previous))
            target.write_text(f.content, encoding="utf-8")
    except BaseException as exc:
        for path, previous in reversed(undo):
            with contextlib.suppress(OSError):  # undo as much as can be undone
                if previous is not None:
                    path.write_text(previous, encoding="utf-8")
                elif path.is_dir():
                    path.rmdir()
                else:
                    path.unlink(missing_ok=True)
        if isinstance(exc, OSError):  # read-only, a file in the way, no such place: say so
            raise MlgitError(f"cannot write the CI files under {out_dir}: "
                             f"{exc.strerror or exc}; nothing was written",
                             hint="pass a directory you can write to with --out") from exc
        raise
    return [WrittenFile(str(target), status) for target, _, status in plan]


def templates_dir() -> Path:
    from mlgit.scaffold import templates_root

    return templates_root() / "ci"


def generate(out_dir: Path, opts: CiOptions, *, force: bool = False) -> GenerateResult:
    """Render the CI files for `opts` and write them under `out_dir`."""
    files = render_files(opts, templates_dir())
    written = write_files(out_dir, files, force=force)
    return GenerateResult(opts.provider, opts.jobs, str(out_dir), tuple(written))


def repo_defaults(start: Path) -> tuple[Path, str, str]:
    """(output directory, base branch, experiment prefix) for a run started in `start`.

    In a repository: its top, the configured or default branch, the configured prefix.
    Elsewhere: `start`, "main" and "exp/".
    """
    from mlgit import git
    from mlgit.config import load_config

    if not git.is_repo(start):
        return start, "main", "exp/"
    root = git.repo_root(start)
    config = load_config(root)
    branch = config.base_branch
    if branch is None:
        candidates = git.default_branch_candidates(root)
        branch = candidates[0] if candidates else (git.current_branch(root) or "main")
    return root, branch, config.exp_prefix
