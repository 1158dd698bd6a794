"""The native store: atomic appends, concurrent writers, trimming, TTL, reading, deleting."""

from __future__ import annotations

import multiprocessing

import orjson
import redis as redis_py
from support.helpers import add_conversation, seed_sessions, ts

from neurolink_cli.models import SessionDoc, make_turn
from neurolink_cli.store.native import NativeStore
from neurolink_cli.util.timeutil import now_rfc3339


def test_append_allocates_contiguous_indexes_and_metadata(store: NativeStore, client) -> None:
    add_conversation(store, "a", 4, user_id="alice")
    raw = client.lrange(store.turns_key("a"), 0, -1)
    turns = [orjson.loads(r) for r in raw]
    assert [t["index"] for t in turns] == [0, 1, 2, 3]
    assert list(turns[1])[:4] == ["index", "role", "content", "timestamp"]
    meta = {k.decode(): v.decode() for k, v in client.hgetall(store.meta_key("a")).items()}
    assert meta["sessionId"] == "a" and meta["userId"] == "alice"
    assert meta["createdAt"] == ts(0) and meta["updatedAt"] == ts(180)
    assert meta["totalTurns"] == "4" and meta["model"] == "gpt-4o-mini"
    assert client.zscore(store.index_key, "a") is not None


def test_keys_use_literal_braces_as_hash_tag(store: NativeStore) -> None:
    assert store.turns_key("x:y") == f"{store.prefix}:session:{{x:y}}:turns"
    assert store.meta_key("x:y") == f"{store.prefix}:session:{{x:y}}:metadata"


def test_tools_used_is_merged_in_order(store: NativeStore) -> None:
    store.append_turn("t", make_turn("assistant", "a", ts(0)), tools_used=["calc", "web"])
    store.append_turn("t", make_turn("assistant", "b", ts(1)), tools_used=["web", "sql"])
    doc = store.get("t")
    assert isinstance(doc, SessionDoc)
    assert doc.metadata["toolsUsed"] == ["calc", "web", "sql"]


def _writer(url: str, prefix: str, session_id: str, count: int) -> None:
    store = NativeStore(redis_py.Redis.from_url(url), prefix, max_turns=0)
    for i in range(count):
        store.append_turn(session_id, make_turn("user", f"w{i}", ts(i)))


def test_concurrent_processes_get_unique_contiguous_indexes(redis_server, client, prefix) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=_writer, args=(redis_server.url, prefix, "shared", 60)) for _ in range(4)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    store = NativeStore(client, prefix)
    indexes = [orjson.loads(r)["index"] for r in client.lrange(store.turns_key("shared"), 0, -1)]
    assert indexes == list(range(240))
    assert client.hget(store.meta_key("shared"), "totalTurns") == b"240"


def test_retried_append_is_not_stored_twice(store: NativeStore, client) -> None:
    # The same writer id and sequence (as redis-py sends on a retry) return the same index.
    turn = orjson.dumps({"role": "user", "content": "x", "timestamp": ts(0)})
    args = [turn, "r", "", ts(0), "", "", "", 100, 0, "writer1", 7]
    keys = [store.turns_key("r"), store.meta_key("r")]
    first = store._append(keys=keys, args=args)
    again = store._append(keys=keys, args=args)
    assert first == again == 0
    assert client.llen(store.turns_key("r")) == 1


def test_trim_drops_oldest_and_never_renumbers(client, prefix) -> None:
    store = NativeStore(client, prefix, max_turns=3)
    for i in range(5):
        store.append_turn("trim", make_turn("user", f"m{i}", ts(i)))
    doc = store.get("trim")
    assert isinstance(doc, SessionDoc)
    assert [t["index"] for t in doc.turns] == [2, 3, 4]
    assert [t["content"] for t in doc.turns] == ["m2", "m3", "m4"]
    assert doc.metadata["totalTurns"] == 3


def test_ttl_is_set_and_refreshed_on_both_keys(client, prefix) -> None:
    store = NativeStore(client, prefix, ttl=100)
    store.append_turn("ttl", make_turn("user", "a", ts(0)))
    client.expire(store.turns_key("ttl"), 5)
    client.expire(store.meta_key("ttl"), 5)
    store.append_turn("ttl", make_turn("user", "b", ts(1)))
    assert 95 <= client.ttl(store.turns_key("ttl")) <= 100
    assert 95 <= client.ttl(store.meta_key("ttl")) <= 100


def test_no_ttl_by_default(store: NativeStore, client) -> None:
    add_conversation(store, "forever", 2)
    assert client.ttl(store.turns_key("forever")) == -1


def test_index_members_whose_keys_are_gone_are_pruned(store: NativeStore, client) -> None:
    add_conversation(store, "keep", 2)
    add_conversation(store, "gone", 2)
    client.delete(store.turns_key("gone"), store.meta_key("gone"))
    ids = [d.session_id for d in store.iter_docs()]
    assert ids == ["keep"]
    assert client.zscore(store.index_key, "gone") is None
    assert client.zscore(store.index_key, "keep") is not None


def test_iteration_pages_every_session_once_with_ties(client, prefix) -> None:
    store = NativeStore(client, prefix, batch_size=7)
    # 50 sessions sharing only 5 distinct scores exercise the tie handling of the keyset walk.
    for i in range(50):
        client.hset(store.meta_key(f"s{i}"), mapping={"sessionId": f"s{i}"})
        client.zadd(store.index_key, {f"s{i}": 1000 + i % 5})
    ids = [d.session_id for d in store.iter_docs()]
    assert sorted(ids) == sorted(f"s{i}" for i in range(50))
    assert len(ids) == 50


def test_sessions_updated_during_a_walk_are_met_once(client, prefix) -> None:
    store = NativeStore(client, prefix, batch_size=10)
    seed_sessions(client, prefix, 40, turns=1)
    seen: list[str] = []
    for rows in store.index_pages(page=10):
        seen += [sid for sid, _ in rows]
        if len(seen) == 10:
            # one already met and one not yet met are updated now (score jumps ahead)
            # as writers do: stamped with the current time
            store.append_turn(seen[0], make_turn("user", "again", now_rfc3339()))
            store.append_turn("s000030", make_turn("user", "again", now_rfc3339()))
            store.append_turn("brand-new", make_turn("user", "new", now_rfc3339()))
    assert sorted(seen) == sorted([f"s{i:06d}" for i in range(40)] + ["brand-new"])


def test_summaries_newest_first_with_user_filter(store: NativeStore) -> None:
    add_conversation(store, "old", 2, user_id="a", start_s=0)
    add_conversation(store, "mid", 2, user_id="b", start_s=100)
    add_conversation(store, "new", 2, user_id="a", start_s=200)
    assert [s.session_id for s in store.summaries()] == ["new", "mid", "old"]
    assert [s.session_id for s in store.summaries(user_id="a")] == ["new", "old"]
    rows = list(store.summaries(since_ms=None, until_ms=None))
    assert rows[0].turns == 2 and rows[0].model == "gpt-4o-mini"


def test_delete_one_and_all(store: NativeStore, client) -> None:
    add_conversation(store, "one", 2)
    add_conversation(store, "two", 2)
    client.set("unrelated:key", "stays")
    assert store.delete("one") is True
    assert store.delete("one") is False
    assert store.get("one") is None
    assert store.delete_all() == 1
    assert store.count() == 0
    assert client.get("unrelated:key") == b"stays"
    client.delete("unrelated:key")


def test_write_session_keeps_extra_fields(store: NativeStore) -> None:
    doc = SessionDoc(
        "imp",
        "u",
        ts(0),
        ts(5),
        {
            "provider": "p",
            "model": "m",
            "totalTurns": 1,
            "toolsUsed": ["t"],
            "title": "T",
            "custom": {"a": 1},
        },
        extra={"tags": ["x"]},
    )
    doc.turns = [{"index": 0, "role": "user", "content": "c", "timestamp": ts(0)}]
    store.write_session(doc)
    got = store.get("imp")
    assert isinstance(got, SessionDoc)
    assert got.metadata == doc.metadata
    assert got.extra == {"tags": ["x"]}
    store.append_turn("imp", make_turn("user", "next", ts(6)))
    got = store.get("imp")
    assert isinstance(got, SessionDoc)
    assert [t["index"] for t in got.turns] == [0, 1]


def test_memory_list_is_bounded_by_batches(client, prefix) -> None:
    # Reading never asks Redis for more than one batch at a time.
    store = NativeStore(client, prefix, batch_size=50)
    seed_sessions(client, prefix, 120, turns=1)
    pages = list(store.index_pages(page=50))
    assert [len(p) for p in pages] == [50, 50, 20]


def test_a_write_retried_with_its_sequence_is_stored_once(store: NativeStore, client) -> None:
    # What the loop's outage queue does: one sequence per turn, reused on every attempt.
    seq = store.next_write_seq()
    turn = make_turn("user", "queued", ts(0))
    assert store.append_turn("q", turn, write_seq=seq) == 0
    assert store.append_turn("q", turn, write_seq=seq) == 0  # the reply was lost; retried
    assert client.llen(store.turns_key("q")) == 1
    assert store.append_turn("q", make_turn("user", "next", ts(1))) == 1
