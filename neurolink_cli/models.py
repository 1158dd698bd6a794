"""The data contract in code: turns, session summaries and export documents.

A turn is kept as a plain ``dict`` in the order of CONTRACT §3 (``index, role, content,
timestamp``, then the optional fields). A :class:`SessionDoc` is the exported document of
§5. It may carry ``raw_turns``: the stored JSON bytes of each turn, exactly as the native
layout keeps them. While nothing has changed the turns (no time filter, no redaction, no
metadata stripping), formatters splice those bytes into the output unparsed; that is the
fast path of ``export-all``. Touching :attr:`SessionDoc.turns` parses them once and drops
the raw bytes, so a transformed document can never be written from stale bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from neurolink_cli.errors import BadData
from neurolink_cli.util import jsonutil
from neurolink_cli.util.timeutil import stored_to_ms

TURN_CORE_FIELDS = ("index", "role", "content", "timestamp")

# What a time window or redaction does to one page of turns of a paged session.
PageFilter = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]

SOURCE_NATIVE = "native"
SOURCE_UPSTREAM = "neurolink-ts"


def make_turn(
    role: str,
    content: str,
    timestamp: str,
    *,
    model: str | None = None,
    provider: str | None = None,
    tokens: dict[str, int | None] | None = None,
    latency_ms: int | None = None,
    cost: float | None = None,
    tool_calls: list[Any] | None = None,
    interrupted: bool = False,
    error: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A turn without its index (the store allocates it), optional fields only where known.

    ``error`` (``{"type", "message", "status"}``) marks a turn recording a provider failure.
    """
    turn: dict[str, Any] = {"role": role, "content": content, "timestamp": timestamp}
    if model:
        turn["model"] = model
    if provider:
        turn["provider"] = provider
    if tokens is not None:
        turn["tokens"] = {"prompt": tokens.get("prompt"), "completion": tokens.get("completion")}
    if latency_ms is not None:
        turn["latencyMs"] = latency_ms
    if cost is not None:
        turn["cost"] = cost
    if tool_calls:
        turn["toolCalls"] = tool_calls
    if interrupted:
        turn["interrupted"] = True
    if error is not None:
        turn["error"] = error
    return turn


@dataclass(slots=True)
class SessionSummary:
    """One row of ``memory list``."""

    session_id: str
    user_id: str | None
    created_at: str | None
    updated_at: str | None
    turns: int
    model: str | None = None
    title: str | None = None
    source: str = SOURCE_NATIVE
    ttl: int | None = None  # seconds left, None = no expiry
    errors: int = 0  # failed turns (the errorCount metadata counter)

    @property
    def updated_ms(self) -> int:
        return stored_to_ms(self.updated_at) or 0

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # Across a pipe (rows read by a second process) as its values: under half the pickle
        return SessionSummary, (
            self.session_id, self.user_id, self.created_at, self.updated_at, self.turns,
            self.model, self.title, self.source, self.ttl, self.errors,
        )  # fmt: skip

    def as_dict(self) -> dict[str, Any]:
        return {
            "sessionId": self.session_id,
            "userId": self.user_id,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "turns": self.turns,
            "model": self.model,
            "title": self.title,
            "source": self.source,
            "ttl": self.ttl,
            "errorCount": self.errors,
        }


@dataclass(slots=True)
class SessionDoc:
    """One exported session (CONTRACT §5). ``extra`` holds further top-level fields."""

    session_id: str
    user_id: str | None
    created_at: str | None
    updated_at: str | None
    metadata: dict[str, Any]
    raw_turns: list[bytes] | None = None
    _turns: list[dict[str, Any]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    source: str = SOURCE_NATIVE
    ttl: int | None = None
    problems: list[str] = field(default_factory=list)  # what could not be read, if anything
    # A huge session: the further pages of its turns, read from the store as they are
    # consumed (``raw_turns`` is then the first page). Consumed once, by a writer.
    more: Iterator[list[Any]] | None = None
    more_parsed: bool = False  # the pages of ``more`` are turn dicts, not stored bytes
    page_filters: list[PageFilter] = field(default_factory=list)
    _streamed: int = 0  # turns handed out by the page iterators so far
    _peeked: list[dict[str, Any]] | None = None
    _pages: Iterator[list[dict[str, Any]]] | None = None

    @property
    def paged(self) -> bool:
        """True for a session whose turns are read page by page while it is written."""
        return self.more is not None

    @property
    def turns(self) -> list[dict[str, Any]]:
        """The turns as dicts; parsing the raw bytes once (and dropping them). For a paged
        session this reads every page: writers use :meth:`turn_pages` instead."""
        if self.paged:
            self._turns = [t for page in self.turn_pages() for t in page]
            self.more = None
            self.raw_turns = None
            self.page_filters = []
            self._streamed = 0
            self._pages = None
        if self._turns is None:
            self._turns = parse_turns(self.raw_turns or [], self.session_id)
            self.raw_turns = None
        return self._turns

    @turns.setter
    def turns(self, value: list[dict[str, Any]]) -> None:
        self._turns = value
        self.raw_turns = None
        self.more = None

    def raw_pages(self) -> Iterator[list[bytes]]:
        """The stored turns page by page, unparsed (only without page filters)."""
        assert not self.page_filters and not self.more_parsed
        first, self.raw_turns = self.raw_turns, None
        if first:
            self._streamed += len(first)
            yield first
        for page in self.more or ():
            self._streamed += len(page)
            yield page
        self.more = None

    def turn_pages(self) -> Iterator[list[dict[str, Any]]]:
        """The turns page by page as dicts, after the page filters; empty pages left out."""
        if self._pages is None:
            self._pages = self._parsed_pages()
        if self._peeked is not None:
            page, self._peeked = self._peeked, None
            yield page
        yield from self._pages

    def _parsed_pages(self) -> Iterator[list[dict[str, Any]]]:
        offset = 0
        first, self.raw_turns = self.raw_turns, None
        sources: list[Iterable[list[Any]]] = [[first] if first else [], self.more or ()]
        for i, source in enumerate(sources):
            for raw in source:
                parsed = raw if i == 1 and self.more_parsed else None
                turns = parsed if parsed is not None else parse_turns(raw, self.session_id, offset)
                offset += len(raw)
                for keep in self.page_filters:
                    turns = keep(turns)
                if turns:
                    self._streamed += len(turns)
                    yield turns
        self.more = None

    def has_turns(self) -> bool:
        """True when at least one turn is left after the filters (reads pages up to it)."""
        if not self.paged:
            return bool(self.turns)
        if self._peeked is None:
            if self._pages is None:
                self._pages = self._parsed_pages()
            self._peeked = next(self._pages, None)
        return self._peeked is not None

    def spliceable(self) -> bytes | None:
        """The stored turns joined by commas when each is exactly one JSON object in valid
        UTF-8 (:func:`~neurolink_cli.util.jsonutil.splice_ok`), else None: parse them."""
        raw = self.raw_turns
        if raw is None or self.paged:
            return None
        try:
            joined = b",".join(raw)
        except TypeError:  # not bytes
            return None
        return joined if jsonutil.splice_ok(raw, joined) else None

    def raw_turns_look_sound(self) -> bool:
        """True when the stored turns may be spliced unparsed (see :meth:`spliceable`)."""
        return self.raw_turns is None or self.spliceable() is not None

    def turn_count(self) -> int:
        """The number of turns (of a paged session: those handed out so far)."""
        if self.paged or self._pages is not None or self._streamed:
            return self._streamed
        if self._turns is not None:
            return len(self._turns)
        return len(self.raw_turns or [])

    def head(self) -> dict[str, Any]:
        """The four leading fields of the document, in contract order."""
        return {
            "sessionId": self.session_id,
            "userId": self.user_id,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
        }

    def skeleton(self, include_metadata: bool = True) -> dict[str, Any]:
        """The document with ``turns`` an empty list: every other field, in contract order."""
        doc = self.head()
        doc["turns"] = []
        if include_metadata:
            doc["metadata"] = self.metadata
        for k, v in self.extra.items():
            if k not in doc and k != "metadata":
                doc[k] = v
        return doc

    def as_dict(self, include_metadata: bool = True) -> dict[str, Any]:
        """The whole document as a dict, keys in contract order."""
        doc = self.skeleton(include_metadata)
        if include_metadata:
            doc["turns"] = self.turns
        else:
            doc["turns"] = [core_turn(t) for t in self.turns]
        return doc


def core_turn(turn: dict[str, Any]) -> dict[str, Any]:
    """A turn without metadata (``--no-include-metadata``): index, role, content, timestamp."""
    return {k: turn.get(k) for k in TURN_CORE_FIELDS}


def parse_turns(raws: list[bytes], session_id: str, offset: int = 0) -> list[dict[str, Any]]:
    """Stored turns as dicts; BadData naming the first that is not a JSON object
    (``offset``: the position of ``raws[0]`` in the session)."""
    try:  # the common case in one C-level pass; the loop below names a bad turn
        turns = list(map(jsonutil.decoder(), raws))
        if all(type(t) is dict for t in turns):
            return turns
    except (ValueError, RecursionError):  # not JSON, or what only the fallback reads
        pass
    turns = []
    for i, raw in enumerate(raws):
        try:
            turn = jsonutil.loads(raw)
        except ValueError:  # orjson.JSONDecodeError is one
            turn = None
        if not isinstance(turn, dict):
            raise BadData(f"session {session_id!r}: stored turn #{offset + i} is not a JSON object")
        turns.append(turn)
    return turns


Keyed = list[tuple[int, SessionSummary]]  # list rows with their last update in ms


@dataclass(slots=True)
class Unreadable:
    """A session (or a key under the prefix) that a store met but could not read."""

    session_id: str
    reason: str
    key: str | None = None
    skip: bool = False  # True: a key under the prefix that is not a session (warn, exit 0)

    @property
    def warning(self) -> str:
        """How commands name it on stderr: ``skipped KEY: why`` for a key that is no
        session, ``SESSION: why`` for a session that cannot be read."""
        if self.skip:
            return f"skipped {self.key or self.session_id}: {self.reason}"
        return f"{self.session_id}: {self.reason}"
