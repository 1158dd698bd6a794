"""Pipelined batch reads of sessions (HGETALL + the first page of LRANGE each), the hot path of ``export-all``.

:class:`BatchReader` reads a batch of sessions in one round trip. On a plain (non-cluster)
redis-py client it packs the whole batch with hiredis into one buffer, sends it with one
``send_packed_command`` and reads the raw replies back off the same connection: the same
bytes on the wire as ``pipeline().execute()``, without redis-py's per-command Python
layers (command stack, packer, response callbacks), which cost about as much CPU as
everything else an export does. Any trouble on that path (a key of the wrong type, a
connection error, a timeout) hands the batch to the ordinary redis-py pipeline, which keeps
its per-command errors and its retries; after a connection-level failure the lean path is
not tried again in that process.

On a Redis Cluster client the batch's sessions are grouped by the primary that owns their
slot (a session's two keys share the hash tag ``{id}``, so one lookup per session), packed
the same way, and sent to every primary before any reply is read: the primaries serialise
their parts at once. redis-py's ``ClusterPipeline`` sends to every node before reading too,
but routes each command through several Python layers (command flags, key extraction,
slot, node), which costs more CPU than the rest of an export and holds the GIL, so that
``--jobs`` readers could not overlap. A reply other than WRONGTYPE (MOVED or ASK after a
slot moved, TRYAGAIN, CLUSTERDOWN) hands the whole batch to that pipeline, which follows
redirections, refreshes the slot table and retries; so does a connection failure, after
which the lean path is not tried again in that process.

:meth:`BatchReader.run` is the same lean round trip for any commands (the TypeScript
layout's ``MGET`` + ``TTL``), and :meth:`BatchReader.run_ahead` streams batches with the
next one sent before the current one's replies are read, so that Redis prepares a batch
while the caller parses the last one. :meth:`BatchReader.chain` does the same for batches
that each depend on the replies of the one before (a walk's next page): the next batch is
sent as soon as those replies are in, before the caller handles them. The replies are
taken off the connection by :func:`~neurolink_cli.store.replies.read_replies`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar, cast

from neurolink_cli.store.keyspace import RedisClient
from neurolink_cli.store.pages import FIRST_PAGE
from neurolink_cli.store.replies import read_replies

if TYPE_CHECKING:
    from redis import Redis

T = TypeVar("T")


Tag = TypeVar("Tag")
Command = tuple[Any, ...]


class Packed:
    """A batch whose bytes on the wire its maker wrote (a template per session costs less
    than packing each command, whose every length hiredis formats with ``sprintf``). Its
    commands are made only if redis-py's pipeline needs them (the lean path failed)."""

    def __init__(self, data: bytes, count: int, make: Callable[[], list[Command]]) -> None:
        self.data, self.size, self.make = data, count, make

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[Command]:
        return iter(self.make())


Batch = list[Command] | Packed


class BatchReader:
    """Reads ``(metadata key, turns key)`` pairs in one pipelined round trip per batch."""

    def __init__(self, client: RedisClient, first_page: int = FIRST_PAGE) -> None:
        self.client = client
        self.last = first_page - 1  # LRANGE 0 last: a huge session is read on in pages
        self._pack: Any = None
        self._lean = _lean_capable(client)
        self._cluster = _cluster_lean_capable(client)  # the per-primary lean path
        if self._lean or self._cluster:
            try:
                import hiredis

                self._pack = hiredis.pack_command
            except ImportError:  # redis-py without hiredis: its own packer is fine
                self._pack = None

    @property
    def per_primary(self) -> bool:
        """True while batches go to a cluster's primaries as lean per-node pipelines."""
        return self._cluster

    def read(self, pairs: list[tuple[str, str]]) -> list[Any]:
        """``[meta, turns, meta, turns, ...]``: a dict and a list of bytes per session (at
        most its first page of turns), or the exception of a command that failed (e.g.
        WRONGTYPE) in its place."""
        return self.finish(self.start(pairs))

    def start(self, pairs: list[tuple[str, str]], ttl: bool = False) -> PendingBatch:
        """Send a batch's commands without waiting for the replies (:meth:`finish` reads
        them): Redis serialises this batch while the caller formats the previous one. With
        ``ttl``, each session's ``PTTL`` of its metadata follows its two commands in the
        same round trip (its reply third: ``[meta, turns, pttl, ...]``)."""
        pending = PendingBatch(pairs, 3 if ttl else 2)
        if self._lean and pairs:
            try:
                pending.conn = self._send_lean(pairs, ttl)
            except Exception:
                self._lean = False  # the connection failed: the pipeline retries from here on
        elif self._cluster and pairs:
            try:
                pending.nodes = self._send_cluster(pairs, ttl)
            except Exception:
                self._cluster = False  # a node failed: the cluster pipeline retries from here on
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
        elif pending.nodes is not None:
            try:
                answered = self._receive_cluster(pending)
            except Exception:
                self._cluster = False  # a node failed: the cluster pipeline retries from here on
            else:
                if answered is not None:
                    return answered
        pipe = self.client.pipeline(transaction=False)
        for meta_key, turns_key in pending.pairs:
            pipe.hgetall(meta_key)
            pipe.lrange(turns_key, 0, self.last)
            if pending.width == 3:
                pipe.pttl(meta_key)
        replies: list[Any] = pipe.execute(raise_on_error=False)
        return replies

    def cancel(self, pending: PendingBatch | None) -> None:
        """Drop a batch sent but not read (its connection is closed, never reused)."""
        if pending is not None and pending.conn is not None:
            conn, pending.conn = pending.conn, None
            conn.disconnect()
            cast("Redis", self.client).connection_pool.release(conn)
        if pending is not None and pending.nodes is not None:
            nodes, pending.nodes = pending.nodes, None
            for part in nodes:
                part.conn.disconnect()
                part.pool.release(part.conn)

    def run(self, commands: Batch) -> list[Any]:
        """The replies of ``commands`` sent in one round trip, each command's error (e.g.
        WRONGTYPE) in its place. Raw replies on the lean path (``TYPE`` gives bytes); the
        redis-py pipeline's (its response callbacks applied) on the fallback."""
        if self._lean and commands:
            try:
                return self._run_lean(commands)
            except Exception:
                self._lean = False  # the connection failed: the pipeline retries from here on
        pipe = self.client.pipeline(transaction=False)
        for command in commands:
            pipe.execute_command(*command)
        replies: list[Any] = pipe.execute(raise_on_error=False)
        return replies

    def run_ahead(self, batches: Iterable[tuple[Tag, Batch]]) -> Iterator[tuple[Tag, list[Any]]]:
        """``(tag, replies)`` of each ``(tag, commands)`` batch, in order, like :meth:`run`;
        on the lean path the next batch is sent before this one's replies are read, so the
        server works on it while the caller handles these (two CPUs, one connection).

        If the connection fails, the batches sent and not yet answered, and all later
        ones, go through :meth:`run` (the pipeline, with its retries). An error of
        ``batches`` itself (a SCAN that failed) is raised once the batches before it are
        answered: it is never taken for a connection failure (which would end the stream
        early and quietly)."""
        failed: list[Exception] = []

        def source() -> Iterator[tuple[Tag, Batch]]:
            try:
                yield from batches
            except Exception as exc:  # noqa: BLE001 - raised after the batches before it
                failed.append(exc)

        it = source()
        yield from self._run_ahead(it)
        if failed:
            raise failed[0]

    def _run_ahead(self, it: Iterator[tuple[Tag, Batch]]) -> Iterator[tuple[Tag, list[Any]]]:
        if not self._lean:
            for tag, commands in it:
                yield tag, self.run(commands)
            return
        pool = cast("Redis", self.client).connection_pool
        conn = self._connection(pool)
        sent: deque[tuple[Tag, Batch]] = deque()
        sock: Any = None
        released = False
        try:
            try:
                for tag, commands in it:
                    sent.append((tag, commands))
                    if len(sent) > 1 and getattr(conn, "_sock", None) is not sock:
                        # redis-py reconnects silently on send: the replies still owed on
                        # the old socket are lost, so the new one would be out of step
                        raise ConnectionError("the connection was reset between batches")
                    self._send(conn, commands)
                    sock = getattr(conn, "_sock", None)
                    if len(sent) > 1:
                        replies = self._receive(conn, len(sent[0][1]))
                        yield sent.popleft()[0], replies
                while sent:
                    replies = self._receive(conn, len(sent[0][1]))
                    yield sent.popleft()[0], replies
            except Exception:
                self._lean = False  # the connection failed: the pipeline retries from here on
                conn.disconnect()
                pool.release(conn)
                released = True
                for tag, commands in sent:
                    yield tag, self.run(commands)
                for tag, commands in it:
                    yield tag, self.run(commands)
        finally:
            if not released:
                if sent:  # closed early with replies unread: never hand it out again
                    conn.disconnect()
                pool.release(conn)

    def chain(
        self,
        first: tuple[Tag, Batch],
        follow: Callable[[Tag, list[Any]], tuple[Tag, Batch] | None],
    ) -> Iterator[tuple[Tag, list[Any]]]:
        """``(tag, replies)`` of a chain of batches, like :meth:`run`, each made by
        ``follow`` from the replies of the one before (None ends it). On the lean path the
        next batch is sent before these replies are handed out, so the server works on it
        while the caller handles these. A connection failure hands the rest to :meth:`run`."""
        batch: tuple[Tag, Batch] | None = first
        pool = cast("Redis", self.client).connection_pool if self._lean else None
        conn = self._connection(pool) if pool is not None else None
        owed = False  # a batch sent on conn whose replies are not read yet
        try:
            while batch is not None:
                tag, commands = batch
                replies = None
                try:
                    if conn is not None:
                        if not owed:
                            self._send(conn, commands)
                        owed = True
                        replies = self._receive(conn, len(commands))
                        owed = False
                except Exception:
                    self._drop(pool, conn)
                    conn, owed = None, False
                if replies is None:
                    replies = self.run(commands)
                batch = follow(tag, replies)
                try:
                    if batch is not None and conn is not None:
                        self._send(conn, batch[1])  # no reply owed on conn: a reconnect is safe
                        owed = True
                except Exception:
                    self._drop(pool, conn)
                    conn, owed = None, False
                yield tag, replies
        finally:
            if conn is not None and owed:  # closed early with replies unread: never reuse it
                conn.disconnect()
            if conn is not None:
                cast(Any, pool).release(conn)

    def _drop(self, pool: Any, conn: Any) -> None:
        """Give up the lean path after a connection failure (the pipeline retries)."""
        self._lean = False
        conn.disconnect()
        pool.release(conn)

    @staticmethod
    def _connection(pool: Any) -> Any:
        try:
            return pool.get_connection()
        except TypeError:  # redis-py < 5.3 wants a command name
            return pool.get_connection("MGET")

    def _send(self, conn: Any, commands: Batch) -> None:
        if type(commands) is Packed:
            conn.send_packed_command([commands.data])
        elif self._pack is not None:
            conn.send_packed_command([b"".join(map(self._pack, commands))])
        else:
            conn.send_packed_command(conn.pack_commands(commands))

    @staticmethod
    def _receive(conn: Any, count: int) -> list[Any]:
        return read_replies(conn, count)

    def _run_lean(self, commands: Batch) -> list[Any]:
        pool = cast("Redis", self.client).connection_pool
        conn = self._connection(pool)
        done = False
        try:
            self._send(conn, commands)
            replies = self._receive(conn, len(commands))
            done = True
        finally:
            if not done:  # replies may be left unread on it: never hand it out again
                conn.disconnect()
            pool.release(conn)
        return replies

    def _send_lean(self, pairs: list[tuple[str, str]], ttl: bool) -> Any:
        pool = cast("Redis", self.client).connection_pool  # _lean is never set on a cluster
        conn = self._connection(pool)
        try:
            conn.send_packed_command([self._pairs_packed(pairs, ttl)])
        except BaseException:
            conn.disconnect()
            pool.release(conn)
            raise
        return conn

    def _pairs_packed(self, pairs: list[tuple[str, str]], ttl: bool = False) -> bytes:
        """HGETALL meta + LRANGE turns 0 last (+ PTTL meta with ``ttl``) of each pair, as
        RESP: one template per session (what hiredis's packer gives, without its
        ``sprintf`` of every length)."""
        name = "_ttl_template" if ttl else "_pair_template"
        template = self.__dict__.get(name)
        if template is None:
            last = b"%d" % self.last
            template = self.__dict__[name] = (
                b"*2\r\n$7\r\nHGETALL\r\n$%d\r\n%s\r\n*4\r\n$6\r\nLRANGE\r\n$%d\r\n%s\r\n"
                + (b"$1\r\n0\r\n$%d\r\n%s\r\n" % (len(last), last)).replace(b"%", b"%%")
                + (b"*2\r\n$4\r\nPTTL\r\n$%d\r\n%s\r\n" if ttl else b"")
            )
        keys = [(meta_key.encode(), turns_key.encode()) for meta_key, turns_key in pairs]
        if ttl:
            return b"".join([template % (len(m), m, len(t), t, len(m), m) for m, t in keys])
        return b"".join([template % (len(m), m, len(t), t) for m, t in keys])

    def _receive_lean(self, pending: PendingBatch) -> list[Any]:
        conn, pending.conn = pending.conn, None
        done = False
        try:
            replies = read_replies(conn, pending.width * len(pending.pairs))
            done = True
            for reply in replies:
                if isinstance(reply, Exception):
                    raise reply
        finally:
            if not done:  # replies may be left unread on it: never hand it out again
                conn.disconnect()
            cast("Redis", self.client).connection_pool.release(conn)
        for i in range(0, len(replies), pending.width):
            meta = replies[i]
            if isinstance(meta, list):  # RESP2 HGETALL: a flat field, value list
                it = iter(meta)
                replies[i] = dict(zip(it, it, strict=True))
        return replies

    def _send_cluster(self, pairs: list[tuple[str, str]], ttl: bool) -> list[NodePart]:
        """Group the batch by the primary of each session's slot and send every group on a
        connection of that primary's pool before reading anything."""
        client: Any = self.client
        by_node: dict[str, tuple[Any, list[int]]] = {}
        for i, (meta_key, _) in enumerate(pairs):
            node = client.get_node_from_key(meta_key)
            group = by_node.get(node.name)
            if group is None:
                by_node[node.name] = (node, [i])
            else:
                group[1].append(i)
        parts: list[NodePart] = []
        try:
            for node, positions in by_node.values():
                part = NodePart(client.get_redis_connection(node).connection_pool, positions)
                part.conn = self._connection(part.pool)
                parts.append(part)
                packed = self._pairs_packed([pairs[i] for i in positions], ttl)
                part.conn.send_packed_command([packed])
        except BaseException:
            for part in parts:
                part.conn.disconnect()
                part.pool.release(part.conn)
            raise
        return parts

    def _receive_cluster(self, pending: PendingBatch) -> list[Any] | None:
        """The batch's replies in its order, each WRONGTYPE error in its place; None when a
        primary answered anything else (MOVED, ASK, TRYAGAIN, ...): the caller then reads
        the batch through the cluster pipeline, which follows redirections and retries."""
        parts, pending.nodes = pending.nodes or [], None
        width = pending.width
        replies: list[Any] = [None] * (width * len(pending.pairs))
        redirected = False
        failed: BaseException | None = None
        for part in parts:
            done = False
            try:
                if failed is None:
                    got = self._receive(part.conn, width * len(part.positions))
                    done = True
                    for j, i in enumerate(part.positions):
                        session = got[width * j : width * j + width]
                        meta = session[0]
                        if isinstance(meta, list):  # RESP2 HGETALL: a flat field, value list
                            it = iter(meta)
                            session[0] = dict(zip(it, it, strict=True))
                        for reply in session:
                            if isinstance(reply, Exception) and "WRONGTYPE" not in str(reply):
                                redirected = True
                        replies[width * i : width * i + width] = session
            except BaseException as exc:
                failed = exc
            finally:
                if not done:  # replies may be left unread on it: never hand it out again
                    part.conn.disconnect()
                part.pool.release(part.conn)
        if failed is not None:
            raise failed
        return None if redirected else replies


class PendingBatch:
    """A batch whose commands were sent (``conn`` holds its replies; on a cluster,
    ``nodes`` holds one part per primary) or are still to be sent through the pipeline
    (both None)."""

    __slots__ = ("conn", "nodes", "pairs", "width")

    def __init__(self, pairs: list[tuple[str, str]], width: int = 2) -> None:
        self.pairs = pairs
        self.width = width  # replies per session: HGETALL, LRANGE (and PTTL)
        self.conn: Any = None
        self.nodes: list[NodePart] | None = None


class NodePart:
    """The sessions of a batch (their positions in it) sent to one primary, on ``conn``."""

    __slots__ = ("conn", "pool", "positions")

    def __init__(self, pool: Any, positions: list[int]) -> None:
        self.pool = pool
        self.positions = positions
        self.conn: Any = None


def read_ahead(
    reader: BatchReader,
    batches: Iterator[T],
    pairs_of: Callable[[T], list[tuple[str, str]]],
    depth: int = 1,
    ttl: bool = False,
) -> Iterator[tuple[T, list[Any]]]:
    """Each batch with its replies, ``depth`` batches ahead: the next batches' commands are
    sent before this one is handed out, so Redis serialises them (on its own cores) while
    the caller formats this one (``ttl``: see :meth:`BatchReader.start`). An early stop
    closes the connections of the unread batches."""
    sent: deque[tuple[T, PendingBatch]] = deque()
    try:
        for _ in range(max(1, depth)):
            batch = next(batches, None)
            if batch is None:
                break
            sent.append((batch, reader.start(pairs_of(batch), ttl)))
        while sent:
            batch, pending = sent.popleft()  # finish() releases its connections itself
            replies = reader.finish(pending)
            following = next(batches, None)
            if following is not None:
                sent.append((following, reader.start(pairs_of(following), ttl)))
            yield batch, replies
    finally:
        for _, pending in sent:
            reader.cancel(pending)


def _cluster_lean_capable(client: RedisClient) -> bool:
    """redis-py's cluster client returning bytes (what :mod:`..connection` makes)."""
    if not hasattr(client, "get_nodes") or not hasattr(client, "get_node_from_key"):
        return False
    kwargs: dict[str, Any] = getattr(client, "get_connection_kwargs", dict)() or {}
    return not kwargs.get("decode_responses")


def _lean_capable(client: RedisClient) -> bool:
    """A plain redis-py client returning bytes (the clients :mod:`..connection` makes)."""
    if hasattr(client, "get_nodes"):  # RedisCluster
        return False
    pool = getattr(client, "connection_pool", None)
    if pool is None or not hasattr(pool, "get_connection"):
        return False
    kwargs = getattr(pool, "connection_kwargs", {}) or {}
    return not kwargs.get("decode_responses")
