"""The model registry in Git tags, in GTO's format (filled in by the registry work, #6)."""

from __future__ import annotations

from pathlib import Path


def resolve_registry_ref(root: Path, text: str) -> tuple[str, str] | None:
    """(commit sha, tag) for `NAME@vX.Y.Z`, `NAME#STAGE`, `NAME@latest`; None if no such tag."""
    return None
