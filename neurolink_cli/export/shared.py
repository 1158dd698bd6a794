"""``export-all`` to a stream on two cores: the pages of the index shared by two processes.

An export is one core's work per session (read the replies, build the document, format
and check it), with the Redis server on the other core needing a fraction of it. So the
pages of the native index walk are dealt out as met to a worker
(:func:`~neurolink_cli.util.forkmap.pages_for`), forked when the walk gives it its first
page (a walk of one page forks nothing), in the share that evens out the two processes'
work (:func:`worker_share`: this process also walks the index, so the worker takes more
of the pages the cheaper a page is to format: 4 of 7 for JSONL, 7 of 13 for CSV). Each
reads its pages on its own connection(s) (the next one sent before this one is formatted),
builds and checks every session as a single process would
(:class:`~neurolink_cli.export.run.SessionHandler`, the same code), and formats the page
into memory. The output keeps the walk's order with a turn passed back and forth:
a process writes page *k* once page *k - 1* is written, then hands the turn on.

- Only this process walks the index (the exactly-once walk, :mod:`~neurolink_cli.store.walk`)
  and sends the worker the rows of its pages; nothing else crosses between them but the
  turn and what the worker did with each page (its ledger entries, its messages), which
  this process records and reports in page order, progress included.
- A huge session (read in pages, :mod:`~neurolink_cli.store.pages`) is never held: the
  process takes the turn first, writes what it holds, then streams the session out.
- Memory: at most one page of formatted output per process, plus the page being read.
- The worker ignores Ctrl-C (this process decides); an error in it (Redis gone, a write
  error) is sent back and raised here; a closed stdout (``| head``) ends both quietly;
  on any error here the worker is stopped. Sessions of the TypeScript layout follow the
  native pages, written by this process.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import IO, TYPE_CHECKING, Any, cast

from neurolink_cli.errors import NeurolinkError
from neurolink_cli.export import registry
from neurolink_cli.export.ledger import ExportLedger
from neurolink_cli.export.transform import ExportOptions
from neurolink_cli.models import SessionDoc, Unreadable
from neurolink_cli.store.repository import Repository
from neurolink_cli.util import forkmap
from neurolink_cli.util.forkmap import pages_for, portable

if TYPE_CHECKING:  # the module is imported when the pipe is made
    from multiprocessing.connection import Connection

Rows = list[tuple[str, float]]
Handler = Callable[[SessionDoc | Unreadable], None]
Progress = Callable[[int, int], None]


def _handler(opts: ExportOptions, ledger: ExportLedger, say: Callable[[str], None],
             writer: registry.Writer, progress: Progress | None = None) -> Handler:  # fmt: skip
    from neurolink_cli.export.run import SessionHandler  # run imports this module

    return SessionHandler(opts, ledger, say, writer=writer, progress=progress).each()


def worker_available(out: IO[bytes]) -> bool:
    """True when ``out`` is a real file descriptor and a second process can run at the
    same time (:func:`~neurolink_cli.util.forkmap.can_fork`)."""
    try:
        out.fileno()
    except (AttributeError, OSError, ValueError):  # an in-memory stream (tests, callers)
        return False
    return forkmap.can_fork()


def shared_available(repo: Repository, out: IO[bytes]) -> bool:
    """True when a second process can take half the pages: two cores and fork, ``out``
    a real file descriptor, a client whose pools open connections of their own in the child
    (a plain one, or a Cluster read per primary),
    and ``NEUROLINK_EXPORT_PROCESSES`` not ``1`` (for a machine whose other core is busy)."""
    return forkmap.available() and worker_available(out) and repo.native.can_share_pages()


class PageOut:
    """What a writer writes to: a page's output held in memory until this process has the
    turn, then written straight to the real stream.

    What is held is the writers' own chunks (each already one ``bytes`` of about
    :data:`~neurolink_cli.export.formats.CHUNK` bytes), kept as they are and written out
    one by one: no page-sized buffer is grown (and its memory touched afresh) per page."""

    def __init__(self, real: IO[bytes], wait_turn: Callable[[], None]) -> None:
        self.real = real
        self.wait_turn = wait_turn
        self.held: list[bytes] = []
        self.direct = False

    def write(self, data: bytes) -> int:
        if self.direct:
            return self.real.write(data)
        if type(data) is not bytes:  # a buffer its writer may change: a copy is held
            data = bytes(data)
        self.held.append(data)
        return len(data)

    def flush(self) -> None:
        if self.direct:
            self.real.flush()

    def take_turn(self) -> None:
        """Wait for the turn (the page before is written), then write what is held."""
        if not self.direct:
            self.wait_turn()
            held, self.held = self.held, []
            for chunk in held:
                self.real.write(chunk)
            self.direct = True

    def end_page(self) -> None:
        """The page is complete: out it goes (after waiting for the turn); next page held."""
        self.take_turn()
        self.real.flush()
        self.direct = False


def _do_page(docs: Iterable[SessionDoc | Unreadable], opts: ExportOptions, page_out: PageOut,
             writer: registry.Writer, progress: Progress | None = None,
             ) -> tuple[ExportLedger, list[str]]:  # fmt: skip
    """One page's sessions through the writer and out (after the page before): what
    happened to them (a ledger of this page) and what is to be said, in order."""
    ledger, said = ExportLedger(), list[str]()
    handle = _handler(opts, ledger, said.append, writer, progress)
    user = opts.user_id
    for item in docs:
        if isinstance(item, SessionDoc):
            if user is not None and item.user_id != user:
                continue
            if item.more is not None:  # paged
                page_out.take_turn()
        handle(item)
    for sid, reason, turns in writer.close():  # flushes what the writer holds into page_out
        ledger.fail_late(sid, reason, turns)
        said.append(f"{sid}: {reason}")
    page_out.end_page()
    return ledger, said


# What formatting a page costs, per format, in units of the work this process does per page
# besides (walking the index, handing pages out, recording what the worker did), from
# process CPU time per page on 20,000 sessions x 20 turns (pages of 250): that extra work
# ~2 ms, a JSONL page ~6.5 ms, a CSV page ~13 ms. A format not listed costs as JSONL.
PAGE_COST = {"jsonl": 3, "csv": 6}


def worker_share(fmt: str) -> tuple[int, int]:
    """The worker's pages of each period of the walk, ``(c + 1, 2c + 1)`` for a page cost
    ``c`` (:data:`PAGE_COST`): the share that gives both processes the same work. JSONL:
    4 pages of 7 (:data:`~neurolink_cli.util.forkmap.WORKER_SHARE`); CSV: 7 of 13
    (measured: with 4 of 7 this process waited on the worker's pages, with 1 of 2 the
    worker on this process's; with 7 of 13 neither much)."""
    cost = PAGE_COST.get(fmt, PAGE_COST["jsonl"])
    return cost + 1, 2 * cost + 1


def export_shared(repo: Repository, opts: ExportOptions, out: IO[bytes], ledger: ExportLedger,
                  say: Callable[[str], None], progress: Progress | None,
                  depth: int = 1) -> None:  # fmt: skip
    """Every session to ``out`` as ``export_all`` writes them, the pages shared (see above):
    the native index's pages, then the TypeScript layout's batches of keys."""
    stream = registry.get(registry.get(opts.format).stream_as or opts.format)
    out.flush()
    page_out = PageOut(out, lambda: None)
    writer = stream.writer(cast(IO[bytes], page_out), opts.include_metadata, opts.csv_guard)
    native = repo.native
    run = _Phase(opts, out, page_out, writer, ledger, say, progress)
    read_native = functools.partial(native.read_pages, depth=max(1, depth))
    run.share(iter(native.index_walk(page=native.batch_size)), read_native, stream.name)
    upstream = repo.upstream
    if upstream is not None and upstream.can_share_pages():
        user = opts.user_id
        run.share(upstream.key_pages(user), lambda p: upstream.read_pages(p, user), stream.name)
    elif upstream is not None:  # a Cluster: this process reads them all
        page_out.take_turn()
        handle = _handler(opts, ledger, say, writer, progress)
        for item in upstream.iter_docs(user_id=opts.user_id, with_ttl=False):
            handle(item)
    page_out.take_turn()
    for sid, reason, turns in writer.close():
        ledger.fail_late(sid, reason, turns)
        say(f"{sid}: {reason}")


ReadPages = Callable[[Iterator[Any]], Iterator[tuple[Any, Iterable[SessionDoc | Unreadable]]]]


class _Phase:
    """One walk shared with a worker process: pages dealt out in turn, output in order."""

    def __init__(self, opts: ExportOptions, out: IO[bytes], page_out: PageOut,
                 writer: registry.Writer, ledger: ExportLedger, say: Callable[[str], None],
                 progress: Progress | None) -> None:  # fmt: skip
        self.opts, self.out, self.page_out, self.writer = opts, out, page_out, writer
        self.ledger, self.say, self.progress = ledger, say, progress

    def share(self, pages: Iterator[Any], read_pages: ReadPages, fmt: str) -> None:
        self.page_out.take_turn()  # what the phase before left is out first
        self.page_out.end_page()
        worker = _Worker(self.out, read_pages, self.opts, fmt)  # forked at its first page
        given: deque[int] = deque()  # the worker's pages not yet written, in order
        k = -1  # this process's current page

        def give(number: int, rows: Any) -> None:
            given.append(number)
            worker.send(("page", number, rows))

        def settle(upto: int) -> None:
            """Record what the worker did with each of its pages below ``upto`` (waiting)."""
            while given and given[0] < upto:
                number = given.popleft()
                msg = worker.recv()
                if msg[0] != "written" or msg[1] != number:
                    worker.fail(msg)
                _merge(self.ledger, msg[2], msg[3], self.say, self.progress)

        self.page_out.wait_turn = lambda: settle(k)
        try:
            numbers: deque[int] = deque()

            def own_pages() -> Iterator[Any]:
                for number, rows in pages_for(pages, give, worker.end, share=worker_share(fmt)):
                    numbers.append(number)
                    yield rows

            for _rows, docs in read_pages(own_pages()):
                k = numbers.popleft()
                mine, said = _do_page(docs, self.opts, self.page_out, self.writer, self.progress)
                _merge(self.ledger, mine, said, self.say, None)  # after the pages before it
                if given and given[0] == k + 1:
                    worker.send(("go", k + 1))
            settle(1 << 62)
            worker.finish()
        except BaseException:
            worker.stop()
            raise
        finally:
            self.page_out.wait_turn = lambda: None


class _Worker:
    """The second process of one phase, forked when the walk gives it its first page (a
    walk of one page, or none, forks nothing), and the pipe to it. Its last word (an
    error, a closed stdout) is kept: asked again (a reader that finished its batches before
    raising it), it is raised again, not taken for a process that stopped unexpectedly."""

    def __init__(self, out: IO[bytes], read_pages: ReadPages, opts: ExportOptions,
                 fmt: str) -> None:  # fmt: skip
        self.args = (out.fileno(), read_pages, opts, fmt)
        self.proc: Any = None
        self.conn: Connection | None = None
        self.last_word: Any = None

    def send(self, message: object) -> None:
        if self.conn is None:
            self.proc, self.conn = forkmap.fork(_serve, *self.args, name="neurolink-export")
        try:
            self.conn.send(message)
        except (BrokenPipeError, ConnectionResetError, EOFError):
            self.fail(self.recv())

    def recv(self) -> Any:
        assert self.conn is not None
        if self.last_word is not None:
            return self.last_word
        try:
            return self.conn.recv()
        except (EOFError, ConnectionResetError, OSError):
            return ("error", NeurolinkError("the second export process stopped unexpectedly"))

    def fail(self, msg: Any) -> None:
        """Raise what the worker reported (its error, or a closed stdout)."""
        self.last_word = msg
        if self.proc.is_alive():
            self.proc.terminate()
        self.proc.join(5)
        if msg and msg[0] == "broken-pipe":
            raise BrokenPipeError
        if msg and msg[0] == "error" and isinstance(msg[1], BaseException):
            raise msg[1]
        raise NeurolinkError(f"the second export process sent {msg[0]!r} out of turn")

    def end(self) -> None:
        """The walk is over: no more pages (nothing to say to a worker never started)."""
        if self.conn is not None:
            self.send(("end",))

    def finish(self) -> None:
        """Wait for the worker's goodbye (every page written) and for it to exit."""
        if self.conn is None:
            return
        msg = self.recv()
        if msg[0] != "bye":
            self.fail(msg)
        self.proc.join(10)

    def stop(self) -> None:
        """On an error here: close the pipe and stop the worker."""
        if self.conn is not None:
            forkmap.stop(self.proc, self.conn)


def _headless(stream: registry.Format, out: Any, opts: ExportOptions) -> registry.Writer:
    """A writer of the stream's format that writes no header (the main process writes it)."""
    writer = stream.writer(out, opts.include_metadata, opts.csv_guard)
    without = getattr(writer, "without_header", None)
    return without() if without is not None else writer


def _merge(ledger: ExportLedger, delta: ExportLedger, said: list[str],
           say: Callable[[str], None], progress: Progress | None) -> None:  # fmt: skip
    for text in said:
        say(text)
    ledger.exported += delta.exported
    ledger.turns += delta.turns
    ledger.resumed += delta.resumed
    ledger.skipped += delta.skipped
    ledger.not_sessions += delta.not_sessions
    ledger.failed += delta.failed
    ledger.warnings += delta.warnings
    if progress and (delta.exported or delta.resumed):
        progress(delta.exported + delta.resumed, delta.turns)


# -- the worker -----------------------------------------------------------------------------
class _Inbox:
    """Messages from the main process, in order; pages met while waiting for a turn kept."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.pages: deque[tuple[int, Rows]] = deque()
        self.turns: set[int] = set()
        self.ended = False
        self.written = -1  # the last page this worker wrote

    def take(self) -> None:
        msg = self.conn.recv()
        if msg[0] == "page":
            self.pages.append((msg[1], msg[2]))
        elif msg[0] == "go":
            self.turns.add(msg[1])
        else:
            self.ended = True

    def next_page(self) -> tuple[int, Rows] | None:
        while not self.pages and not self.ended:
            self.take()
        return self.pages.popleft() if self.pages else None

    def wait_turn(self, k: int) -> None:
        """Return once page ``k - 1`` is written: by this worker, or (a "go") by the main."""
        if self.written == k - 1:
            return
        while k not in self.turns:  # "go" messages come after "end" too
            self.take()
        self.turns.discard(k)


def _serve(conn: Connection, fd: int, read_pages: ReadPages, opts: ExportOptions, fmt: str) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    out = os.fdopen(fd, "wb", buffering=1 << 16, closefd=False)
    inbox = _Inbox(conn)
    current = [-1]
    page_out = PageOut(out, lambda: inbox.wait_turn(current[0]))
    writer = _headless(registry.get(fmt), page_out, opts)
    try:
        numbers: deque[int] = deque()

        def rows_iter() -> Iterator[Rows]:
            while (page := inbox.next_page()) is not None:
                numbers.append(page[0])
                yield page[1]

        for _rows, docs in read_pages(rows_iter()):
            current[0] = numbers.popleft()
            ledger, said = _do_page(docs, opts, page_out, writer)
            inbox.written = current[0]
            conn.send(("written", current[0], ledger, said))
        while not inbox.ended:
            inbox.take()
        conn.send(("bye",))
    except BrokenPipeError:
        with contextlib.suppress(OSError):
            conn.send(("broken-pipe",))
    except (EOFError, ConnectionResetError):
        pass  # the main process went away: nothing to report to
    except BaseException as exc:  # noqa: BLE001 - reported to the main process
        with contextlib.suppress(Exception):
            conn.send(("error", portable(exc)))
    finally:
        os._exit(0)  # never run the parent's exit handlers or flush its buffers here
