"""DVC driven inside ONE child process: share the main cache, check out, reproduce.

`mlgit.dvc` runs this file as `python -P _dvc_child.py ...` (never imported by the CLI).
An experiment's worktree needs three DVC steps; as three `dvc` processes they cost about 1 s
of start-up and repository loading before the pipeline even starts, in one process about
0.35 s, which is what keeps `mlgit exp new` within 1.2x of the same work done by hand (see
benchmarks/exp_new.py). `-P` keeps this file's directory (mlgit/, which holds a `dvc.py`) off
`sys.path`, so `import dvc` is DVC. Only DVC and the standard library are imported here.

    python -P _dvc_child.py [--share-cache MAIN_DVC_DIR] [--checkout] [--repro [ARGS...]]
    python -P _dvc_child.py --dvc ARGS...   (plain `dvc ARGS`, with UTF-8 config writes)
"""

from __future__ import annotations

import os
import sys


def write_config_as_utf8() -> None:
    """Make DVC write its config files as UTF-8.

    DVC saves `.dvc/config*` through configobj, which encodes as ASCII unless given an
    encoding: any non-ASCII path (a project in `ünï cödé dir`, its cache, a remote) fails with
    UnicodeEncodeError. DVC reads such files fine, so only the write side needs the encoding."""
    from configobj import ConfigObj

    write = ConfigObj.write
    if getattr(write, "mlgit_utf8", False):
        return

    def write_utf8(self: ConfigObj, *args: object, **kwargs: object) -> object:
        if self.encoding is None and self.default_encoding is None:
            self.default_encoding = "utf-8"
        return write(self, *args, **kwargs)

    write_utf8.mlgit_utf8 = True  # type: ignore[attr-defined]
    ConfigObj.write = write_utf8


def configure_worktree(worktree_dvc: str, main_dvc: str) -> None:
    """Point a throwaway worktree's DVC at the main checkout's cache and remotes.

    Written into the worktree's `.dvc/config.local` with DVC's own config code: the main cache
    dir (whatever level set it), the settings of the main checkout's `config.local` (often where
    the remote is), relative local remote URLs of the committed config anchored at the main
    checkout again (they are relative to `.dvc/`), and a site cache inside the worktree so
    DVC's per-path state goes away with it instead of piling up under /var/tmp/dvc.

    (Not `core.autostage`: DVC's in-process index write makes git trust stale stat data, and a
    same-size params edit made in the same second as the checkout is then missed by `git add`.)
    """
    from dvc.config import Config, merge
    from dvc.config_schema import RelPath

    write_config_as_utf8()
    main = Config(dvc_dir=main_dvc, validate=False)
    cache = str(main["cache"].get("dir") or os.path.join(main_dvc, "cache"))
    main_local = main.read("local")
    wt = Config(dvc_dir=worktree_dvc, validate=False)
    committed = wt.read("repo")
    with wt.edit("local", validate=False) as conf:
        for name, remote in (committed.get("remote") or {}).items():
            url = remote.get("url")
            if isinstance(url, RelPath):
                moved = os.path.normpath(os.path.join(main_dvc, os.path.relpath(url, worktree_dvc)))
                conf.setdefault("remote", {}).setdefault(name, {})["url"] = moved
        merge(conf, main_local)
        conf.setdefault("cache", {})["dir"] = cache
        core = conf.setdefault("core", {})
        core["site_cache_dir"] = os.path.join(worktree_dvc, "tmp", "site-cache")


def main(argv: list[str]) -> int:
    from dvc.cli import main as dvc_main

    write_config_as_utf8()
    args = list(argv)
    if args[:1] == ["--dvc"]:
        return int(dvc_main(args[1:]) or 0)
    if args[:1] == ["--share-cache"]:
        configure_worktree(os.path.join(os.getcwd(), ".dvc"), args[1])
        args = args[2:]
    if args[:1] == ["--checkout"]:
        # Missing cache entries are not fatal here: `repro` rebuilds what it can, and its
        # error names what it cannot. DVC prints the warnings itself.
        dvc_main(["checkout", "-q"])
        args = args[1:]
    if args[:1] == ["--repro"]:
        return int(dvc_main(["repro", *args[1:]]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
