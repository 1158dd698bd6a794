"""The TypeScript layout's rows of ``memory list``, read without building whole sessions.

A row needs the session's ids, timestamps, title, message count and model (the last one a
message's ``metadata`` names), not the messages themselves. So each stored value is first
decoded by a typed msgspec decoder that keeps those fields only and skips everything else
(message bodies included) in C, about three times faster than building the objects.

That fast read is taken only when it gives what the full read
(:meth:`~neurolink_cli.store.upstream.UpstreamStore._session_data`) would: a session
object with a non-empty string ``sessionId`` and a ``messages`` array of objects. Anything
else the fast decoder refuses (not JSON, another shape, a lone surrogate escape, a number
it cannot hold) goes through the full read, which decides and names the problem as
always. What it does not check where it skips, the full read does:

- UTF-8: a value that is not all ASCII is decoded strictly first (invalid bytes make the
  full read refuse the value: "not JSON");
- nesting depth: the value is decoded as the one element of an array, one level deeper
  than the full read decodes it, so a value nested too deep for the full read fails here
  first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from operator import attrgetter, itemgetter
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

import msgspec

from neurolink_cli.models import SOURCE_UPSTREAM, Keyed, SessionSummary, Unreadable
from neurolink_cli.store.upstreamdoc import derived, str_or_none, user_of
from neurolink_cli.util.jsonutil import _exact_float as exact_float
from neurolink_cli.util.timeutil import stored_to_ms

if TYPE_CHECKING:
    from neurolink_cli.store.upstream import UpstreamStore, _Entry


class _Message(msgspec.Struct):
    metadata: Any = None


class _Session(msgspec.Struct):
    sessionId: Any  # noqa: N815 - the stored field names
    messages: list[_Message]
    userId: Any = None  # noqa: N815
    createdAt: Any = None  # noqa: N815
    updatedAt: Any = None  # noqa: N815
    title: Any = None


R = TypeVar("R")  # what a page of keys is made into

_METADATA = attrgetter("metadata")
_FIRST = itemgetter(0)
_NO_METADATA = {type(None)}
_ONE_SESSION = msgspec.json.Decoder(list[_Session], float_hook=exact_float)
_FAST_ERRORS = (msgspec.DecodeError, msgspec.ValidationError, ValueError, RecursionError)


class Filter(NamedTuple):
    """Which rows a listing keeps: last update in [since, until), of one user."""

    since_ms: int | None = None
    until_ms: int | None = None
    user_id: str | None = None


def summaries(
    store: UpstreamStore,
    *,
    since_ms: int | None = None,
    until_ms: int | None = None,
    user_id: str | None = None,
    share: bool = False,
) -> Iterator[SessionSummary | Unreadable]:
    """One row per session (in SCAN order), filtered by last update; Unreadable rows for
    keys under the prefix that are not sessions. ``share``: the key pages read by two
    processes when they can (:func:`~neurolink_cli.util.forkmap.map_pages`, 4 of every 7
    pages to a forked worker; the rows in page order, exactly as one process gives them)."""
    for rows in _mapped(store, Filter(since_ms, until_ms, user_id), page_rows, share):
        yield from rows


def keyed_summaries(
    store: UpstreamStore,
    *,
    since_ms: int | None = None,
    until_ms: int | None = None,
    user_id: str | None = None,
    share: bool = False,
) -> Iterator[tuple[Keyed, list[Unreadable]]]:
    """:func:`summaries` a page at a time, for a listing that sorts them: each page's rows
    as ``(last update in ms, row)`` newest first (equal times in SCAN order), and its
    Unreadable rows. The pages a forked worker reads are keyed and sorted there, so this
    process only merges sorted runs (``memory list``)."""
    return _mapped(store, Filter(since_ms, until_ms, user_id), _keyed_rows, share)


def _mapped(store: UpstreamStore, keep: Filter,
            rows: Callable[[UpstreamStore, list[_Entry], Filter], R], share: bool,
            ) -> Iterator[R]:  # fmt: skip
    """``rows(store, entries, keep)`` of each page of keys read, in page order (a forked
    worker's share of the pages made there, when ``share`` and it can)."""
    from neurolink_cli.util import forkmap

    share = share and forkmap.available() and store.can_share_pages()
    work = partial(_page_of, rows, store, keep)
    return forkmap.map_pages(store.key_pages(keep.user_id), store.read_entries, work, share=share)


def _page_of(rows: Callable[[UpstreamStore, list[_Entry], Filter], R], store: UpstreamStore,
             keep: Filter, _page: Any, entries: list[_Entry]) -> R:  # fmt: skip
    return rows(store, entries, keep)


def _keyed_rows(
    store: UpstreamStore, entries: list[_Entry], keep: Filter
) -> tuple[Keyed, list[Unreadable]]:
    keyed: Keyed = []
    bad: list[Unreadable] = []
    for row in page_rows(store, entries, keep):
        if isinstance(row, Unreadable):
            bad.append(row)
        else:
            keyed.append((row.updated_ms, row))
    keyed.sort(key=_FIRST, reverse=True)  # stable: equal times keep their order
    return keyed, bad


def page_rows(
    store: UpstreamStore, entries: list[_Entry], keep: Filter
) -> list[SessionSummary | Unreadable]:
    """The rows of one page of keys read."""
    since_ms, until_ms, user_id = keep
    session_data = store._session_data
    out: list[SessionSummary | Unreadable] = []
    for entry in entries:
        row = _fast_row(entry)
        if row is None:
            data = session_data(entry)  # as deep in the stack as the fast decode
            if data is None:
                continue
            if isinstance(data, Unreadable):
                out.append(data)
                continue
            row = _full_row(data, entry.ttl)
        if user_id is not None and row.user_id != user_id:
            continue
        if since_ms is not None or until_ms is not None:
            updated = stored_to_ms(row.updated_at) or 0
            if since_ms is not None and updated < since_ms:
                continue
            if until_ms is not None and updated >= until_ms:
                continue
        out.append(row)
    return out


def fast_session(entry: _Entry) -> _Session | None:
    """The session from the typed decoder (its messages' bodies skipped), or None when the
    full read must decide; when not None, the full read takes the value as a session too,
    with the same ``sessionId``, ``userId``, ``createdAt``, ``updatedAt`` and ``title``."""
    value = entry.value
    if entry.kind != "string" or type(value) is not bytes:
        return None
    found = _decode(value)
    if found is None:
        return None
    sid = found.sessionId
    if not isinstance(sid, str) or not sid:
        return None
    return found


def _fast_row(entry: _Entry) -> SessionSummary | None:
    """The row from the typed decoder, or None when the full read must decide."""
    found = fast_session(entry)
    if found is None:
        return None
    sid = found.sessionId
    model = None
    metas = list(map(_METADATA, found.messages))
    if set(map(type, metas)) != _NO_METADATA:  # one C-level pass in the common case
        for meta in metas:
            if isinstance(meta, dict):
                model = meta.get("model") or model
    return SessionSummary(
        session_id=sid,
        user_id=user_of({"userId": found.userId}),
        created_at=str_or_none(found.createdAt),
        updated_at=str_or_none(found.updatedAt),
        turns=len(found.messages),
        model=model,
        title=str_or_none(found.title),
        source=SOURCE_UPSTREAM,
        ttl=entry.ttl,
    )


def selection_entries(
    store: UpstreamStore, user_id: str | None = None
) -> Iterator[tuple[_Entry, str, str | None, str | None, str | None]]:
    """The keys of :meth:`UpstreamStore.session_entries` with only what selecting them for
    ``memory delete`` reads: the session id, the exported user, ``updatedAt`` (as text) and
    the ``userId`` as stored. The messages are skipped by :func:`fast_session` where it
    takes the value; any other value is read whole, as for a row."""
    session_data = store._session_data
    for entry in store._entries(user_id, with_ttl=False):
        found = fast_session(entry)
        if found is not None:
            stored, updated = found.userId, found.updatedAt
            sid = found.sessionId
        else:
            data = session_data(entry)
            if not isinstance(data, dict):
                continue
            stored, updated = data.get("userId"), data.get("updatedAt")
            sid = data["sessionId"]
        stored_user = stored if isinstance(stored, str) and stored else None
        yield entry, sid, user_of({"userId": stored}), str_or_none(updated), stored_user


def _decode(value: bytes) -> _Session | None:
    try:
        found = _ONE_SESSION.decode(b"[" + value + b"]")
        if not value.isascii():
            value.decode("utf-8")
    except (*_FAST_ERRORS, UnicodeDecodeError):
        return None
    return found[0] if len(found) == 1 else None


def _full_row(data: dict[str, Any], ttl: int | None) -> SessionSummary:
    """The row of a session object checked by the full read."""
    messages = data["messages"]
    return SessionSummary(
        session_id=data["sessionId"],
        user_id=user_of(data),
        created_at=str_or_none(data.get("createdAt")),
        updated_at=str_or_none(data.get("updatedAt")),
        turns=len(messages),
        model=derived(messages, set().union(*messages))[1],
        title=str_or_none(data.get("title")),
        source=SOURCE_UPSTREAM,
        ttl=ttl,
    )
