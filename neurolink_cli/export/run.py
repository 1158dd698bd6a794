"""What ``memory export`` and ``memory export-all`` do, without any Click in it.

``export_one`` writes one session to a binary stream. ``export_all`` walks every session
(in bounded memory: one pipelined batch at a time) and writes either a stream (JSONL or one
CSV) or a directory (:class:`~neurolink_cli.export.files.DirectoryExport`). Sessions that
cannot be read are reported and the walk goes on; the report says what was exported, left
out on purpose (``skipped``) or lost (``failed``), and the command turns ``failed`` into
exit 1.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from neurolink_cli.errors import BadData
from neurolink_cli.export.files import DirectoryExport
from neurolink_cli.export.formats import doc_compact, doc_pretty, make_writer, render_markdown
from neurolink_cli.export.transform import ExportOptions, apply
from neurolink_cli.export.worker import ProcessWriter, worker_available
from neurolink_cli.models import SessionDoc, Unreadable
from neurolink_cli.store.repository import Repository

Progress = Callable[[int, int], None]  # (sessions done, turns done) increments


@dataclass
class ExportReport:
    """What a bulk export did; ``failed``/``warnings`` are (session id, reason)."""

    exported: int = 0
    turns: int = 0
    skipped: int = 0
    resumed: int = 0
    not_sessions: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)
    manifest: Path | None = None


def export_one(
    repo: Repository, session_id: str, opts: ExportOptions, out: IO[bytes]
) -> SessionDoc:
    """Write one session; BadData when it cannot be read whole."""
    found = repo.get(session_id)
    if isinstance(found, Unreadable):
        raise BadData(f"session {session_id!r} cannot be read: {found.reason}")
    doc = apply(found, opts)
    writer = make_writer(opts.format, out, opts.include_metadata, opts.csv_guard)
    writer.write(doc)
    writer.close()
    return doc


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
) -> ExportReport:
    """Export every session to ``out`` (a stream) or ``directory`` (one file each).

    ``jobs`` > 1 reads that many batches at once (:meth:`~neurolink_cli.store.repository.Repository.iter_docs`);
    the output order is the same.
    """
    report = ExportReport()
    target = None
    writer = None
    if directory is not None:
        target = DirectoryExport(directory, opts.format, opts.filters(), resume=resume,
                                 file_mode=opts.file_mode, dir_mode=opts.dir_mode)  # fmt: skip
        target.open()
    else:
        assert out is not None
        fmt = "jsonl" if opts.format == "json" else opts.format
        if fmt == "csv" and worker_available(out):  # CSV costs more to format than to read
            writer = ProcessWriter(out, fmt, opts.include_metadata, opts.csv_guard)
        else:
            writer = make_writer(fmt, out, opts.include_metadata, opts.csv_guard)

    def lost(session_id: str, reason: str) -> None:
        report.failed.append((session_id, reason))
        if target is not None:
            target.fail(session_id, reason)
        if warn:
            warn(f"{session_id}: {reason}")

    try:
        for item in repo.iter_docs(full_scan=full_scan, user_id=opts.user_id, jobs=jobs):
            if isinstance(item, Unreadable):
                if item.skip:  # not a session at all: say so, count it, go on
                    report.not_sessions += 1
                    if target is not None:
                        target.skip(item.key or item.session_id, item.reason)
                    if warn:
                        warn(f"skipped {item.key or item.session_id}: {item.reason}")
                else:
                    lost(item.session_id, item.reason)
                continue
            sid = item.session_id
            if target is not None and target.already_done(sid):
                report.resumed += 1
                if progress:
                    progress(1, 0)
                continue
            for problem in item.problems:
                report.warnings.append((sid, problem))
                if warn:
                    warn(f"{sid}: {problem}")
            try:
                doc = apply(item, opts)
                if opts.has_time_window and doc.turn_count() == 0:
                    report.skipped += 1
                    if target is not None:
                        target.skip(sid, "no turn in the time range")
                    continue
                if target is not None:
                    data = _render(doc, opts)
                    target.write(sid, data, doc.turn_count())
                else:
                    assert writer is not None
                    writer.write(doc)
            except BadData as exc:
                lost(sid, str(exc))
                continue
            report.exported += 1
            report.turns += doc.turn_count()
            if progress:
                progress(1, doc.turn_count())
        if writer is not None:
            for sid, reason, turns in writer.close():
                report.exported -= 1
                report.turns -= turns
                lost(sid, reason)
    except BaseException:
        if isinstance(writer, ProcessWriter):
            writer.abort()
        # Still say in the manifest what was done; never let that mask the first error.
        if target is not None:
            with contextlib.suppress(Exception):
                _finish(target, report, complete=False)
        raise
    if target is not None:
        _finish(target, report, complete=True)
    return report


def _finish(target: DirectoryExport, report: ExportReport, *, complete: bool) -> None:
    for sid, problem in report.warnings:
        target.warn(sid, problem)
    report.manifest = target.close(complete=complete)


def _render(doc: SessionDoc, opts: ExportOptions) -> bytes:
    if opts.format == "jsonl":
        return doc_compact(doc, opts.include_metadata) + b"\n"
    if opts.format == "json":
        return doc_pretty(doc, opts.include_metadata)
    if opts.format == "markdown":
        return render_markdown(doc, opts.include_metadata).encode("utf-8", "backslashreplace")
    import io

    buf = io.BytesIO()
    writer = make_writer("csv", buf, opts.include_metadata, opts.csv_guard)
    writer.write(doc)
    writer.close()
    return buf.getvalue()
