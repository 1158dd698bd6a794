"""The native layout's rows of ``memory list``: a first page newest first, or every session.

A row needs a few metadata fields, the turn count and the TTL of a session: one pipelined
HMGET + LLEN + TTL per session, a page of sessions per round trip, on the lean hiredis path
of :class:`~neurolink_cli.store.batchread.BatchReader` (on a cluster, redis-py's pipeline).
A Lua script doing the same in one call per page was slower: it cost Redis more CPU per
page (1.0-1.3 ms against 0.85 ms for 200 sessions) and holds the server while it runs, so
the walk's next page waited behind it; ``list --limit 0`` of 20,000 sessions went from
about 0.6 s to 0.35 s without it.

Every session (``list --limit 0``) comes from the exactly-once keyset walk of the index
(:mod:`~neurolink_cli.store.walk`, which reads its next page ahead on a connection of its
own); the next page's commands are sent before this one's rows are built
(:meth:`~neurolink_cli.store.batchread.BatchReader.run_ahead`), so Redis reads while
Python builds rows. Each page's rows come keyed by their last update (the sort key of a
listing), in walk order. One process: a forked worker for half the pages was measured
slower at 20,000 sessions (its fork, the pickled rows) than building them all here. A
first page (``--limit N``) reads the index newest first. Either way, members whose keys
are gone are pruned from the index when met; a session with a key of the wrong type is
named (Unreadable: ``memory list`` warns and lists the rest, as ``stats`` and ``export-all`` do).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import TYPE_CHECKING, Any

from neurolink_cli.models import SOURCE_NATIVE, Keyed, SessionSummary, Unreadable
from neurolink_cli.store.batchread import Packed
from neurolink_cli.store.nativedoc import SUMMARY_FIELDS, as_int, as_text

if TYPE_CHECKING:
    from neurolink_cli.store.native import NativeStore

Rows = list[tuple[str, float]]
_N = len(SUMMARY_FIELDS)


def first_summaries(
    store: NativeStore,
    *,
    since_ms: int | None = None,
    until_ms: int | None = None,
    user_id: str | None = None,
    page: int = 200,
) -> Iterator[SessionSummary | Unreadable]:
    """Sessions newest first (by last update), as list rows, pruning gone members; a
    session with a key of the wrong type as Unreadable (before the rows of its page)."""
    hi: float | str = f"({until_ms}" if until_ms is not None else "+inf"
    lo: float | str = since_ms if since_ms is not None else "-inf"
    offset = 0
    while True:
        rows = store.client.zrevrangebyscore(
            store.index_key, hi, lo, start=offset, num=page, withscores=True
        )
        if not rows:
            return
        offset += len(rows)
        found = [(as_text(m) or "", float(sc)) for m, sc in rows]
        out: list[SessionSummary] = []
        bad: list[Unreadable] = []
        replies = store._reader().run(_packed(store, found))
        offset -= summary_rows(store, found, replies, user_id, out, bad)
        yield from bad
        yield from out
        if len(rows) < page:
            return


def keyed_summaries(
    store: NativeStore,
    *,
    since_ms: int | None = None,
    until_ms: int | None = None,
    user_id: str | None = None,
    page: int = 200,
) -> Iterator[tuple[Keyed, list[Unreadable]]]:
    """Every session's row, each exactly once, a page at a time in walk order (oldest
    update first): ``(last update in ms, row)`` pairs, and the page's sessions with a key
    of the wrong type as Unreadable."""
    walk = iter(store.index_walk(since_ms=since_ms, until_ms=until_ms, page=page))
    batches = store._reader().run_ahead((rows, _packed(store, rows)) for rows in walk)
    for rows, replies in batches:
        out: list[SessionSummary] = []
        bad: list[Unreadable] = []
        summary_rows(store, rows, replies, user_id, out, bad)
        yield [(row.updated_ms, row) for row in out], bad


def _commands(store: NativeStore, rows: Rows) -> list[tuple[Any, ...]]:
    commands: list[tuple[Any, ...]] = []
    for sid, _ in rows:
        meta_key = store.meta_key(sid)
        commands += [
            ("HMGET", meta_key, *SUMMARY_FIELDS),
            ("LLEN", store.turns_key(sid)),
            ("TTL", meta_key),
        ]
    return commands


# HMGET meta *fields, LLEN turns, TTL meta of one session as RESP, the keys filled in
_TEMPLATE = (
    b"*%d\r\n$5\r\nHMGET\r\n" % (_N + 2)
    + b"$%d\r\n%s\r\n"
    + b"".join(b"$%d\r\n%s\r\n" % (len(f), f.encode()) for f in SUMMARY_FIELDS).replace(b"%", b"%%")
    + b"*2\r\n$4\r\nLLEN\r\n$%d\r\n%s\r\n*2\r\n$3\r\nTTL\r\n$%d\r\n%s\r\n"
)


def _packed(store: NativeStore, rows: Rows) -> Packed:
    """The page's commands (:func:`_commands`) as the bytes hiredis would pack them, one
    template per session."""
    template = _TEMPLATE
    head = f"{store.prefix}:session:{{".encode()
    parts = []
    for sid, _ in rows:
        base = head + sid.encode()
        meta, turns = base + b"}:metadata", base + b"}:turns"
        n = len(meta)
        parts.append(template % (n, meta, len(turns), turns, n, meta))
    return Packed(b"".join(parts), 3 * len(rows), partial(_commands, store, rows))


def summary_rows(
    store: NativeStore,
    rows: Rows,
    replies: list[Any],
    user_id: str | None,
    out: list[SessionSummary],
    bad: list[Unreadable],
) -> int:
    """Append the rows' summaries to ``out`` from ``replies`` (HMGET of the summary
    fields, LLEN, TTL per session); the number of members found gone (and pruned). A
    session with a key of the wrong type goes to ``bad`` as Unreadable, unless its user is
    known and not ``user_id``; any other error is raised.

    The hot loop of ``memory list``: each session's fields are unpacked and each decoded
    where it is used (no list or dict per row); a counter that ``int`` reads from its
    bytes is not decoded at all (whatever it refuses is read as text, as :func:`as_int` of
    the decoded field)."""
    gone = 0
    each = iter(replies)
    for (sid, score), fields, length, ttl in zip(rows, each, each, each, strict=True):
        if (type(fields) is not list or type(length) is not int) and _wrong_type(
            store, sid, fields, length, user_id, bad
        ):  # TTL does not fail
            continue
        if not length and ttl == -2:  # neither key exists (TTL -2: no metadata hash at all)
            store._prune_member(sid, score)
            gone += 1
            continue
        # the session's id is the one its keys name (sid), not its sessionId field
        _, user, created, updated, total, model, title, errors = fields
        if isinstance(user, bytes):
            user = user.decode("utf-8", "replace")
        if user_id is not None and user != user_id:
            continue
        if total is None:
            turns = length or 0
        else:
            try:
                turns = int(total) or 0
            except (TypeError, ValueError):
                turns = as_int(as_text(total), length) or 0
        if errors is None:
            failed = 0
        else:
            try:
                failed = int(errors) or 0
            except (TypeError, ValueError):
                failed = as_int(as_text(errors), 0) or 0
        out.append(
            SessionSummary(
                sid,
                user,
                created.decode("utf-8", "replace") if isinstance(created, bytes) else created,
                updated.decode("utf-8", "replace") if isinstance(updated, bytes) else updated,
                turns,
                model.decode("utf-8", "replace") if isinstance(model, bytes) else model,
                title.decode("utf-8", "replace") if isinstance(title, bytes) else title,
                SOURCE_NATIVE,
                ttl if ttl and ttl > 0 else None,
                failed,
            )
        )
    return gone


def _wrong_type(store: NativeStore, sid: str, fields: Any, length: Any, user_id: str | None,
                bad: list[Unreadable]) -> bool:  # fmt: skip
    """True when the session has a key of the wrong type (put in ``bad``, unless its
    metadata names another user than ``user_id``); any other error of its replies raised."""
    for reply, of_meta in ((fields, True), (length, False)):
        if isinstance(reply, Exception):
            if "WRONGTYPE" not in str(reply):
                raise reply
            key = store.meta_key(sid) if of_meta else store.turns_key(sid)
            if user_id is None or not isinstance(fields, list) or as_text(fields[1]) == user_id:
                bad.append(Unreadable(sid, f"key {key} is not of the expected type", key))
            return True
    return False
