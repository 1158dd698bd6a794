"""The lean batch reader returns what redis-py's pipeline returns, and reports keys of the
wrong type per command without leaving its fast path."""

from __future__ import annotations

from typing import Any

from neurolink_cli.models import make_turn
from neurolink_cli.store.batchread import BatchReader


def test_batch_reader_matches_the_pipeline_and_reports_wrong_types(client: Any, store: Any) -> None:
    store.append_turn("a", make_turn("user", "hi", "2026-01-01T00:00:00.000Z"), user_id="u")
    client.set(store.meta_key("b"), "not a hash")
    client.rpush(store.turns_key("b"), b"{}")
    pairs = [(store.meta_key(s), store.turns_key(s)) for s in ("a", "b", "gone")]
    pipe = client.pipeline(transaction=False)
    for m, t in pairs:
        pipe.hgetall(m)
        pipe.lrange(t, 0, -1)
    expected = pipe.execute(raise_on_error=False)
    reader = BatchReader(client)
    got = reader.read(pairs)
    assert got[:2] == expected[:2] and got[3:] == expected[3:]
    assert "WRONGTYPE" in str(got[2])
    assert reader._lean  # a wrong type is per command, not a reason to leave the fast path
    ok = reader.read(pairs[:1])
    assert ok == expected[:2]
