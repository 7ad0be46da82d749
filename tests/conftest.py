"""Fixtures: real Git + DVC repos in temp dirs, isolated from the developer's machine.

An initialised project (the stdlib-only `minimal` template, so no scikit-learn import per run)
is built once per session and copied per test; each copy gets its own DVC remote.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import dvc, git, run_mlgit


@pytest.fixture(scope="session", autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory) -> None:
    """A fixed identity and an empty HOME: no user config leaks in, nothing leaks out."""
    home = tmp_path_factory.mktemp("home")
    gitconfig = home / ".gitconfig"
    gitconfig.write_text(
        "[user]\n\tname = Test User\n\temail = test@example.com\n"
        "[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n"
        "[commit]\n\tgpgsign = false\n[tag]\n\tgpgsign = false\n"
    )
    os.environ.update({
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "GIT_CONFIG_GLOBAL": str(gitconfig),
        "GIT_CONFIG_NOSYSTEM": "1",
        "DVC_NO_ANALYTICS": "1",
        "DVC_NO_UPDATE_CHECK": "1",
        "DVC_SITE_CACHE_DIR": str(home / ".dvc-site-cache"),
        "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
        "COLUMNS": "200",
    })
    for var in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        os.environ.pop(var, None)


@pytest.fixture(scope="session")
def template_repo(tmp_path_factory: pytest.TempPathFactory, isolated_env: None) -> Path:
    """`mlgit init --template minimal`, once per session (pipeline run, one commit)."""
    base = tmp_path_factory.mktemp("template")
    project = base / "project"
    run_mlgit("init", str(project), "--template", "minimal", "--remote-dir",
              str(base / "remote"), cwd=base)
    return project


def copy_repo(src: Path, dest: Path, remote: Path | None = None) -> Path:
    """Copy an initialised project; the copy gets its own DVC remote (via config.local)."""
    shutil.copytree(src, dest, symlinks=True)
    shutil.rmtree(dest / ".dvc" / "tmp", ignore_errors=True)
    if remote is not None:
        src_remote = src.parent / "remote"
        if src_remote.is_dir():
            shutil.copytree(src_remote, remote)
        else:
            remote.mkdir(parents=True)
        (dest / ".dvc" / "config.local").write_text(
            f"['remote \"storage\"']\n    url = {remote}\n")
    return dest


@pytest.fixture
def repo(template_repo: Path, tmp_path: Path) -> Path:
    """A fresh copy of an initialised mlgit project (minimal template), with its own remote."""
    return copy_repo(template_repo, tmp_path / "repo", tmp_path / "remote")


@pytest.fixture
def empty_repo(tmp_path: Path) -> Path:
    """A Git repo with one commit and no DVC."""
    root = tmp_path / "plain"
    root.mkdir()
    git("init", "-q", cwd=root)
    (root / "README.md").write_text("hello\n")
    git("add", "-A", cwd=root)
    git("commit", "-q", "-m", "first", cwd=root)
    return root


def make_experiment(root: Path, name: str, params: dict[str, str]) -> str:
    """Branch exp/NAME from main with `params` (dotted key -> YAML text) changed, run the
    pipeline, commit with an Mlgit-Experiment trailer; back on main. Returns the commit."""
    import re

    git("checkout", "-q", "-b", f"exp/{name}", "main", cwd=root)
    text = (root / "params.yaml").read_text()
    for key, value in params.items():
        section, leaf = key.split(".")
        text = re.sub(rf"(\n{section}:\n(?:  .*\n)*?  {leaf}: )[^\s#]+", rf"\g<1>{value}", text)
    (root / "params.yaml").write_text(text)
    dvc("repro", "-q", cwd=root)
    git("add", "-A", cwd=root)
    git("commit", "-q", "-m", f"Experiment {name}", "-m", f"Mlgit-Experiment: exp/{name}",
        cwd=root)
    sha = git("rev-parse", "HEAD", cwd=root).strip()
    git("checkout", "-q", "main", cwd=root)
    dvc("checkout", "-q", cwd=root)
    return sha


@pytest.fixture(scope="session")
def registry_template(template_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The minimal project plus exp/fast (same accuracy, lower loss) and exp/bad (worse)."""
    base = tmp_path_factory.mktemp("registry")
    root = copy_repo(template_repo, base / "project", base / "remote")
    make_experiment(root, "fast", {"train.lr": "0.5"})
    make_experiment(root, "bad", {"train.lr": "0.0001", "train.epochs": "1"})
    return root


@pytest.fixture
def reg_repo(registry_template: Path, tmp_path: Path) -> Path:
    """A fresh copy of `registry_template` with its own DVC remote."""
    return copy_repo(registry_template, tmp_path / "repo", tmp_path / "remote")

# --- a real S3 API server (moto's server mode) ------------------------------------------------

S3_BUCKET = "mlgit-test"
# dummy credentials: moto accepts any; tests check they never reach a committed file
S3_ENV = {"AWS_ACCESS_KEY_ID": "AKIAMLGITTESTKEY0001",
          "AWS_SECRET_ACCESS_KEY": "mlgit-test-secret-4b7e9d0c2a",
          "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _moto_server() -> str:
    """moto_server beside this Python (installed by `pip install -e '.[test]'`), or on PATH."""
    here = Path(sys.executable).parent / "moto_server"
    found = str(here) if here.is_file() else shutil.which("moto_server")
    if found is None:
        pytest.fail("moto_server not found: install the test extra (pip install -e '.[test]'), "
                    "which brings moto[server]")
    return found


@pytest.fixture(scope="session")
def s3_server(isolated_env: None) -> Iterator[str]:
    """`moto_server` on a free loopback port with one bucket; yields its endpoint URL."""
    import subprocess
    import threading
    import time
    import urllib.request

    port = free_port()
    proc = subprocess.Popen([_moto_server(), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        # werkzeug announces "Running on http://127.0.0.1:PORT" once it listens: wait for that
        # line instead of sleeping
        deadline = time.monotonic() + 60
        assert proc.stderr is not None
        for line in proc.stderr:
            if f"127.0.0.1:{port}" in line or time.monotonic() > deadline:
                break
        if proc.poll() is not None:
            pytest.fail(f"moto_server exited with {proc.returncode}")
        # keep draining its request log, or a full pipe would block the server
        threading.Thread(target=proc.stderr.read, daemon=True).start()
        # moto does not check signatures: a plain PUT makes the bucket
        req = urllib.request.Request(f"{endpoint}/{S3_BUCKET}", method="PUT")
        with urllib.request.urlopen(req, timeout=30) as resp:
            assert resp.status == 200
        yield endpoint
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
