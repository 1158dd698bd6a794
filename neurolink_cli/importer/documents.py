"""One parsed import document checked and turned into a :class:`SessionDoc`.

Everything that would fail later (a Redis key, a hash field, a stored timestamp) is
refused here, before anything is written, as :class:`BadInput` (exit 2) naming the
document. A session id that the native layout cannot hold (CONTRACT §3: whitespace, ``{``
or ``}``, more than 256 bytes; the TypeScript SDK accepts all of these) raises
:class:`InvalidSessionId`, so the importer can name every such session at once and, with
``--skip-invalid-ids``, import the others.

Times: ``createdAt``, ``updatedAt`` and turn timestamps given as epoch milliseconds (a JSON
number, or a string of digits, as the TypeScript SDK and its exports may carry them) are
converted to the contract's format, UTC RFC 3339 with ``Z`` and milliseconds.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from neurolink_cli.errors import BadInput
from neurolink_cli.importer.lazy import LazyDocument
from neurolink_cli.models import SessionDoc
from neurolink_cli.util.timeutil import ms_to_rfc3339, stored_to_ms
from neurolink_cli.util.validate import session_id_problem

IMPORT_ROLES = ("user", "assistant", "system", "tool", "tool_call", "tool_result")
TOP_FIELDS = ("sessionId", "userId", "createdAt", "updatedAt", "turns", "metadata")
TEXT_META = ("provider", "model", "title")
ID_RULE = "an id is 1-256 bytes of printable UTF-8 without whitespace, '{' or '}'"
# Epoch ms the contract's format can show: 1970-01-01 up to the end of year 9999.
MAX_MS = 253_402_300_799_999
_DIGITS = re.compile(r"^\s*\d{1,16}\s*$")
# Containers nested deeper than this are refused: orjson writes at most 254 levels, and
# exporters walk values recursively.
MAX_DEPTH = 254
PAGE_TURNS = 2000  # turns of a big document per page written


def bad_input(where: str, problem: str) -> BadInput:
    """BadInput naming the file (and line or document) where the problem is."""
    return BadInput(f"{where}: {problem}")


def shown_id(session_id: str, limit: int = 60) -> str:
    """An id as quoted in messages, shortened when long (its byte size then said)."""
    if len(session_id) <= limit:
        return repr(session_id)
    size = len(session_id.encode("utf-8", "surrogatepass"))
    return f"{session_id[: limit - 3]!r}... ({size} bytes)"


class InvalidSessionId(BadInput):
    """A document whose session id cannot be a native key (the rest is not checked)."""

    def __init__(self, session_id: str, problem: str, where: str) -> None:
        super().__init__(f"{where}: bad session id {shown_id(session_id)}: {problem}; {ID_RULE}")
        self.session_id = session_id
        self.problem = problem
        self.where = where


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def normal_time(value: Any, where: str, what: str) -> str | None:
    """A time as stored: RFC 3339 text kept as given, epoch ms converted; None stays None."""
    if value is None:
        return None
    if isinstance(value, str) and not _DIGITS.match(value):
        if not _is_text(value):
            raise bad_input(where, f"{what} is not valid UTF-8 text")
        if stored_to_ms(value) is None:
            raise bad_input(where, f"{what} {value[:40]!r} is not an ISO 8601 time")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise bad_input(where, f"{what} must be an ISO 8601 time, epoch milliseconds or null")
    ms = int(value) if isinstance(value, str) else value
    if isinstance(ms, float) and (not math.isfinite(ms) or ms != int(ms)):
        raise bad_input(where, f"{what} {value!r} is not a whole number of epoch milliseconds")
    if not 0 <= ms <= MAX_MS:
        raise bad_input(where, f"{what} {value!r} is out of range for epoch milliseconds")
    return ms_to_rfc3339(int(ms))


def document_to_session(raw: Any, where: str) -> SessionDoc:
    """Check one parsed document's shape and turn it into a :class:`SessionDoc`.

    ``where`` names the document in error messages (``file.jsonl line 3``). Turns without
    an ``index`` (hand-written files) get their position, as long as none has one.

    A :class:`~neurolink_cli.importer.lazy.LazyDocument` (a big document whose turns are
    still text) gives a :class:`StreamedDoc`: the same checks, its turns checked one by
    one and then handed out page by page. Should any check fail, the document parsed
    whole is checked instead, so the message is always the one that check gives.
    """
    if isinstance(raw, LazyDocument):
        try:
            return _session(raw, where, lazy=True)
        except InvalidSessionId:
            raise
        except BadInput:
            raw = raw.whole()
    return _session(raw, where)


def _session(raw: Any, where: str, *, lazy: bool = False) -> SessionDoc:
    if not isinstance(raw, dict):
        raise bad_input(where, 'not a session document (expected a JSON object {"sessionId": ...})')
    sid = raw.get("sessionId")
    if not isinstance(sid, str):
        raise bad_input(where, "sessionId is missing or not a string")
    problem = session_id_problem(sid)
    if problem:
        raise InvalidSessionId(sid, problem, where)
    user = raw.get("userId")
    if user is not None and (not isinstance(user, str) or not _is_text(user)):
        raise bad_input(where, "userId must be a string (valid UTF-8) or null")
    created = normal_time(raw.get("createdAt"), where, "createdAt")
    updated = normal_time(raw.get("updatedAt"), where, "updatedAt")
    metadata = raw.get("metadata")
    if metadata is None:
        metadata = {}
    elif not isinstance(metadata, dict):
        raise bad_input(where, "metadata must be a JSON object")
    _check_metadata(metadata, where)
    streamed = TurnPages(raw, where) if lazy and isinstance(raw, LazyDocument) else None
    if streamed is not None:
        streamed.check()
    turns = [] if lazy else _check_turns(raw.get("turns"), where)
    extra = {k: v for k, v in raw.items() if k not in TOP_FIELDS}
    for key in extra:
        if not _is_text(key):
            raise bad_input(where, f"field name {key!r} is not valid UTF-8 text")
    _check_depth(metadata, where, "metadata")
    _check_depth(extra, where, "a top-level field")
    if streamed is not None:
        return StreamedDoc(sid, user, created, updated, metadata, _turns=[], extra=extra,
                           streamed=streamed)  # fmt: skip
    return SessionDoc(
        session_id=sid,
        user_id=user,
        created_at=created,
        updated_at=updated,
        metadata=metadata,
        _turns=turns,
        extra=extra,
    )


def _check_depth(value: Any, where: str, what: str) -> None:
    """BadInput when ``value`` nests containers deeper than :data:`MAX_DEPTH`."""
    try:
        orjson.dumps(value)  # fast; refuses deep nesting (and big ints, lone surrogates)
        return
    except orjson.JSONEncodeError as exc:
        if "ecursion" not in str(exc) and _depth(value) <= MAX_DEPTH:
            return
    raise bad_input(where, f"{what} is nested deeper than {MAX_DEPTH} levels")


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack and deepest <= MAX_DEPTH:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in children)
    return deepest


def _check_metadata(metadata: dict[str, Any], where: str) -> None:
    tools = metadata.get("toolsUsed")
    if tools is not None and not isinstance(tools, list):
        raise bad_input(where, "metadata.toolsUsed must be a JSON array")
    for key in TEXT_META:
        value = metadata.get(key)
        if value is not None and (not isinstance(value, str) or not _is_text(value)):
            raise bad_input(where, f"metadata.{key} must be a string (valid UTF-8) or null")
    total = metadata.get("totalTurns")
    if total is not None and (not isinstance(total, int) or isinstance(total, bool) or total < 0):
        raise bad_input(where, "metadata.totalTurns must be a whole number >= 0 or null")
    for key in metadata:
        if not _is_text(key):
            raise bad_input(where, f"metadata field name {key!r} is not valid UTF-8 text")


def _check_turns(turns: Any, where: str) -> list[dict[str, Any]]:
    if turns is None:
        return []
    if not isinstance(turns, list):
        raise bad_input(where, "turns must be a JSON array")
    with_index = sum(1 for t in turns if isinstance(t, dict) and "index" in t)
    if 0 < with_index < len(turns):
        raise bad_input(where, "some turns have an index and some do not; give all or none")
    out: list[dict[str, Any]] = []
    last = -1
    for i, turn in enumerate(turns):
        turn = _check_turn(turn, i, bool(with_index), last, where)
        last = turn["index"]
        out.append(turn)
    return out


def _check_turn(turn: Any, i: int, with_index: bool, last: int, where: str) -> dict[str, Any]:
    """Turn #i checked (its time normalised, its index added when none has one)."""
    if not isinstance(turn, dict):
        raise bad_input(where, f"turn #{i} is not a JSON object")
    role = turn.get("role")
    if role not in IMPORT_ROLES:
        shown = role if isinstance(role, str | None) else type(role).__name__
        raise bad_input(where, f"turn #{i}: role {shown!r} is not one of {', '.join(IMPORT_ROLES)}")
    ts = turn.get("timestamp")
    if ts is not None and not (isinstance(ts, str) and not _DIGITS.match(ts)):
        turn = {**turn, "timestamp": normal_time(ts, where, f"turn #{i}: timestamp")}
    if not with_index:
        turn = {"index": i, **turn}
    index = turn["index"]
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < 2**63:
        raise bad_input(where, f"turn #{i}: index must be a whole number >= 0")
    if index <= last:
        raise bad_input(where, f"turn #{i}: index {index} is not greater than the one before")
    _check_depth(turn, where, f"turn #{i}")
    return turn


# -- big documents: turns checked and handed out page by page ------------------------------


def _raw_turns(doc: LazyDocument, where: str) -> Iterator[dict[str, Any]]:
    """The turns of a lazy document, each parsed and checked as :func:`_check_turns` does.

    BadInput on any problem (its text may differ from the whole check's: the caller then
    checks the document parsed whole, whose message is the reference)."""
    with_index: bool | None = None
    last = -1
    for i, raw in enumerate(doc.raw_turns):
        try:
            turn = doc.parse(bytes(raw))
        except ValueError:
            raise bad_input(where, f"turn #{i} is not valid JSON") from None
        has_index = isinstance(turn, dict) and "index" in turn
        if with_index is None:
            with_index = has_index
        elif has_index != with_index:
            raise bad_input(where, "some turns have an index and some do not; give all or none")
        turn = _check_turn(turn, i, with_index, last, where)
        last = turn["index"]
        yield turn


@dataclass
class TurnPages:
    """The checked turns of a big document (see :mod:`neurolink_cli.importer.lazy`):
    counted once, then handed out page by page, parsed again from their text, so that
    only one page of them is ever Python objects."""

    doc: LazyDocument
    where: str
    count: int = 0
    next_index: int = 0  # the greatest index + 1 (indexes increase)
    latest_ms: int | None = None  # the latest turn timestamp, epoch ms

    def check(self) -> None:
        """Check every turn (BadInput on the first problem) and count them."""
        count, last, latest = 0, -1, None
        for turn in _raw_turns(self.doc, self.where):
            count += 1
            last = turn["index"]
            ms = stored_to_ms(turn.get("timestamp"))
            if ms is not None and (latest is None or ms > latest):
                latest = ms
        self.count, self.next_index, self.latest_ms = count, last + 1, latest

    def pages(self) -> Iterator[list[dict[str, Any]]]:
        """The checked turns, :data:`PAGE_TURNS` at a time."""
        page: list[dict[str, Any]] = []
        for turn in _raw_turns(self.doc, self.where):
            page.append(turn)
            if len(page) >= PAGE_TURNS:
                yield page
                page = []
        if page:
            yield page


@dataclass(slots=True)
class StreamedDoc(SessionDoc):
    """A checked big document: everything but its turns, which ``streamed`` hands out."""

    streamed: TurnPages | None = None

    def turn_count(self) -> int:
        return self.streamed.count if self.streamed is not None else 0
