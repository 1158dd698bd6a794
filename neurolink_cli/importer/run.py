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
written). Sessions whose id cannot be a native key (ids the TypeScript SDK allows) are
all named together in pass one; ``skip_invalid_ids`` leaves them out instead. Pass two
writes: ``skip`` leaves existing sessions alone, ``replace`` removes them from both
layouts and writes the imported document.

Each session is one MULTI/EXEC on its two keys (whole or absent), its index entry right
after. A big document (:mod:`~neurolink_cli.importer.lazy`) keeps its turns as text until
they are written, a page at a time, to a staging list that one script then moves into
place: still whole or absent, with one page in memory instead of the session. A Redis error (``maxmemory``, connection lost) or Ctrl-C in pass two raises
:class:`ImportStopped`: how many were imported, which session failed and why, and how to
finish (``--on-conflict skip``; ``replace`` again for a replacing run).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

from neurolink_cli.errors import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_UNAVAILABLE,
    BadInput,
    NeurolinkError,
    PartialFailure,
)
from neurolink_cli.importer.documents import (
    ID_RULE,
    InvalidSessionId,
    StreamedDoc,
    document_to_session,
    shown_id,
)
from neurolink_cli.importer.sources import Warn, open_source
from neurolink_cli.models import SessionDoc
from neurolink_cli.util.timeutil import stored_to_ms

if TYPE_CHECKING:
    from neurolink_cli.store.repository import Repository

CONFLICT_POLICIES = ("fail", "replace", "skip")
BATCH = 200


@dataclass
class ImportReport:
    """What an import did."""

    imported: int = 0  # sessions written (new or replacing)
    replaced: int = 0  # of those, sessions that existed before
    skipped: int = 0  # sessions left alone (--on-conflict skip)
    turns: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    invalid: list[InvalidSessionId] = field(default_factory=list)  # left out (--skip-invalid-ids)

    def summary(self) -> str:
        text = f"imported {_n(self.imported, 'session')} ({_n(self.turns, 'turn')})"
        if self.replaced:
            text += f", replacing {self.replaced} that existed"
        if self.skipped:
            text += f", skipped {self.skipped} that already existed"
        if self.invalid:
            text += f", left out {len(self.invalid)} whose id cannot be a native key"
        return text


class ImportStopped(NeurolinkError):
    """Pass two stopped: Redis refused a write or went away, Ctrl-C, or the input changed.

    Every session is written in one MULTI/EXEC, so each is either whole or absent; the
    message says how many were imported, which one failed and why, and the command that
    finishes the job (``--on-conflict skip``, or ``replace`` again for a replacing run).
    Exit 4 when Redis went away or denied the user, 130 on Ctrl-C, 2 when the input
    changed, else 1. The CLI puts the full command line into :meth:`message`.
    """

    def __init__(
        self, report: ImportReport, total: int, session_id: str, exc: BaseException, finish: str
    ) -> None:
        self.report = report
        self.total = total
        self.session_id = session_id
        self.reason, self.exit_code = _write_failure(exc)
        self.finish_on_conflict = finish
        super().__init__(self.message("neurolink memory import ... " + self.finish_flags()))

    def finish_flags(self) -> str:
        """The import options of the command that finishes the job."""
        return f"--on-conflict {self.finish_on_conflict}"

    def message(self, command: str) -> str:
        """The one line, with ``command`` as the way to finish."""
        done = f"{self.report.imported:,} of {self.total:,} sessions imported"
        if self.report.skipped:
            done += f" ({self.report.skipped:,} skipped as existing)"
        what = f"session {shown_id(self.session_id)}" if self.session_id else "reading the input"
        return (
            f"import stopped: {done}, then {what} failed: "
            f"{self.reason}; each session is written whole or not at all. "
            f"Finish the job with: {command}"
        )


def _write_failure(exc: BaseException) -> tuple[str, int]:
    """A short reason for a failed write and its exit code (4 when Redis went away)."""
    from redis import exceptions as rx

    if isinstance(exc, KeyboardInterrupt):
        return "interrupted", EXIT_INTERRUPTED
    if isinstance(exc, NeurolinkError):  # BadInput: the input changed since it was checked
        text = str(exc).split("; nothing imported", 1)[0]
        return f"the input changed since it was checked ({text})", exc.exit_code

    text = (str(exc).strip() or type(exc).__name__).splitlines()[0]
    text = text.split("caused error: ", 1)[-1]  # a pipeline error quotes the whole command
    text = text.split("Transaction discarded because of: ", 1)[-1]
    if len(text) > 200:
        text = text[:197] + "..."
    if isinstance(exc, rx.ConnectionError | rx.TimeoutError | rx.ClusterDownError):
        return f"Redis went away ({text})", EXIT_UNAVAILABLE
    denied = isinstance(exc, rx.NoPermissionError | rx.AuthenticationError)
    # a command a script may not run for this ACL user reads "...can't run this command..."
    codes = ("NOPERM", "NOAUTH", "WRONGPASS", "can't run this command")
    if denied or any(code in text for code in codes):
        return f"Redis denied the write to this user ({text})", EXIT_UNAVAILABLE
    if "OOM" in text or type(exc).__name__ == "OutOfMemoryError":  # or EXECABORT of an OOM
        return f"Redis is out of memory ({text}); free memory or raise maxmemory", EXIT_ERROR
    return f"Redis refused the write ({text})", EXIT_ERROR


def _is_redis_error(exc: Exception) -> bool:
    return type(exc).__module__.startswith("redis")


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


# -- writing ---------------------------------------------------------------------------


def _batches(
    items: Iterator[tuple[str, Any]], invalid: list[InvalidSessionId] | None = None
) -> Iterator[list[SessionDoc]]:
    """Checked documents in batches; those with an id that cannot be a native key are
    appended to ``invalid`` (when given) and left out."""
    batch: list[SessionDoc] = []
    for where, raw in items:
        try:
            batch.append(document_to_session(raw, where))
        except InvalidSessionId as exc:
            if invalid is None:
                raise
            invalid.append(exc)
            continue
        if len(batch) >= BATCH or isinstance(batch[-1], StreamedDoc):  # one big one at a time
            yield batch
            batch = []
    if batch:
        yield batch


def _score(doc: SessionDoc) -> int | None:
    """The session's index score: its latest activity (``updatedAt`` or a later turn)."""
    if isinstance(doc, StreamedDoc):
        latest = doc.streamed.latest_ms if doc.streamed is not None else None
    else:
        latest = max(
            (ms for ms in (stored_to_ms(t.get("timestamp")) for t in doc.turns) if ms is not None),
            default=None,
        )
    updated = stored_to_ms(doc.updated_at)
    if latest is not None and (updated is None or latest > updated):
        return latest
    return updated


def _raise_index_score(repo: Repository, doc: SessionDoc) -> None:
    """Index the session at its latest activity, as the turn writer does (ZADD GT per turn).

    ``write_session`` scores it by ``updatedAt``; a session whose turns are not in time
    order was indexed by its latest turn, and keeps that place after a round trip.
    """
    score = _score(doc)
    if score is not None and score != stored_to_ms(doc.updated_at):
        repo.native.raise_score(doc.session_id, score)


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


def invalid_ids_message(invalid: list[InvalidSessionId], total: int) -> str:
    """One line naming every session whose id cannot be a native key, and the way out."""
    names = ", ".join(f"{shown_id(e.session_id)} ({e.problem}; {e.where})" for e in invalid)
    what = "1 session" if len(invalid) == 1 else f"{len(invalid)} sessions"
    return (
        f"bad session id in {what}, which the native layout cannot hold ({ID_RULE}): "
        f"{names}; nothing imported. "
        f"Import the other {total:,} with --skip-invalid-ids"
    )


def check_all(
    existing: Existing,
    documents: Callable[[], Iterator[tuple[str, Any]]],
    on_conflict: str,
    invalid: list[InvalidSessionId] | None = None,
) -> int:
    """Pass one: validate every document, refuse duplicates and (``fail``) existing ids.

    Sessions whose id cannot be a native key are all collected first: into ``invalid``
    when given (``--skip-invalid-ids``), else named together in one BadInput.
    """
    seen: set[bytes] = set()
    conflicts: list[str] = []
    n_conflicts = 0
    count = 0
    bad_ids: list[InvalidSessionId] = [] if invalid is None else invalid
    for batch in _batches(documents(), bad_ids):
        for doc in batch:
            d = _digest(doc.session_id)
            if d in seen:
                raise _duplicate(doc.session_id, documents)
            seen.add(d)
        count += len(batch)
        if on_conflict == "fail" and (invalid is not None or not bad_ids):
            in_native, in_upstream = existing([doc.session_id for doc in batch])
            found = in_native | in_upstream
            n_conflicts += len(found)
            conflicts.extend(sorted(found)[: max(0, 3 - len(conflicts))])
    if bad_ids and invalid is None:
        raise BadInput(invalid_ids_message(bad_ids, count))
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
    skip_invalid_ids: bool = False,
    stdin: IO[bytes] | None = None,
    warn: Warn | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Import every document of ``source`` (a path, a directory or ``-``) into ``repo``.

    Each session is written in one MULTI/EXEC on its two keys (whole or not at all, also
    when the client retries it after a lost reply), its index entry right after. A Redis
    error in the middle raises :class:`ImportStopped`. With ``skip`` a skipped session
    that lacks its index entry (a run stopped between the two steps) gets it.
    """
    if on_conflict not in CONFLICT_POLICIES:
        raise BadInput(f"bad --on-conflict {on_conflict!r}: use fail, skip or replace")
    report = ImportReport()
    finish = "replace" if on_conflict == "replace" else "skip"
    notes: list[str] = []  # about the source; said once pass one has passed (else one line)
    with open_source(source, stdin, notes.append) as documents:
        existing = repo.existing
        invalid: list[InvalidSessionId] | None = [] if skip_invalid_ids else None
        total = check_all(existing, documents, on_conflict, invalid)
        for note in notes:
            if warn:
                warn(note)
        if invalid:
            report.invalid = invalid
            if warn:
                names = ", ".join(f"{shown_id(e.session_id)} ({e.problem})" for e in invalid)
                warn(f"left out {len(invalid)} whose id cannot be a native key: {names}")
        batches = _batches(documents(), [])
        while True:
            try:
                batch = next(batches, None)
            except (BadInput, KeyboardInterrupt) as exc:  # the input changed since pass one
                raise ImportStopped(report, total, "", exc, finish) from exc
            if batch is None:
                break
            at = [batch[0].session_id]
            try:
                _write_batch(repo, batch, on_conflict, report, at, warn, progress)
            except (Exception, KeyboardInterrupt) as exc:
                if not isinstance(exc, KeyboardInterrupt) and not _is_redis_error(exc):
                    raise
                raise ImportStopped(report, total, at[0], exc, finish) from exc
    return report


def _write_batch(
    repo: Repository,
    batch: list[SessionDoc],
    on_conflict: str,
    report: ImportReport,
    at: list[str],
    warn: Warn | None,
    progress: Callable[[int, int], None] | None,
) -> None:
    """Pass two for one batch; ``at[0]`` is kept on the session being written."""
    in_native, in_upstream = repo.existing([doc.session_id for doc in batch])
    missing: dict[str | bytes, int] = {}
    for doc in batch:
        sid = at[0] = doc.session_id
        if sid in in_native or sid in in_upstream:
            if on_conflict == "skip":
                report.skipped += 1
                if sid in in_native:
                    missing[sid] = _score(doc) or 0
                continue
            if on_conflict == "fail":  # created by another writer since pass one
                report.failed.append((sid, "created by another writer meanwhile"))
                if warn:
                    warn(f"{sid}: created by another writer during the import; kept")
                continue
        # A session that was there at the check is replaced (one MULTI/EXEC starting with
        # DEL: a retry after a lost reply writes it again, never its turns twice). One that
        # was not is created only if it still is not: a session another writer created
        # meanwhile is never overwritten (a script refuses; a retry of our own write is
        # refused the same way, and the session is then reported although it is ours).
        existed = sid in in_native or sid in in_upstream
        pages = doc.streamed if isinstance(doc, StreamedDoc) else None
        if not repo.native.write_session(doc, replace=existed, pages=pages):
            if on_conflict == "skip":
                report.skipped += 1
            else:
                report.failed.append((sid, "created by another writer meanwhile"))
                if warn:
                    warn(f"{sid}: created by another writer during the import; kept")
            continue
        _raise_index_score(repo, doc)
        if sid in in_upstream and repo.upstream is not None:
            repo.upstream.delete(sid)  # after the native copy is in place
        report.imported += 1
        report.replaced += sid in in_native or sid in in_upstream
        report.turns += doc.turn_count()
        if progress:
            progress(1, doc.turn_count())
    at[0] = "(index entries of skipped sessions)"
    repo.index_missing(missing)
