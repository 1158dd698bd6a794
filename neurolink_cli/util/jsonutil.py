"""JSON in and out, exact: every number comes back out as the value that was stored.

Parsing uses msgspec (C speed, like orjson) with a hook on every float token; the
standard library parses what msgspec refuses. Two things real histories contain need that
fallback: lone UTF-16 surrogates (JavaScript's ``JSON.stringify`` writes them as
``\\ud800`` escapes, e.g. an emoji cut at a stream chunk boundary by the TypeScript SDK)
and integers of thousands of digits. ``NaN``/``Infinity`` (not JSON) are refused by both.

Numbers are exact (orjson alone turned ``340282366920938463463374607431768211455`` into
``3.402823669209385e+38``):

- an integer of any size is a Python ``int`` (beyond 4,000 digits, a :class:`RawNumber`
  keeping its text: Python refuses to convert longer ones);
- a float token is a Python ``float`` when that float's shortest form has the same decimal
  value (``0.1``, ``1e5``, ``-0.0``); otherwise (``3.141592653589793238462643383279``,
  ``1e400``, a subnormal with more digits than it can hold) a :class:`RawNumber`.

:func:`dumps` writes a ``RawNumber`` back as its text and an ``int`` beyond 64 bits as
its digits; on output a lone surrogate is written as its ``\\uXXXX`` escape, so the bytes
stay valid UTF-8 and parse back to the same string.

:func:`splice_ok` is the validator of the export fast path: it decides without building
any Python object that stored turn bytes are each exactly one JSON object in valid UTF-8.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from operator import itemgetter
from typing import Any

import msgspec
import orjson

_MAX_INT_DIGITS = 4000  # Python's int() refuses strings of more than 4,300 digits


class RawNumber:
    """A JSON number kept as its text: no Python number holds its exact value."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"RawNumber({self.text!r})"

    def __str__(self) -> str:
        return self.text

    def decimal(self) -> Decimal:
        return Decimal(self.text)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RawNumber):
            other = other.decimal()
        if isinstance(other, int | float | Decimal) and not isinstance(other, bool):
            try:
                return self.decimal() == other
            except InvalidOperation:
                return False
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.decimal())


def _exact_float(text: str) -> float | RawNumber:
    value = float(text)
    # 15 significant digits or fewer in the normal range always come back exact
    digits = len(text.lstrip("-").split("e")[0].split("E")[0].replace(".", "").lstrip("0"))
    if digits <= 15 and "e" not in text and "E" not in text:
        return value
    if Decimal(repr(value)) == Decimal(text):
        return value
    return RawNumber(text)


def _exact_int(text: str) -> int | RawNumber:
    return int(text) if len(text) <= _MAX_INT_DIGITS else RawNumber(text)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_FIRST = itemgetter(0)
_OPEN = {ord("{")}
_DECODER = msgspec.json.Decoder(float_hook=_exact_float)
_RAW_LIST = msgspec.json.Decoder(list[msgspec.Raw])


def loads(data: bytes | bytearray | memoryview | str) -> Any:
    """Parse JSON exactly; ``orjson.JSONDecodeError`` when it is not JSON (or not UTF-8)."""
    try:
        return _DECODER.decode(data)
    except (msgspec.DecodeError, ValueError, RecursionError) as first:
        try:
            text = data if isinstance(data, str) else bytes(data).decode("utf-8")
            return json.loads(
                text,
                parse_float=_exact_float,
                parse_int=_exact_int,
                parse_constant=_no_constant,
            )
        except (ValueError, RecursionError):
            shown = data if isinstance(data, str) else bytes(data)[:200].decode("utf-8", "replace")
            raise orjson.JSONDecodeError(str(first), shown[:200], 0) from None


def decoder() -> Any:
    """The C-level decode function behind :func:`loads` (raises msgspec/ValueError errors);
    for hot loops that map it over many documents and fall back to :func:`loads`."""
    return _DECODER.decode


def typed_decoder(kind: Any) -> Any:
    """The C-level decode function of JSON into ``kind`` (a msgspec Struct: fields it does
    not name are skipped, not built), numbers as exact as :func:`loads` gives them. It
    does not check the UTF-8 of what it skips; it refuses what only the fallback of
    :func:`loads` reads (lone surrogates)."""
    return msgspec.json.Decoder(kind, float_hook=_exact_float).decode


class _TurnsOfLine(msgspec.Struct):
    turns: list[msgspec.Raw]


_LINE = msgspec.json.Decoder(_TurnsOfLine)


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
    # Each stored turn is the turn msgspec read there, byte for byte: as many, and one
    # comparison of both joined by a line break (which neither holds: the line has none),
    # in C. Then none is empty, so each has a first byte to look at.
    if len(parts) != len(raw_turns) or b"\n".join(parts) != b"\n".join(raw_turns):
        return False
    if set(map(_FIRST, raw_turns)) != _OPEN:
        return False
    if not line.isascii():
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            return False
    return True


def splice_ok(raw_turns: list[bytes], joined: bytes) -> bool:
    """True when every element of ``raw_turns`` is exactly one JSON object and
    ``joined`` (``b",".join(raw_turns)``) is valid UTF-8: safe to splice unparsed.

    One C-level pass that builds no Python values: msgspec reads ``[joined]`` into raw
    slices, whose lengths must equal the stored turns' (so no turn holds two values or half
    of one: ``{"a":1}{"b":2}``, ``{"a":[{}`` + ``{}]}``); then a strict UTF-8 decode (which
    msgspec does not do for what it skips). A line break (only possible as whitespace
    between tokens) is refused too: it would split a JSONL line. False also when msgspec refuses what the full
    parser accepts (a lone surrogate escape): the caller then parses, which decides.
    """
    if not raw_turns:
        return True
    if b"\n" in joined or b"\r" in joined:  # whitespace between tokens would break a line
        return False
    try:
        if raw_turns[0][:1] != b"{" or raw_turns[-1][-1:] != b"}":
            return False
        parts = _RAW_LIST.decode(b"[" + joined + b"]")
    except (msgspec.DecodeError, TypeError):
        return False
    if len(parts) != len(raw_turns) or list(map(len, parts)) != list(map(len, raw_turns)):
        return False
    # each is one whole value; one that starts with "{" is an object (two C-level passes)
    if set(map(_FIRST, raw_turns)) != _OPEN:
        return False
    if not joined.isascii():
        try:
            joined.decode("utf-8")
        except UnicodeDecodeError:
            return False
    return True


def fragment(value: Any) -> Any:
    """What orjson cannot write, as a pre-serialised fragment (its ``default`` hook)."""
    if isinstance(value, RawNumber):
        return orjson.Fragment(value.text.encode())
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(value: Any, *, pretty: bool = False) -> bytes:
    """Compact (or 2-space indented) JSON as UTF-8, non-ASCII written as is."""
    option = orjson.OPT_INDENT_2 if pretty else None
    try:
        return orjson.dumps(value, default=fragment, option=option)
    except orjson.JSONEncodeError:
        pass
    try:
        return orjson.dumps(_portable(value), default=fragment, option=option)
    except (orjson.JSONEncodeError, _SurrogateKey):
        text = json.dumps(
            value,
            ensure_ascii=False,
            indent=2 if pretty else None,
            separators=(",", ": ") if pretty else (",", ":"),
            default=_plain,
        )
        return text.encode("utf-8", "backslashreplace")


class _SurrogateKey(Exception):
    """A dict key holding a lone surrogate: orjson keys cannot be fragments."""


def _plain(value: Any) -> Any:
    if isinstance(value, RawNumber):  # the standard library cannot write raw text
        return float(value.text) if "." in value.text or "e" in value.text.lower() else None
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _portable(value: Any) -> Any:
    """``value`` with what orjson refuses made writable: integers beyond 64 bits as their
    digits, strings (and keys) holding lone surrogates as their escaped JSON text."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
            return value
        except UnicodeEncodeError:
            text = json.dumps(value, ensure_ascii=False)
            return orjson.Fragment(text.encode("utf-8", "backslashreplace"))
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return value
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**64 else orjson.Fragment(str(value).encode())
    if isinstance(value, dict):
        return {_portable_key(k): _portable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_portable(v) for v in value]
    return value


def _portable_key(key: Any) -> Any:
    if isinstance(key, str):
        try:
            key.encode("utf-8")
        except UnicodeEncodeError:
            raise _SurrogateKey from None
    return key


# An escape other than the ones orjson writes (``\\" \\\\ \\b \\f \\n \\r \\t`` and lower-case
# ``\\u00XX`` for the other control characters): ``\\/``, ``\\u00e9``, a lone surrogate...
# A match inside a string (after an escaped backslash) is a false alarm: the slow path.
_ESCAPE = re.compile(rb'\\(?!["\\bfnrt]|u00(?:0[0-7bef]|1[0-9a-f]))')


def reindent(line: bytes) -> bytes | None:
    """``line`` indented by 2 as :func:`dumps` indents, without building Python values; None
    when its strings hold an escape that :func:`dumps` would write otherwise (the caller
    then parses and dumps).

    ``line`` must be sound JSON (checked by :func:`line_ok`). msgspec's ``format`` changes
    only whitespace: every string comes out as :func:`dumps` writes it, and every number as
    it is stored, as JSONL writes it (``1e5`` stays ``1e5``, not ``100000.0``: the same value,
    exact either way); a key repeated inside one stored object is kept twice, as JSONL keeps it.
    """
    if b"\\" in line and _ESCAPE.search(line):
        return None
    try:
        return msgspec.json.format(line, indent=2)
    except (msgspec.DecodeError, ValueError):
        return None
