"""One sticky pull-request comment: find ours by a hidden marker, update it, else create it.

CI bots share one identity, so "our" comment is the one whose body starts with the marker
(cml#735: a new comment per commit buries the discussion). The body may come from a fork's
pull request (through an artifact), so it is treated as untrusted text: size-capped, its
@mentions neutralised, and always starting with the marker. The providers (`mlgit.github`,
`mlgit.gitlab`) only list, create and update comments.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from mlgit.errors import MlgitError, UsageError

MARKER = "<!-- mlgit:metrics-diff -->"
# GitHub refuses bodies over 65,536 characters, GitLab notes over 1,000,000; stay well below.
MAX_BODY = 60_000
_TRUNCATED = "\n\n*(report truncated by mlgit: it was longer than GitHub allows)*\n"
# An @ that would notify someone: not escaped, not inside a word (emails stay as they are).
_MENTION = re.compile(r"(?<![\\\w])@(?=[A-Za-z0-9])")


@dataclass(frozen=True)
class Comment:
    id: int
    body: str
    url: str | None = None


@dataclass(frozen=True)
class CommentResult:
    provider: str
    repo: str
    pr: int
    action: str  # "created" or "updated"
    id: int
    url: str | None


class CommentApi(Protocol):
    """What a provider offers for the comments of one pull/merge request."""

    def list_comments(self) -> list[Comment]: ...

    def create_comment(self, body: str) -> Comment: ...

    def update_comment(self, comment_id: int, body: str) -> Comment: ...


def prepare_body(text: str) -> str:
    """Untrusted report text made safe to post: marker first, no pings, not too long."""
    text = text.replace("\0", "").replace("\r\n", "\n")
    text = _MENTION.sub(r"\\@", text)
    if not text.lstrip().startswith(MARKER):
        text = f"{MARKER}\n{text}"
    if len(text) > MAX_BODY:
        text = text[: MAX_BODY - len(_TRUNCATED)] + _TRUNCATED
    return text


def find_sticky(comments: list[Comment]) -> Comment | None:
    """The oldest comment whose body starts with the marker."""
    return next((c for c in comments if c.body.lstrip().startswith(MARKER)), None)


def upsert_sticky(api: CommentApi, body: str) -> tuple[str, Comment]:
    """Update our comment if there is one, else create it. Returns (action, comment)."""
    existing = find_sticky(api.list_comments())
    if existing is not None:
        return "updated", api.update_comment(existing.id, body)
    return "created", api.create_comment(body)


def parse_pr_number(text: str, source: str = "--pr") -> int:
    """A pull/merge request number from text that may be untrusted (an artifact file)."""
    value = text.strip()
    if not re.fullmatch(r"[0-9]{1,9}", value) or int(value) == 0:
        raise UsageError(f"{source}: expected a pull request number, got {value[:40]!r}")
    return int(value)


def read_pr_number(path: Path) -> int:
    """The number in a file such as a report artifact's pr-number.txt (untrusted: checked)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")[:64]
    except OSError as exc:
        raise UsageError(f"cannot read --pr-file {path}: {exc.strerror}") from exc
    return parse_pr_number(text, str(path))


def read_body(path: Path) -> str:
    """The comment body from a file ("-" is not accepted: CI passes files)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise MlgitError(f"cannot read --body-file {path}: {exc.strerror}",
                         hint="write the report first: mlgit ci report --output FILE") from exc
    if len(data) > 4 * MAX_BODY:
        data = data[: 4 * MAX_BODY]
    text = data.decode("utf-8", errors="replace")
    if not text.strip():
        raise UsageError(f"--body-file {path} is empty")
    return text


def post_sticky_comment(provider: str, pr: int, text: str, *, repo: str | None = None,
                        expect_head_sha: str | None = None,
                        token_var: str | None = None) -> CommentResult:
    """Create or update the one mlgit comment on pull/merge request `pr`.

    With `expect_head_sha`, nothing is written unless the request's head commit is that one:
    a report artifact from a fork names its own PR number, and this stops it from landing on
    another pull request.
    """
    api: CommentApi
    if provider == "github":
        from mlgit import github

        gh_api = github.GitHubComments(repo or github.default_repo(), pr)
        api, repo_name, check = gh_api, gh_api.repo, gh_api.head_sha
    elif provider == "gitlab":
        from mlgit import gitlab

        project = gitlab.validate_project(repo) if repo else gitlab.default_project()
        gl_api = gitlab.GitLabNotes(gitlab.api_url_from_env(), project, pr,
                                    gitlab.token_from_env(token_var or gitlab.DEFAULT_TOKEN_VAR))
        api, repo_name, check = gl_api, project, gl_api.head_sha
    else:
        raise UsageError(f"unknown provider {provider!r}", hint="use github or gitlab")
    if expect_head_sha is not None:
        if not re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", expect_head_sha):
            raise UsageError(f"--expect-head-sha {expect_head_sha[:80]!r} is not a commit SHA")
        actual = check()
        if actual != expect_head_sha:
            raise MlgitError(f"pull request #{pr} is at {actual[:12]}, not at "
                             f"{expect_head_sha[:12]} which the report was built from",
                             hint="not commenting: the report belongs to another pull request "
                             "or an older push")
    action, comment = upsert_sticky(api, prepare_body(text))
    return CommentResult(provider, repo_name, pr, action, comment.id, comment.url)
