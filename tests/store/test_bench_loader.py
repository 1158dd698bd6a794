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
