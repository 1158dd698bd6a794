"""``memory import``: session documents (JSON, JSONL, an ``export-all`` directory) into Redis.

Input (CONTRACT §5): a file with one JSON document, a JSON array of them, several
documents one after another (``cat *.json``) or JSONL; ``-`` is stdin (spooled to a
temporary file, so memory stays bounded); or a directory written by ``export-all --output
DIR`` (json or jsonl). Of a directory only the files its ``manifest.json`` lists are read,
each checked against its sha256: **one file that differs refuses the whole import**
(nothing is written), since a changed archive cannot be trusted. Unlisted files are
ignored with a warning.

Every document goes to the native layout through ``NativeStore.write_session``, every
field kept: turns as given, further metadata fields as ``meta.*``, further top-level
fields as ``doc.*``. Upstream documents (``metadata.source == "neurolink-ts"``, roles
``tool_call``/``tool_result``) become native sessions the same way. Imported sessions are
not trimmed to ``maxTurnsPerSession``; the configured TTL applies.

Two passes over the input, one document in memory at a time. Pass one validates every
document (exit 2, nothing written), refuses ids given twice and, with ``--on-conflict
fail`` (the default), any session that already exists in either layout (exit 1, nothing
written). Pass two writes: ``skip`` leaves existing sessions alone, ``replace`` removes
them from both layouts and writes the imported document.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

from neurolink_cli.errors import BadInput, PartialFailure
from neurolink_cli.importer.sources import Warn, bad_input, open_source
from neurolink_cli.models import SessionDoc
from neurolink_cli.util.timeutil import stored_to_ms
from neurolink_cli.util.validate import session_id_problem

if TYPE_CHECKING:
    from neurolink_cli.store.repository import Repository

CONFLICT_POLICIES = ("fail", "replace", "skip")
IMPORT_ROLES = ("user", "assistant", "system", "tool", "tool_call", "tool_result")
TOP_FIELDS = ("sessionId", "userId", "createdAt", "updatedAt", "turns", "metadata")
BATCH = 200


@dataclass
class ImportReport:
    """What an import did."""

    imported: int = 0  # sessions written (new or replacing)
    replaced: int = 0  # of those, sessions that existed before
    skipped: int = 0  # sessions left alone (--on-conflict skip)
    turns: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        text = f"imported {_n(self.imported, 'session')} ({_n(self.turns, 'turn')})"
        if self.replaced:
            text += f", replacing {self.replaced} that existed"
        if self.skipped:
            text += f", skipped {self.skipped} that already existed"
        return text


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


# -- documents -------------------------------------------------------------------------


def document_to_session(raw: Any, where: str) -> SessionDoc:
    """Check one parsed document's shape and turn it into a :class:`SessionDoc`.

    ``where`` names the document in error messages (``file.jsonl line 3``). Turns without
    an ``index`` (hand-written files) get their position, as long as none has one.
    """
    if not isinstance(raw, dict):
        raise bad_input(where, 'not a session document (expected a JSON object {"sessionId": ...})')
    sid = raw.get("sessionId")
    if not isinstance(sid, str):
        raise bad_input(where, "sessionId is missing or not a string")
    problem = session_id_problem(sid)
    if problem:
        raise bad_input(
            where,
            f"bad session id {sid[:60]!r}: {problem}; an id is 1-256 bytes of printable "
            "UTF-8 without whitespace, '{' or '}'",
        )
    for key in ("userId", "createdAt", "updatedAt"):
        if raw.get(key) is not None and not isinstance(raw[key], str):
            raise bad_input(where, f"{key} must be a string or null")
    for key in ("createdAt", "updatedAt"):
        if isinstance(raw.get(key), str) and stored_to_ms(raw[key]) is None:
            raise bad_input(where, f"{key} {raw[key][:40]!r} is not an ISO 8601 time")
    metadata = raw.get("metadata")
    if metadata is None:
        metadata = {}
    elif not isinstance(metadata, dict):
        raise bad_input(where, "metadata must be a JSON object")
    tools = metadata.get("toolsUsed")
    if tools is not None and not isinstance(tools, list):
        raise bad_input(where, "metadata.toolsUsed must be a JSON array")
    turns = _check_turns(raw.get("turns"), where)
    extra = {k: v for k, v in raw.items() if k not in TOP_FIELDS}
    return SessionDoc(
        session_id=sid,
        user_id=raw.get("userId"),
        created_at=raw.get("createdAt"),
        updated_at=raw.get("updatedAt"),
        metadata=metadata,
        _turns=turns,
        extra=extra,
    )


def _check_turns(turns: Any, where: str) -> list[dict[str, Any]]:
    if turns is None:
        return []
    if not isinstance(turns, list):
        raise bad_input(where, "turns must be a JSON array")
    with_index = sum(1 for t in turns if isinstance(t, dict) and "index" in t)
    if 0 < with_index < len(turns):
        raise bad_input(where, "some turns have an index and some do not; give all or none")
    out: list[dict[str, Any]] = []
    last = -1
    for i, turn in enumerate(turns):
        if not isinstance(turn, dict):
            raise bad_input(where, f"turn #{i} is not a JSON object")
        role = turn.get("role")
        if role not in IMPORT_ROLES:
            raise bad_input(
                where,
                f"turn #{i}: role {role!r} is not one of {', '.join(IMPORT_ROLES)}",
            )
        ts = turn.get("timestamp")
        if ts is not None and not isinstance(ts, str):
            raise bad_input(where, f"turn #{i}: timestamp must be a string")
        if not with_index:
            turn = {"index": i, **turn}
        index = turn["index"]
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise bad_input(where, f"turn #{i}: index must be a whole number >= 0")
        if index <= last:
            raise bad_input(where, f"turn #{i}: index {index} is not greater than the one before")
        last = index
        out.append(turn)
    return out


# -- writing ---------------------------------------------------------------------------


def _batches(items: Iterator[tuple[str, Any]]) -> Iterator[list[SessionDoc]]:
    batch: list[SessionDoc] = []
    for where, raw in items:
        batch.append(document_to_session(raw, where))
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _raise_index_score(repo: Repository, doc: SessionDoc) -> None:
    """Index the session at its latest activity, as the turn writer does (ZADD GT per turn).

    ``write_session`` scores it by ``updatedAt``; a session whose turns are not in time
    order was indexed by its latest turn, and keeps that place after a round trip.
    """
    latest = max(
        (ms for ms in (stored_to_ms(t.get("timestamp")) for t in doc.turns) if ms is not None),
        default=None,
    )
    updated = stored_to_ms(doc.updated_at)
    if latest is not None and (updated is None or latest > updated):
        repo.native.raise_score(doc.session_id, latest)


def _digest_bytes(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=8).digest()


def _digest(session_id: str) -> bytes:
    return _digest_bytes(session_id.encode("utf-8", "surrogatepass"))


Existing = Callable[[list[str]], tuple[set[str], set[str]]]


def _duplicate(session_id: str, documents: Callable[[], Iterator[tuple[str, Any]]]) -> BadInput:
    """BadInput naming the places where ``session_id`` occurs (the rare path: read again)."""
    places = [
        w for w, raw in documents() if isinstance(raw, dict) and raw.get("sessionId") == session_id
    ]
    return BadInput(
        f"session {session_id!r} appears more than once in the input ({' and '.join(places[:3])}"
        "; e.g. the same id under two users or in both layouts): the native layout keeps one "
        "session per id, so nothing was imported; import one of them, or give the other a new "
        "sessionId"
    )


def check_all(
    existing: Existing, documents: Callable[[], Iterator[tuple[str, Any]]], on_conflict: str
) -> int:
    """Pass one: validate every document, refuse duplicates and (``fail``) existing ids."""
    seen: set[bytes] = set()
    conflicts: list[str] = []
    n_conflicts = 0
    count = 0
    for batch in _batches(documents()):
        for doc in batch:
            d = _digest(doc.session_id)
            if d in seen:
                raise _duplicate(doc.session_id, documents)
            seen.add(d)
        count += len(batch)
        if on_conflict == "fail":
            in_native, in_upstream = existing([doc.session_id for doc in batch])
            found = in_native | in_upstream
            n_conflicts += len(found)
            conflicts.extend(sorted(found)[: max(0, 3 - len(conflicts))])
    if n_conflicts:
        shown = ", ".join(repr(s) for s in conflicts) + (" ..." if n_conflicts > 3 else "")
        what = (
            f"session {shown} already exists"
            if n_conflicts == 1
            else f"{n_conflicts} of the {count} sessions already exist ({shown})"
        )
        raise PartialFailure(
            f"{what}; nothing imported. Use --on-conflict skip to keep existing sessions "
            "or --on-conflict replace to overwrite them"
        )
    return count


def import_sessions(
    repo: Repository,
    source: str,
    on_conflict: str = "fail",
    *,
    stdin: IO[bytes] | None = None,
    warn: Warn | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Import every document of ``source`` (a path, a directory or ``-``) into ``repo``."""
    if on_conflict not in CONFLICT_POLICIES:
        raise BadInput(f"bad --on-conflict {on_conflict!r}: use fail, skip or replace")
    report = ImportReport()
    with open_source(source, stdin, warn) as documents:
        existing = repo.existing
        check_all(existing, documents, on_conflict)
        for batch in _batches(documents()):
            in_native, in_upstream = existing([doc.session_id for doc in batch])
            for doc in batch:
                sid = doc.session_id
                if sid in in_native or sid in in_upstream:
                    if on_conflict == "skip":
                        report.skipped += 1
                        continue
                    if on_conflict == "fail":  # created by another writer since pass one
                        report.failed.append((sid, "created by another writer meanwhile; kept"))
                        if warn:
                            warn(f"{sid}: created by another writer during the import; kept")
                        continue
                    report.replaced += 1
                    if sid in in_upstream and repo.upstream is not None:
                        repo.upstream.delete(sid)
                repo.native.write_session(doc, replace=sid in in_native)
                _raise_index_score(repo, doc)
                report.imported += 1
                report.turns += doc.turn_count()
                if progress:
                    progress(1, doc.turn_count())
    return report
