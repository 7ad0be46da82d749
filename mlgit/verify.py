"""`mlgit verify NAME@vX.Y.Z | NAME#STAGE`: is this registry entry what it claims to be?

Checks, each reported: the tag signatures (if signed, or always with --require-signed); that the
commit and model hash recorded in the tag message are the tag's target and the hash in that
commit's dvc.lock; and, when the model is in the DVC cache or can be fetched from the remote,
that its bytes hash to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlgit import dvc, git, modelstore
from mlgit.errors import NotFoundError, UsageError
from mlgit.gates import GateResult
from mlgit.metrics import read_revision
from mlgit.registry import Event, load_artifact
from mlgit.tags import parse_message, parse_registry_ref


@dataclass(frozen=True)
class VerifyReport:
    ref: str
    artifact: str
    version: str
    commit: str
    tags: tuple[str, ...]
    checks: tuple[GateResult, ...]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)


def _events_for(root: Path, text: str) -> tuple[str, str, list[Event]]:
    """(artifact, version, [the tag that names it, then its registration if different])."""
    ref = parse_registry_ref(text)
    if ref is None:
        raise UsageError(f"'{text}' is not a registry ref",
                         hint="write NAME@vX.Y.Z, NAME#STAGE or NAME@latest, e.g. model#production")
    state = load_artifact(root, ref.artifact)
    if not state.events:
        raise NotFoundError(f"unknown artifact '{ref.artifact}': it has no registry tags",
                            hint=f"declare it with `mlgit model add {ref.artifact} --path PATH`")
    by_tag = {e.tag: e for e in state.events}
    if ref.stage:
        holder = state.holder(ref.stage)
        if holder is None:
            raise NotFoundError(f"no version of {ref.artifact} is in {ref.stage}")
        version, first = holder.version, by_tag[holder.tag]
    else:
        info = state.latest if ref.latest else state.find_version(ref.version or "")
        if info is None:
            raise NotFoundError(f"{ref.artifact} has no version {ref.version or '(any)'}",
                                hint=f"`mlgit history {ref.artifact}` lists its versions")
        version, first = info.version, by_tag[info.tag]
    events = [first]
    info = state.find_version(version)
    if info is not None and info.tag != first.tag:
        events.append(by_tag[info.tag])
    return ref.artifact, version, events


def _signature(root: Path, e: Event, require_signed: bool) -> GateResult:
    gate = f"signature of {e.tag}"
    if not e.signed:
        return GateResult(gate, not require_signed, "not signed")
    ok, said = git.verify_tag(root, e.tag)
    return GateResult(gate, ok, said or ("good signature" if ok else "bad signature"))


def verify_ref(root: Path, text: str, *, require_signed: bool = False,
               fetch: bool = True) -> VerifyReport:
    """Verify a registry entry; the report says what held and what did not."""
    artifact, version, events = _events_for(root, text)
    main = events[0]
    checks = [_signature(root, e, require_signed) for e in events]
    record = parse_message(main.message)
    if record is None:
        checks.append(GateResult("recorded model hash", False, f"{main.tag} carries no mlgit "
                                 "record (written by another tool): nothing to verify against"))
        return VerifyReport(text, artifact, version, main.commit, tuple(e.tag for e in events),
                            tuple(checks))
    recorded_commit = str(record.get("commit") or "")
    checks.append(GateResult(
        "recorded commit", recorded_commit == main.commit,
        "matches the tag's target" if recorded_commit == main.commit else
        f"the message records {recorded_commit[:12] or '(none)'} but the tag points at "
        f"{main.commit[:12]}: the tag was moved"))
    model = record.get("model")
    model = model if isinstance(model, dict) else {}
    path, recorded = str(model.get("path") or ""), model.get("md5")
    with git.object_reader(root) as reader:
        rev = read_revision(reader, main.commit)
    locked = rev.lock.outputs().get(path) if rev.lock else None
    actual = locked.hash if locked else None
    same = bool(recorded) and recorded == actual
    checks.append(GateResult(
        "recorded model hash", same,
        f"{path} md5 {recorded} = dvc.lock" if same else
        f"{path}: the message records {recorded} but dvc.lock at {main.commit[:8]} has {actual}"))
    if actual:
        checks.append(_bytes(root, main.commit, path, actual, fetch))
    return VerifyReport(text, artifact, version, main.commit, tuple(e.tag for e in events),
                        tuple(checks))


def _bytes(root: Path, sha: str, path: str, md5: str, fetch: bool) -> GateResult:
    gate = "model bytes"
    cache = dvc.cache_dir(root)
    note = "in the DVC cache"
    if not modelstore.in_cache(cache, md5):
        if not fetch or not modelstore.fetch_to_cache(root, sha, path) \
                or not modelstore.in_cache(cache, md5):
            return GateResult(gate, True, "skipped: the model is neither in the DVC cache nor "
                              "in the remote")
        note = "fetched from the DVC remote"
    bad = modelstore.bad_bytes(cache, md5)
    if bad:
        return GateResult(gate, False, f"{path} ({note}): " + "; ".join(bad))
    return GateResult(gate, True, f"{path} hashes to {md5} ({note})")

