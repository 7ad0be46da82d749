"""Reading Git objects without a checkout: one `git cat-file --batch` serves many reads.

Part of the Git layer (re-exported by `mlgit.git`): together they are the only code that runs git.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from mlgit import proc


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    parents: tuple[str, ...]
    author: str
    author_email: str
    author_time: int
    committer_time: int
    message: str


class ObjectReader:
    """One `git cat-file --batch` process that serves any number of reads.

    Use as a context manager: the child is always reaped.
    """

    def __init__(self, root: Path):
        self.root = root
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ObjectReader:
        self._proc = subprocess.Popen(
            ["git", "cat-file", "--batch"],
            cwd=self.root,
            env=proc.clean_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        p = self._proc
        self._proc = None
        if p is None:
            return
        try:
            if p.stdin:
                p.stdin.close()
            p.wait(timeout=5)
        except Exception:
            p.kill()
            p.wait()
        finally:
            if p.stdout:
                p.stdout.close()

    def _pipes(self) -> tuple[IO[bytes], IO[bytes]]:
        p = self._proc
        if p is None or p.stdin is None or p.stdout is None:
            raise RuntimeError("ObjectReader used outside its `with` block")
        return p.stdin, p.stdout

    @staticmethod
    def _response(stdout: IO[bytes]) -> tuple[str, str, bytes] | None:
        header = stdout.readline().decode("utf-8", "replace").rstrip("\n")
        # "<name> missing" / "<name> ambiguous": the name itself may contain spaces
        if header.endswith((" missing", " ambiguous")) or not header:
            return None
        parts = header.split(" ")
        if len(parts) != 3:
            return None
        sha, kind, size = parts[0], parts[1], int(parts[2])
        data = stdout.read(size + 1)  # the content and git's trailing newline, in one call
        return sha, kind, data[:size]

    def _request(self, name: str) -> tuple[str, str, bytes] | None:
        if "\n" in name:
            return None
        stdin, stdout = self._pipes()
        stdin.write(name.encode() + b"\n")
        stdin.flush()
        return self._response(stdout)

    def read_many(self, names: Sequence[str]) -> list[tuple[str, str, bytes] | None]:
        """(object id, type, content) for each `rev:path` or object name, None where absent.

        All requests go out at once and the answers are read as they come: one round trip for
        any number of objects instead of one per object.
        """
        return list(self.iter_many(names))

    def iter_many(self, names: Sequence[str]) -> Iterator[tuple[str, str, bytes] | None]:
        """`read_many`, yielding each answer as soon as git gives it, so the caller can work
        on one object while git looks up the next. Consume it to the end.

        A writer thread feeds git when the requests are larger than a pipe buffer, so neither
        side can block the other.
        """
        wanted = ["\n" not in n for n in names]
        stdin, stdout = self._pipes()
        payload = b"".join(n.encode() + b"\n" for n, ok in zip(names, wanted, strict=True) if ok)
        writer = None
        if len(payload) <= 4096:  # fits in any pipe buffer: cannot block
            stdin.write(payload)
            stdin.flush()
        else:
            writer = threading.Thread(target=_write_all, args=(stdin, payload), daemon=True)
            writer.start()
        try:
            for ok in wanted:
                yield self._response(stdout) if ok else None
        finally:
            if writer is not None:
                writer.join()

    def read(self, rev: str, path: str) -> bytes | None:
        """The bytes of `path` at `rev`, or None if the file is not there."""
        got = self._request(f"{rev}:{path}")
        if got is None or got[1] != "blob":
            return None
        return got[2]

    def tree_names(self, rev: str, path: str = "") -> list[str] | None:
        """Entry names of the directory `path` at `rev` (None if absent)."""
        got = self._request(f"{rev}:{path}")
        if got is None or got[1] != "tree":
            return None
        names, data, i = [], got[2], 0
        while i < len(data):
            sp = data.index(b" ", i)
            nul = data.index(b"\0", sp)
            names.append(data[sp + 1 : nul].decode("utf-8", "replace"))
            i = nul + 21
        return names

    def commit(self, rev: str) -> CommitInfo | None:
        if not rev or rev.startswith("-"):
            return None
        got = self._request(f"{rev}^{{commit}}")
        if got is None or got[1] != "commit":
            return None
        return parse_commit(got[0], got[2])


def _write_all(stream: IO[bytes], payload: bytes) -> None:
    try:
        stream.write(payload)
        stream.flush()
    except (BrokenPipeError, ValueError):  # git exited; the reader side reports it
        pass


def parse_commit(sha: str, raw: bytes) -> CommitInfo:
    text = raw.decode("utf-8", "replace")
    head, _, message = text.partition("\n\n")
    parents: list[str] = []
    author, email, atime, ctime = "", "", 0, 0
    for line in head.splitlines():
        key, _, value = line.partition(" ")
        if key == "parent":
            parents.append(value)
        elif key in ("author", "committer"):
            ident, _, rest = value.rpartition("> ")
            name, _, mail = ident.partition(" <")
            when = int(rest.split(" ")[0]) if rest else 0
            if key == "author":
                author, email, atime = name, mail, when
            else:
                ctime = when
    return CommitInfo(sha, tuple(parents), author, email, atime, ctime, message)


@contextmanager
def object_reader(root: Path) -> Iterator[ObjectReader]:
    with ObjectReader(root) as reader:
        yield reader


