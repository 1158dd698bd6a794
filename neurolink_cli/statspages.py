"""``memory stats`` of one page of sessions: the turns decoded straight into what is counted.

:func:`~neurolink_cli.stats.compute_stats` counts each page of the native index (a batch
of documents read by :meth:`NativeStore.read_pages`) and each batch of keys of the
TypeScript layout (:meth:`UpstreamStore.read_entries`) on its own, as a part merged in
order (:meth:`Stats.merge`), possibly in a second process.

The fast path decodes each stored turn with msgspec into :class:`~neurolink_cli.stats.Turn`
(role, model, provider, tokens, cost, error, timestamp: the other fields, the content
above all, are skipped in C, never built) with the exact numbers of
:func:`~neurolink_cli.util.jsonutil.loads`, a session at a time: its bytes, joined for the
UTF-8 check, are still in the cache (a whole page's, joined, are not: 7% slower). What
it cannot decode so (a turn that is not one JSON object, bytes that are not UTF-8, a lone
surrogate, a session of the TypeScript layout whose shape is not the plain one, a huge
session read in pages) takes the path of every other command: the document's parsed
turns, or the store's own reading of the key; so bad data is reported word for word as
before. What the fast path accepts, that path accepts with the same values.
"""

from __future__ import annotations

import codecs
from typing import Any

import msgspec

from neurolink_cli.errors import BadData
from neurolink_cli.models import SessionDoc, Unreadable
from neurolink_cli.stats import DAY_MS, Run, Stats, Turn, turn_of
from neurolink_cli.store.native import NativeStore
from neurolink_cli.store.nativedoc import as_text
from neurolink_cli.store.upstream import UpstreamStore
from neurolink_cli.store.upstreamdoc import str_or_none
from neurolink_cli.util import jsonutil

_REFUSED = (msgspec.DecodeError, ValueError, RecursionError, TypeError)


class Message(Turn, gc=False):
    """A message of the TypeScript layout: a turn, and its metadata (provider, model)."""

    metadata: Any = None


class Session(msgspec.Struct, gc=False):
    """A session object of the TypeScript layout, as far as stats reads it."""

    sessionId: str  # noqa: N815 - the stored field names
    messages: list[Message]
    createdAt: Any = None  # noqa: N815
    updatedAt: Any = None  # noqa: N815


_TURN = jsonutil.typed_decoder(Turn)
_SESSION = jsonutil.typed_decoder(Session)


_UTF8 = codecs.getincrementaldecoder("utf-8")
_CHUNK = 16384  # decoded a chunk at a time: no string big enough to be mapped and unmapped


def _utf8(data: bytes | str) -> bool:
    """True when ``data`` is valid UTF-8 (msgspec does not look at what it skips)."""
    if isinstance(data, str) or data.isascii():
        return True
    if len(data) <= _CHUNK:  # one call in C (the incremental decoder's layers cost more)
        try:
            data.decode()
        except UnicodeDecodeError:
            return False
        return True
    decoder = _UTF8()
    view = memoryview(data)
    try:
        for at in range(0, len(view), _CHUNK):
            decoder.decode(view[at : at + _CHUNK])
        decoder.decode(b"", True)
    except UnicodeDecodeError:
        return False
    return True


def decode_turns(raws: list[bytes]) -> list[Turn] | None:
    """The stored turns as :class:`Turn`, or None when one is not decoded so."""
    try:
        turns = list(map(_TURN, raws))
    except _REFUSED:
        return None
    return turns if _utf8(b"".join(raws)) else None


def _plain(meta: Any, turns: Any, first_page: int) -> bool:
    """True for the replies of a plain session: a metadata hash (bytes fields) and fewer
    turns than a page (no error, nothing gone, no huge session read in pages)."""
    return (
        type(meta) is dict
        and bool(meta)
        and type(next(iter(meta))) is bytes
        and type(turns) is list
        and len(turns) < first_page
    )


def _unreadable(part: Stats, item: Unreadable) -> None:
    part.warnings.append(item.warning)  # worded as export-all and list word it
    if not item.skip:
        part.unreadable.append((item.session_id, item.reason))


def _parsed(part: Stats, doc: SessionDoc) -> list[Turn] | None:
    """The document's turns parsed as every command parses them; None (reported) when
    they cannot be."""
    try:
        return list(map(turn_of, doc.turns))
    except BadData as exc:
        part.unreadable.append((doc.session_id, str(exc)))
        part.warnings.append(str(exc))
        return None


class _Texts(dict[Any, Any]):
    """:func:`as_text` of values met again and again (models, providers), each decoded once."""

    def __call__(self, value: Any) -> str | None:
        try:
            return self[value]  # type: ignore[no-any-return]
        except KeyError:
            found = self[value] = as_text(value)
            return found


def native_page(native: NativeStore, rows: list[tuple[str, float]], replies: list[Any]) -> Stats:
    """The count of one page of the native index from its replies (``[HGETALL, LRANGE,
    PTTL] * rows``: :meth:`NativeStore.read_replies` with ``ttl``; the TTLs in a round
    trip of their own would wait behind the next page's reads, queued before them). A plain
    session is counted from the replies themselves; any other (and one whose turns are not
    decoded so) from its document."""
    part = Stats(cost_terms=[])
    run = Run()
    counted: list[int] = []  # the rows counted, whose TTLs are looked at
    first_page = native.first_page
    metas, turn_lists, ttls = replies[0::3], replies[1::3], replies[2::3]
    plain = [_plain(m, t, first_page) for m, t in zip(metas, turn_lists, strict=True)]
    fast = [decode_turns(t) if p else None for p, t in zip(plain, turn_lists, strict=True)]
    text = _Texts()
    for i, turns in enumerate(fast):
        if turns is not None:
            get = metas[i].get
            run.add_parts(turns, text(get(b"model")), text(get(b"provider")),
                          as_text(get(b"createdAt")), as_text(get(b"updatedAt")))  # fmt: skip
            counted.append(i)
            continue
        for item in native.docs_of(rows[i : i + 1], replies[3 * i : 3 * i + 2]):
            if isinstance(item, Unreadable):
                _unreadable(part, item)
                continue
            parsed = _parsed(part, item)
            if parsed is not None:
                run.add(item, parsed)
                counted.append(i)
    part.count(run)
    part.expiring += sum(1 for i in counted if type(ms := ttls[i]) is int and 0 < ms <= DAY_MS)
    return part


def _session(entry: Any) -> tuple[Session, Any, Any] | None:
    """The session of a key of the TypeScript layout with its provider and model (from
    the messages' metadata, the last that names one), when it has the plain shape: a
    JSON object with a non-empty ``sessionId`` and ``messages`` all objects."""
    value = entry.value
    if entry.kind != "string" or value is None:
        return None
    try:
        session = _SESSION(value)
    except _REFUSED:
        return None
    if not session.sessionId or not _utf8(value):
        return None
    provider = model = None
    metas = [m.metadata for m in session.messages]
    if metas.count(None) != len(metas):
        for meta in metas:
            if isinstance(meta, dict):
                provider = meta.get("provider") or provider
                model = meta.get("model") or model
    return session, provider, model


def upstream_page(upstream: UpstreamStore, _keys: None, entries: list[Any]) -> Stats:
    """The count of one batch of keys of the TypeScript layout (TTLs read with them)."""
    part = Stats(cost_terms=[])
    run = Run()
    for entry in entries:
        found = _session(entry)
        if found is not None:
            session, provider, model = found
            run.add_parts(session.messages, model, provider, str_or_none(session.createdAt),
                          str_or_none(session.updatedAt))  # fmt: skip
            ttl = entry.ttl
        else:
            docs = list(upstream.entry_docs([entry], counting=True))
            if not docs:
                continue
            item = docs[0]
            if isinstance(item, Unreadable):
                _unreadable(part, item)
                continue
            turns = _parsed(part, item)
            if turns is None:
                continue
            run.add(item, turns)
            ttl = item.ttl
        if ttl is not None and 0 < ttl <= DAY_MS // 1000:
            part.expiring += 1
    part.count(run)
    return part
