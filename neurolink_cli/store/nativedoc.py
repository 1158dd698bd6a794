"""The native layout's session document, decoded from one HGETALL and one LRANGE reply.

The hot path of ``export-all``: only the fields the document uses are decoded, by direct
lookups on the bytes keys; imported extras (``meta.*`` metadata fields, ``doc.*`` top-level
fields, see :mod:`neurolink_cli.store.native`) are walked only when the hash holds some.
Turns stay the stored bytes (``SessionDoc.raw_turns``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Protocol

import orjson

from neurolink_cli.models import SessionDoc
from neurolink_cli.util import jsonutil

STANDARD_META = ("provider", "model", "totalTurns", "toolsUsed", "title", "errorCount")
HEAD_FIELDS = ("sessionId", "userId", "createdAt", "updatedAt")
SUMMARY_FIELDS = (
    "sessionId", "userId", "createdAt", "updatedAt", "totalTurns", "model", "title", "errorCount"
)  # fmt: skip


def as_text(value: bytes | str | None) -> str | None:
    if value is None:
        return None
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _b(value: bytes | str) -> bytes:
    return value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value


def as_int(value: Any, default: int | None = None) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def session_doc(
    session_id: str, mkey: str, meta: dict[Any, Any], raw_turns: list[bytes]
) -> SessionDoc:
    """The document of one session from its HGETALL and LRANGE replies.

    The hot path of ``export-all``: only the fields the document uses are decoded, by
    direct lookups; the walk over every field runs only when the hash holds
    ``meta.*``/``doc.*`` fields (written by ``memory import``). A client that decodes
    replies (str fields) is brought to bytes first. The session's id is ``session_id``, the
    one its keys name; a ``sessionId`` field saying otherwise is one of its problems.
    """
    if meta and not isinstance(next(iter(meta)), bytes):
        meta = {_b(k): _b(v) for k, v in meta.items()}
    get = meta.get
    problems: list[str] = []
    tools_raw = get(b"toolsUsed")
    tools: Any = []
    if tools_raw and tools_raw != b"[]":
        try:
            tools = jsonutil.loads(tools_raw)
        except orjson.JSONDecodeError:
            tools = None
        if not isinstance(tools, list):
            problems.append(f"field toolsUsed of {mkey} is not a JSON array")
            tools = []
    total_raw = get(b"totalTurns")
    try:  # as_int, inline: once per session
        total = int(total_raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        if total_raw is not None:
            problems.append(f"field totalTurns of {mkey} is not a number")
        total = len(raw_turns)
    if not meta:
        problems.append(f"metadata hash {mkey} is missing")
    # The values are bytes (a decoding client's were brought to bytes above): each decoded
    # inline (as_text's work, without a call per field).
    provider, model = get(b"provider"), get(b"model")
    metadata: dict[str, Any] = {
        "provider": None if provider is None else provider.decode("utf-8", "replace"),
        "model": None if model is None else model.decode("utf-8", "replace"),
        "totalTurns": total,
        "toolsUsed": tools,
    }
    title = get(b"title")
    if title is not None:
        metadata["title"] = title.decode("utf-8", "replace")
    errors = get(b"errorCount")
    if errors is not None:  # only sessions with a failed turn (CONTRACT §9)
        metadata["errorCount"] = as_int(errors, 0)
    extra: dict[str, Any] = {}
    if meta:  # one search over the names joined for a meta./doc. one (none of those
        names = b"\n" + b"\n".join(meta)  # read by name is; one holding "\nmeta." only
        if b"\nmeta." in names or b"\ndoc." in names:  # costs the walk)
            for key, value in meta.items():  # in stored order
                if key.startswith(b"meta."):
                    metadata[as_text(key[5:]) or ""] = _loads_or_str(as_text(value) or "")
                elif key.startswith(b"doc."):
                    extra[as_text(key[4:]) or ""] = _loads_or_str(as_text(value) or "")
    sid, user = get(b"sessionId"), get(b"userId")
    stored = sid.decode("utf-8", "replace") if sid else None
    if stored and stored != session_id:  # the keys name the session, not this field
        problems.append(
            f"field sessionId of {mkey} is {stored!r}, not the id of its keys: read as "
            f"{session_id!r}"
        )
    created, updated = get(b"createdAt"), get(b"updatedAt")
    return SessionDoc(
        session_id=session_id,
        user_id=None if user is None else user.decode("utf-8", "replace"),
        created_at=None if created is None else created.decode("utf-8", "replace"),
        updated_at=None if updated is None else updated.decode("utf-8", "replace"),
        metadata=metadata,
        raw_turns=raw_turns,
        extra=extra,
        problems=problems,
    )


def _loads_or_str(value: str) -> Any:
    try:
        return jsonutil.loads(value)
    except orjson.JSONDecodeError:
        return value


# -- the other way: what a writer stores ---------------------------------------------------
def session_fields(doc: SessionDoc, pages: TurnPages | None = None) -> dict[str | bytes, Any]:
    """The metadata hash fields of a whole document (import): the decoder above, reversed.

    ``pages``: the turns of a big document, handed out page by page (``doc.turns`` is then
    empty); their count and next index are taken from it."""
    turns = doc.turns
    count = len(turns) if pages is None else pages.count
    meta: dict[str | bytes, Any] = {"sessionId": doc.session_id}
    for key, value in doc.head().items():
        if key != "sessionId" and value is not None:
            meta[key] = value
    md = dict(doc.metadata or {})
    for key in ("provider", "model", "title"):
        if md.get(key) is not None:
            meta[key] = str(md[key])
    meta["totalTurns"] = as_int(md.get("totalTurns"), count)
    meta["toolsUsed"] = jsonutil.dumps(md.get("toolsUsed") or [])
    if as_int(md.get("errorCount")):
        meta["errorCount"] = as_int(md.get("errorCount"))
    for key, value in md.items():
        # a null title is kept too (the TypeScript SDK's sessions export one)
        if key not in STANDARD_META or (key == "title" and value is None):
            meta[f"meta.{key}"] = jsonutil.dumps(value)
    for key, value in doc.extra.items():
        meta[f"doc.{key}"] = jsonutil.dumps(value)
    next_index = max((_index_of(t) for t in turns), default=-1) + 1
    if pages is not None:
        next_index = pages.next_index
    meta["nextIndex"] = max(next_index, count)
    return meta


def _index_of(turn: dict[str, Any]) -> int:
    value = as_int(turn.get("index"), -1)
    return -1 if value is None else value


class TurnPages(Protocol):
    """The turns of a big document for :meth:`NativeStore.write_session`: their number,
    the greatest index + 1, and the turns themselves a page at a time (checked as read)."""

    count: int
    next_index: int

    def pages(self) -> Iterator[list[dict[str, Any]]]: ...


class AppendSettings(Protocol):
    max_turns: int
    ttl: int
    writer_id: str


def append_args(
    store: AppendSettings,
    session_id: str,
    turn: dict[str, Any],
    user_id: str | None,
    tools_used: Iterable[str],
    write_seq: int,
) -> list[Any]:
    """The ARGV of :data:`~neurolink_cli.store.scripts.APPEND_SCRIPT` for one turn (the sync
    store and the SDK's async one run the same script with the same arguments)."""
    tools = list(tools_used)
    return [
        jsonutil.dumps({k: v for k, v in turn.items() if k != "index"}),
        session_id,
        user_id or "",
        str(turn["timestamp"]),
        turn.get("provider") or "",
        turn.get("model") or "",
        jsonutil.dumps(tools) if tools else "",
        store.max_turns,
        store.ttl,
        store.writer_id,
        write_seq,
        "1" if isinstance(turn.get("error"), dict) else "0",  # counted in errorCount
    ]
