"""Big import documents parsed but for their turns, which stay JSON text until written.

A 100 MB session parsed whole is ~2 GB of Python objects (a dict and strings per turn),
and its turns serialised again for Redis are another copy. A document of at least
:data:`LAZY_BYTES` is instead read by msgspec into its top-level fields, each parsed
exactly as :func:`~neurolink_cli.importer.sources.parse_json` parses the whole document,
except ``turns``, which stays a list of ``msgspec.Raw`` slices of the input (zero-copy
views of its bytes). The importer then checks and serialises the turns one page at a
time (:func:`~neurolink_cli.importer.documents.document_to_session`).

The whole-document parse stays the reference: a :class:`LazyDocument` carries a function
that parses it the old way, used whenever anything in the lazy path fails (msgspec
refuses the text, a turn is not valid JSON, a check fails), so every error message is the
one the whole parse gives.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

import msgspec

LAZY_BYTES = 8 << 20  # documents at least this big keep their turns as text
_SPACE = re.compile(rb"[ \t\r\n]*")
_FIELDS = msgspec.json.Decoder(dict[str, msgspec.Raw])
_ITEMS = msgspec.json.Decoder(list[msgspec.Raw])


class LazyDocument(dict[str, Any]):
    """A document's top-level fields, parsed; its turns as ``raw_turns`` (JSON text).

    ``parse`` parses one turn; ``whole()`` parses the document the old way: the reference
    for every error message.
    """

    __slots__ = ("parse", "raw_turns", "whole")

    def __init__(
        self,
        fields: dict[str, Any],
        raw_turns: list[msgspec.Raw],
        parse: Callable[[bytes], Any],
        whole: Callable[[], Any],
    ) -> None:
        super().__init__(fields)
        self.raw_turns = raw_turns
        self.parse = parse
        self.whole = whole


def lazy_value(
    data: bytes, parse: Callable[[bytes], Any], whole: Callable[[], list[Any]]
) -> Any | None:
    """The JSON value of ``data`` with big documents as :class:`LazyDocument`; None when the
    lazy path does not apply (the caller then parses ``data`` whole, as before).

    ``parse`` parses one piece (raises ``ValueError`` when it cannot); ``whole()`` gives
    the values the whole parse gives (a list: one per document, an array's items).
    """
    start = _SPACE.match(data)
    first = data[start.end() : start.end() + 1] if start else b""
    try:
        if first == b"{":
            return _document(_FIELDS.decode(data), parse, lambda: whole()[0])
        if first == b"[":
            items = _ITEMS.decode(data)
            return [
                _document(_FIELDS.decode(item), parse, functools.partial(_item, whole, i))
                if memoryview(item)[:1] == b"{"
                else parse(bytes(item))
                for i, item in enumerate(items)
            ]
    except (msgspec.DecodeError, ValueError, RecursionError):
        pass
    return None


def _item(whole: Callable[[], list[Any]], i: int) -> Any:
    return whole()[i]


def _document(
    raw: dict[str, msgspec.Raw], parse: Callable[[bytes], Any], whole: Callable[[], Any]
) -> Any:
    """The fields of one document parsed, its turns left as text (when they are an array)."""
    turns = raw.get("turns")
    if turns is None or memoryview(turns)[:1] != b"[":
        return {key: parse(bytes(value)) for key, value in raw.items()}
    fields = {key: parse(bytes(value)) for key, value in raw.items() if key != "turns"}
    fields["turns"] = None  # its place; the turns are raw_turns
    return LazyDocument(fields, _ITEMS.decode(turns), parse, whole)
