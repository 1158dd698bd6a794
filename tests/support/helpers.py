"""Small helpers shared by tests: seeding sessions fast, reading exports back."""

from __future__ import annotations

from typing import Any

import orjson

from neurolink_cli.models import make_turn
from neurolink_cli.store.native import NativeStore
from neurolink_cli.util.timeutil import ms_to_rfc3339

# The CSV header of CONTRACT §5, written out here rather than imported from the code.
CSV_HEADER = ["sessionId", "userId", "index", "role", "timestamp", "provider", "model",
              "promptTokens", "completionTokens", "content"]  # fmt: skip

BASE_MS = 1_767_225_600_000  # 2026-01-01T00:00:00.000Z


def ts(offset_s: float) -> str:
    """A stored timestamp ``offset_s`` seconds after 2026-01-01T00:00:00Z."""
    return ms_to_rfc3339(BASE_MS + int(offset_s * 1000))


def add_conversation(
    store: NativeStore,
    session_id: str,
    n_turns: int = 4,
    user_id: str | None = "u1",
    start_s: float = 0,
    step_s: float = 60,
    content: str = "message {i}",
) -> None:
    """Append ``n_turns`` alternating user/assistant turns through the store's writer."""
    for i in range(n_turns):
        when = ts(start_s + i * step_s)
        if i % 2 == 0:
            turn = make_turn("user", content.format(i=i), when)
        else:
            turn = make_turn(
                "assistant",
                content.format(i=i),
                when,
                model="gpt-4o-mini",
                provider="openai",
                tokens={"prompt": 10 + i, "completion": 20 + i},
                latency_ms=100 + i,
            )
        store.append_turn(session_id, turn, user_id=user_id)


def seed_sessions(
    client: Any, prefix: str, n: int, turns: int = 3, size: int = 100, *, first: int = 0
) -> None:
    """Write sessions ``first .. first+n-1`` of ``turns`` turns quickly (pipelined, same bytes
    as the writer)."""
    store = NativeStore(client, prefix)
    pipe = client.pipeline(transaction=False)
    body = "x" * size
    for s in range(first, first + n):
        sid = f"s{s:06d}"
        items = []
        for i in range(turns):
            t = {
                "index": i,
                "role": "user" if i % 2 == 0 else "assistant",
                "content": body,
                "timestamp": ts(s + i),
            }
            items.append(orjson.dumps(t))
        pipe.rpush(store.turns_key(sid), *items)
        pipe.hset(
            store.meta_key(sid),
            mapping={
                "sessionId": sid,
                "userId": "u1",
                "createdAt": ts(s),
                "updatedAt": ts(s + turns),
                "totalTurns": turns,
                "toolsUsed": "[]",
                "nextIndex": turns,
            },
        )
        pipe.zadd(store.index_key, {sid: BASE_MS + (s + turns) * 1000})
        if s % 500 == 499:
            pipe.execute()
    pipe.execute()


def ttl_counted_down(earlier: int | None, later: int | None) -> bool:
    """Two reads of one key's TTL (seconds), ``earlier`` first: both unset, or the later one
    at most 2 s lower (a second boundary may pass between the reads)."""
    if earlier is None or later is None:
        return earlier is later
    return 0 <= earlier - later <= 2
