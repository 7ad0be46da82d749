"""GitLab merge-request notes through the REST API (stdlib HTTP; no GitLab CLI on runners).

In a pipeline, GitLab sets CI_API_V4_URL and CI_PROJECT_ID; the token is a project access token
(scope `api`) in a masked CI/CD variable, MLGIT_GITLAB_TOKEN by default. The job token cannot
write notes.
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from mlgit.comments import Comment
from mlgit.errors import MlgitError, UsageError

DEFAULT_TOKEN_VAR = "MLGIT_GITLAB_TOKEN"  # noqa: S105 (a variable name, not a secret)
_PROJECT = re.compile(r"[0-9]{1,12}|[A-Za-z0-9_.-]{1,255}(/[A-Za-z0-9_.-]{1,255}){1,20}")
_TIMEOUT = 30
_MAX_PAGES = 100


def api_url_from_env() -> str:
    url = os.environ.get("CI_API_V4_URL", "")
    if not re.fullmatch(r"https?://[A-Za-z0-9.:\[\]-]+(/[A-Za-z0-9._~/-]*)?", url):
        raise UsageError("CI_API_V4_URL is not set to a GitLab API URL",
                         hint="run inside a GitLab pipeline, or set CI_API_V4_URL")
    return url.rstrip("/")


def default_project() -> str:
    project = os.environ.get("CI_PROJECT_ID", "")
    if not project:
        raise UsageError("cannot tell which GitLab project to comment on",
                         hint="pass --repo GROUP/PROJECT (or run in a pipeline: CI_PROJECT_ID)")
    return validate_project(project)


def validate_project(project: str) -> str:
    if not _PROJECT.fullmatch(project) or ".." in project:
        raise UsageError(f"invalid GitLab project {project!r}",
                         hint="use the numeric project id or GROUP/PROJECT")
    return project


def token_from_env(var: str = DEFAULT_TOKEN_VAR) -> str:
    if not re.fullmatch(r"[A-Z][A-Z0-9_]{0,63}", var):
        raise UsageError(f"invalid variable name {var!r}")
    token = os.environ.get(var, "")
    if not token:
        raise MlgitError(f"${var} is not set: cannot post to GitLab",
                         hint=f"add a project access token (scope api) as the masked CI/CD "
                         f"variable {var}")
    return token


class GitLabNotes:
    """The notes (comments) of one merge request."""

    def __init__(self, api_url: str, project: str, iid: int, token: str):
        self.base = (f"{api_url}/projects/{urllib.parse.quote(validate_project(project), safe='')}"
                     f"/merge_requests/{iid}")
        self.token = token
        self.iid = iid

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None,
              ) -> tuple[Any, dict[str, str]]:
        data = json.dumps(body).encode() if body is not None else None
        # the base URL was checked to be http(s) in api_url_from_env
        req = urllib.request.Request(self.base + path, data=data, method=method, headers={  # noqa: S310
            "PRIVATE-TOKEN": self.token, "Content-Type": "application/json",
            "Accept": "application/json", "User-Agent": "mlgit"})
        try:
            with urllib.request.urlopen(req, timeout=_TIMEOUT) as resp:  # noqa: S310
                payload = resp.read().decode("utf-8", "replace")
                headers = {k.lower(): v for k, v in resp.headers.items()}
        except urllib.error.HTTPError as exc:
            if exc.code in (401, 403):
                raise MlgitError(f"GitLab refused the token (HTTP {exc.code})",
                                 hint="use a project access token with the `api` scope") from exc
            raise MlgitError(f"GitLab API {method} {path or '/'} failed: HTTP {exc.code}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise MlgitError(f"cannot reach the GitLab API: {exc}") from exc
        try:
            return (json.loads(payload) if payload.strip() else None), headers
        except ValueError as exc:
            raise MlgitError("the GitLab API did not return JSON") from exc

    def list_comments(self) -> list[Comment]:
        notes: list[Comment] = []
        page = "1"
        for _ in range(_MAX_PAGES):
            data, headers = self._call("GET", f"/notes?sort=asc&order_by=created_at"
                                              f"&per_page=100&page={page}")
            for n in data or []:
                if isinstance(n, dict) and isinstance(n.get("id"), int) and not n.get("system"):
                    notes.append(Comment(n["id"], str(n.get("body") or "")))
            page = headers.get("x-next-page", "")
            if not page.isdigit():
                break
        return notes

    def create_comment(self, body: str) -> Comment:
        data, _ = self._call("POST", "/notes", {"body": body})
        return _note(data)

    def update_comment(self, comment_id: int, body: str) -> Comment:
        data, _ = self._call("PUT", f"/notes/{comment_id}", {"body": body})
        return _note(data)

    def head_sha(self) -> str:
        data, _ = self._call("GET", "")
        sha = data.get("sha") if isinstance(data, dict) else None
        if not isinstance(sha, str):
            raise MlgitError(f"merge request !{self.iid} has no head commit")
        return sha


def _note(data: Any) -> Comment:
    if not isinstance(data, dict) or not isinstance(data.get("id"), int):
        raise MlgitError("GitLab returned a note without an id")
    return Comment(data["id"], str(data.get("body") or ""))
