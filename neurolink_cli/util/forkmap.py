"""Pages of a walk mapped on two cores: a forked worker reads and maps about half of them.

The walk (the index's keyset walk, a SCAN) is driven by this process only, so every page
is met exactly once; its pages are dealt out as met (:func:`pages_for`, the worker taking
:data:`WORKER_SHARE` of them, spread evenly): this process's are read and mapped here,
the worker's are sent to it (their rows or keys only), read there on a connection of its
own and mapped there. What :func:`map_pages` yields is the map of every page, in page
order, whichever process made it: a caller that merges them in that order gets what one
process would have got. ``export-all`` to a stream (:mod:`~neurolink_cli.export.shared`)
deals its pages with the same pieces; ``memory stats`` maps its pages with
:func:`map_pages`.

The worker ignores Ctrl-C (this process decides) and reports an error (Redis gone) back,
where it is raised; on any error or early stop here the worker is stopped. Nothing of it
outlives the call.
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
from collections import deque
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from neurolink_cli.errors import NeurolinkError

if TYPE_CHECKING:  # imported when a pipe is made (fork): not at start-up
    from multiprocessing.connection import Connection

R = TypeVar("R")  # what a page is mapped to (sent back from the worker: picklable)

ReadPages = Callable[[Iterator[Any]], Iterator[tuple[Any, Any]]]

# The worker takes 4 pages of every 7, spread evenly: this process also walks the index,
# hands pages out and records what the worker did (about a fifth more work per page).
# A caller whose pages cost more to work on passes a share nearer one half
# (``export-all --format csv``: :func:`~neurolink_cli.export.shared.worker_share`).
WORKER_SHARE = (4, 7)


def can_fork() -> bool:
    """True when a second process can run at the same time: more than one core, and fork
    (multiprocessing offers the fork start method wherever ``os.fork`` exists; it is
    imported when a process is forked, not to ask)."""
    return (os.cpu_count() or 1) > 1 and hasattr(os, "fork")


def available() -> bool:
    """True when a second process may share a walk's pages: :func:`can_fork`, and
    ``NEUROLINK_EXPORT_PROCESSES`` not ``1`` (for a machine whose other core is busy)."""
    if os.environ.get("NEUROLINK_EXPORT_PROCESSES", "").strip() == "1":
        return False
    return can_fork()


def worker_page(k: int, share: tuple[int, int] = WORKER_SHARE) -> bool:
    """True when page ``k`` is the worker's, the worker taking ``share`` = (pages, of every
    period) spread evenly (page 0 is this process's)."""
    pages, period = share
    return (k + 1) * pages // period - k * pages // period == 1


def pages_for(rows_iter: Iterator[Any], give: Callable[[int, Any], None],
              done: Callable[[], None], ahead: int = 2,
              share: tuple[int, int] = WORKER_SHARE) -> Iterator[tuple[int, Any]]:  # fmt: skip
    """This process's pages with their numbers; the worker's (``share`` of them,
    :func:`worker_page`) handed to ``give`` as met, and ``done`` called as soon as the walk
    is over. The walk runs ``ahead`` of this process's pages: the worker reads one page
    ahead of the one it works on, so its next page must already be on its way when this
    process starts on its own (else each waits for the other in turn)."""
    held: deque[Any] = deque()
    walk = enumerate(rows_iter)
    over = False
    while True:
        while not over and len(held) <= ahead:
            step = next(walk, None)
            if step is None:
                over = True
                done()
            elif worker_page(step[0], share):
                give(*step)
            else:
                held.append(step)
        if not held:
            return
        yield held.popleft()


def portable(exc: BaseException) -> BaseException:
    """``exc`` if it survives pickling, else a NeurolinkError with its text."""
    import pickle

    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001
        return NeurolinkError(f"{type(exc).__name__}: {exc}")


def fork(target: Callable[..., None], *args: Any, name: str) -> tuple[Any, Connection]:
    """``target(conn, *args)`` started in a forked process: (the process, this end of the
    pipe whose other end is ``conn``). The child closes this end, so that it meets the end
    of the pipe when this process goes away. The inherited heap is frozen around the fork,
    so the child's collector never walks it (which would copy every page of it); a heap
    this process had frozen already (the CLI's start-up heap, :mod:`~neurolink_cli.appcontext`)
    is left frozen, and only what came after it is walked in the child."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    conn, child = ctx.Pipe()
    proc = ctx.Process(target=_child, args=(conn, target, child, *args), daemon=True, name=name)
    if gc.get_freeze_count():  # gc.unfreeze would thaw all of it, not just what we froze
        proc.start()
    else:
        gc.freeze()
        try:
            proc.start()
        finally:
            gc.unfreeze()
    child.close()
    return proc, conn


def _child(ours: Connection, target: Callable[..., None], conn: Connection, *args: Any) -> None:
    ours.close()
    target(conn, *args)


def stop(proc: Any, conn: Connection) -> None:
    """Close the pipe and stop the process (an error or an early stop in this one)."""
    with contextlib.suppress(Exception):
        conn.close()
    if proc.is_alive():
        proc.terminate()
    proc.join(5)


def map_pages(pages: Iterator[Any], read: ReadPages, work: Callable[[Any, Any], R], *,
              share: bool) -> Iterator[R]:  # fmt: skip
    """``work(page, data)`` of each page, in page order. ``read`` takes an iterator of
    pages and yields ``(page, data)`` of each in order (reading ahead as it likes); with
    ``share``, a forked worker reads and works on its share of the pages."""
    if not share:
        for page, data in read(pages):
            yield work(page, data)
        return
    yield from _Shared(read, work).run(pages)


class _Shared:
    """One walk's pages shared with a forked worker; the maps handed out in page order."""

    def __init__(self, read: ReadPages, work: Callable[[Any, Any], Any]) -> None:
        self.read, self.work = read, work
        self.done: dict[int, Any] = {}  # maps not yet handed out, by page number
        self.owed: set[int] = set()  # the worker's pages whose map has not come back
        self.bye = False
        self.error: BaseException | None = None  # the worker's, raised again if asked again
        self.proc: Any = None  # forked at the worker's first page: a walk of one page forks nothing

    def run(self, pages: Iterator[Any]) -> Iterator[Any]:
        numbers: deque[int] = deque()
        following = 0  # the next page number to hand out

        def give(number: int, page: Any) -> None:
            if self.proc is None:
                self.proc, self.conn = fork(_serve, self.read, self.work, name="neurolink-pages")
            self.owed.add(number)
            self._send(("page", number, page))

        def ended() -> None:
            if self.proc is None:
                self.bye = True  # no worker: nothing to wait for
            else:
                self._send(("end",))

        def own() -> Iterator[Any]:
            for number, page in pages_for(pages, give, ended):
                numbers.append(number)
                yield page

        try:
            for page, data in self.read(own()):
                self.done[numbers.popleft()] = self.work(page, data)
                while not self.bye and self.proc is not None and self.conn.poll():
                    self._take()
                while following in self.done:
                    yield self.done.pop(following)
                    following += 1
            while self.owed or not self.bye:
                self._take()
                while following in self.done:
                    yield self.done.pop(following)
                    following += 1
        except BaseException:
            if self.proc is not None:
                stop(self.proc, self.conn)
            raise
        if self.proc is not None:
            self.proc.join(10)

    def _take(self) -> None:
        if self.error is not None:  # raised once inside a reader that finished its batches
            raise self.error  # first: the pipe holds nothing more than the end
        try:
            msg = self.conn.recv()
        except (EOFError, ConnectionResetError, OSError):
            msg = ("error", NeurolinkError("the second process stopped unexpectedly"))
        if msg[0] == "done" and msg[1] in self.owed:
            self.owed.discard(msg[1])
            self.done[msg[1]] = msg[2]
        elif msg[0] == "bye" and not self.owed:
            self.bye = True
        elif msg[0] == "error" and isinstance(msg[1], BaseException):
            self.error = msg[1]
            raise msg[1]
        else:
            raise NeurolinkError(f"the second process sent {msg[0]!r} out of turn")

    def _send(self, message: object) -> None:
        try:
            self.conn.send(message)
        except (BrokenPipeError, ConnectionResetError, EOFError):
            while True:  # the worker stopped: its last word says why
                self._take()


def _serve(conn: Connection, read: ReadPages, work: Callable[[Any, Any], Any]) -> None:
    """The worker: read and work on the pages sent, each map sent back with its number."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        numbers: deque[int] = deque()

        def mine() -> Iterator[Any]:
            while (msg := conn.recv())[0] == "page":
                numbers.append(msg[1])
                yield msg[2]

        for page, data in read(mine()):
            conn.send(("done", numbers.popleft(), work(page, data)))
        conn.send(("bye",))
    except (EOFError, ConnectionResetError, BrokenPipeError):
        pass  # the main process went away: nothing to report to
    except BaseException as exc:  # noqa: BLE001 - reported to the main process
        with contextlib.suppress(Exception):
            conn.send(("error", portable(exc)))
    finally:
        os._exit(0)  # never run the parent's exit handlers or flush its buffers here
