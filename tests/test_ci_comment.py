"""`mlgit ci comment`: one sticky comment per pull request, through a fake `gh` (GitHub) and a
fake GitLab API on localhost. Everything else is the real CLI."""

from __future__ import annotations

import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.fake_gh import FakeGh
from tests.helpers import run_mlgit

MARKER = "<!-- mlgit:metrics-diff -->"
SHA = "a" * 40


@pytest.fixture
def gh(tmp_path: Path) -> FakeGh:
    return FakeGh(tmp_path)


def _body(tmp_path: Path, text: str, name: str = "report.md") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_creates_once_then_updates_across_pages(gh: FakeGh, tmp_path: Path) -> None:
    # five older comments over three pages, one of them quoting the marker mid-text
    gh.seed("octo/repo#7", ["first!", "lgtm", f"see the bot's {MARKER} comment", "nit", "ok"])
    env = gh.env(FAKE_GH_PAGE_SIZE="2")
    body = _body(tmp_path, f"{MARKER}\n## accuracy 0.9 (+0.1)\n")
    res = run_mlgit("ci", "comment", "--pr", "7", "--repo", "octo/repo", "--body-file",
                    str(body), cwd=tmp_path, env=env)
    assert "created comment" in res.stderr
    ours = [c for c in gh.comments("octo/repo#7") if c["body"].startswith(MARKER)]
    assert len(ours) == 1 and "accuracy 0.9" in ours[0]["body"]

    body.write_text(f"{MARKER}\n## accuracy 0.95 (+0.15)\n")
    res = run_mlgit("ci", "comment", "--pr", "7", "--repo", "octo/repo", "--body-file",
                    str(body), "--json", cwd=tmp_path, env=env)
    doc = json.loads(res.stdout)
    assert doc["data"]["action"] == "updated" and doc["data"]["id"] == ours[0]["id"]
    comments = gh.comments("octo/repo#7")
    assert len(comments) == 6  # five others + ours, no duplicate
    assert [c["body"] for c in comments[:5]][2] == f"see the bot's {MARKER} comment"
    assert "accuracy 0.95" in comments[-1]["body"]
    methods = [c["argv"][c["argv"].index("--method") + 1] for c in gh.write_calls()]
    assert methods == ["POST", "PATCH"]
    # bodies travel on stdin as JSON, never on the command line
    assert all("accuracy" not in " ".join(c["argv"]) for c in gh.calls())


def test_repo_from_github_env_and_marker_added_mentions_neutralised(gh: FakeGh,
                                                                    tmp_path: Path) -> None:
    body = _body(tmp_path, "hi @octocat and @org/team, mail me@example.com\x00\n")
    run_mlgit("ci", "comment", "--pr", "3", "--body-file", str(body), cwd=tmp_path,
              env=gh.env(GITHUB_REPOSITORY="acme/models"))
    (comment,) = gh.comments("acme/models#3")
    assert comment["body"].startswith(MARKER + "\n")
    assert "\\@octocat" in comment["body"] and "\\@org/team" in comment["body"]
    assert "me@example.com" in comment["body"] and "\x00" not in comment["body"]


def test_oversized_body_is_truncated(gh: FakeGh, tmp_path: Path) -> None:
    body = _body(tmp_path, MARKER + "\n" + "x" * 200_000)
    run_mlgit("ci", "comment", "--pr", "1", "--repo", "o/r", "--body-file", str(body),
              cwd=tmp_path, env=gh.env())
    (comment,) = gh.comments("o/r#1")
    assert len(comment["body"]) <= 60_000 and comment["body"].rstrip().endswith("*")


def test_gh_missing_is_one_line(tmp_path: Path) -> None:
    body = _body(tmp_path, "x")
    env = {"PATH": f"{Path(sys.executable).parent}{os.pathsep}/usr/bin{os.pathsep}/bin"}
    res = run_mlgit("ci", "comment", "--pr", "1", "--repo", "o/r", "--body-file", str(body),
                    cwd=tmp_path, env=env, check=False)
    assert res.returncode == 127
    assert res.stderr.startswith("error: the GitHub CLI `gh` is not installed")
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 2


def test_gh_not_authenticated_is_one_line(gh: FakeGh, tmp_path: Path) -> None:
    body = _body(tmp_path, "x")
    res = run_mlgit("ci", "comment", "--pr", "1", "--repo", "o/r", "--body-file", str(body),
                    cwd=tmp_path, env=gh.env(GH_TOKEN=""), check=False)
    assert res.returncode == 1
    lines = res.stderr.strip().splitlines()
    assert lines[0] == "error: `gh` is not authenticated" and "GH_TOKEN" in lines[1]


def test_expect_head_sha_refuses_a_report_for_another_head(gh: FakeGh, tmp_path: Path) -> None:
    gh.seed("o/r#5", [], head_sha="b" * 40)
    (tmp_path / "pr.txt").write_text("5\n")
    body = _body(tmp_path, MARKER + "\nreport")
    res = run_mlgit("ci", "comment", "--pr-file", str(tmp_path / "pr.txt"), "--repo", "o/r",
                    "--body-file", str(body), "--expect-head-sha", SHA, cwd=tmp_path,
                    env=gh.env(), check=False)
    assert res.returncode == 1 and "not commenting" in res.stderr
    assert gh.write_calls() == [] and gh.comments("o/r#5") == []
    # the right head: posted
    run_mlgit("ci", "comment", "--pr-file", str(tmp_path / "pr.txt"), "--repo", "o/r",
              "--body-file", str(body), "--expect-head-sha", "b" * 40, cwd=tmp_path, env=gh.env())
    assert len(gh.comments("o/r#5")) == 1


@pytest.mark.parametrize("args, message", [
    (["--pr-file", "pr.txt"], "expected a pull request number"),
    (["--pr", "1", "--repo", "o/r;rm -rf"], "invalid repository"),
    (["--pr", "1", "--pr-file", "pr.txt"], "exactly one of"),
    (["--pr", "1", "--repo", "o/r", "--expect-head-sha", "HEAD"], "is not a commit SHA"),
])
def test_bad_input_writes_nothing(gh: FakeGh, tmp_path: Path, args: list[str],
                                  message: str) -> None:
    (tmp_path / "pr.txt").write_text("12; curl x | sh\n")
    body = _body(tmp_path, "report")
    res = run_mlgit("ci", "comment", *args, "--body-file", str(body), cwd=tmp_path,
                    env=gh.env(), check=False)
    assert res.returncode == 2 and message in res.stderr and "Traceback" not in res.stderr
    assert gh.write_calls() == []


# --- GitLab: a fake REST API on localhost ------------------------------------------------------


class _FakeGitLab(BaseHTTPRequestHandler):
    notes: ClassVar[list[dict]] = []
    requests: ClassVar[list[tuple[str, str, str | None]]] = []

    def log_message(self, *args: object) -> None:
        pass

    def _reply(self, code: int, data: object, headers: dict[str, str] | None = None) -> None:
        raw = json.dumps(data).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _record(self) -> dict | None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        self.requests.append((self.command, self.path, self.headers.get("PRIVATE-TOKEN")))
        return body

    def do_GET(self) -> None:
        self._record()
        prefix = "/api/v4/projects/group%2Fproj/merge_requests/4/notes?"
        if not self.path.startswith(prefix):
            return self._reply(404, {"message": "404 Not Found"})
        page = int(parse_qs(urlsplit(self.path).query)["page"][0])
        chunk = self.notes[(page - 1) * 2: page * 2]
        nxt = str(page + 1) if page * 2 < len(self.notes) else ""
        self._reply(200, chunk, {"X-Next-Page": nxt})

    def do_POST(self) -> None:
        body = self._record()
        note = {"id": 500 + len(self.notes), "body": body["body"], "system": False}
        self.notes.append(note)
        self._reply(201, note)

    def do_PUT(self) -> None:
        body = self._record()
        note_id = int(self.path.rsplit("/", 1)[1])
        for note in self.notes:
            if note["id"] == note_id:
                note["body"] = body["body"]
                return self._reply(200, note)
        self._reply(404, {"message": "404 Not Found"})


def test_gitlab_note_created_then_updated(tmp_path: Path) -> None:
    _FakeGitLab.notes = [{"id": 1, "body": "added 1 commit", "system": True},
                         {"id": 2, "body": "looks good", "system": False},
                         {"id": 3, "body": MARKER + " old", "system": True}]
    _FakeGitLab.requests = []
    server = HTTPServer(("127.0.0.1", 0), _FakeGitLab)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        env = {"CI_API_V4_URL": f"http://127.0.0.1:{server.server_port}/api/v4",
               "CI_PROJECT_ID": "group/proj", "MLGIT_GITLAB_TOKEN": "glpat-test"}
        body = _body(tmp_path, MARKER + "\nfirst")
        for text in ("first", "second"):
            body.write_text(MARKER + "\n" + text)
            run_mlgit("ci", "comment", "--provider", "gitlab", "--pr", "4", "--body-file",
                      str(body), cwd=tmp_path, env=env)
        ours = [n for n in _FakeGitLab.notes if n["body"].startswith(MARKER)
                and not n["system"]]
        assert len(ours) == 1 and ours[0]["body"].endswith("second")
        methods = [m for m, _, _ in _FakeGitLab.requests if m != "GET"]
        assert methods == ["POST", "PUT"]
        assert {t for _, _, t in _FakeGitLab.requests} == {"glpat-test"}
        res = run_mlgit("ci", "comment", "--provider", "gitlab", "--pr", "4", "--body-file",
                        str(body), cwd=tmp_path, env={**env, "MLGIT_GITLAB_TOKEN": ""},
                        check=False)
        assert res.returncode == 1 and "MLGIT_GITLAB_TOKEN is not set" in res.stderr
    finally:
        server.shutdown()
        server.server_close()
