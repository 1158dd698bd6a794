"""A formatter in a second process, so that reading and formatting overlap on two cores.

CSV has to parse every stored turn and build a line for it: about three times the cost of
reading the data. :class:`ProcessWriter` forks one worker that owns stdout and runs the
ordinary writer of the format (:mod:`~neurolink_cli.export.registry`); the main process
keeps reading from Redis and ships each batch of :class:`SessionDoc` (pickled with their
stored turn bytes, not parsed) through a pipe. One worker and one ordered pipe keep the output order; the pipe's
small buffer keeps memory bounded (the reader waits when the formatter is behind).

A session the worker cannot format (a stored turn that is not JSON) is reported back when
the stream is closed, with its turn count, so the caller can report it as failed. The
worker ignores Ctrl-C (the main process decides), exits when the pipe closes, and reports
a broken stdout (``| head``) so the main process can stop quietly.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
from collections.abc import Iterator
from multiprocessing.connection import Connection
from typing import IO

from neurolink_cli.errors import BadData, NeurolinkError
from neurolink_cli.export.formats import Failure
from neurolink_cli.export.registry import Writer, make_writer
from neurolink_cli.models import SessionDoc

BATCH = 200  # sessions per message


def worker_available(out: IO[bytes]) -> bool:
    """True when ``out`` is a real file descriptor and a second process can run at the
    same time (more than one core, and fork)."""
    try:
        out.fileno()
    except (AttributeError, OSError, ValueError):  # an in-memory stream (tests, callers)
        return False
    return (os.cpu_count() or 1) > 1 and "fork" in multiprocessing.get_all_start_methods()


class ProcessWriter:
    """The writer interface (``write``/``close``) with the formatting done in a worker."""

    def __init__(self, out: IO[bytes], fmt: str, include_metadata: bool, csv_guard: bool) -> None:
        out.flush()
        ctx = multiprocessing.get_context("fork")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(
            target=_serve,
            args=(child, out.fileno(), fmt, include_metadata, csv_guard),
            daemon=True,
            name="neurolink-format",
        )
        self._proc.start()
        child.close()
        self._batch: list[SessionDoc] = []

    def write(self, doc: SessionDoc) -> None:
        if doc.paged:
            self._write_paged(doc)
            return
        self._batch.append(doc)
        if len(self._batch) >= BATCH:
            self._send()

    def _write_paged(self, doc: SessionDoc) -> None:
        """A huge session: its fields, then its pages one message each as they are read
        (parsed here only when a page filter must run), then an end mark."""
        if self._batch:
            self._send()
        parsed = bool(doc.page_filters)
        stub = SessionDoc(doc.session_id, doc.user_id, doc.created_at, doc.updated_at,
                          doc.metadata, extra=doc.extra, source=doc.source, ttl=doc.ttl,
                          problems=doc.problems, more_parsed=parsed)  # fmt: skip
        self._post(("begin", stub))
        try:
            for page in doc.turn_pages() if parsed else doc.raw_pages():
                self._post(("page", page))
        except BaseException:
            with contextlib.suppress(OSError, EOFError):
                self._conn.send(("abort", None))  # the worker drops what it has of it
            raise
        self._post(("end", None))

    def _post(self, message: object) -> None:
        try:
            self._conn.send(message)
        except (BrokenPipeError, ConnectionResetError, EOFError):
            self._outcome()
            raise NeurolinkError("the formatting process stopped unexpectedly") from None

    def _send(self) -> None:
        try:
            self._conn.send(self._batch)
        except (BrokenPipeError, ConnectionResetError, EOFError):
            self._outcome()  # the worker stopped: say why
            raise NeurolinkError("the formatting process stopped unexpectedly") from None
        self._batch = []

    def close(self) -> list[Failure]:
        """Flush, wait for the worker, and return the sessions it could not format."""
        if self._batch:
            self._send()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError, EOFError):
            self._conn.send(None)
        failures = self._outcome()
        self._proc.join(10)
        return failures

    def _outcome(self) -> list[Failure]:
        try:
            status, detail = self._conn.recv()
        except (EOFError, ConnectionResetError):
            status, detail = "error", "it exited without a word"
        if status == "ok":
            return list(detail)
        self.abort()
        if status == "broken-pipe":
            raise BrokenPipeError
        raise NeurolinkError(f"formatting failed: {detail}")

    def abort(self) -> None:
        """Stop the worker now (after an error or Ctrl-C in the main process)."""
        with contextlib.suppress(OSError):
            self._conn.close()
        if self._proc.is_alive():
            self._proc.terminate()
        self._proc.join(5)


class _Aborted(Exception):
    """The main process stopped sending a paged session (it reports it itself)."""


class _PageFeed:
    """The pages of one paged session as they arrive on the pipe."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.turns = 0
        self.done = False

    def __iter__(self) -> Iterator[list[object]]:
        while not self.done:
            kind, page = self.conn.recv()
            if kind == "page":
                self.turns += len(page)
                yield page
                continue
            self.done = True
            if kind == "abort":
                raise _Aborted

    def drain(self) -> None:
        with contextlib.suppress(_Aborted):
            for _ in self:
                pass


def _serve_paged(
    conn: Connection, doc: SessionDoc, writer: Writer, failures: list[Failure]
) -> None:
    feed = _PageFeed(conn)
    doc.more = iter(feed)
    try:
        writer.write(doc)
    except _Aborted:
        pass
    except BadData as exc:
        feed.drain()
        failures.append((doc.session_id, str(exc), feed.turns))


def _serve(conn: Connection, fd: int, fmt: str, include_metadata: bool, guard: bool) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    out = os.fdopen(fd, "wb", buffering=1 << 18, closefd=False)
    writer = make_writer(fmt, out, include_metadata, guard)
    failures: list[Failure] = []
    try:
        while (batch := conn.recv()) is not None:
            if isinstance(batch, tuple):  # ("begin", doc): a paged session follows
                _serve_paged(conn, batch[1], writer, failures)
                continue
            for doc in batch:
                try:
                    writer.write(doc)
                except BadData as exc:
                    failures.append((doc.session_id, str(exc), doc.turn_count()))
        writer.close()
        conn.send(("ok", failures))
    except BrokenPipeError:
        with contextlib.suppress(OSError):
            conn.send(("broken-pipe", None))
    except EOFError:
        pass  # the main process went away: nothing to report to
    except BaseException as exc:  # noqa: BLE001 - reported to the main process
        with contextlib.suppress(OSError):
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        os._exit(0)  # never run the parent's exit handlers or flush its buffers here
