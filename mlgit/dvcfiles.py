"""Where the `dvc.yaml` files of a commit are: the root one and those of subprojects (monorepos).

DVC collects every `dvc.yaml` in the repository, so `dvc metrics show` at the root also shows
`sub/dvc.yaml`'s metrics. We find them from Git trees, without a process per commit: all
commits' trees are walked level by level through the one `git cat-file --batch` (one round trip
per directory depth), and each tree is parsed once by its id. Branches share almost all their
trees, so a hundred branches cost little more than one.
"""

from __future__ import annotations

from collections.abc import Sequence

from mlgit.git import ObjectReader

DVC_YAML = "dvc.yaml"
_SKIP = {b".git", b".dvc"}  # DVC never looks for pipelines inside these


def _parse_tree(data: bytes) -> tuple[bool, tuple[tuple[str, str], ...]]:
    """(has a dvc.yaml blob, subdirectories as (name, tree id)) of a raw Git tree object."""
    has, subs, i = False, [], 0
    while i < len(data):
        sp = data.index(b" ", i)
        nul = data.index(b"\0", sp)
        mode, name = data[i:sp], data[sp + 1:nul]
        oid = data[nul + 1:nul + 21].hex()
        i = nul + 21
        if mode == b"40000":
            if name not in _SKIP:
                subs.append((name.decode("utf-8", "replace"), oid))
        elif name == b"dvc.yaml" and mode in (b"100644", b"100755"):
            has = True
    return has, tuple(subs)


class DvcfileFinder:
    """`dvc.yaml` paths per commit, parsing each Git tree once across calls."""

    def __init__(self, reader: ObjectReader):
        self.reader = reader
        self._trees: dict[str, tuple[bool, tuple[tuple[str, str], ...]]] = {}
        self._paths: dict[str, tuple[str, ...]] = {}

    def find(self, commits: Sequence[str]) -> dict[str, tuple[str, ...]]:
        """{commit: dvc.yaml paths, the root one first} for each commit (empty: none)."""
        roots: dict[str, str | None] = {}
        names = [f"{c}^{{tree}}" for c in commits]
        for commit, got in zip(commits, self.reader.iter_many(names), strict=True):
            roots[commit] = got[0] if got is not None and got[1] == "tree" else None
        level = list(dict.fromkeys(t for t in roots.values() if t and t not in self._trees))
        while level:  # breadth first: every commit's trees of one depth in one round trip
            found: list[str] = []
            for oid, got in zip(level, self.reader.iter_many(level), strict=True):
                self._trees[oid] = _parse_tree(got[2]) if got is not None else (False, ())
                found.extend(sub for _, sub in self._trees[oid][1])
            level = list(dict.fromkeys(t for t in found if t not in self._trees))
        return {c: self._under(t) if t else () for c, t in roots.items()}

    def _under(self, tree: str) -> tuple[str, ...]:
        if tree in self._paths:
            return self._paths[tree]
        has, subs = self._trees.get(tree, (False, ()))
        out = [DVC_YAML] if has else []
        for name, sub in subs:
            out.extend(f"{name}/{p}" for p in self._under(sub))
        self._paths[tree] = tuple(out)
        return self._paths[tree]
