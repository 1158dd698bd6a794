"""The native layout (CONTRACT §3) over redis-py.

Keys, for prefix ``P`` and session id ``ID`` (the braces are literal: a Cluster hash tag)::

    P:session:{ID}:turns      LIST  one turn JSON object per element, oldest first
    P:session:{ID}:metadata   HASH  sessionId userId createdAt updatedAt provider model
                                    totalTurns toolsUsed title nextIndex [errorCount]
                                    [meta.* doc.*]
    P:sessions                ZSET  member = id, score = updatedAt in epoch ms

Writing. :meth:`NativeStore.append_turn` runs one Lua script on the session's two keys: it
allocates the index from the hash counter ``nextIndex`` (HINCRBY, so indexes stay unique
and contiguous with any number of writers), records ``w:<writer>`` = ``<seq>:<index>`` so
that a retried call whose first reply was lost (the connection dropped after the script
ran) returns the same index instead of storing the turn twice, prepends ``"index":N`` to the turn JSON the
client serialised, RPUSHes it, trims to ``maxTurnsPerSession`` (oldest dropped, never
renumbered), updates the metadata and refreshes the TTL of both keys. The index ZSET is
updated right after with ``ZADD GT`` (in a Cluster it lives in another slot).

Reading. Sessions are discovered through the index by a keyset walk over (score, member)
(:mod:`~neurolink_cli.store.walk`: every session once, whatever changes meanwhile; never
KEYS), or by SCAN over every primary for ``--full-scan``; their keys are read in pipelined
batches (HGETALL + LRANGE per session; decoded by :mod:`~neurolink_cli.store.nativedoc`);
a session of more turns than one page is read on in pages as it is written
(:mod:`~neurolink_cli.store.pages`).
Index members whose keys are gone (expired, deleted) are pruned when met, with a
compare-and-delete script so a session that is being written again is never removed from
the index. Turns are returned as the stored bytes (``SessionDoc.raw_turns``) so an
unfiltered export can splice them unparsed.

Extra fields kept by ``memory import``: metadata fields beyond the standard ones are stored
JSON-encoded as ``meta.<name>``, further top-level document fields as ``doc.<name>``.
"""

from __future__ import annotations

import contextlib
import itertools
import uuid
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from neurolink_cli.models import SOURCE_NATIVE, Keyed, SessionDoc, SessionSummary, Unreadable
from neurolink_cli.store import nativelist
from neurolink_cli.store.batchread import BatchReader, read_ahead
from neurolink_cli.store.keyspace import (
    RedisClient,
    glob_escape,
    register_script,
    scan_iter,
    unlink,
)
from neurolink_cli.store.nativedoc import (
    TurnPages,
    append_args,
    as_int,
    as_text,
    session_doc,
    session_fields,
)
from neurolink_cli.store.pages import FIRST_PAGE, turn_pages
from neurolink_cli.store.scripts import (
    APPEND_SCRIPT,
    CREATE_SCRIPT,
    FINISH_SCRIPT,
    PRUNE_SCRIPT,
    STAGE_SCRIPT,
)
from neurolink_cli.store.staged import write_staged
from neurolink_cli.store.walk import PAGE_SCRIPT, IndexWalk, SeenSet
from neurolink_cli.util import jsonutil
from neurolink_cli.util.timeutil import now_ms, stored_to_ms

Rows = list[tuple[str, float]]  # a page of the index walk: (session id, score)


class NativeStore:
    """Reads and writes sessions of the native layout under one key prefix."""

    source = SOURCE_NATIVE

    def __init__(
        self,
        client: RedisClient,
        prefix: str = "neurolink",
        *,
        max_turns: int = 100,
        ttl: int = 0,
        batch_size: int = 250,
        first_page: int = FIRST_PAGE,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.max_turns = max_turns
        self.ttl = ttl
        self.batch_size = batch_size
        self.first_page = first_page  # turns per session in a batch read; then pages
        self.index_key = f"{prefix}:sessions"
        self.writer_id = uuid.uuid4().hex[:16]
        self._write_seq = itertools.count(1)
        self._append = register_script(client, APPEND_SCRIPT)
        self._prune = register_script(client, PRUNE_SCRIPT)
        self._create = register_script(client, CREATE_SCRIPT)
        self._page = register_script(client, PAGE_SCRIPT)
        self._stage = register_script(client, STAGE_SCRIPT)
        self._finish = register_script(client, FINISH_SCRIPT)

    # -- keys ---------------------------------------------------------------------------
    def turns_key(self, session_id: str) -> str:
        return f"{self.prefix}:session:{{{session_id}}}:turns"

    def meta_key(self, session_id: str) -> str:
        return f"{self.prefix}:session:{{{session_id}}}:metadata"

    # -- writing ------------------------------------------------------------------------
    def append_turn(
        self,
        session_id: str,
        turn: dict[str, Any],
        *,
        user_id: str | None = None,
        tools_used: Iterable[str] = (),
        write_seq: int | None = None,
    ) -> int:
        """Store one turn (without ``index``) and its metadata update atomically; return its index.

        ``turn`` must start with ``role`` (see :func:`neurolink_cli.models.make_turn`).
        A caller that may retry the same turn later (after an outage) takes a
        ``write_seq`` from :meth:`next_write_seq` once and passes it on every attempt: an
        attempt whose script already ran then returns the stored index instead of storing
        the turn again. Without one, each call is a new write.
        """
        seq = write_seq if write_seq is not None else self.next_write_seq()
        args = append_args(self, session_id, turn, user_id, tools_used, seq)
        idx = self._append(keys=[self.turns_key(session_id), self.meta_key(session_id)], args=args)
        score = stored_to_ms(str(turn["timestamp"])) or now_ms()
        self.client.zadd(self.index_key, {session_id: score}, gt=True)
        return int(idx)

    def next_write_seq(self) -> int:
        """A sequence number naming one write of this store instance (see append_turn)."""
        return next(self._write_seq)

    def write_session(
        self, doc: SessionDoc, *, replace: bool = False, pages: TurnPages | None = None
    ) -> bool:
        """Write a whole document (used by import): turns as given, metadata, extras, index.

        ``replace``: one MULTI/EXEC that starts with DEL (a retry after a lost reply writes
        the same session again). Otherwise a script writes it only if neither key exists
        and returns False when one does (another writer created the session meanwhile:
        it is left untouched). ``pages``: the turns of a big document, written page by
        page yet still in one atomic step (:mod:`~neurolink_cli.store.staged`)."""
        if pages is not None:
            if not write_staged(self, doc, pages, replace=replace):
                return False
            self.client.zadd(
                self.index_key, {doc.session_id: stored_to_ms(doc.updated_at) or now_ms()}
            )
            return True
        turns = doc.turns
        meta = session_fields(doc)
        tkey, mkey = self.turns_key(doc.session_id), self.meta_key(doc.session_id)
        rows = [jsonutil.dumps(t) for t in turns]
        if replace:
            pipe = self.client.pipeline(transaction=True)
            pipe.delete(tkey, mkey)
            if rows:
                pipe.rpush(tkey, *rows)
            pipe.hset(mkey, mapping=meta)
            if self.ttl > 0:
                pipe.expire(tkey, self.ttl)
                pipe.expire(mkey, self.ttl)
            pipe.execute()
        else:
            pairs = [part for item in meta.items() for part in item]
            args = [self.ttl, len(rows), *rows, *pairs]
            if not self._create(keys=[tkey, mkey], args=args):
                return False
        score = stored_to_ms(doc.updated_at) or now_ms()
        self.client.zadd(self.index_key, {doc.session_id: score})
        return True

    def staging_key(self, session_id: str) -> str:
        """Where a big session's turns are built before they move into place (same slot
        as its keys; a name no reader takes for a session key)."""
        return f"{self.prefix}:session:{{{session_id}}}:importing:{self.writer_id}"

    # -- reading ------------------------------------------------------------------------
    def exists(self, session_id: str) -> bool:
        return bool(self.client.exists(self.meta_key(session_id), self.turns_key(session_id)))

    def get(self, session_id: str) -> SessionDoc | Unreadable | None:
        """One session's document, or None when neither of its keys exists."""
        return self.fetch_many([session_id])[0]

    def fetch_many(
        self,
        session_ids: list[str],
        scores: list[float] | None = None,
    ) -> list[SessionDoc | Unreadable | None]:
        """Read sessions in one pipelined round trip; None for a session whose keys are gone,
        :class:`Unreadable` for one whose keys are not of the layout's types.

        With ``scores`` (their index scores), members found gone are pruned from the index.
        """
        reader = self._reader()
        replies = reader.read(self._key_pairs(session_ids))
        return self._docs(session_ids, scores, replies)

    def _reader(self) -> BatchReader:
        reader = self.__dict__.get("_batch_reader")
        if reader is None:
            reader = self.__dict__["_batch_reader"] = BatchReader(self.client, self.first_page)
        return reader

    def _key_pairs(self, session_ids: list[str]) -> list[tuple[str, str]]:
        prefix = self.prefix
        return [
            (f"{prefix}:session:{{{sid}}}:metadata", f"{prefix}:session:{{{sid}}}:turns")
            for sid in session_ids
        ]

    def _docs(
        self, session_ids: list[str], scores: list[float] | None, replies: list[Any]
    ) -> list[SessionDoc | Unreadable | None]:
        docs: list[SessionDoc | Unreadable | None] = []
        for i, sid in enumerate(session_ids):
            meta, turns = replies[2 * i], replies[2 * i + 1]
            if isinstance(meta, Exception) or isinstance(turns, Exception):
                bad, key = (
                    (meta, self.meta_key(sid))
                    if isinstance(meta, Exception)
                    else (turns, self.turns_key(sid))
                )
                if "WRONGTYPE" not in str(bad):
                    raise bad
                docs.append(Unreadable(sid, f"key {key} is not of the expected type", key))
                continue
            if not meta and not turns:
                if scores is not None:
                    self._prune_member(sid, scores[i])
                docs.append(None)
                continue
            doc = session_doc(sid, self.meta_key(sid), meta, turns)
            if len(turns) >= self.first_page:  # a huge session: read on while written
                self._page_on(doc, meta, turns)
            docs.append(doc)
        return docs

    def _page_on(self, doc: SessionDoc, meta: dict[Any, Any], first: list[bytes]) -> None:
        key = self.turns_key(doc.session_id)
        doc.more = turn_pages(self.client, key, len(first), first[-1])
        if as_int((meta or {}).get(b"totalTurns")) is None:  # counted from the turns
            doc.metadata["totalTurns"] = int(self.client.llen(key))

    def _prune_member(self, session_id: str, score: float) -> None:
        # Read-only ACL users cannot prune; reading must go on.
        with contextlib.suppress(Exception):
            self._prune(keys=[self.index_key], args=[session_id, score])

    def prune_member_in(self, pipe: Any, session_id: str, score: float | None) -> None:
        """Queue on ``pipe`` the removal of the index member, only if its score is still
        ``score`` (a session written again since keeps its entry)."""
        if score is not None:
            pipe.execute_command("EVAL", PRUNE_SCRIPT, 1, self.index_key, session_id, repr(score))

    def index_walk(
        self, *, since_ms: int | None = None, until_ms: int | None = None, page: int = 500
    ) -> IndexWalk:
        """A walk over the index, oldest update first, each member at most once
        (see :mod:`neurolink_cli.store.walk`); drive it with ``next_page()`` or iterate it."""
        return IndexWalk(
            self.client,
            self.index_key,
            page=page,
            since_ms=since_ms,
            until_ms=until_ms,
            script=self._page,
            # iterated, the next page is read ahead (a plain client; a Cluster page by page)
            reader=None if hasattr(self.client, "get_nodes") else self._reader(),
        )

    def index_pages(
        self, *, since_ms: int | None = None, until_ms: int | None = None, page: int = 500
    ) -> Iterator[list[tuple[str, float]]]:
        """Index members ``(id, score)``, oldest update first, in pages, each at most once."""
        return iter(self.index_walk(since_ms=since_ms, until_ms=until_ms, page=page))

    def iter_docs(
        self,
        *,
        since_ms: int | None = None,
        until_ms: int | None = None,
        jobs: int = 1,
        walk: IndexWalk | None = None,
    ) -> Iterator[SessionDoc | Unreadable]:
        """Every session through the index, oldest update first, in pipelined batches.

        With ``jobs`` > 1 the batches are read by that many threads at once, each on its
        own connection of the client's pool, and still yielded in index order; at most
        ``2 * jobs`` batches are in flight, so memory stays bounded by the batch size.
        Reader threads wait on sockets (the GIL is released there): N readers overlap N
        round trips with the formatting. On a Redis Cluster (lean per-primary reads, see
        :mod:`~neurolink_cli.store.batchread`) this thread keeps ``jobs`` batches in flight
        instead, each sent to all its primaries at once, on ``jobs`` connections per primary.
        """
        pages = (
            walk
            if walk is not None
            else self.index_walk(since_ms=since_ms, until_ms=until_ms, page=self.batch_size)
        )
        if jobs <= 1 or self._reader().per_primary:
            # On a cluster the lean reads already send every batch to all its primaries at
            # once: ``jobs`` batches ahead in this thread keep them all busy without the
            # reader threads' fight for the GIL (parsing replies is Python work too).
            yield from self._read_ahead(iter(pages), max(1, jobs))
            return
        pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="neurolink-read")
        pending: deque[Future[list[SessionDoc | Unreadable | None]]] = deque()
        try:
            for rows in pages:
                pending.append(pool.submit(self.fetch_many, *_ids_scores(rows)))
                while len(pending) >= 2 * jobs:
                    yield from _present(pending.popleft().result())
            while pending:
                yield from _present(pending.popleft().result())
        finally:
            # On an early exit (an error, Ctrl-C, a closed pipe) do not wait for queued reads.
            pool.shutdown(wait=False, cancel_futures=True)

    def _read_ahead(
        self, pages: Iterator[list[tuple[str, float]]], depth: int = 1
    ) -> Iterator[SessionDoc | Unreadable]:
        """Every page's sessions, the next ``depth`` pages' batches sent before these are
        handed out."""
        for _rows, docs in self.read_pages(pages, depth):
            yield from docs

    def read_pages(
        self, pages: Iterator[list[tuple[str, float]]], depth: int = 1
    ) -> Iterator[tuple[list[tuple[str, float]], list[SessionDoc | Unreadable]]]:
        """Each page of index rows with its sessions (those found), the next ``depth``
        pages' batches sent before these are handed out."""
        for rows, replies in self.read_replies(pages, depth):
            yield rows, self.docs_of(rows, replies)

    def read_replies(
        self, pages: Iterator[Rows], depth: int = 1, ttl: bool = False
    ) -> Iterator[tuple[Rows, list[Any]]]:
        """As :meth:`read_pages`, the raw replies (``[HGETALL, LRANGE] * rows``, errors in
        place; with ``ttl``, ``[HGETALL, LRANGE, PTTL of the metadata] * rows``, in the same
        round trip)."""
        pairs = self._key_pairs
        return read_ahead(self._reader(), pages, lambda r: pairs([i for i, _ in r]), depth, ttl)

    def docs_of(self, rows: Rows, replies: list[Any]) -> list[SessionDoc | Unreadable]:
        """The sessions found of ``rows`` from their replies (those gone pruned)."""
        return list(_present(self._docs(*_ids_scores(rows), replies)))

    def reads_per_primary(self) -> bool:
        """True while batches go to a cluster's primaries as lean per-node pipelines."""
        return self._reader().per_primary

    def can_share_pages(self) -> bool:
        """True when another process may read pages of this store's walk on its own
        connections (a plain client, or a cluster read per primary: a forked child opens its
        own through redis-py's pools, which start afresh in a new process)."""
        reader = self._reader()
        return reader._lean or reader.per_primary

    def scan_ids(self) -> Iterator[list[str]]:
        """Session ids found by SCAN over every primary (``--full-scan``), in batches."""
        pattern = glob_escape(f"{self.prefix}:session:{{") + "*"
        seen_batch: list[str] = []
        seen = SeenSet()  # SCAN may return a key twice
        for key in scan_iter(self.client, pattern):
            k = as_text(key) or ""
            if not k.endswith("}:metadata") and not k.endswith("}:turns"):
                continue
            inner = k[len(self.prefix) + len(":session:{") : k.rindex("}:")]
            if k.endswith("}:turns") and self.client.exists(self.meta_key(inner)):
                continue  # counted through its metadata key
            if not seen.add(inner):
                continue
            seen_batch.append(inner)
            if len(seen_batch) >= self.batch_size:
                yield seen_batch
                seen_batch = []
        if seen_batch:
            yield seen_batch

    def iter_docs_full_scan(self) -> Iterator[SessionDoc | Unreadable]:
        """Every session found by SCAN instead of the index (for audits)."""
        for ids in self.scan_ids():
            for doc in self.fetch_many(ids):
                if doc is not None:
                    yield doc

    def count(self) -> int:
        """Members of the index (may include sessions whose keys have expired)."""
        return int(self.client.zcard(self.index_key))

    def summaries(
        self,
        *,
        since_ms: int | None = None,
        until_ms: int | None = None,
        user_id: str | None = None,
        page: int = 200,
    ) -> Iterator[SessionSummary | Unreadable]:
        """Sessions newest first (by last update), as list rows, pruning gone members; a
        session with a key of the wrong type as Unreadable.

        For a first page (``list --limit N``); every session, each exactly once, is
        :meth:`all_summaries` (the keyset walk). See :mod:`~neurolink_cli.store.nativelist`."""
        return nativelist.first_summaries(
            self, since_ms=since_ms, until_ms=until_ms, user_id=user_id, page=page
        )

    def all_summaries(
        self,
        *,
        since_ms: int | None = None,
        until_ms: int | None = None,
        user_id: str | None = None,
        page: int = 200,
    ) -> Iterator[tuple[Keyed, list[Unreadable]]]:
        """Every session's list row, each exactly once, a page at a time, oldest update
        first: ``(last update in ms, row)`` pairs, with the page's sessions that have a key
        of the wrong type (Unreadable)."""
        return nativelist.keyed_summaries(
            self, since_ms=since_ms, until_ms=until_ms, user_id=user_id, page=page
        )

    def existing(self, session_ids: list[str]) -> set[str]:
        """Which of these ids have a key of this layout (one EXISTS each, in one lean round
        trip: :meth:`BatchReader.run`)."""
        replies = self._reader().run(
            [("EXISTS", self.meta_key(sid), self.turns_key(sid)) for sid in session_ids]
        )
        for n in replies:
            if isinstance(n, Exception):
                raise n
        return {sid for sid, n in zip(session_ids, replies, strict=True) if n}

    def raise_score(self, session_id: str, score_ms: int) -> None:
        """Move the session's index entry up to ``score_ms`` (never down: ZADD GT)."""
        self.client.zadd(self.index_key, {session_id: score_ms}, gt=True)

    # -- deleting -----------------------------------------------------------------------
    def delete(self, session_id: str) -> bool:
        """Remove one session's keys and index entry; True if anything existed."""
        removed = self.client.unlink(self.turns_key(session_id), self.meta_key(session_id))
        in_index = self.client.zrem(self.index_key, session_id)
        return bool(removed or in_index)

    def delete_all(self) -> int:
        """Remove every native session under the prefix (SCAN + UNLINK in batches)."""
        pattern = glob_escape(f"{self.prefix}:session:{{") + "*"
        batch: list[bytes] = []
        sessions = 0
        for key in scan_iter(self.client, pattern):
            batch.append(key)
            if key.endswith(b"}:metadata"):
                sessions += 1
            if len(batch) >= 500:
                unlink(self.client, batch)
                batch = []
        if batch:
            unlink(self.client, batch)
        self.client.unlink(self.index_key)
        return sessions


def _ids_scores(rows: list[tuple[str, float]]) -> tuple[list[str], list[float]]:
    return [sid for sid, _ in rows], [sc for _, sc in rows]


def _present(docs: list[SessionDoc | Unreadable | None]) -> Iterator[SessionDoc | Unreadable]:
    for doc in docs:
        if doc is not None:
            yield doc
