"""What ``memory export`` and ``memory export-all`` do, without any Click in it.

One direction: store → :class:`~neurolink_cli.models.SessionDoc` → (window, redaction:
:mod:`.transform`) → format (:mod:`.registry`) → destination (a stream, or a directory:
:class:`~neurolink_cli.export.files.DirectoryExport`). ``export_one`` writes one session;
``export_all`` walks every session in bounded memory (one pipelined batch at a time).
Sessions that cannot be read are recorded and the walk goes on; everything that happens is
recorded once, in an :class:`~neurolink_cli.export.ledger.ExportLedger`, from which the
command renders its summary line and the directory its manifest.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from neurolink_cli.errors import BadData
from neurolink_cli.export import registry
from neurolink_cli.export.files import DirectoryExport
from neurolink_cli.export.ledger import ExportLedger
from neurolink_cli.export.shared import export_shared, shared_available
from neurolink_cli.export.transform import ExportOptions, apply
from neurolink_cli.failures import error_count
from neurolink_cli.models import SessionDoc, Unreadable
from neurolink_cli.store.repository import Repository
from neurolink_cli.util.collector import paced

Progress = Callable[[int, int], None]  # (sessions done, turns done) increments


def export_one(
    repo: Repository, session_id: str, opts: ExportOptions, out: IO[bytes]
) -> SessionDoc:
    """Write one session; BadData when it cannot be read whole."""
    found = repo.get(session_id)
    if isinstance(found, Unreadable):
        raise BadData(f"session {session_id!r} cannot be read: {found.reason}")
    doc = apply(found, opts)
    writer = registry.make_writer(opts.format, out, opts.include_metadata, opts.csv_guard)
    writer.write(doc)
    writer.close()
    return doc


def _unreadable(item: Unreadable, ledger: ExportLedger, say: Callable[[str], None]) -> None:
    if item.skip:  # not a session at all: say so, count it, go on
        ledger.not_session(item.key or item.session_id, item.reason)
    else:
        ledger.fail(item.session_id, item.reason)
    say(item.warning)


def prepare(
    item: SessionDoc, opts: ExportOptions, ledger: ExportLedger, say: Callable[[str], None]
) -> SessionDoc | None:
    """The document as export-all writes it (window, redaction), or None when it is left out
    (no turn in the time range); metadata problems are recorded as warnings."""
    sid = item.session_id
    for problem in item.problems:
        ledger.warn(sid, problem)
        say(f"{sid}: {problem}")
    doc = apply(item, opts)
    if opts.has_time_window and not doc.has_turns():
        ledger.skip(sid, "no turn in the time range")
        return None
    return doc


def exported_docs(
    repo: Repository,
    opts: ExportOptions,
    *,
    full_scan: bool = False,
    warn: Callable[[str], None] | None = None,
    ledger: ExportLedger | None = None,
) -> Iterator[SessionDoc]:
    """The documents ``export_all`` would write, one at a time (the SDK's ``iter_sessions``):
    the same walk, the same :func:`prepare`; unreadable sessions are recorded and skipped."""
    ledger = ledger if ledger is not None else ExportLedger()
    say = warn or (lambda _text: None)
    for item in repo.iter_docs(full_scan=full_scan, user_id=opts.user_id):
        if isinstance(item, Unreadable):
            _unreadable(item, ledger, say)
            continue
        try:
            doc = prepare(item, opts, ledger, say)
        except BadData as exc:
            ledger.fail(item.session_id, str(exc))
            say(f"{item.session_id}: {exc}")
            continue
        if doc is not None:
            ledger.export(doc.turn_count())
            yield doc


class SessionHandler:
    """What ``export_all`` does with each session the walk meets (the loop's body): one
    instance per process when two processes share the work (:mod:`.split`)."""

    def __init__(
        self,
        opts: ExportOptions,
        ledger: ExportLedger,
        say: Callable[[str], None],
        *,
        target: DirectoryExport | None = None,
        writer: registry.Writer | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.opts, self.ledger, self.say = opts, ledger, say
        self.fmt = registry.get(opts.format)
        self.target, self.writer, self.progress = target, writer, progress

    def __call__(self, item: SessionDoc | Unreadable) -> None:
        opts, ledger, target, fmt = self.opts, self.ledger, self.target, self.fmt
        if isinstance(item, Unreadable):
            _unreadable(item, ledger, self.say)
            return
        sid = item.session_id
        try:
            if opts.errors_only and not error_count(item):
                return  # ``--errors``: left out on purpose, silently (not "skipped")
            name = target.claim(item) if target is not None else ""
            if target is not None and target.keep_earlier(item, name):
                ledger.resume()
                if self.progress:
                    self.progress(1, 0)
                return
            doc = prepare(item, opts, ledger, self.say)
            if doc is None:
                return
            if fmt.turns_of is not None or opts.min_turns:
                kept = registry.kept_turns(fmt, doc)
                if kept == 0 and fmt.turns_of is not None:
                    ledger.skip(sid, f"nothing to write as {fmt.name}")
                    return
                if kept < opts.min_turns:
                    ledger.skip(sid, f"fewer than {opts.min_turns} turns")
                    return
            if target is not None and doc.paged:  # a huge session: straight to its file
                target.write_stream(doc, name, opts.include_metadata, opts.csv_guard)
            elif target is not None:
                data = registry.render(doc, fmt.name, opts.include_metadata, opts.csv_guard)
                target.write(doc, name, data)
            else:
                assert self.writer is not None
                self.writer.write(doc)
        except BadData as exc:
            ledger.fail(sid, str(exc))
            self.say(f"{sid}: {exc}")
            return
        ledger.export(doc.turn_count())
        if self.progress:
            self.progress(1, doc.turn_count())

    def each(self) -> Callable[[SessionDoc | Unreadable], None]:
        """The function to call with each session: :meth:`plain` when nothing stands
        between a session and the writer (no filter, window, redaction, turn count), else
        the handler itself."""
        opts, fmt = self.opts, self.fmt
        if (
            self.target is None
            and self.writer is not None
            and not opts.errors_only
            and not opts.has_time_window
            and opts.redact is None
            and fmt.turns_of is None
            and not opts.min_turns
        ):
            return self.plain
        return self

    def plain(self, item: SessionDoc | Unreadable) -> None:
        """What :meth:`__call__` does with a session it writes as read: straight to the
        writer (one with warnings to record, and any that is not read, through it)."""
        if type(item) is not SessionDoc or item.problems:
            self(item)
            return
        try:
            self.writer.write(item)  # type: ignore[union-attr]
        except BadData as exc:
            self.ledger.fail(item.session_id, str(exc))
            self.say(f"{item.session_id}: {exc}")
            return
        turns = item.turn_count()
        self.ledger.export(turns)
        if self.progress:
            self.progress(1, turns)


def export_all(
    repo: Repository,
    opts: ExportOptions,
    out: IO[bytes] | None = None,
    *,
    directory: str | Path | None = None,
    resume: bool = False,
    full_scan: bool = False,
    progress: Progress | None = None,
    warn: Callable[[str], None] | None = None,
    jobs: int = 1,
) -> ExportLedger:
    """Export every session to ``out`` (a stream) or ``directory`` (one file each).

    ``jobs`` > 1 reads that many batches at once (:meth:`~neurolink_cli.store.repository.Repository.iter_docs`);
    the output order is the same. On a stream, with two cores, the pages of the native index
    (and the TypeScript batches) are shared with a second process (:mod:`.shared`), same
    output: with one reader, or on a Cluster read per primary (each process then keeps
    ``jobs`` batches in flight).
    """
    with paced():  # the collector's young passes made rarer for the length of the walk
        return _export_all(repo, opts, out, directory, resume, full_scan, progress, warn, jobs)


def _export_all(
    repo: Repository,
    opts: ExportOptions,
    out: IO[bytes] | None,
    directory: str | Path | None,
    resume: bool,
    full_scan: bool,
    progress: Progress | None,
    warn: Callable[[str], None] | None,
    jobs: int,
) -> ExportLedger:
    started = time.monotonic()
    ledger = ExportLedger()
    fmt = registry.get(opts.format)

    def say(text: str) -> None:
        if warn:
            warn(text)

    if directory is None:
        assert out is not None and fmt.stream_as is not None
        per_primary = repo.native.reads_per_primary()
        if (jobs <= 1 or per_primary) and not full_scan and shared_available(repo, out):
            export_shared(repo, opts, out, ledger, say, progress, depth=jobs)
            ledger.seconds = time.monotonic() - started
            return ledger
        stream = registry.get(fmt.stream_as)
        writer = stream.writer(out, opts.include_metadata, opts.csv_guard)
        handle = SessionHandler(opts, ledger, say, writer=writer, progress=progress).each()
        for item in repo.iter_docs(full_scan=full_scan, user_id=opts.user_id, jobs=jobs,
                                   with_ttl=False):  # fmt: skip
            handle(item)
        for sid, reason, turns in writer.close():
            ledger.fail_late(sid, reason, turns)
            say(f"{sid}: {reason}")
        ledger.seconds = time.monotonic() - started
        return ledger
    target = DirectoryExport(directory, fmt.name, opts.filters(), options=opts.run_options(),
                             resume=resume, file_mode=opts.file_mode, dir_mode=opts.dir_mode)  # fmt: skip
    target.open()
    handle = SessionHandler(opts, ledger, say, target=target, progress=progress)
    try:
        for item in repo.iter_docs(full_scan=full_scan, user_id=opts.user_id, jobs=jobs,
                                   with_ttl=False):  # fmt: skip
            handle(item)
        ledger.seconds = time.monotonic() - started
    except BaseException:
        # Still say in the manifest what was done; never let that mask the first error.
        with contextlib.suppress(Exception):
            ledger.manifest = target.close(ledger, complete=False)
        raise
    ledger.manifest = target.close(ledger, complete=True)
    return ledger
