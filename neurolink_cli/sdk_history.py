"""The SDK's export, list and stats methods (CONTRACT §7): the CLI's pipelines, called from Python.

:class:`HistoryMethods` is mixed into :class:`neurolink_cli.sdk.NeuroLink`. Each method runs
the code the matching command runs — :func:`neurolink_cli.export.run.export_one` /
:func:`~neurolink_cli.export.run.export_all`, ``Repository.list``,
:func:`neurolink_cli.stats.compute_stats` — with options built by the same
:func:`neurolink_cli.export.request.export_options`; only the destination differs (a string,
a dict, a file the caller gave). So ``export_conversation_history`` returns byte for byte
what ``neurolink memory export`` prints. They read the configured Redis (both layouts, like
the CLI). Nothing is printed: what the CLI would warn about on stderr goes to the
``neurolink`` logger.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import orjson

from neurolink_cli.errors import BadData, BadInput, NeurolinkError
from neurolink_cli.export.request import TimeValue, export_options
from neurolink_cli.util.validate import check_session_id

if TYPE_CHECKING:
    from neurolink_cli.archive.run import ArchiveReport
    from neurolink_cli.export.transform import ExportOptions
    from neurolink_cli.store.connection import Connection
    from neurolink_cli.store.repository import Repository

log = logging.getLogger("neurolink")


@dataclass
class ExportReport:
    """What :meth:`HistoryMethods.export_all` did (the export-all summary and manifest lists).

    ``ok`` is False when a session could not be exported (the CLI then exits 1); the export
    went on regardless, as the CLI's does.
    """

    exported: int = 0
    turns: int = 0
    resumed: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    warnings: list[dict[str, str]] = field(default_factory=list)
    manifest: Path | None = None

    @property
    def ok(self) -> bool:
        return not self.failed and not self.warnings


class _Sink(io.RawIOBase):
    """The caller's file as the pipeline sees it: write and flush only (no file descriptor,
    so the SDK never forks a second export process). Text files get UTF-8."""

    def __init__(self, target: Any) -> None:
        self.target = target
        self.text = isinstance(target, io.TextIOBase)

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self.target.write(chunk.decode("utf-8") if self.text else chunk)
        return len(chunk)

    def flush(self) -> None:
        flush = getattr(self.target, "flush", None)
        if flush is not None:
            flush()


def _check_python_error(exc: NeurolinkError) -> NeurolinkError:
    from neurolink_cli.sdk import for_python

    return for_python(exc)


class HistoryMethods:
    """Export, list and stats; needs ``self._app`` (a Connection) and ``self.settings``."""

    _app: Connection
    settings: Any

    def _repository(self) -> Repository:
        if self.settings.store == "memory":
            raise BadInput(
                "store='memory' keeps the history in this process only: export, list and "
                "stats read Redis; use store='redis'"
            )
        repo: Repository = self._app.repository()
        return repo

    def _call(self, func: Any, *args: Any, **kwargs: Any) -> Any:
        from neurolink_cli.store.connection import redis_errors

        try:
            with redis_errors(self._app.redis_url):
                return func(*args, **kwargs)
        except NeurolinkError as exc:
            raise _check_python_error(exc) from None

    def _options(
        self, format: str, choices: tuple[str, ...] | list[str] | None = None, **given: Any
    ) -> ExportOptions:
        """The export options of a call (the CLI's own :func:`export_options`), after checking
        ``format`` against ``choices`` when given; errors in Python's words."""
        if choices is not None and format not in choices:
            raise BadInput(f"format {format!r}: use one of {', '.join(choices)}")
        opts: ExportOptions = self._call(export_options, format, **given)
        return opts

    def export_conversation_history(
        self,
        session_id: str,
        *,
        format: str = "json",
        include_metadata: bool = True,
        start_time: TimeValue = None,
        end_time: TimeValue = None,
        redact: bool = False,
        redact_patterns: tuple[str, ...] = (),
        csv_guard: bool = True,
    ) -> str:
        """One session as ``neurolink memory export`` prints it (json, csv, jsonl, markdown).

        ``start_time``/``end_time``: a datetime (naive = UTC), an ISO 8601 string or a
        duration back from now (``"24h"``); start inclusive, end exclusive. Raises
        SessionNotFound (a NeuroLinkError) when no layout has the session.
        """
        from neurolink_cli.export.registry import single_choices

        check_session_id(session_id)
        opts = self._options(
            format,
            single_choices(),
            include_metadata=include_metadata,
            start_time=start_time,
            end_time=end_time,
            redact=redact,
            redact_patterns=redact_patterns,
            csv_guard=csv_guard,
        )
        return self._export_one(session_id, opts).decode("utf-8")

    def _export_one(self, session_id: str, opts: ExportOptions) -> bytes:
        from neurolink_cli.export.run import export_one

        out = io.BytesIO()
        self._call(export_one, self._repository(), session_id, opts, out)
        return out.getvalue()

    def get_session(
        self,
        session_id: str,
        *,
        include_metadata: bool = True,
        start_time: TimeValue = None,
        end_time: TimeValue = None,
        redact: bool = False,
    ) -> dict[str, Any]:
        """The session's export document (CONTRACT §5) as a dict: the JSON export, parsed."""
        check_session_id(session_id)
        opts = self._options(
            "json",
            include_metadata=include_metadata,
            start_time=start_time,
            end_time=end_time,
            redact=redact,
        )
        doc: dict[str, Any] = orjson.loads(self._export_one(session_id, opts))
        return doc

    def list_sessions(
        self,
        *,
        user_id: str | None = None,
        since: TimeValue = None,
        until: TimeValue = None,
        limit: int = 50,
    ) -> list[dict[str, Any]]:
        """Sessions newest first, as ``memory list --format json`` gives them; ``limit=0``: all.

        ``since``/``until`` filter by last update (datetime, ISO string or duration).
        """
        from neurolink_cli.export.request import time_range

        if not isinstance(limit, int) or limit < 0:
            raise BadInput(f"limit={limit!r}: use a whole number >= 0 (0 for no limit)")
        since_ms, until_ms = self._call(time_range, since, "since", until, "until")
        repo = self._repository()
        repo.warnings.clear()
        rows = self._call(
            repo.list, since_ms=since_ms, until_ms=until_ms, user_id=user_id, limit=limit
        )
        for bad in repo.warnings:
            log.warning("%s", bad.warning)
        return [orjson.loads(orjson.dumps(r.as_dict())) for r in rows]

    def iter_sessions(
        self,
        *,
        user_id: str | None = None,
        start_time: TimeValue = None,
        end_time: TimeValue = None,
        include_metadata: bool = True,
        redact: bool = False,
        full_scan: bool = False,
    ) -> Iterator[dict[str, Any]]:
        """Every session's export document, one at a time (memory bounded by one batch).

        The documents ``export-all --format json`` writes, in its order: sessions with no
        turn in the time range are left out, unreadable ones are logged and skipped.
        """
        opts = self._options(
            "json",
            include_metadata=include_metadata,
            start_time=start_time,
            end_time=end_time,
            redact=redact,
            user_id=user_id,
        )
        return self._iter_documents(opts, full_scan)

    def _iter_documents(self, opts: ExportOptions, full_scan: bool) -> Iterator[dict[str, Any]]:
        from neurolink_cli.export.registry import render
        from neurolink_cli.export.run import exported_docs
        from neurolink_cli.store.connection import redis_errors

        repo = self._repository()
        try:
            with redis_errors(self._app.redis_url):
                for doc in exported_docs(repo, opts, full_scan=full_scan, warn=log.warning):
                    try:
                        data = render(doc, "json", opts.include_metadata, opts.csv_guard)
                    except BadData as exc:
                        log.warning("%s: %s", doc.session_id, exc)
                        continue
                    yield orjson.loads(data)
        except NeurolinkError as exc:
            raise _check_python_error(exc) from None

    def export_all(
        self,
        path_or_file: str | os.PathLike[str] | IO[bytes] | IO[str],
        *,
        format: str = "json",
        user_id: str | None = None,
        start_time: TimeValue = None,
        end_time: TimeValue = None,
        include_metadata: bool = True,
        redact: bool = False,
        redact_patterns: tuple[str, ...] = (),
        csv_guard: bool = True,
        full_scan: bool = False,
        resume: bool = False,
        jobs: int = 1,
    ) -> ExportReport:
        """``neurolink memory export-all``: into a directory (one file per session, written
        atomically, and ``manifest.json``) when given a path, else as JSONL (or one CSV)
        into the open file given (binary or text).
        """
        from neurolink_cli.export import run
        from neurolink_cli.export.registry import bulk_choices

        directory = path_or_file if isinstance(path_or_file, str | os.PathLike) else None
        if resume and directory is None:
            raise BadInput("resume=True needs a directory (it continues a directory export)")
        opts = self._options(
            format,
            bulk_choices(),
            include_metadata=include_metadata,
            start_time=start_time,
            end_time=end_time,
            redact=redact,
            redact_patterns=redact_patterns,
            csv_guard=csv_guard,
            user_id=user_id,
        )
        out = None if directory is not None else _Sink(path_or_file)
        ledger = self._call(
            run.export_all,
            self._repository(),
            opts,
            out,
            directory=os.fspath(directory) if directory is not None else None,
            resume=resume,
            full_scan=full_scan,
            warn=log.warning,
            jobs=jobs,
        )
        if out is not None:
            out.flush()
        lists = ledger.manifest_lists()
        return ExportReport(
            exported=ledger.exported,
            turns=ledger.turns,
            resumed=ledger.resumed,
            failed=lists["failed"],
            skipped=lists["skipped"],
            warnings=lists["warnings"],
            manifest=ledger.manifest,
        )

    def archive(
        self,
        to: str,
        *,
        older_than: str | None = None,
        session_ids: tuple[str, ...] | list[str] | None = None,
        everything: bool = False,
        user_id: str | None = None,
        format: str = "json",
        compress: str = "gzip",
        include_metadata: bool = True,
        redact: bool = False,
        redact_patterns: tuple[str, ...] = (),
        keep: bool = False,
        dry_run: bool = False,
        jobs: int = 8,
        s3_endpoint_url: str | None = None,
    ) -> ArchiveReport:
        """``neurolink memory archive`` (CONTRACT §8), the same implementation: export the
        selected sessions (exactly one of ``older_than``, ``session_ids``, ``everything``)
        to a directory or ``s3://bucket/prefix/``, verify each file, then delete each session
        by a compare-and-delete of the version archived (``keep=True``: delete nothing).
        Returns the run's report (``report.kept``: sessions changed since read, kept)."""
        from neurolink_cli.archive.run import ArchiveRequest
        from neurolink_cli.archive.run import archive as run_archive

        opts = self._options(
            format,
            include_metadata=include_metadata,
            redact=redact,
            redact_patterns=redact_patterns,
            user_id=user_id,
        )
        request = ArchiveRequest(
            to=to,
            export=opts,
            session_ids=tuple(session_ids) if session_ids else None,
            older_than=older_than,
            everything=everything,
            compress=compress,
            keep=keep,
            dry_run=dry_run,
            jobs=jobs,
            s3_endpoint_url=s3_endpoint_url,
        )
        return self._call(run_archive, self._repository(), request, warn=log.warning)

    def stats(self) -> dict[str, Any]:
        """``memory stats --format json`` as a dict; unreadable sessions are logged, not counted."""
        from neurolink_cli.stats import compute_stats

        result = self._call(compute_stats, self._repository(), warn=log.warning)
        stats: dict[str, Any] = orjson.loads(orjson.dumps(result.as_dict()))
        return stats


__all__ = ["ExportReport", "HistoryMethods"]
