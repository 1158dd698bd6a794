"""``memory list`` rows of the TypeScript layout on two cores: the key pages shared.

Reading the rows is one core's work per key (the stored values off the socket, the typed
decode of :mod:`~neurolink_cli.store.upstreamlist`), with Redis needing a fraction of the
other. So this process finds the keys (SCAN, each key once: ``UpstreamStore.key_pages``)
and deals the pages out in turn, four of every seven to a forked worker, which reads them on its
own connection and builds their rows with the same code; it sends them back once it has
been told there are no more pages (so neither process ever waits on a full pipe while the
other waits on it). The rows come out in page order, exactly as one process gives them.

The worker is started at the second page only (a small layout never forks), ignores
Ctrl-C (this process decides) and reports its error, which is raised here; on any error
here the worker is stopped.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import pickle
import signal
from collections import deque
from collections.abc import Iterator
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

from neurolink_cli.errors import NeurolinkError
from neurolink_cli.models import SOURCE_UPSTREAM, SessionSummary, Unreadable
from neurolink_cli.store.upstreamlist import Filter, page_rows

if TYPE_CHECKING:
    from neurolink_cli.store.upstream import UpstreamStore

Row = SessionSummary | Unreadable

# The worker takes 4 pages of every 7, spread evenly: this process also finds the keys,
# deals the pages and, at the end, sorts and writes every row.
WORKER_SHARE = (4, 7)


def worker_page(k: int) -> bool:
    """True when page ``k`` is the worker's (page 0 is this process's)."""
    share, period = WORKER_SHARE
    return (k + 1) * share // period - k * share // period == 1


def available(store: UpstreamStore) -> bool:
    """True when a second process can read pages at the same time: two cores and fork, a
    plain (non-Cluster) client, and ``NEUROLINK_EXPORT_PROCESSES`` not ``1``."""
    if os.environ.get("NEUROLINK_EXPORT_PROCESSES", "").strip() == "1":
        return False
    if (os.cpu_count() or 1) < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return False
    return store.can_share_pages()


def shared_rows(store: UpstreamStore, pages: Iterator[list[bytes]], keep: Filter) -> Iterator[Row]:
    """The rows of every page (see the module's docstring), in page order."""
    worker: _Worker | None = None
    done: dict[int, list[Row]] = {}
    numbers: deque[int] = deque()

    def own_pages() -> Iterator[list[bytes]]:
        nonlocal worker
        for k, keys in enumerate(pages):
            if not worker_page(k):
                numbers.append(k)
                yield keys
                continue
            if worker is None:
                worker = _Worker(store, keep)
            worker.give(k, keys)

    try:
        for entries in store._read_batches(own_pages(), with_ttl=True):
            done[numbers.popleft()] = page_rows(store, entries, keep)
        if worker is not None:
            done.update(worker.finish())
    except BaseException:
        if worker is not None:
            worker.stop()
        raise
    for k in sorted(done):
        yield from done[k]


class _Worker:
    """The forked process and this end of its pipe."""

    def __init__(self, store: UpstreamStore, keep: Filter) -> None:
        ctx = multiprocessing.get_context("fork")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(
            target=_serve, args=(child, store, keep), daemon=True, name="neurolink-list"
        )
        gc.freeze()  # the inherited heap in a permanent generation: the child's collector
        try:  # never walks it (which would copy every page of it)
            self.proc.start()
        finally:
            gc.unfreeze()
        child.close()
        self.gone = False

    def give(self, k: int, keys: list[bytes]) -> None:
        """Send the worker a page; if it is gone, :meth:`finish` says why (nothing is
        raised here: this runs inside the reader's loop over pages)."""
        if self.gone:
            return
        try:
            self.conn.send(("page", k, keys))
        except OSError:  # a broken pipe: the worker stopped
            self.gone = True

    def finish(self) -> dict[int, list[Row]]:
        """Tell the worker there are no more pages; its rows, by page."""
        self.give(-1, [])
        msg = self._recv()
        if msg[0] != "rows":
            self.stop()
            if msg[0] == "error" and isinstance(msg[1], BaseException):
                raise msg[1]
            raise NeurolinkError(f"the second list process sent {msg[0]!r} out of turn")
        self.proc.join(10)
        return {k: [_row(r) for r in rows] for k, rows in msg[1].items()}

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()
        if self.proc.is_alive():
            self.proc.terminate()
        self.proc.join(5)

    def _recv(self) -> Any:
        try:
            return self.conn.recv()
        except (EOFError, ConnectionResetError, OSError):
            return ("error", NeurolinkError("the second list process stopped unexpectedly"))


# Rows cross the pipe as tuples (a tenth of the pickle of the objects); Unreadable as is.
def _packed(row: Row) -> Any:
    if isinstance(row, Unreadable):
        return row
    return (row.session_id, row.user_id, row.created_at, row.updated_at, row.turns,
            row.model, row.title, row.ttl)  # fmt: skip


def _row(packed: Any) -> Row:
    if isinstance(packed, Unreadable):
        return packed
    sid, user, created, updated, turns, model, title, ttl = packed
    return SessionSummary(sid, user, created, updated, turns, model, title, SOURCE_UPSTREAM, ttl)


def _serve(conn: Connection, store: UpstreamStore, keep: Filter) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        numbers: deque[int] = deque()

        def given() -> Iterator[list[bytes]]:
            while (msg := conn.recv())[1] >= 0:
                numbers.append(msg[1])
                yield msg[2]

        rows: dict[int, list[Any]] = {}
        for entries in store._read_batches(given(), with_ttl=True):
            rows[numbers.popleft()] = [_packed(r) for r in page_rows(store, entries, keep)]
        conn.send(("rows", rows))
    except (EOFError, ConnectionResetError, BrokenPipeError):
        pass  # the main process went away: nothing to report to
    except BaseException as exc:  # noqa: BLE001 - reported to the main process
        with contextlib.suppress(Exception):
            conn.send(("error", _portable(exc)))
    finally:
        os._exit(0)  # never run the parent's exit handlers or flush its buffers here


def _portable(exc: BaseException) -> BaseException:
    """``exc`` if it survives pickling, else a NeurolinkError with its text."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001
        return NeurolinkError(f"{type(exc).__name__}: {exc}")
