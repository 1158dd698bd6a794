"""Pipelined batch reads of sessions (HGETALL + the first page of LRANGE each), the hot path of ``export-all``.

:class:`BatchReader` reads a batch of sessions in one round trip. On a plain (non-cluster)
redis-py client it packs the whole batch with hiredis into one buffer, sends it with one
``send_packed_command`` and reads the raw replies back off the same connection: the same
bytes on the wire as ``pipeline().execute()``, without redis-py's per-command Python
layers (command stack, packer, response callbacks), which cost about as much CPU as
everything else an export does. Any trouble on that path (a key of the wrong type, a
connection error, a timeout) hands the batch to the ordinary redis-py pipeline, which keeps
its per-command errors and its retries; after a connection-level failure the lean path is
not tried again in that process. A Redis Cluster client always takes the pipeline, which
groups the batch per node and sends to every node before reading from any.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar, cast

from neurolink_cli.store.keyspace import RedisClient
from neurolink_cli.store.pages import FIRST_PAGE

if TYPE_CHECKING:
    from redis import Redis

T = TypeVar("T")


class BatchReader:
    """Reads ``(metadata key, turns key)`` pairs in one pipelined round trip per batch."""

    def __init__(self, client: RedisClient, first_page: int = FIRST_PAGE) -> None:
        self.client = client
        self.last = first_page - 1  # LRANGE 0 last: a huge session is read on in pages
        self._pack: Any = None
        self._lean = _lean_capable(client)
        if self._lean:
            try:
                import hiredis

                self._pack = hiredis.pack_command
            except ImportError:  # redis-py without hiredis: its own packer is fine
                self._pack = None

    def read(self, pairs: list[tuple[str, str]]) -> list[Any]:
        """``[meta, turns, meta, turns, ...]``: a dict and a list of bytes per session (at
        most its first page of turns), or the exception of a command that failed (e.g.
        WRONGTYPE) in its place."""
        return self.finish(self.start(pairs))

    def start(self, pairs: list[tuple[str, str]]) -> PendingBatch:
        """Send a batch's commands without waiting for the replies (:meth:`finish` reads
        them): Redis serialises this batch while the caller formats the previous one."""
        pending = PendingBatch(pairs)
        if self._lean and pairs:
            try:
                pending.conn = self._send_lean(pairs)
            except Exception:
                self._lean = False  # the connection failed: the pipeline retries from here on
        return pending

    def finish(self, pending: PendingBatch) -> list[Any]:
        """The replies of a batch sent by :meth:`start` (see :meth:`read`)."""
        if pending.conn is not None:
            from redis.exceptions import ResponseError

            try:
                return self._receive_lean(pending)
            except ResponseError:
                pass  # some key is not of its type: the pipeline reports it per command
            except Exception:
                self._lean = False
        pipe = self.client.pipeline(transaction=False)
        for meta_key, turns_key in pending.pairs:
            pipe.hgetall(meta_key)
            pipe.lrange(turns_key, 0, self.last)
        replies: list[Any] = pipe.execute(raise_on_error=False)
        return replies

    def cancel(self, pending: PendingBatch | None) -> None:
        """Drop a batch sent but not read (its connection is closed, never reused)."""
        if pending is not None and pending.conn is not None:
            conn, pending.conn = pending.conn, None
            conn.disconnect()
            cast("Redis", self.client).connection_pool.release(conn)

    def _send_lean(self, pairs: list[tuple[str, str]]) -> Any:
        pool = cast("Redis", self.client).connection_pool  # _lean is never set on a cluster
        try:
            conn = pool.get_connection()
        except TypeError:  # redis-py < 5.3 wants a command name
            conn = pool.get_connection("HGETALL")
        last = self.last
        try:
            if self._pack is not None:
                pack = self._pack
                parts = []
                for meta_key, turns_key in pairs:
                    parts.append(pack(("HGETALL", meta_key)))
                    parts.append(pack(("LRANGE", turns_key, 0, last)))
                packed = [b"".join(parts)]
            else:
                commands: list[tuple[Any, ...]] = []
                for meta_key, turns_key in pairs:
                    commands += [("HGETALL", meta_key), ("LRANGE", turns_key, 0, last)]
                packed = conn.pack_commands(commands)
            conn.send_packed_command(packed)
        except BaseException:
            conn.disconnect()
            pool.release(conn)
            raise
        return conn

    def _receive_lean(self, pending: PendingBatch) -> list[Any]:
        conn, pending.conn = pending.conn, None
        done = False
        try:
            read = conn.read_response
            replies = [read(disable_decoding=True) for _ in range(2 * len(pending.pairs))]
            done = True
        finally:
            if not done:  # replies may be left unread on it: never hand it out again
                conn.disconnect()
            cast("Redis", self.client).connection_pool.release(conn)
        for i in range(0, len(replies), 2):
            meta = replies[i]
            if isinstance(meta, list):  # RESP2 HGETALL: a flat field, value list
                it = iter(meta)
                replies[i] = dict(zip(it, it, strict=True))
        return replies


class PendingBatch:
    """A batch whose commands were sent (``conn`` holds its replies) or are still to be
    sent through the pipeline (``conn`` None)."""

    __slots__ = ("conn", "pairs")

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self.pairs = pairs
        self.conn: Any = None


def read_ahead(
    reader: BatchReader,
    batches: Iterator[T],
    pairs_of: Callable[[T], list[tuple[str, str]]],
) -> Iterator[tuple[T, list[Any]]]:
    """Each batch with its replies, one batch ahead: the next batch's commands are sent
    before this one is handed out, so Redis serialises it (on its own core) while the
    caller formats this one. An early stop closes the connection of the unread batch."""
    batch = next(batches, None)
    pending = reader.start(pairs_of(batch)) if batch else None
    try:
        while batch is not None and pending is not None:
            replies = reader.finish(pending)
            pending = None
            following = next(batches, None)
            if following:
                pending = reader.start(pairs_of(following))
            yield batch, replies
            batch = following
    finally:
        reader.cancel(pending)


def _lean_capable(client: RedisClient) -> bool:
    """A plain redis-py client returning bytes (the clients :mod:`..connection` makes)."""
    if hasattr(client, "get_nodes"):  # RedisCluster
        return False
    pool = getattr(client, "connection_pool", None)
    if pool is None or not hasattr(pool, "get_connection"):
        return False
    kwargs = getattr(pool, "connection_kwargs", {}) or {}
    return not kwargs.get("decode_responses")
