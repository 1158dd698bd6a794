"""``memory search``: the turns whose content matches a pattern (no click in here).

It walks :meth:`Repository.iter_docs` like ``export-all`` (both layouts, one pipelined batch
in memory at a time) and yields one :class:`Hit` per matching turn, oldest session update
first, turns in order.

What matches: a turn's content (as the CSV export shows it: non-text content as JSON), and
for a failed turn also its error message and type (``rate_limit``). A substring
by default, a Python regular expression with ``regex``, either case-insensitive with
``ignore_case``. Filters: ``role``, ``user_id``, ``model`` (a turn's ``model`` or
``provider/model``), the time window on turn timestamps (start inclusive, end exclusive)
and ``errors_only`` (failed turns only).

Speed: a native session's turns arrive as the stored JSON bytes. For a plain substring that
JSON spells exactly as the text does (no ``"``, ``\\`` or control character; ASCII when
case is ignored), only the turns whose bytes contain it are parsed; the others are never
decoded. That keeps a search close to the cost of reading the data.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from neurolink_cli.errors import BadData, BadInput
from neurolink_cli.export.formats import turn_content_text
from neurolink_cli.failures import error_count, error_of, is_failed
from neurolink_cli.models import SessionDoc, Unreadable
from neurolink_cli.stats import model_key
from neurolink_cli.util.timeutil import stored_to_ms


@dataclass(frozen=True)
class SearchQuery:
    """What to look for and where."""

    pattern: str
    regex: bool = False
    ignore_case: bool = False
    role: str | None = None
    user_id: str | None = None
    model: str | None = None
    start_ms: int | None = None
    end_ms: int | None = None
    errors_only: bool = False


@dataclass(frozen=True)
class Hit:
    """One matching turn; ``span`` is where the pattern matched in ``text``."""

    doc: SessionDoc
    turn: dict[str, Any]
    text: str
    span: tuple[int, int]

    def as_json(self) -> dict[str, Any]:
        """The piped output's object (CONTRACT §9): the whole content as stored."""
        return {
            "sessionId": self.doc.session_id,
            "userId": self.doc.user_id,
            "index": self.turn.get("index"),
            "role": self.turn.get("role"),
            "timestamp": self.turn.get("timestamp"),
            "content": self.turn.get("content"),
        }


class Matcher:
    """The compiled pattern and, when safe, the bytes to look for in stored turn JSON."""

    def __init__(self, query: SearchQuery) -> None:
        flags = re.IGNORECASE if query.ignore_case else 0
        source = query.pattern if query.regex else re.escape(query.pattern)
        try:
            self.regex = re.compile(source, flags)
        except re.error as exc:
            raise BadInput(f"bad --regex pattern {query.pattern!r}: {exc}") from None
        self.needle: bytes | None = None
        self.fold = False
        text = query.pattern
        if not query.regex and text and not _json_escaped(text):
            if not query.ignore_case:
                self.needle = text.encode("utf-8", "surrogateescape")
            elif text.isascii():
                self.needle, self.fold = text.lower().encode(), True

    def candidates(self, raws: list[bytes]) -> list[bytes]:
        """The stored turns that may match (all of them when bytes cannot tell)."""
        needle = self.needle
        if needle is None:
            return raws
        if self.fold:
            return [r for r in raws if needle in r.lower()]
        return [r for r in raws if needle in r]


def _json_escaped(text: str) -> bool:
    """True when JSON would spell ``text`` differently (quotes, backslashes, controls)."""
    return any(ch in '"\\' or ord(ch) < 0x20 for ch in text)


def _turn_filter(query: SearchQuery) -> Callable[[dict[str, Any]], bool]:
    def keep(turn: dict[str, Any]) -> bool:
        if query.role is not None and turn.get("role") != query.role:
            return False
        if query.errors_only and not is_failed(turn):
            return False
        if query.model is not None:
            model = turn.get("model")
            if query.model not in (model, model_key(model, turn.get("provider"))):
                return False
        if query.start_ms is not None or query.end_ms is not None:
            ts = stored_to_ms(turn.get("timestamp"))
            if ts is None:
                return False
            if query.start_ms is not None and ts < query.start_ms:
                return False
            if query.end_ms is not None and ts >= query.end_ms:
                return False
        return True

    return keep


def _parse(doc: SessionDoc, raws: list[bytes]) -> list[dict[str, Any]]:
    turns = []
    for raw in raws:
        try:
            turn = orjson.loads(raw)
        except orjson.JSONDecodeError:
            turn = None
        if not isinstance(turn, dict):
            raise BadData(f"session {doc.session_id!r}: a stored turn is not a JSON object")
        turns.append(turn)
    return turns


def search_doc(doc: SessionDoc, query: SearchQuery, matcher: Matcher) -> Iterator[Hit]:
    """The matching turns of one session (BadData when a candidate turn cannot be read)."""
    if query.errors_only and not error_count(doc):
        return
    raws = doc.raw_turns
    if raws is not None and matcher.needle is not None:
        found = matcher.candidates(raws)
        if not found:
            return
        turns = _parse(doc, found)
    else:
        turns = doc.turns
    keep = _turn_filter(query)
    search = matcher.regex.search
    for turn in turns:
        if not keep(turn):
            continue
        content = turn.get("content")
        text = content if isinstance(content, str) and content else turn_content_text(turn)
        m = search(text)
        error = error_of(turn)
        if m is None and error is not None:  # the error's message, then its type
            for part in (str(error.get("message") or ""), str(error.get("type") or "")):
                m = search(part)
                if m is not None:
                    text = part
                    break
        if m is not None:
            yield Hit(doc, turn, text, m.span())


def search(
    repo: Any,
    query: SearchQuery,
    *,
    warn: Callable[[str], None] | None = None,
    unreadable: list[str] | None = None,
) -> Iterator[Hit]:
    """Every matching turn of ``repo`` (a :class:`~neurolink_cli.store.repository.Repository`).

    Sessions that cannot be read are named through ``warn`` and appended to ``unreadable``;
    the search goes on.
    """
    matcher = Matcher(query)
    for item in repo.iter_docs(user_id=query.user_id):
        if isinstance(item, Unreadable):
            if not item.skip and unreadable is not None:
                unreadable.append(item.session_id)
            if warn is not None:
                warn(f"{item.key or item.session_id}: {item.reason}")
            continue
        try:
            yield from search_doc(item, query, matcher)
        except BadData as exc:
            if unreadable is not None:
                unreadable.append(item.session_id)
            if warn is not None:
                warn(str(exc))


def snippet(hit: Hit, width: int = 80) -> tuple[str, int, int]:
    """About ``width`` characters of the hit's text around the match, on one line, with the
    match's start and end within it."""
    text, (start, end) = hit.text, hit.span
    room = max(width - (end - start) - 2, 10)
    left = 0 if len(text) <= width else max(0, start - room // 3)
    right = min(len(text), end + room - (start - left))
    piece = text[left:right]
    prefix = "…" if left > 0 else ""
    suffix = "…" if right < len(text) else ""
    flat = prefix + piece.replace("\r", " ").replace("\n", " ").replace("\t", " ") + suffix
    offset = len(prefix) + start - left
    return flat, offset, offset + (end - start)
