"""``memory list --limit 0`` of the native layout reads each page's rows (HMGET + LLEN +
TTL per session) on the lean hiredis path; redis-py's pipeline (a cluster, a connection that
failed once) takes over with the same commands. Both must give the same rows, each with
its last update as its key."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from neurolink_cli.models import make_turn
from neurolink_cli.store.native import NativeStore


def fill(store: NativeStore, client: Any) -> None:
    for n in range(9):
        for i in range(n % 3 + 1):
            turn = make_turn("user", f"c{i}", f"2026-11-2{n}T10:00:0{i}.000Z", model="m")
            store.append_turn(f"s{n}", turn, user_id=f"u{n % 2}")
    client.expire(store.meta_key("s1"), 500)
    client.delete(store.meta_key("s2"), store.turns_key("s2"))  # a member whose keys are gone
    client.hdel(store.meta_key("s3"), "totalTurns", "title")
    # counts the reader takes as they are, and counts it cannot read (then LLEN counts)
    for sid, total in (("s4", "0012"), ("s5", " 7"), ("s6", "x"), ("s7", "9" * 19)):
        client.hset(store.meta_key(sid), "totalTurns", total)
    client.hset(store.meta_key("s8"), "totalTurns", "1" * 5000)  # beyond int()'s digits


def rows(store: NativeStore, user_id: str | None = None) -> list[Any]:
    out = []
    for page in store.all_summaries(user_id=user_id, page=4):
        assert [ms for ms, _ in page] == [r.updated_ms for _, r in page]
        out += [r.as_dict() for _, r in page]
    return out


def test_lean_rows_are_the_pipeline_rows(client: Any, store: NativeStore) -> None:
    fill(store, client)
    plain = NativeStore(client, store.prefix)
    plain._reader()._lean = False  # redis-py's pipeline, as after a connection failure
    want, want_u1 = rows(plain), rows(plain, "u1")
    client.zadd(store.index_key, {"s2": 1})  # the first walk pruned the gone member: again
    assert rows(store) == want and rows(store, "u1") == want_u1
    assert len(want) == 8 and {r["sessionId"] for r in want if r["ttl"]} == {"s1"}
    assert [r["turns"] for r in want if r["sessionId"] == "s3"] == [1]  # LLEN: no totalTurns
    turns = {r["sessionId"]: r["turns"] for r in want}
    assert (turns["s4"], turns["s5"], turns["s6"]) == (12, 7, 1)
    assert turns["s7"] == int("9" * 19) and turns["s8"] == 3


def test_a_key_of_the_wrong_type_still_raises(client: Any, store: NativeStore) -> None:
    fill(store, client)
    client.delete(store.turns_key("s4"))
    client.set(store.turns_key("s4"), b"not a list")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        rows(store)
