"""``make bench`` loads its data with a raw RESP loader (``bench/dataset.py``), not through
the store; its figures describe the real layout only if that loader writes the very bytes
``NativeStore.append_turn`` writes. The loader runs here as a separate process (its own
``bench/`` on its path), so the test suite never imports bench code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
from support.redis_server import RedisServer

BENCH = Path(__file__).resolve().parents[2] / "bench"
LOAD_ONE_SESSION = "import sys; from dataset import load; load(sys.argv[1], int(sys.argv[2]), sys.argv[3], 1, 4, 300, first=0)"  # noqa: E501


def test_bench_loader_writes_what_append_turn_writes(
    redis_server: RedisServer, client: Any, store: Any, prefix: str
) -> None:
    """The bench's raw loader stores the very bytes NativeStore stores (minus the writer id)."""
    other = prefix + "x"
    done = subprocess.run(
        [sys.executable, "-c", LOAD_ONE_SESSION, "127.0.0.1", str(redis_server.port), other],
        cwd=BENCH,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    sid = "s-0000000"
    theirs = client.lrange(f"{other}:session:{{{sid}}}:turns", 0, -1)
    assert len(theirs) == 4
    for raw in theirs:
        turn = orjson.loads(raw)
        turn.pop("index")
        store.append_turn(sid, turn, user_id=None)
    assert client.lrange(store.turns_key(sid), 0, -1) == theirs
    mine_meta = client.hgetall(store.meta_key(sid))
    their_meta = client.hgetall(f"{other}:session:{{{sid}}}:metadata")
    strip = {b"userId"}
    assert {k for k in mine_meta if not k.startswith(b"w:")} | strip == {
        k for k in their_meta if not k.startswith(b"w:")
    } | strip
    for key in (b"sessionId", b"createdAt", b"updatedAt", b"totalTurns", b"nextIndex"):
        assert mine_meta[key] == their_meta[key]
    assert client.zscore(store.index_key, sid) == client.zscore(f"{other}:sessions", sid)


LOAD_TS = (
    "import sys; from dataset_ts import load_ts; "
    "load_ts(sys.argv[1], int(sys.argv[2]), 12, 4, 300, prefix=sys.argv[3], user_prefix=sys.argv[4])"
)


def test_bench_ts_loader_writes_what_the_sdk_writes(
    redis_server: RedisServer, client: Any, prefix: str
) -> None:
    """The TypeScript-layout loader writes the sample SDK keys' shape: field order, user
    sets, the TTL, ``randomUser`` sessions under ``session-only:``; the store reads them all."""
    from neurolink_cli.models import SessionDoc
    from neurolink_cli.store.upstream import UpstreamStore

    c, u = f"{prefix}:conversation:", f"{prefix}:user:sessions:"
    done = subprocess.run([sys.executable, "-c", LOAD_TS, "127.0.0.1", str(redis_server.port),
                           c, u], cwd=BENCH, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    from test_upstream import SAMPLES

    sample = orjson.loads(SAMPLES.read_bytes().splitlines()[0])
    want = list(orjson.loads(sample["value"]))
    keys = sorted(client.scan_iter(match=f"{c}*"))
    assert len(keys) == 12
    for key in keys:
        obj = orjson.loads(client.get(key))
        assert list(obj)[:7] == want[:7]
        assert [list(m) for m in obj["messages"]] == [["id", "timestamp", "role", "content"]] * 4
        assert 0 < client.ttl(key) <= 86_400
        if b":session-only:" in key:
            assert obj["userId"] == "randomUser"
        else:
            assert client.sismember(f"{u}{obj['userId']}", obj["sessionId"])
    docs = [d for d in UpstreamStore(client, c, u).iter_docs() if isinstance(d, SessionDoc)]
    assert len(docs) == 12 and sum(d.user_id is None for d in docs) == 1
