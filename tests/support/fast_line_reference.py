"""The export hot path's functions as they were before their fast forms (commit a94d3d3,
kept verbatim below but for the names of what they call): the oracle the fast ones are
held against (tests/export/test_fast_line.py). ``session_doc`` from store/nativedoc.py,
``doc_compact`` from export/formats.py, ``line_ok`` from util/jsonutil.py.
"""

from __future__ import annotations

from typing import Any

import msgspec
import orjson

from neurolink_cli.models import SessionDoc
from neurolink_cli.store.nativedoc import (
    HEAD_FIELDS,
    STANDARD_META,
    _b,
    _loads_or_str,
    as_int,
    as_text,
)
from neurolink_cli.util import jsonutil
from neurolink_cli.util.jsonutil import _FIRST, _LINE, _OPEN

# Metadata fields the document reads by name; any other field is looked at only when it
# could be an imported extra (``meta.*``/``doc.*``).
_KNOWN_META = frozenset(f.encode() for f in (*HEAD_FIELDS, *STANDARD_META, "nextIndex"))


def session_doc(
    session_id: str, mkey: str, meta: dict[Any, Any], raw_turns: list[bytes]
) -> SessionDoc:
    """The document of one session from its HGETALL and LRANGE replies.

    The hot path of ``export-all``: only the fields the document uses are decoded, by
    direct lookups; the walk over every field runs only when the hash holds
    ``meta.*``/``doc.*`` fields (written by ``memory import``). A client that decodes
    replies (str fields) is brought to bytes first.
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
    total = as_int(total_raw)
    if total is None:
        if total_raw is not None:
            problems.append(f"field totalTurns of {mkey} is not a number")
        total = len(raw_turns)
    if not meta:
        problems.append(f"metadata hash {mkey} is missing")
    metadata: dict[str, Any] = {
        "provider": as_text(get(b"provider")),
        "model": as_text(get(b"model")),
        "totalTurns": total,
        "toolsUsed": tools,
    }
    title = get(b"title")
    if title is not None:
        metadata["title"] = as_text(title)
    errors = get(b"errorCount")
    if errors is not None:  # only sessions with a failed turn (CONTRACT §9)
        metadata["errorCount"] = as_int(errors, 0)
    extra: dict[str, Any] = {}
    rest = meta.keys() - _KNOWN_META
    if rest and any(k.startswith((b"meta.", b"doc.")) for k in rest):
        for key, value in meta.items():  # in stored order
            if key.startswith(b"meta."):
                metadata[as_text(key[5:]) or ""] = _loads_or_str(as_text(value) or "")
            elif key.startswith(b"doc."):
                extra[as_text(key[4:]) or ""] = _loads_or_str(as_text(value) or "")
    stored_id = get(b"sessionId")
    if stored_id and as_text(stored_id) != session_id:  # the keys name the session
        problems.append(
            f"field sessionId of {mkey} is {as_text(stored_id)!r}, not the id of its keys: "
            f"read as {session_id!r}"
        )
    return SessionDoc(
        session_id=session_id,
        user_id=as_text(get(b"userId")),
        created_at=as_text(get(b"createdAt")),
        updated_at=as_text(get(b"updatedAt")),
        metadata=metadata,
        raw_turns=raw_turns,
        extra=extra,
        problems=problems,
    )


def doc_compact(doc: SessionDoc, include_metadata: bool = True) -> bytes:
    """The document as one line of compact JSON (no newline), keys in contract order.

    The stored turns are spliced unparsed when the whole line passes
    :func:`~neurolink_cli.util.line_ok` (every turn exactly one JSON object, the
    line valid UTF-8 JSON); otherwise they are parsed, which names a bad one (BadData)."""
    raw = doc.raw_turns if include_metadata and not doc.paged else None
    if raw is not None:
        head = jsonutil.dumps(doc.head())
        parts = [head[:-1], b',"turns":[', b"", b'],"metadata":', jsonutil.dumps(doc.metadata)]
        for key, value in doc.extra.items():
            if key not in ("sessionId", "userId", "createdAt", "updatedAt", "turns", "metadata"):
                parts += [b",", jsonutil.dumps(key), b":", jsonutil.dumps(value)]
        parts.append(b"}")
        try:
            parts[2] = b",".join(raw)
        except TypeError:  # not bytes
            pass
        else:
            line = b"".join(parts)
            if line_ok(line, raw):
                return line
    return jsonutil.dumps(doc.as_dict(include_metadata))


def line_ok(line: bytes, raw_turns: list[bytes]) -> bool:
    """True when ``line``, a document whose ``turns`` are ``raw_turns`` spliced unparsed
    (``"turns":[`` + ``b",".join(raw_turns)`` + ``]``, every other field written by
    :func:`dumps`), is valid UTF-8 JSON on one line with each stored turn exactly one of
    its turns: :func:`splice_ok` over the line as built, so without another copy of it.

    Sound also against turns that fake the end of the array (``{"a":1}],"turns":[{...}``):
    the ``turns`` msgspec reads would then start inside a stored turn and so cover fewer
    bytes than the stored turns, and their lengths could not all match."""
    if not raw_turns:
        return True
    if b"\n" in line or b"\r" in line:
        return False
    try:
        parts = _LINE.decode(line).turns
    except msgspec.DecodeError:
        return False
    # equal lengths: no stored turn is empty, so each has a first byte to look at
    if list(map(len, parts)) != list(map(len, raw_turns)) or set(map(_FIRST, raw_turns)) != _OPEN:
        return False
    if not line.isascii():
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            return False
    return True
