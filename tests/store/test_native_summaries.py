"""``memory list --limit 0`` of the native layout reads each page's rows (HMGET + LLEN +
TTL per session) on the lean hiredis path; redis-py's pipeline (a cluster, a connection that
failed once) takes over with the same commands. Both must give the same rows, each with
its last update as its key."""

from __future__ import annotations

from typing import Any

from support.helpers import ttl_counted_down

from neurolink_cli.models import Unreadable, make_turn
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
    for page, bad in store.all_summaries(user_id=user_id, page=4):
        assert not bad
        assert [ms for ms, _ in page] == [r.updated_ms for _, r in page]
        out += [r.as_dict() for _, r in page]
    return out


def test_lean_rows_are_the_pipeline_rows(client: Any, store: NativeStore) -> None:
    fill(store, client)
    plain = NativeStore(client, store.prefix)
    plain._reader()._lean = False  # redis-py's pipeline, as after a connection failure
    want, want_u1 = rows(plain), rows(plain, "u1")
    client.zadd(store.index_key, {"s2": 1})  # the first walk pruned the gone member: again
    got, got_u1 = rows(store), rows(store, "u1")
    for g, w in zip(got + got_u1, want + want_u1, strict=True):  # s1's TTL, read again
        assert ttl_counted_down(w["ttl"], g["ttl"])
        g["ttl"] = w["ttl"]
    assert got == want and got_u1 == want_u1
    assert len(want) == 8 and {r["sessionId"] for r in want if r["ttl"]} == {"s1"}
    assert [r["turns"] for r in want if r["sessionId"] == "s3"] == [1]  # LLEN: no totalTurns
    turns = {r["sessionId"]: r["turns"] for r in want}
    assert (turns["s4"], turns["s5"], turns["s6"]) == (12, 7, 1)
    assert turns["s7"] == int("9" * 19) and turns["s8"] == 3


def test_a_key_of_the_wrong_type_is_named_and_the_rest_listed(
    client: Any, store: NativeStore
) -> None:
    fill(store, client)
    want = {r["sessionId"] for r in rows(store)} - {"s4", "s7"}
    client.delete(store.turns_key("s4"), store.meta_key("s7"))
    client.set(store.turns_key("s4"), b"not a list")
    client.set(store.meta_key("s7"), b"not a hash")
    for lean in (True, False):
        reader = NativeStore(client, store.prefix)
        reader._reader()._lean = lean
        for user, named in ((None, {"s4", "s7"}), ("u0", {"s4", "s7"}), ("u1", {"s7"})):
            got, bad = [], []
            for page, unread in reader.all_summaries(user_id=user, page=4):
                got += [r.session_id for _, r in page]
                bad += unread
            assert set(got) == {s for s in want if user is None or int(s[1]) % 2 == int(user[1])}
            assert {b.session_id for b in bad} == named and not any(b.skip for b in bad)
            keys = {"s4": store.turns_key("s4"), "s7": store.meta_key("s7")}
            assert {b.key for b in bad} == {keys[s] for s in named}
            first = list(reader.summaries(user_id=user))
            assert {x.session_id for x in first if isinstance(x, Unreadable)} == named
            assert {x.session_id for x in first if not isinstance(x, Unreadable)} == set(got)
    assert "not of the expected type" in bad[0].reason


def test_list_names_an_unreadable_session_and_exits_1(cli: Any, client: Any, store: Any) -> None:
    fill(store, client)
    client.delete(store.turns_key("s4"))
    client.set(store.turns_key("s4"), b"not a list")
    result = cli("memory", "list", "--limit", "0", "--format", "jsonl")
    assert result.exit_code == 1
    assert len(result.stdout.splitlines()) == 7  # the 8 sessions with keys, s4 left out
    key = store.turns_key("s4")
    assert f"warning: s4: key {key} is not of the expected type" in result.stderr
    assert "1 sessions could not be read and are not listed" in result.stderr
