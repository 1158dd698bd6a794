"""Content survives export exactly: any text (lone surrogates included) and a 5 MB turn."""

from __future__ import annotations

import json

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neurolink_cli.models import make_turn

wild_text = st.text(max_size=300)  # includes lone surrogates


@given(st.lists(wild_text, min_size=1, max_size=5))  # lone surrogates included
@settings(
    suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=40, deadline=None
)
def test_json_export_gives_back_exactly_what_was_stored(store, cli, contents) -> None:
    sid = "prop"
    store.delete(sid)
    for i, text in enumerate(contents):
        store.append_turn(sid, make_turn("user", text, f"2026-01-01T00:00:{i:02d}.000Z"))
    for fmt in ("json", "jsonl"):
        result = cli("memory", "export", "--session-id", sid, "--format", fmt)
        assert result.exit_code == 0, result.stderr
        result.stdout_bytes.decode("utf-8")  # always valid UTF-8
        assert [t["content"] for t in json.loads(result.stdout_bytes)["turns"]] == contents


@pytest.mark.timeout(120)
def test_a_5mb_turn_round_trips(store, cli) -> None:
    big = ("é🙂\u200f\x00" * 400_000)[:1_300_000]  # ~5 MB of UTF-8
    store.append_turn("big", make_turn("user", big, "2026-01-01T00:00:00.000Z"))
    out = cli("memory", "export", "--session-id", "big", "--format", "jsonl").stdout_bytes
    assert orjson.loads(out)["turns"][0]["content"] == big
