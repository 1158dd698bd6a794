"""JSON in and out: orjson, with the standard library behind it for what orjson refuses.

orjson refuses two things real histories contain: lone UTF-16 surrogates (JavaScript's
``JSON.stringify`` writes them as ``\\ud800`` escapes, e.g. an emoji cut at a stream chunk
boundary by the TypeScript SDK) and integers beyond 64 bits. The standard ``json`` module
accepts both; this module tries orjson first (fast) and falls back only when it refuses.
On output a lone surrogate is written as its ``\\uXXXX`` escape, so the bytes stay valid
UTF-8 and parse back to the same string.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def loads(data: bytes | bytearray | memoryview | str) -> Any:
    """Parse JSON; the orjson error is raised when neither parser accepts it."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        try:
            return json.loads(bytes(data) if isinstance(data, memoryview) else data)
        except (ValueError, RecursionError):
            raise exc from None


def dumps(value: Any, *, pretty: bool = False) -> bytes:
    """Compact (or 2-space indented) JSON as UTF-8, non-ASCII written as is."""
    try:
        return orjson.dumps(value, option=orjson.OPT_INDENT_2 if pretty else None)
    except orjson.JSONEncodeError:
        text = json.dumps(
            value,
            ensure_ascii=False,
            indent=2 if pretty else None,
            separators=(",", ": ") if pretty else (",", ":"),
        )
        return text.encode("utf-8", "backslashreplace")
