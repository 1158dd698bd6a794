"""The native layout's rows of ``memory list``: a first page newest first, or every session.

A row needs a few metadata fields, the turn count and the TTL of a session: on one server,
one :data:`~neurolink_cli.store.scripts.SUMMARY_SCRIPT` call per page of sessions gives
them (HMGET + LLEN + TTL of each, one reply to parse); on a cluster (one script cannot
touch keys of several slots), or when the script is refused or meets a key of the wrong
type, a pipeline of HMGET + LLEN + TTL per session does.

Every session (``list --limit 0``) comes from the exactly-once keyset walk of the index
(:mod:`~neurolink_cli.store.walk`). Each round trip carries the read of the walk's next
page and the script call for the page just read, and the next round trip is on its way
before this one's rows are built (:meth:`~neurolink_cli.store.batchread.BatchReader.chain`):
Redis reads while Python builds rows. A first page (``--limit N``) reads the index newest
first. Either way, members whose keys are gone are pruned from the index when met.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from neurolink_cli.models import SOURCE_NATIVE, SessionSummary
from neurolink_cli.store.nativedoc import SUMMARY_FIELDS, as_int, as_text
from neurolink_cli.store.scripts import SUMMARY_SCRIPT

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
) -> Iterator[SessionSummary]:
    """Sessions newest first (by last update), as list rows, pruning gone members."""
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
        offset -= summary_rows(store, found, _replies(store, found), user_id, out)
        yield from out
        if len(rows) < page:
            return


def all_summaries(
    store: NativeStore,
    *,
    since_ms: int | None = None,
    until_ms: int | None = None,
    user_id: str | None = None,
    page: int = 200,
) -> Iterator[SessionSummary]:
    """Every session as a list row, oldest update first, each exactly once."""
    walk = store.index_walk(since_ms=since_ms, until_ms=until_ms, page=page)
    out: list[SessionSummary] = []
    if not _scripted(store):
        for rows in walk:
            summary_rows(store, rows, _replies(store, rows), user_id, out)
            yield from out
            out.clear()
        return

    # A batch is tagged (the rows whose script call it carries, whether it reads a page).
    def follow(tag: tuple[Rows, bool], replies: list[Any]) -> tuple[Any, list[Any]] | None:
        rows = walk.take(replies[0]) if tag[1] else []
        more = tag[1] and not walk.done
        commands = [walk.command()] if more else []
        if rows:
            commands.append(_script_command(store, rows))
        return ((rows, more), commands) if commands else None

    first: tuple[tuple[Rows, bool], list[Any]] = (([], True), [walk.command()])
    for (rows, _), replies in store._reader().chain(first, follow):
        if rows:
            found = replies[-1]
            if not isinstance(found, list) or len(found) != len(rows):
                found = _pipelined(store, rows)  # refused, or a key of the wrong type
            summary_rows(store, rows, found, user_id, out)
            yield from out
            out.clear()


def summary_rows(
    store: NativeStore,
    rows: Rows,
    found: list[Any],
    user_id: str | None,
    out: list[SessionSummary],
) -> int:
    """Append the rows' summaries to ``out`` from ``found`` (``[*fields, LLEN, TTL]`` per
    session); the number of members found gone (and pruned).

    The hot loop of ``memory list``: each reply is unpacked into its ten values and each
    field decoded where it is used (no list or dict per row); a counter that ``int``
    reads from its bytes is not decoded at all (whatever it refuses is read as text, as
    :func:`as_int` of the decoded field). A reply of another shape (never one Redis gives)
    is read as its first ten values."""
    gone = 0
    for (sid, score), reply in zip(rows, found, strict=True):
        length, ttl = reply[_N], reply[_N + 1]
        if not length and reply.count(None) == _N:  # neither key exists
            store._prune_member(sid, score)
            gone += 1
            continue
        if type(reply) is not list or len(reply) != _N + 2:
            reply = [*reply[:_N], length, ttl]
        stored_id, user, created, updated, total, model, title, errors, _, _ = reply
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
                (
                    stored_id.decode("utf-8", "replace")
                    if isinstance(stored_id, bytes)
                    else stored_id
                )
                or sid,
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


def _scripted(store: NativeStore) -> bool:
    return store.summary_script and not hasattr(store.client, "get_nodes")


def _script_command(store: NativeStore, rows: Rows) -> tuple[Any, ...]:
    keys = [k for sid, _ in rows for k in (store.meta_key(sid), store.turns_key(sid))]
    return ("EVAL", SUMMARY_SCRIPT, len(keys), *keys, *SUMMARY_FIELDS)


def _replies(store: NativeStore, rows: Rows) -> list[Any]:
    """``[*fields, LLEN, TTL]`` of each session: one script call on one server, else (a
    cluster, the script refused, a key of the wrong type) :func:`_pipelined`."""
    if rows and _scripted(store):
        found = store._reader().run([_script_command(store, rows)])[0]
        if isinstance(found, list) and len(found) == len(rows):
            return found
    return _pipelined(store, rows)


def _pipelined(store: NativeStore, rows: Rows) -> list[Any]:
    """``[*fields, LLEN, TTL]`` of each session from one pipelined HMGET + LLEN + TTL
    each; a command's error (e.g. WRONGTYPE) is raised."""
    commands: list[tuple[Any, ...]] = []
    for sid, _ in rows:
        meta_key = store.meta_key(sid)
        commands += [
            ("HMGET", meta_key, *SUMMARY_FIELDS),
            ("LLEN", store.turns_key(sid)),
            ("TTL", meta_key),
        ]
    replies = store._reader().run(commands)  # the lean hiredis path when it can
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply
    return [[*replies[i], replies[i + 1], replies[i + 2]] for i in range(0, len(replies), 3)]
