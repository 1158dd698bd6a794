"""The lean batch reader returns what redis-py's pipeline returns, and reports keys of the
wrong type per command without leaving its fast path."""

from __future__ import annotations

import time
from typing import Any

import pytest

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


@pytest.mark.parametrize("lean", [True, False])
def test_a_batch_with_ttls_matches_the_pipeline(client: Any, store: Any, lean: bool) -> None:
    """``start(pairs, ttl=True)``: each session's PTTL third, in the same round trip; on
    the lean path and on the pipeline (after a wrong type: the whole batch) alike."""
    for sid in ("a", "b", "c"):
        store.append_turn(sid, make_turn("user", "hi", "2026-01-01T00:00:00.000Z"), user_id="u")
    client.pexpire(store.meta_key("b"), 3_600_000)
    if not lean:
        client.delete(store.turns_key("c"))
        client.set(store.turns_key("c"), b"not a list")
    pairs = [(store.meta_key(s), store.turns_key(s)) for s in ("a", "b", "c", "gone")]
    pipe = client.pipeline(transaction=False)
    for m, t in pairs:
        pipe.hgetall(m)
        pipe.lrange(t, 0, -1)
        pipe.pttl(m)
    expected = pipe.execute(raise_on_error=False)
    reader = BatchReader(client)
    got = reader.finish(reader.start(pairs, ttl=True))
    assert len(got) == 12
    assert expected[5] - 5_000 <= got[5] <= expected[5]  # b's TTL counts down in between
    got[5] = expected[5]
    assert got[:7] == expected[:7] and got[9:] == expected[9:]
    assert got[0::3] == expected[0::3] and got[2::3] == expected[2::3]
    assert got[2] == -1 and 0 < got[5] <= 3_600_000 and got[11] == -2
    if not lean:
        assert "WRONGTYPE" in str(got[7])
    assert reader._lean


def test_run_keeps_each_error_in_its_place_and_stays_lean(client: Any, prefix: str) -> None:
    client.set(f"{prefix}:s", b"v")
    client.rpush(f"{prefix}:l", b"x")
    reader = BatchReader(client)
    got = reader.run([("GET", f"{prefix}:l"), ("GET", f"{prefix}:s"), ("TTL", f"{prefix}:s")])
    assert "WRONGTYPE" in str(got[0]) and got[1:] == [b"v", -1]
    assert reader._lean


def test_run_ahead_answers_every_batch_in_order(client: Any, prefix: str) -> None:
    keys = [f"{prefix}:k{i}".encode() for i in range(10)]
    for i, key in enumerate(keys):
        client.set(key, str(i))
    reader = BatchReader(client)
    batches = [(n, [("MGET", *keys[n : n + 3])]) for n in range(0, 10, 3)]
    got = list(reader.run_ahead(iter(batches)))
    assert [tag for tag, _ in got] == [0, 3, 6, 9]
    assert [v for _, replies in got for v in replies[0]] == [str(i).encode() for i in range(10)]
    assert reader._lean


def test_run_ahead_closed_early_leaves_the_pool_sound(client: Any, prefix: str) -> None:
    client.set(f"{prefix}:a", b"1")
    reader = BatchReader(client)
    batches = ((n, [("GET", f"{prefix}:a")] * 50) for n in range(5))
    gen = reader.run_ahead(batches)
    assert next(gen)[1][0] == b"1"  # batch 1 is sent and unread now
    gen.close()
    for _ in range(3):  # no connection handed out with stale replies on it
        assert client.get(f"{prefix}:a") == b"1"
        assert reader.run([("GET", f"{prefix}:a")]) == [b"1"]


def test_run_ahead_falls_back_to_the_pipeline_when_the_connection_breaks(
    client: Any, prefix: str
) -> None:
    for i in range(4):
        client.set(f"{prefix}:{i}", str(i))
    reader = BatchReader(client)

    def batches() -> Any:
        yield 0, [("GET", f"{prefix}:0")]
        yield 1, [("GET", f"{prefix}:1")]
        client.connection_pool.disconnect()  # the lean connection goes away mid-stream
        yield 2, [("GET", f"{prefix}:2")]
        yield 3, [("GET", f"{prefix}:3")]

    started = time.monotonic()
    got = list(reader.run_ahead(batches()))
    assert got == [(0, [b"0"]), (1, [b"1"]), (2, [b"2"]), (3, [b"3"])]
    assert time.monotonic() - started < 3  # no wait for a reply that will never come
    assert not reader._lean


def test_run_ahead_raises_an_error_of_the_batches_themselves(client: Any, prefix: str) -> None:
    client.set(f"{prefix}:a", b"1")
    reader = BatchReader(client)

    def batches() -> Any:
        yield 0, [("GET", f"{prefix}:a")]
        yield 1, [("GET", f"{prefix}:a")]
        raise ValueError("the SCAN failed")  # not a reason to end the stream quietly

    got = []
    with pytest.raises(ValueError, match="the SCAN failed"):
        for item in reader.run_ahead(batches()):
            got.append(item)
    assert got == [(0, [b"1"]), (1, [b"1"])]
    assert reader._lean


def test_chain_makes_each_batch_from_the_replies_before(client: Any, prefix: str) -> None:
    for i in range(5):
        client.set(f"{prefix}:{i}", str(i + 1))  # each value names the next key
    reader = BatchReader(client)

    def follow(tag: int, replies: list[Any]) -> Any:
        nxt = int(replies[0])
        return (nxt, [("GET", f"{prefix}:{nxt}")]) if nxt < 5 else None

    got = list(reader.chain((0, [("GET", f"{prefix}:0")]), follow))
    assert got == [(i, [str(i + 1).encode()]) for i in range(5)]
    assert reader._lean


def test_chain_closed_early_leaves_the_pool_sound(client: Any, prefix: str) -> None:
    client.set(f"{prefix}:a", b"1")
    reader = BatchReader(client)
    gen = reader.chain(
        (0, [("GET", f"{prefix}:a")]), lambda t, r: (t + 1, [("GET", f"{prefix}:a")] * 50)
    )
    assert next(gen)[1] == [b"1"]  # the next batch is sent and unread now
    gen.close()
    for _ in range(3):  # no connection handed out with stale replies on it
        assert client.get(f"{prefix}:a") == b"1"
        assert reader.run([("GET", f"{prefix}:a")]) == [b"1"]


def test_chain_falls_back_to_the_pipeline_when_the_connection_breaks(
    client: Any, prefix: str
) -> None:
    for i in range(4):
        client.set(f"{prefix}:{i}", str(i))
    reader = BatchReader(client)

    def follow(tag: int, replies: list[Any]) -> Any:
        return (tag + 1, [("GET", f"{prefix}:{tag + 1}")]) if tag < 3 else None

    started = time.monotonic()
    got = []
    for tag, replies in reader.chain((0, [("GET", f"{prefix}:0")]), follow):
        got.append((tag, replies))
        if tag == 1:  # batch 2 is sent: its connection goes away before the reply is read
            client.connection_pool.disconnect()
    assert got == [(0, [b"0"]), (1, [b"1"]), (2, [b"2"]), (3, [b"3"])]
    assert time.monotonic() - started < 3  # no wait for a reply that will never come
    assert not reader._lean


def test_read_replies_spans_many_socket_reads_and_matches_read_response(
    client: Any, prefix: str
) -> None:
    """Replies far larger than one socket read (64 kB) and many of them: the reader taken
    straight from hiredis gives what redis-py's read_response gives, an error in its place."""
    from neurolink_cli.store.replies import read_replies

    big = [bytes([65 + i % 26]) * (3000 + i) for i in range(300)]  # ~1 MB list
    client.rpush(f"{prefix}:big", *big)
    client.set(f"{prefix}:s", b"v")
    commands = [
        ("LRANGE", f"{prefix}:big", 0, -1),
        ("GET", f"{prefix}:big"),
        ("GET", f"{prefix}:s"),
    ]
    commands *= 5
    from redis.exceptions import ResponseError

    def reference(conn: Any) -> list[Any]:
        out: list[Any] = []
        for _ in commands:
            try:
                out.append(conn.read_response(disable_decoding=True))
            except ResponseError as exc:
                out.append(exc)
        return out

    pool = client.connection_pool
    results = []
    for read in (lambda conn: read_replies(conn, len(commands)), reference):
        conn = pool.get_connection()
        try:
            conn.send_packed_command(conn.pack_commands(commands))
            results.append(read(conn))
        finally:
            pool.release(conn)
    for got in results:
        assert got[0::3] == [big] * 5
        assert all("WRONGTYPE" in str(g) for g in got[1::3])
        assert got[2::3] == [b"v"] * 5
