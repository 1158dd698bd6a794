"""The fast paths that splice the stored turn bytes (no parse) write what the parsed
document would: JSONL, pretty JSON; unsound bytes are never spliced."""

from __future__ import annotations

import io
from typing import Any

import orjson
import pytest

from neurolink_cli.export.formats import JsonlWriter, doc_compact, doc_pretty
from neurolink_cli.models import SessionDoc, make_turn


def test_spliced_jsonl_equals_the_serialized_document() -> None:
    turns = [
        {"index": i, **make_turn("user", f'héllo "{i}"\n', "2026-01-01T00:00:00.000Z")}
        for i in range(3)
    ]
    raw = [orjson.dumps(t) for t in turns]
    meta = {"provider": "p", "model": "m", "totalTurns": 3, "toolsUsed": []}
    fast = SessionDoc("s", "u", "c", "u2", dict(meta), raw_turns=list(raw), extra={"x": 1})
    slow = SessionDoc("s", "u", "c", "u2", dict(meta), extra={"x": 1})
    slow.turns = turns
    assert doc_compact(fast) == doc_compact(slow)
    assert fast.raw_turns is not None  # the fast path did not parse


def test_unsound_raw_turns_are_not_spliced() -> None:
    for bad in ([b'{"a":1}', b""], [b'{"a":1}', b"[1]"], ['{"a":1}']):
        doc = SessionDoc("s", None, None, None, {}, raw_turns=bad)  # type: ignore[arg-type]
        assert not doc.raw_turns_look_sound()
    assert SessionDoc("s", None, None, None, {}, raw_turns=[]).raw_turns_look_sound()


def test_jsonl_writer_gathers_writes_and_flushes_on_close() -> None:
    class Counting(io.BytesIO):
        writes = 0

        def write(self, b: Any) -> int:  # type: ignore[override]
            Counting.writes += 1
            return super().write(b)

    out = Counting()
    writer = JsonlWriter(out)
    for i in range(100):
        writer.write(SessionDoc(f"s{i}", None, None, None, {}, raw_turns=[b'{"index":0}']))
    writer.close()
    assert out.getvalue().count(b"\n") == 100
    assert Counting.writes < 5


def test_pretty_json_of_spliced_turns_equals_the_parsed_path() -> None:
    turns = [
        {"index": i, **make_turn("assistant", f"é {i} \\u2028", "t", model="m", cost=0.1 * i)}
        for i in range(3)
    ]
    meta = {"provider": "p", "model": "m", "totalTurns": 3, "toolsUsed": ["x"], "title": None}
    fast = SessionDoc(
        "s", None, "c", "u", dict(meta), [orjson.dumps(t) for t in turns], extra={"k": [1]}
    )
    slow = SessionDoc("s", None, "c", "u", dict(meta), extra={"k": [1]})
    slow.turns = turns
    assert doc_pretty(fast) == doc_pretty(slow)
    bad = SessionDoc("s", None, None, None, {}, raw_turns=[b'{"a":1}', b"{oops}"])
    with pytest.raises(Exception, match="not a JSON object"):
        doc_pretty(bad)


def test_session_doc_keeps_raw_bytes_until_changed() -> None:
    doc = SessionDoc("s", None, None, None, {}, raw_turns=[b'{"index":0}'])
    assert doc.turn_count() == 1 and doc.raw_turns is not None
    assert doc.turns == [{"index": 0}]
    assert doc.raw_turns is None
