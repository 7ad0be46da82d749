"""A stand-in for GitHub's `gh` CLI: the only thing in the test suite that fakes an API.

Installed as `gh` on PATH by `tests/test_ci_*.py`. It keeps the comments of pull requests in a
JSON state file (FAKE_GH_STATE), records every call (argv and stdin) as JSON lines in
FAKE_GH_LOG, and answers the `gh api` calls mlgit makes the way GitHub does, including
pagination (pages of FAKE_GH_PAGE_SIZE comments printed back to back, like `--paginate`).
Without GH_TOKEN it fails like an unauthenticated `gh` (exit 4).
"""

import json
import os
import re
import sys
from pathlib import Path


def main() -> int:
    args = sys.argv[1:]
    stdin = "" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
    log = Path(os.environ["FAKE_GH_LOG"])
    with log.open("a") as f:
        f.write(json.dumps({"argv": args, "stdin": stdin}) + "\n")
    if not os.environ.get("GH_TOKEN"):
        sys.stderr.write("To get started with GitHub CLI, please run:  gh auth login\n"
                         "Alternatively, populate the GH_TOKEN environment variable.\n")
        return 4
    state_path = Path(os.environ["FAKE_GH_STATE"])
    state = json.loads(state_path.read_text()) if state_path.exists() else {}
    state.setdefault("comments", {})  # "owner/repo#N" -> [comment, ...]
    state.setdefault("next_id", 1000)
    state.setdefault("pulls", {})  # "owner/repo#N" -> head sha
    if args[:2] == ["repo", "view"]:
        print(os.environ.get("FAKE_GH_REPO", "octo/repo"))
        return 0
    if not args or args[0] != "api":
        sys.stderr.write(f"fake gh: unsupported command {args}\n")
        return 2
    endpoint = args[1]
    method = args[args.index("--method") + 1] if "--method" in args else "GET"
    body = json.loads(stdin) if "--input" in args else None
    path = endpoint.split("?")[0]
    if m := re.fullmatch(r"repos/([^/]+/[^/]+)/issues/(\d+)/comments", path):
        key = f"{m[1]}#{m[2]}"
        comments = state["comments"].setdefault(key, [])
        if method == "GET":
            size = int(os.environ.get("FAKE_GH_PAGE_SIZE", "100"))
            pages = [comments[i:i + size] for i in range(0, len(comments), size)] or [[]]
            if "--paginate" not in args:
                pages = pages[:1]
            sys.stdout.write("".join(json.dumps(p) for p in pages))
            return 0
        if method == "POST":
            state["next_id"] += 1
            comment = {"id": state["next_id"], "body": body["body"],
                       "html_url": f"https://github.com/{m[1]}/pull/{m[2]}#issuecomment-"
                                   f"{state['next_id']}",
                       "user": {"login": "github-actions[bot]"}}
            comments.append(comment)
            state_path.write_text(json.dumps(state))
            print(json.dumps(comment))
            return 0
    if (m := re.fullmatch(r"repos/([^/]+/[^/]+)/issues/comments/(\d+)", path)) \
            and method == "PATCH":
        for comments in state["comments"].values():
            for comment in comments:
                if comment["id"] == int(m[2]):
                    comment["body"] = body["body"]
                    state_path.write_text(json.dumps(state))
                    print(json.dumps(comment))
                    return 0
        sys.stderr.write("gh: Not Found (HTTP 404)\n")
        return 1
    if m := re.fullmatch(r"repos/([^/]+/[^/]+)/pulls/(\d+)", path):
        sha = state["pulls"].get(f"{m[1]}#{m[2]}")
        if sha is None:
            sys.stderr.write("gh: Not Found (HTTP 404)\n")
            return 1
        print(json.dumps({"number": int(m[2]), "head": {"sha": sha}}))
        return 0
    sys.stderr.write(f"fake gh: unsupported api call {method} {endpoint}\n")
    return 2


if __name__ == "__main__":
    sys.exit(main())


# --- used by the tests (not by the fake itself) -------------------------------------------------


class FakeGh:
    """A fake `gh` installed in `bin_dir`, with its state and call log under `base`."""

    def __init__(self, base: Path):
        self.bin_dir = base / "fake-bin"
        self.bin_dir.mkdir(parents=True, exist_ok=True)
        self.state = base / "gh-state.json"
        self.log = base / "gh-log.jsonl"
        script = self.bin_dir / "gh"
        script.write_text(f"#!{sys.executable}\n" + Path(__file__).read_text())
        script.chmod(0o755)

    def env(self, **extra: str) -> dict[str, str]:
        env = {"PATH": f"{self.bin_dir}{os.pathsep}{os.environ['PATH']}",
               "FAKE_GH_STATE": str(self.state), "FAKE_GH_LOG": str(self.log),
               "GH_TOKEN": "fake-token"}
        env.update(extra)
        return env

    def calls(self) -> list[dict]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def write_calls(self) -> list[dict]:
        return [c for c in self.calls() if "--method" in c["argv"]]

    def comments(self, key: str) -> list[dict]:
        if not self.state.exists():
            return []
        return json.loads(self.state.read_text())["comments"].get(key, [])

    def seed(self, key: str, bodies: list[str], head_sha: str | None = None) -> None:
        state = json.loads(self.state.read_text()) if self.state.exists() else {
            "comments": {}, "next_id": 1, "pulls": {}}
        for body in bodies:
            state["next_id"] += 1
            state["comments"].setdefault(key, []).append({"id": state["next_id"], "body": body})
        if head_sha:
            state["pulls"][key] = head_sha
        self.state.write_text(json.dumps(state))
