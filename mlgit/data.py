"""Data and remotes: track files with DVC, see what is not pushed, push/pull any commit's outputs.

Everything goes through DVC (`dvc add`, `dvc data status`, `dvc push/pull`, DVC's API for other
commits); this module validates what the user typed, picks the remote, and stages what DVC
wrote, so a failed command leaves the repository as it was.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from mlgit import dvc, git
from mlgit.config import load_config
from mlgit.errors import MlgitError, NotFoundError, UsageError

REMOTE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
_HTTP_URL = re.compile(r"https?://[^\s/@]+(/\S*)?")


# --- remotes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Remote:
    name: str
    url: str
    default: bool
    endpoint_url: str | None = None

    @property
    def scheme(self) -> str:
        """"local" for a directory, else the URL scheme ("s3", "gs", ...)."""
        return url_scheme(self.url) or "local"

    @property
    def is_local(self) -> bool:
        return self.scheme in ("local", "file")

    @property
    def local_path(self) -> Path:
        return Path(self.url.removeprefix("file://"))


def url_scheme(url: str) -> str | None:
    found = _SCHEME.match(url)
    return found.group(1).lower() if found else None


def list_remotes(root: Path) -> list[Remote]:
    """The DVC remotes of the repo (all config levels merged), the default marked.

    Only names, URLs and endpoints are read out: credentials in `config.local` stay there.
    """
    dvc.require_dvc_repo(root)
    return remotes_from_config(dvc.config_list(root))


def remotes_from_config(values: dict[str, str]) -> list[Remote]:
    default = values.get("core.remote")
    names: dict[str, dict[str, str]] = {}
    for key, value in values.items():
        if key.startswith("remote."):
            name, _, option = key.removeprefix("remote.").rpartition(".")
            if name:
                names.setdefault(name, {})[option] = value
    return [Remote(name, opts.get("url", ""), name == default, opts.get("endpointurl"))
            for name, opts in names.items()]


def pick_remote(root: Path, name: str | None) -> Remote:
    """The remote `name`, or the default one; a clear error if there is none to use."""
    remotes = list_remotes(root)
    if name is not None:
        found = next((r for r in remotes if r.name == name), None)
        if found is None:
            known = ", ".join(r.name for r in remotes) or "none"
            raise NotFoundError(f"no DVC remote named '{name}' (known: {known})",
                                hint="add it with `mlgit remote add NAME URL`")
    else:
        found = next((r for r in remotes if r.default), None)
        if found is None:
            raise MlgitError("no default DVC remote: nowhere to push or pull data",
                             hint="run `mlgit remote add NAME URL --default`, or pass -r NAME")
    require_plugin(found.scheme)
    return found


def require_plugin(scheme: str) -> None:
    if not dvc.has_plugin(scheme):
        extra = "mlgit[s3]" if scheme == "s3" else f"dvc[{scheme}]"
        raise MlgitError(f"DVC cannot use {scheme}:// remotes here: its {scheme} support is not "
                         "installed", hint=f"pip install '{extra}'")


def add_remote(root: Path, name: str, url: str, *, default: bool = False,
               endpoint_url: str | None = None, local: bool = False, force: bool = False,
               cwd: Path | None = None) -> Remote:
    """`dvc remote add` (+ `dvc remote modify NAME endpointurl`), all or nothing.

    Credentials never go through here: they belong in the environment or in
    `dvc remote modify --local`, which is not committed.
    """
    dvc.require_dvc_repo(root)
    if not REMOTE_NAME.fullmatch(name):
        raise UsageError(f"'{name}' is not a valid remote name",
                         hint="use letters, digits, '.', '-' and '_', starting with a letter or "
                         "digit")
    url = url.strip()
    if not url:
        raise UsageError("the remote URL is empty",
                         hint="give a directory or a URL like s3://bucket/path")
    if url.startswith("-"):
        raise UsageError(f"remote URL '{url}' must not start with '-'")
    scheme = url_scheme(url)
    _refuse_inline_secret(url)
    if scheme:
        require_plugin(scheme)
    else:
        # a relative directory means relative to where the user is; DVC stores it relative to
        # the config file, so clones on other machines resolve it the same way
        path = Path(url)
        if not path.is_absolute():
            url = os.path.relpath((cwd or Path.cwd()) / path, root)
    if endpoint_url is not None:
        if scheme != "s3":
            raise UsageError("--endpoint-url is for s3:// remotes (S3-compatible servers)")
        if not _HTTP_URL.fullmatch(endpoint_url):
            raise UsageError(f"'{endpoint_url}' is not an http(s) URL without credentials",
                             hint="e.g. --endpoint-url http://127.0.0.1:9000")
    existing = list_remotes(root)
    if any(r.name == name for r in existing) and not force:
        raise UsageError(f"DVC remote '{name}' already exists",
                         hint="choose another name, or pass --force to replace it")
    make_default = default or not any(r.default for r in existing)
    with _config_transaction(root):
        args = ["remote", "add", *(["--local"] if local else []),
                *(["--default"] if make_default else []), *(["--force"] if force else []),
                name, url]
        dvc.dvc(args, root)
        if endpoint_url is not None:
            dvc.remote_modify(root, name, "endpointurl", endpoint_url, local=local)
    return next(r for r in list_remotes(root) if r.name == name)


def _refuse_inline_secret(url: str) -> None:
    found = re.match(r"[A-Za-z][A-Za-z0-9+.-]*://([^/@]*)@", url)
    if found and ":" in found.group(1):
        raise UsageError("the remote URL contains a password, which would be committed",
                         hint="drop it from the URL and set it with "
                         "`dvc remote modify --local NAME password ...`")


@contextmanager
def _config_transaction(root: Path) -> Iterator[None]:
    """Restore DVC's config files if a multi-step change fails half-way."""
    saved = _snapshot([root / ".dvc" / "config", root / ".dvc" / "config.local"])
    try:
        yield
    except BaseException:
        _restore(saved)
        raise


def _snapshot(files: Sequence[Path]) -> dict[Path, bytes | None]:
    return {f: f.read_bytes() if f.is_file() else None for f in files}


def _restore(saved: dict[Path, bytes | None]) -> None:
    """Put files back as `_snapshot` found them (absent ones removed)."""
    for f, content in saved.items():
        if content is None:
            f.unlink(missing_ok=True)
        else:
            f.write_bytes(content)


# --- tracking files ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AddResult:
    paths: tuple[str, ...]  # what DVC now tracks, relative to the repo root
    staged: tuple[str, ...]  # the .dvc files and .gitignore files staged in Git
    commit: str | None  # the commit made with --commit


def add_data(root: Path, paths: Sequence[Path], *, commit: bool = False,
             message: str | None = None) -> AddResult:
    """`dvc add PATHS`, then stage the `.dvc` files and the `.gitignore`s DVC wrote."""
    dvc.require_dvc_repo(root)
    if not paths:
        raise UsageError("give at least one file or directory to track")
    rels = [_inside(root, p) for p in paths]
    tracked = git.tracked_paths(root, rels)
    if tracked:
        raise UsageError(f"{tracked[0]} is tracked by Git; DVC cannot track it too",
                         hint=f"run `git rm -r --cached -- {tracked[0]}` first, then rerun")
    if commit:
        git.ensure_identity(root)
    touched = [root / f"{r}.dvc" for r in rels] + [(root / r).parent / ".gitignore" for r in rels]
    saved = _snapshot(touched)
    try:
        dvc.add(root, rels)
        # stage what DVC wrote, as `dvc add` advises: the .dvc files, and each .gitignore that
        # now ignores one of the paths
        staged = [Path(os.path.relpath(p, root)).as_posix() for p in dict.fromkeys(touched)
                  if p.is_file() and (p.suffix == ".dvc" or _ignores(p, rels))]
        git.add(root, staged)
    except BaseException:
        _restore(saved)
        raise
    sha = None
    if commit:
        text = message or f"Track {', '.join(rels)} with DVC"
        sha = git.commit(root, text + "\n", paths=staged)
    return AddResult(tuple(rels), tuple(staged), sha)


def _ignores(gitignore: Path, rels: Sequence[str]) -> bool:
    lines = set(gitignore.read_text(encoding="utf-8", errors="replace").splitlines())
    return any(f"/{Path(r).name}" in lines for r in rels)


def _inside(root: Path, path: Path) -> str:
    """`path` (absolute, or relative to the cwd) as a POSIX path relative to the repo root."""
    full = Path(os.path.realpath(path))
    if not full.exists():
        raise NotFoundError(f"{path}: no such file or directory")
    try:
        rel = full.relative_to(Path(os.path.realpath(root)))
    except ValueError:
        raise UsageError(f"{path} is outside the repository {root}",
                         hint="copy it into the repository first") from None
    if not rel.parts or rel.parts[0] in (".git", ".dvc"):
        raise UsageError(f"{path} cannot be tracked: give a file or directory of the project")
    return rel.as_posix()


# --- status -----------------------------------------------------------------------------------

# DVC's `data status` categories -> (our state, what to do). Order = order of the table.
_STATES = {
    ("uncommitted", "modified"): ("modified", "record it: `mlgit data add PATH` (`dvc repro` "
                                  "for pipeline outputs)"),
    ("uncommitted", "added"): ("new", "record it: `mlgit data add PATH` or `dvc repro`"),
    ("uncommitted", "deleted"): ("deleted", "restore it: `dvc checkout PATH`"),
    ("uncommitted", "renamed"): ("renamed", "record it: `dvc commit`"),
    ("committed", "added"): ("not committed", "commit the .dvc/dvc.lock change: `git commit`"),
    ("committed", "modified"): ("not committed", "commit the .dvc/dvc.lock change: `git commit`"),
    ("committed", "deleted"): ("not committed", "commit the removal: `git commit`"),
    ("committed", "renamed"): ("not committed", "commit the rename: `git commit`"),
    ("not_in_cache", ""): ("not in cache", "fetch it: `mlgit data pull`"),
    ("not_in_remote", ""): ("not pushed", "upload it: `mlgit data push`"),
}


@dataclass(frozen=True)
class DataEntry:
    path: str
    state: str  # modified | new | deleted | renamed | not committed | not in cache | not pushed
    fix: str


@dataclass(frozen=True)
class DataStatus:
    remote: str | None  # the remote compared against (None: no remote, or --offline)
    remote_checked: bool
    entries: tuple[DataEntry, ...]

    @property
    def clean(self) -> bool:
        return not self.entries


def data_status(root: Path, *, remote: str | None = None, offline: bool = False) -> DataStatus:
    """What is modified locally, missing from the cache, or not yet pushed to the remote."""
    dvc.require_dvc_repo(root)
    answer = dvc.data_status(root, remote=remote, offline=offline)
    if "unknown_remote" in answer:
        known = ", ".join(answer.get("known") or []) or "none"
        raise NotFoundError(f"no DVC remote named '{answer['unknown_remote']}' (known: {known})",
                            hint="add it with `mlgit remote add NAME URL`")
    if "remote_error" in answer:
        require_plugin(url_scheme(str(answer.get("url") or "")) or "local")
        raise MlgitError(f"cannot compare with remote '{answer.get('remote')}': "
                         f"{str(answer['remote_error']).splitlines()[0]}",
                         hint="rerun with --offline to skip the remote")
    raw = answer.get("status") or {}
    target = answer.get("remote")
    entries: list[DataEntry] = []
    for (group, kind), (state, fix) in _STATES.items():
        value = raw.get(group)
        items = value.get(kind, []) if kind and isinstance(value, dict) else value
        for item in items if isinstance(items, list) else []:
            path = str(item.get("new", item)) if isinstance(item, dict) else str(item)
            entries.append(DataEntry(path, state, fix))
    # a file gone from the work tree *and* the cache (a fresh clone) needs a pull, not a checkout
    uncached = {e.path for e in entries if e.state == "not in cache"}
    entries = [e for e in entries if not (e.state == "deleted" and e.path in uncached)]
    return DataStatus(str(target) if target else None, bool(target), tuple(entries))


# --- push and pull ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Revision:
    ref: str  # what the user typed, or the experiment branch
    sha: str


@dataclass(frozen=True)
class Transfer:
    action: str  # "push" or "pull"
    remote: str
    workspace: bool  # True: the checked-out commit (and work tree), as `dvc push/pull`
    revisions: tuple[Revision, ...]  # other commits, pushed/fetched without a checkout


def push_data(root: Path, refs: Sequence[str] = (), *, all_experiments: bool = False,
              remote: str | None = None) -> Transfer:
    """Upload the outputs of the current commit, or of `refs` / every experiment branch."""
    return _transfer("push", root, refs, all_experiments, remote)


def pull_data(root: Path, refs: Sequence[str] = (), *, all_experiments: bool = False,
              remote: str | None = None) -> Transfer:
    """Download the current commit's outputs into the work tree, or `refs`' into the cache."""
    return _transfer("pull", root, refs, all_experiments, remote)


def _transfer(action: str, root: Path, refs: Sequence[str], all_experiments: bool,
              remote: str | None) -> Transfer:
    dvc.require_dvc_repo(root)
    revisions = resolve_revisions(root, refs, all_experiments)
    target = pick_remote(root, remote)
    workspace = not refs and not all_experiments
    if workspace:
        if action == "push":
            dvc.push(root, remote=target.name)
        else:
            dvc.pull(root, remote=target.name)
    elif revisions:
        shas = list(dict.fromkeys(r.sha for r in revisions))
        if action == "push":
            dvc.push_revs(root, shas, remote=target.name)
        else:
            dvc.fetch_revs(root, shas, remote=target.name)
    return Transfer(action, target.name, workspace, tuple(revisions))


def resolve_revisions(root: Path, refs: Sequence[str], all_experiments: bool) -> list[Revision]:
    """Resolve every ref before anything runs: one unknown ref and nothing is transferred."""
    from mlgit.refs import resolve_rev

    if not refs and not all_experiments:
        return []
    config = load_config(root)
    revisions = [Revision(text, resolve_rev(root, text, config).sha) for text in refs]
    if all_experiments:
        rows = git.for_each_ref(root, [f"refs/heads/{config.exp_prefix}"],
                                ["%(refname:short)", "%(objectname)"])
        revisions += [Revision(name, sha) for name, sha in rows]
    return revisions
