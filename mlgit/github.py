"""GitHub through its CLI, `gh`: the one place that runs it (argument lists, never a shell).

`gh` is preinstalled on GitHub's runners and reads its token from GH_TOKEN, so mlgit needs no
HTTP client or token handling of its own for GitHub.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Sequence
from typing import Any

from mlgit import proc
from mlgit.comments import Comment
from mlgit.errors import CommandError, MlgitError, UsageError

_REPO = re.compile(r"[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}")
_AUTH_HINT = ("set GH_TOKEN (in a workflow: `GH_TOKEN: ${{ github.token }}` in the step's env) "
              "or run `gh auth login`")


def run_gh(args: Sequence[str], *, input: str | None = None) -> str:
    """Run `gh ARGS` and return stdout; one-line errors for a missing or logged-out `gh`."""
    if shutil.which("gh") is None:
        raise MlgitError("the GitHub CLI `gh` is not installed or not on PATH",
                         hint="install it from https://cli.github.com (GitHub's runners have it)",
                         exit_code=127)
    res = proc.run(["gh", *args], None, check=False, input=input,
                   env={"GH_PROMPT_DISABLED": "1", "GH_NO_UPDATE_NOTIFIER": "1"})
    if res.returncode == 0:
        return res.stdout
    text = f"{res.stderr}\n{res.stdout}".lower()
    # gh exits 4 when it has no credentials; an invalid token comes back as HTTP 401
    if res.returncode == 4 or "gh auth login" in text or "http 401" in text \
            or "bad credentials" in text:
        raise MlgitError("`gh` is not authenticated", hint=_AUTH_HINT)
    raise CommandError(res.cmd, res.returncode, res.stdout, res.stderr)


def validate_repo(repo: str) -> str:
    if not _REPO.fullmatch(repo) or ".." in repo:
        raise UsageError(f"invalid repository {repo!r}", hint="use OWNER/NAME")
    return repo


def default_repo() -> str:
    """OWNER/NAME from the Actions environment, else from `gh repo view`."""
    env = os.environ.get("GITHUB_REPOSITORY")
    if env:
        return validate_repo(env)
    try:
        out = run_gh(["repo", "view", "--json", "nameWithOwner", "--jq", ".nameWithOwner"])
    except CommandError as exc:
        raise UsageError("cannot tell which GitHub repository to comment on",
                         hint="pass --repo OWNER/NAME") from exc
    return validate_repo(out.strip())


def _api_json(endpoint: str, *flags: str, input: str | None = None) -> Any:
    out = run_gh(["api", endpoint, *flags], input=input)
    try:
        return json.loads(out) if out.strip() else None
    except ValueError as exc:
        raise MlgitError(f"`gh api {endpoint}` did not return JSON") from exc


def _json_pages(text: str) -> list[Any]:
    """`gh api --paginate` prints one JSON array per page, back to back: join them."""
    decoder = json.JSONDecoder()
    items: list[Any] = []
    i = 0
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            return items
        page, i = decoder.raw_decode(text, i)
        items.extend(page if isinstance(page, list) else [page])


def _comment(data: Any) -> Comment:
    if not isinstance(data, dict) or not isinstance(data.get("id"), int):
        raise MlgitError("GitHub returned a comment without an id")
    return Comment(int(data["id"]), str(data.get("body") or ""), data.get("html_url"))


class GitHubComments:
    """The issue comments of one pull request (`gh api repos/O/R/issues/N/comments`)."""

    def __init__(self, repo: str, pr: int):
        self.repo = validate_repo(repo)
        self.pr = pr

    def list_comments(self) -> list[Comment]:
        out = run_gh(["api", f"repos/{self.repo}/issues/{self.pr}/comments?per_page=100",
                      "--paginate"])
        try:
            return [_comment(c) for c in _json_pages(out)]
        except ValueError as exc:
            raise MlgitError("`gh api` returned comments that are not JSON") from exc

    def create_comment(self, body: str) -> Comment:
        return _comment(_api_json(f"repos/{self.repo}/issues/{self.pr}/comments",
                                  "--method", "POST", "--input", "-",
                                  input=json.dumps({"body": body})))

    def update_comment(self, comment_id: int, body: str) -> Comment:
        return _comment(_api_json(f"repos/{self.repo}/issues/comments/{comment_id}",
                                  "--method", "PATCH", "--input", "-",
                                  input=json.dumps({"body": body})))

    def head_sha(self) -> str:
        data = _api_json(f"repos/{self.repo}/pulls/{self.pr}")
        sha = (data or {}).get("head", {}).get("sha") if isinstance(data, dict) else None
        if not isinstance(sha, str):
            raise MlgitError(f"pull request #{self.pr} of {self.repo} has no head commit")
        return sha
