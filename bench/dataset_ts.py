"""A fast loader of sessions in the TypeScript SDK's layout (CONTRACT §4).

Writes what ``@juspay/neurolink`` (v7.38+) writes, shaped after
``/work/shared/samples/neurolink-ts-keys.jsonl``: one JSON string per session under
``{C}{userId}:{sessionId}`` (``{C}session-only:{sessionId}`` with ``"userId": "randomUser"``
for every 10th session), keys in the SDK's order ``id, title, sessionId, userId, createdAt,
updatedAt, messages[, lastApiTokenCount]``; each message ``id`` (a UUID), ``timestamp``,
``role``, ``content`` (the SDK's order), alternating user / assistant, with
``JSON.stringify``'s compact separators; the user's SET ``{U}{userId}`` holds the ids; every
key gets the SDK's TTL (``EXPIRE 86400`` unless ``ttl`` says otherwise). Raw RESP over one
socket in large pipelined chunks (``dataset.Pipe``), so 20,000 sessions load in seconds.
"""

from __future__ import annotations

import random
import uuid

import orjson
from dataset import BASE_MS, WORDS, Pipe, ms_to_rfc3339, resp

C_PREFIX = "neurolink:conversation:"
U_PREFIX = "neurolink:user:sessions:"


def _content(rng: random.Random, size: int, i: int) -> str:
    words: list[str] = []
    n = 0
    while n < size:
        w = rng.choice(WORDS)
        words.append(w)
        n += len(w.encode()) + 1
    text = " ".join(words)
    if i % 7 == 3:
        text = 'He said "quoted"\n' + text[18:]  # escapes in the stored JSON
    return text


def session_value(
    rng: random.Random, sid: str, user: str, messages: int, turn_bytes: int, start_ms: int
) -> bytes:
    """One session object as the SDK stores it (compact JSON, the SDK's key order)."""
    msgs = []
    for i in range(messages):
        msgs.append(
            {
                "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "timestamp": ms_to_rfc3339(start_ms + i * 1000),
                "role": "user" if i % 2 == 0 else "assistant",
                "content": _content(rng, max(10, turn_bytes - 110), i),
            }
        )
    obj: dict[str, object] = {
        "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "title": f"Conversation {sid}",
        "sessionId": sid,
        "userId": user,
        "createdAt": ms_to_rfc3339(start_ms),
        "updatedAt": ms_to_rfc3339(start_ms + (messages - 1) * 1000 + 7),
        "messages": msgs,
    }
    if messages % 2 == 0:
        obj["lastApiTokenCount"] = {"inputTokens": 11, "outputTokens": 7, "totalTokens": 18}
    return orjson.dumps(obj)


def load_ts(
    host: str,
    port: int,
    sessions: int,
    messages: int,
    turn_bytes: int = 300,
    *,
    prefix: str = C_PREFIX,
    user_prefix: str = U_PREFIX,
    users: int = 500,
    session_only_every: int = 10,
    ttl: int = 86_400,
    seed: int = 11,
    db: int = 0,
    start_ms: int = BASE_MS,
) -> tuple[int, int]:
    """Load ``sessions`` x ``messages`` into database ``db``; (messages, bytes of values).

    Every ``session_only_every``-th session has no user (0: none)."""
    rng = random.Random(seed)
    pipe = Pipe(host, port)
    if db:
        pipe.add(resp(b"SELECT", str(db).encode()))
    total = nbytes = 0
    members: dict[str, list[bytes]] = {}
    ttl_b = str(ttl).encode()
    for n in range(sessions):
        sid = f"ts-{n:07d}"
        if session_only_every and n % session_only_every == session_only_every - 1:
            key, user = f"{prefix}session-only:{sid}", "randomUser"
        else:
            user = f"user-{n % users}"
            key = f"{prefix}{user}:{sid}"
            members.setdefault(user, []).append(sid.encode())
        value = session_value(rng, sid, user, messages, turn_bytes, start_ms + n * 60_000)
        if ttl:
            pipe.add(resp(b"SET", key.encode(), value, b"EX", ttl_b))
        else:
            pipe.add(resp(b"SET", key.encode(), value))
        total += messages
        nbytes += len(value)
    for user, ids in members.items():
        set_key = f"{user_prefix}{user}".encode()
        for i in range(0, len(ids), 1000):
            pipe.add(resp(b"SADD", set_key, *ids[i : i + 1000]))
        if ttl:
            pipe.add(resp(b"EXPIRE", set_key, ttl_b))
    pipe.close()
    return total, nbytes
