"""Where ``export-all --output DIR`` puts its files and manifest entries: this process, or a
second one so that the file system calls overlap reading and formatting on two cores (and
both, when the file system is slow).

A :class:`FileSink` runs jobs in order: ``("file", name, data, fields)`` writes ``data`` as
``name`` with :func:`~neurolink_cli.util.atomic.write_atomic` (a temporary, unnamed where
the file system allows, in place only when complete), then appends its entry (``fields``,
size, sha256) to the partial manifest log; ``("log", entry)`` appends an entry as it is.
The log therefore lists a file only once it is in place, in the order of the walk.

:class:`ProcessSink` is the same after the first :data:`INLINE` files: it forks one worker
that runs the jobs it receives through a pipe in batches of :data:`BATCH` (threads would
not do: the writer needs the GIL back after each of its system calls a file, and the
reading thread holds it). The worker receives on a thread of its own, up to :data:`AHEAD`
batches ahead of what it writes (:func:`_received`), so that neither process waits on the
other's every hiccup (when each batch was handed over only once the one before was
written, a 3.0 s run of 20,000 files had the main process waiting 1.2 s in ``send`` and
the worker 0.5-0.8 s in ``recv``); AHEAD bounds the memory held, and the worker says when
each batch is done.

The file system's work per file is the larger part of such an export, and on a disk just
after many deletions it is several times what it is otherwise (20,000 files: 1 s of kernel
time, or 5-10 s). So when the worker holds :data:`BEHIND` batches of files not yet
written, the main process writes the next batch itself and sends only its entries, which
the worker logs in their place in the order: each process then writes as fast as it can
(two processes writing into one directory take 0.8 s where one takes 1.1-1.4 s, with the
unnamed temporaries of :func:`~neurolink_cli.util.atomic.write_atomic`). Below BEHIND the
worker keeps up and the main process only reads and formats (it reads a page of sessions
at a time, which hands on up to four batches at once: a smaller BEHIND had it writing
batches the worker would have written in time, 5% slower on a quick disk).

The worker ignores Ctrl-C: the main process decides, and on any stop it sends the end
mark, so the worker finishes the batches it holds (every file in place only when complete)
and exits. The first error (``cannot write DIR/x.json: No space left on device; ...``)
stops the writing of files in the process that meets it: the worker says so at once (the
main process raises it on its next batch or when it finishes) and still logs the entries
of the files the main process wrote; the main process, stopped halfway through a batch of
its own (an error, Ctrl-C), sends the entries of the files it put in place first. Every
file in DIR is therefore listed, whoever wrote it (short of a log that cannot be written, a
full disk, or a process killed between a file and its entry: then ``--resume`` writes that
file again).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import orjson

from neurolink_cli.errors import NeurolinkError
from neurolink_cli.util import atomic, forkmap

if TYPE_CHECKING:  # the module (subprocess, tempfile...) is imported when a pipe is made
    from multiprocessing.connection import Connection

INLINE = 64  # files written in this process before the worker starts (small exports: no fork)
BATCH = 64  # jobs per message (~0.5 MB of JSON files)
AHEAD = 8  # batches the worker holds, received and not yet written (~4 MB)
BEHIND = 6  # batches of files the worker holds unwritten when this process writes the next
GONE = "the file writing process stopped unexpectedly"

Job = tuple[Any, ...]
OsError = Callable[[Path | str, OSError], NeurolinkError]


class FileSink:
    """Runs jobs in this process."""

    def __init__(self, directory: Path, dir_fd: int, mode: int, log: IO[bytes],
                 log_name: str, os_error: OsError) -> None:  # fmt: skip
        self.dir = directory
        self.dir_fd = dir_fd
        self.mode = mode
        self.log = log
        self.log_name = log_name
        self.os_error = os_error

    def put(self, job: Job) -> None:
        """Run one job now; NeurolinkError naming the path when the file system refuses."""
        entry = self.write(job) if job[0] == "file" else job[1]
        try:
            self.log.write(orjson.dumps(entry) + b"\n")
        except OSError as exc:
            raise self.os_error(self.dir / self.log_name, exc) from None

    def write(self, job: Job) -> dict[str, Any]:
        """Write the file of a ``("file", ...)`` job; its manifest entry."""
        _, name, data, (session_id, turns, user_id, source, updated_at) = job
        try:
            atomic.write_atomic(name, data, self.dir_fd, self.mode)
        except OSError as exc:
            raise self.os_error(self.dir / name, exc) from None
        return {
            "sessionId": session_id,
            "file": name,
            "turns": turns,
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "userId": user_id,
            "source": source,
            "updatedAt": updated_at,
        }

    def finish(self) -> NeurolinkError | None:
        """Flush the log; the error that stopped the jobs, if any."""
        try:
            self.log.flush()
        except OSError as exc:
            return self.os_error(self.dir / self.log_name, exc)
        return None


class ProcessSink(FileSink):
    """Runs the first :data:`INLINE` jobs here, then hands them to a worker process."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._inline = INLINE
        self._conn: Connection | None = None
        self._proc: Any = None
        self._batch: list[Job] = []
        self._failure: NeurolinkError | None = None
        self._cut = False  # a message was interrupted (Ctrl-C) halfway into the pipe
        self._kinds: deque[int] = deque()  # per message sent and not yet done: 1 for files

    def put(self, job: Job) -> None:
        if self._failure is not None:
            raise self._failure
        if self._conn is None:
            if self._inline > 0:
                self._inline -= 1
                super().put(job)
                return
            self._start()
        self._batch.append(job)
        if len(self._batch) >= BATCH:
            self._hand_on()

    def _start(self) -> None:
        self.log.flush()  # the worker appends from here on; nothing buffered is written twice
        self._proc, self._conn = forkmap.fork(_serve, self, name="neurolink-files")

    def _hand_on(self) -> None:
        """The batch to the worker; or, when the worker holds :data:`BEHIND` batches of
        files not yet written, its files written here and only their entries sent (to be
        logged in their place in the order)."""
        self._hear()
        batch, self._batch = self._batch, []
        if sum(self._kinds) >= BEHIND:  # batches of files sent and not yet written
            self._send(self._write_here(batch), files=False)
        else:
            self._send(batch, files=True)

    def _write_here(self, batch: list[Job]) -> list[Job]:
        """Write the batch's files in this process; its jobs as entries to log. On any
        stop halfway (an error, Ctrl-C), the entries of the files already in place are
        sent first, so that the log lists them."""
        done: list[Job] = []
        try:
            for job in batch:
                done.append(("log", self.write(job)) if job[0] == "file" else job)
        except BaseException as exc:
            with contextlib.suppress(NeurolinkError):
                self._send(done, files=False)
            if isinstance(exc, NeurolinkError):
                self._failure = exc
            raise
        return done

    def _hear(self) -> None:
        """Take what the worker said so far: batches done; its first error, raised here."""
        assert self._conn is not None
        try:
            while self._conn.poll():
                self._heard(self._conn.recv())
        except (OSError, EOFError):  # gone: after its own error, if it said one
            self._failure = self._failure or NeurolinkError(GONE)
        if self._failure is not None:
            raise self._failure

    def _heard(self, word: tuple[str, Any]) -> None:
        if word[0] == "done":
            self._kinds.popleft()
        elif self._failure is None:  # its first error (or a final word out of turn)
            self._failure = NeurolinkError(word[1] or "the file writing process stopped")

    def _send(self, batch: list[Job], *, files: bool) -> None:
        assert self._conn is not None
        try:
            self._cut = True
            self._conn.send(batch)
            self._cut = False
        except OSError:
            self._failure = self._outcome() or NeurolinkError(GONE)
            raise self._failure from None
        self._kinds.append(int(files))

    def finish(self) -> NeurolinkError | None:
        """Send what is left and the end mark, wait for the worker; the error that stopped
        it, if any (files it reported written are in place and logged)."""
        if self._conn is None:
            return self._failure or super().finish()
        if self._cut:  # the worker waits for the rest of a message: it ends at EOF instead
            self._stop()
            return self._failure
        if self._failure is None and self._batch:
            with contextlib.suppress(NeurolinkError):
                self._send(self._batch, files=True)
        if self._failure is None:
            with contextlib.suppress(OSError):
                self._conn.send(None)
            self._failure = self._outcome()
        self._stop()
        return self._failure

    def _outcome(self) -> NeurolinkError | None:
        """The worker's last word (after what else it said): None when all went well."""
        assert self._conn is not None
        while True:
            try:
                word = self._conn.recv()
            except (OSError, EOFError):
                word = ("error", GONE)
            if word[0] in ("done", "failed"):
                self._heard(word)
                continue
            if word[0] == "ok":
                return self._failure
            self._stop()
            return self._failure or NeurolinkError(word[1])

    def _stop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(OSError):
                self._conn.close()
        if self._proc is not None:
            self._proc.join(30)
            if self._proc.is_alive():
                self._proc.terminate()
                self._proc.join(5)
            self._proc = None


def _received(conn: Connection) -> Iterator[list[Job]]:
    """The batches the main process sends, up to the end mark, read :data:`AHEAD` batches
    ahead by a thread of their own; EOFError (or the OSError) where the pipe ended first.
    The main process is never held by a disk that stalls for a moment, nor this one by a
    main process busy reading: each runs on while the other waits."""
    import queue
    import threading

    got: queue.Queue[Any] = queue.Queue(AHEAD)

    def read() -> None:
        try:
            while True:
                batch = conn.recv()
                got.put(batch)
                if batch is None:
                    return
        except BaseException as exc:  # noqa: BLE001 - raised in order, after the batches
            got.put(exc)

    threading.Thread(target=read, name="neurolink-files-in", daemon=True).start()
    while (item := got.get()) is not None:
        if isinstance(item, BaseException):
            raise item
        yield item


def _serve(conn: Connection, sink: ProcessSink) -> None:
    """The worker: run each batch's jobs in order until the end mark (or the pipe closes),
    saying when each batch is done. After an error it writes no more files, says so at
    once, and goes on logging the entries of the files the main process wrote itself."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # (forkmap.fork closed the main end here)
    failure: NeurolinkError | None = None
    try:
        for batch in _received(conn):
            for job in batch:
                failure = _run(sink, job, failure, conn)
            sink.log.flush()  # killed later, it leaves these listed (one write a batch)
            _say(conn, ("done", None))
        failure = failure or FileSink.finish(sink)
        conn.send(("ok", None) if failure is None else ("error", str(failure)))
    except EOFError:
        pass  # the main process went away: nothing to report to
    except BaseException as exc:  # noqa: BLE001 - reported to the main process
        _say(conn, ("error", f"writing files failed: {type(exc).__name__}: {exc}"))
    finally:
        with contextlib.suppress(BaseException):
            sink.log.flush()  # the entries of the files already in place stay listed
        os._exit(0)  # never run the parent's exit handlers or flush its buffers here


def _run(sink: ProcessSink, job: Job, failure: NeurolinkError | None,
         conn: Connection) -> NeurolinkError | None:  # fmt: skip
    """One job in the worker: a file only while no error has been met, an entry always;
    the first error met, said at once."""
    if failure is not None and job[0] == "file":
        return failure
    try:
        FileSink.put(sink, job)
    except NeurolinkError as exc:
        if failure is None:
            _say(conn, ("failed", str(exc)))
        return failure or exc
    return failure


def _say(conn: Connection, word: tuple[str, Any]) -> None:
    """A word to the main process, which may have gone (it then hears nothing)."""
    with contextlib.suppress(OSError):
        conn.send(word)
