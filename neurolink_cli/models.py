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

from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

import orjson

from neurolink_cli.errors import BadData
from neurolink_cli.util import jsonutil
from neurolink_cli.util.timeutil import stored_to_ms

TURN_CORE_FIELDS = ("index", "role", "content", "timestamp")

SOURCE_NATIVE = "native"
SOURCE_UPSTREAM = "neurolink-ts"

_FIRST, _LAST = itemgetter(0), itemgetter(-1)
_OPEN, _CLOSE = {ord("{")}, {ord("}")}


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

    @property
    def turns(self) -> list[dict[str, Any]]:
        """The turns as dicts; parsing the raw bytes once (and dropping them)."""
        if self._turns is None:
            raws = self.raw_turns or []
            try:  # the common case in one C-level pass; the loop below names a bad turn
                turns = list(map(orjson.loads, raws))
                if all(type(t) is dict for t in turns):
                    self._turns = turns
                    self.raw_turns = None
                    return turns
            except orjson.JSONDecodeError:
                pass
            turns = []
            for i, raw in enumerate(raws):
                try:
                    turn = jsonutil.loads(raw)
                except orjson.JSONDecodeError:
                    turn = None
                if not isinstance(turn, dict):
                    raise BadData(
                        f"session {self.session_id!r}: stored turn #{i} is not a JSON object"
                    )
                turns.append(turn)
            self._turns = turns
            self.raw_turns = None
        return self._turns

    @turns.setter
    def turns(self, value: list[dict[str, Any]]) -> None:
        self._turns = value
        self.raw_turns = None

    def raw_turns_look_sound(self) -> bool:
        """A cheap check that every stored turn is a JSON object (``{...}``) before splicing."""
        raw = self.raw_turns
        if not raw:
            return True
        try:  # two C-level passes over the first and last bytes (the hot path of export-all)
            return set(map(_FIRST, raw)) == _OPEN and set(map(_LAST, raw)) == _CLOSE
        except (IndexError, TypeError):  # an empty element, or not bytes: not spliceable
            return False

    def turn_count(self) -> int:
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

    def as_dict(self, include_metadata: bool = True) -> dict[str, Any]:
        """The whole document as a dict, keys in contract order."""
        doc = self.head()
        if include_metadata:
            doc["turns"] = self.turns
            doc["metadata"] = self.metadata
        else:
            doc["turns"] = [{k: t.get(k) for k in TURN_CORE_FIELDS} for t in self.turns]
        for k, v in self.extra.items():
            if k not in doc and k != "metadata":
                doc[k] = v
        return doc


@dataclass(slots=True)
class Unreadable:
    """A session (or a key under the prefix) that a store met but could not read."""

    session_id: str
    reason: str
    key: str | None = None
    skip: bool = False  # True: a key under the prefix that is not a session (warn, exit 0)
