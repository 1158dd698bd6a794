"""The fast paths of the TypeScript layout give exactly what the straightforward code gave.

``export-all``, ``list`` and ``stats`` of that layout were made faster (issue 14): keys read
by MGET through the hiredis batch reader with the next batch sent ahead, turns built with
one dict display per message, derived metadata without a pass when no message can carry
them, stats counted per field, timestamps compared as strings. Here the reference is the
code as it was before (kept below, small and obvious): the documents, rows and stats of a
varied data set must be identical, byte for byte once serialized.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from support.helpers import ttl_counted_down

from neurolink_cli.export.formats import doc_compact
from neurolink_cli.models import SessionDoc
from neurolink_cli.stats import Stats, model_key
from neurolink_cli.store.upstream import UpstreamStore
from neurolink_cli.util.timeutil import stored_to_ms

# -- the reference: the mapping as written before the fast paths -------------------------


def ref_turn(index: int, message: dict[str, Any]) -> dict[str, Any]:
    turn: dict[str, Any] = {"index": index}
    for key in ("role", "content", "timestamp"):
        turn[key] = message.get(key)
    for key, value in message.items():
        if key not in turn:
            turn[key] = value
    return turn


def ref_document(data: dict[str, Any]) -> dict[str, Any]:
    messages = data["messages"]
    provider = model = None
    tools: dict[str, None] = {}
    for message in messages:
        meta = message.get("metadata")
        if isinstance(meta, dict):
            provider = meta.get("provider") or provider
            model = meta.get("model") or model
        tool = message.get("tool")
        if isinstance(tool, str) and tool:
            tools[tool] = None
    metadata: dict[str, Any] = {
        "provider": provider,
        "model": model,
        "totalTurns": len(messages),
        "toolsUsed": list(tools),
        "title": data.get("title"),
        "summarizedMessage": data.get("summarizedMessage"),
        "source": "neurolink-ts",
    }
    for key in ("summarizedUpToMessageId", "lastTokenCount", "lastApiTokenCount",
                "additionalMetadata"):  # fmt: skip
        if key in data:
            metadata[key] = data[key]
    user = data.get("userId")
    doc: dict[str, Any] = {
        "sessionId": data["sessionId"],
        "userId": None if user in (None, "", "randomUser") else str(user),
        "createdAt": None if data.get("createdAt") is None else str(data["createdAt"]),
        "updatedAt": None if data.get("updatedAt") is None else str(data["updatedAt"]),
        "turns": [ref_turn(i, m) for i, m in enumerate(messages)],
        "metadata": metadata,
    }
    mapped = {"sessionId", "userId", "createdAt", "updatedAt", "messages", "title",
              "summarizedMessage", "summarizedUpToMessageId", "lastTokenCount",
              "lastApiTokenCount", "additionalMetadata"}  # fmt: skip
    for key, value in data.items():
        if key not in mapped and key not in doc:
            doc[key] = value
    return doc


def ref_stats_add(stats: Stats, doc: SessionDoc) -> None:
    """Stats.add as it was: every turn on its own, every timestamp parsed."""

    def seen(value: Any) -> None:
        ms = stored_to_ms(value)
        if ms is None:
            return
        if stats.oldest_ms is None or ms < stats.oldest_ms:
            stats.oldest_ms = ms
        if stats.newest_ms is None or ms > stats.newest_ms:
            stats.newest_ms = ms

    def number(value: Any) -> Any:
        return None if isinstance(value, bool) or not isinstance(value, int | float) else value

    turns = doc.turns
    stats.sessions += 1
    stats.turns += len(turns)
    seen(doc.created_at)
    seen(doc.updated_at)
    session_model = model_key(doc.metadata.get("model"), doc.metadata.get("provider"))
    for turn in turns:
        role = turn.get("role")
        stats.by_role[str(role)] += 1
        key = model_key(turn.get("model"), turn.get("provider"))
        if key is None and role == "assistant":
            key = session_model
        if key is not None:
            stats.by_model[key] += 1
        tokens = turn.get("tokens")
        if isinstance(tokens, dict):
            stats.prompt_tokens += int(number(tokens.get("prompt")) or 0)
            stats.completion_tokens += int(number(tokens.get("completion")) or 0)
        cost = number(turn.get("cost"))
        if cost is not None:
            stats.cost = (stats.cost or 0.0) + cost
        seen(turn.get("timestamp"))


# -- a varied data set --------------------------------------------------------------------


def msg(i: int, **extra: Any) -> dict[str, Any]:
    base = {"id": f"m{i}", "timestamp": f"2026-11-26T22:45:{i % 60:02d}.{i:03d}Z",
            "role": "user" if i % 2 == 0 else "assistant", "content": f"text {i} é 東京"}  # fmt: skip
    base.update(extra)
    return base


def sessions() -> list[tuple[str, Any]]:
    """``(key suffix, stored value)``: plain SDK sessions and every odd shape we accept."""
    out: list[tuple[str, Any]] = []
    for n in range(23):  # more than a few batches of 5
        out.append((f"u{n % 4}:s{n}", {
            "id": f"doc{n}", "title": f"t{n}", "sessionId": f"s{n}", "userId": f"u{n % 4}",
            "createdAt": "2026-11-26T22:45:00.000Z", "updatedAt": f"2026-11-26T22:46:{n:02d}.000Z",
            "messages": [msg(i) for i in range(n % 6)],
        }))  # fmt: skip
    tricky = [
        msg(0, index=99),  # a message with its own index: the turn keeps i
        {"content": "no role, no timestamp", "id": "x"},
        msg(2, metadata={"provider": "openai", "model": "gpt-4o"}),
        msg(3, tool="search", args={"q": 1}, result="r"),
        msg(4, metadata={"model": "claude"}, tokens={"prompt": 3, "completion": 4}, cost=0.5),
        msg(5, timestamp="2026-11-26T23:00:00+02:00"),  # another shape of time
        msg(6, timestamp=1795733160041),  # epoch ms
        msg(7, model="gpt-4o-mini", provider="openai"),
    ]
    out.append(("session-only:odd", {
        "id": "d", "sessionId": "odd", "userId": "randomUser", "createdAt": None,
        "updatedAt": "2026-11-27T01:00:00.000Z", "messages": tricky, "summarizedMessage": "s",
        "summarizedUpToMessageId": "m3", "lastTokenCount": 5, "additionalMetadata": {"a": 1},
        "futureField": [1, 2], "metadata": "a top-level metadata field",
    }))  # fmt: skip
    out.append(("u1:bad-time", {
        "sessionId": "bad-time", "userId": "u1", "createdAt": "2026-13-40T99:99:99.999Z",
        "updatedAt": "9999-99-99T00:00:00.000Z", "messages": [msg(1), msg(2, timestamp="")],
    }))  # fmt: skip
    out.append(("legacy-bare", [{"role": "user", "content": "hi"}, {"role": "assistant",
                                                                     "content": "yo"}]))  # fmt: skip
    out.append(
        (
            "u2:escaped",
            '{"sessionId":"escaped","userId":"u2","messages":'
            '[{"\\u0069ndex":5,"role":"user","content":"\\u00e9","timestamp":"x"}]}',
        )
    )
    return out


@pytest.fixture
def loaded(client: Any, prefix: str) -> UpstreamStore:
    c, u = f"{prefix}:conversation:", f"{prefix}:user:sessions:"
    for rest, value in sessions():
        data = value if isinstance(value, str) else orjson.dumps(value)
        client.set(c + rest, data, ex=3600 if "1" in rest else None)
        user = rest.split(":", 1)[0]
        if ":" in rest and user != "session-only":
            client.sadd(u + user, rest.split(":", 1)[1])
    client.set(c + "not-json", b"{nope")
    client.rpush(c + "a-list", b"x")  # another type under the prefix
    client.sadd(c + "u0:s0:set", b"x")  # a set under the conversation prefix
    return UpstreamStore(client, c, u, batch_size=5)


def stored(store: UpstreamStore) -> dict[str, dict[str, Any]]:
    """Every session object as stored, by session id (read the plain way)."""
    out = {}
    for key in store.client.scan_iter(match=store.prefix + "*"):
        if store.client.type(key) != b"string":
            continue
        try:
            data = orjson.loads(store.client.get(key))
        except orjson.JSONDecodeError:
            continue
        if isinstance(data, list):
            data = {"sessionId": key.decode()[len(store.prefix) :], "userId": None,
                    "messages": data}  # fmt: skip
        out[data["sessionId"]] = data
    return out


def test_documents_are_byte_identical_to_the_reference(loaded: UpstreamStore) -> None:
    want = {sid: orjson.dumps(ref_document(d)) for sid, d in stored(loaded).items()}
    got = {}
    skipped = []
    for item in loaded.iter_docs():
        if isinstance(item, SessionDoc):
            got[item.session_id] = doc_compact(item)
        else:
            skipped.append(item.key)
    assert got == want
    assert len(got) == 23 + 4
    assert sorted(k.rsplit(":", 1)[-1] for k in skipped if k) == ["a-list", "not-json", "set"]
    escaped = orjson.loads(got["escaped"])["turns"][0]
    assert escaped["index"] == 0 and list(escaped)[:4] == ["index", "role", "content", "timestamp"]


def test_without_ttl_only_the_ttl_differs(loaded: UpstreamStore) -> None:
    with_ttl = {d.session_id: d for d in loaded.iter_docs() if isinstance(d, SessionDoc)}
    without = {d.session_id: d for d in loaded.iter_docs(with_ttl=False)
               if isinstance(d, SessionDoc)}  # fmt: skip
    assert {s: doc_compact(d) for s, d in with_ttl.items()} == {
        s: doc_compact(d) for s, d in without.items()
    }
    assert all(d.ttl is None for d in without.values())
    expiring = set()
    for rest, value in sessions():
        if "1" in rest:
            sid = value["sessionId"] if isinstance(value, dict) else orjson.loads(value)
            expiring.add(sid if isinstance(sid, str) else sid["sessionId"])
    assert {s for s, d in with_ttl.items() if d.ttl} == expiring


def test_summaries_match_the_documents(loaded: UpstreamStore) -> None:
    docs = {d.session_id: d for d in loaded.iter_docs() if isinstance(d, SessionDoc)}
    rows = [r for r in loaded.summaries() if not hasattr(r, "reason")]
    assert len(rows) == len(docs)
    for row in rows:
        doc = docs[row.session_id]
        assert (row.user_id, row.created_at, row.updated_at, row.turns, row.model) == (
            doc.user_id, doc.created_at, doc.updated_at, doc.turn_count(), doc.metadata["model"],
        )  # fmt: skip
        assert ttl_counted_down(doc.ttl, row.ttl)  # read again, by the list
        assert row.title == (None if doc.metadata["title"] is None else str(doc.metadata["title"]))


def test_stats_are_those_of_the_reference(loaded: UpstreamStore) -> None:
    fast, ref = Stats(), Stats()
    for doc in loaded.iter_docs(counting=True):
        if isinstance(doc, SessionDoc):
            fast.add(doc)
    for doc in loaded.iter_docs():
        if isinstance(doc, SessionDoc):
            ref_stats_add(ref, doc)
    assert orjson.dumps(fast.as_dict()) == orjson.dumps(ref.as_dict())
    assert fast.by_model and fast.cost == 0.5 and fast.prompt_tokens == 3


@pytest.mark.parametrize(
    "times",
    [
        ["2026-11-26T22:45:00.000Z", "2026-01-01T00:00:00.001Z", "2027-02-03T04:05:06.007Z"],
        ["2026-11-26T22:45:00.000Z", "2026-13-01T00:00:00.000Z"],  # an impossible month
        ["2026-11-26T22:45:00.000Z", "2026-11-26T23:45:00+01:00"],  # another shape
        ["2026-11-26T22:45:00.000Z", "2026-11-26T22:45:0x.000Z"],
        ["2026-11-26T22:45:00.000Z", "２０２６-11-26T22:45:00.000Z"],  # non-ASCII digits
        ["2026-11-26T22:45:00.000Z", 1795733160041, True],
    ],
)
def test_timestamp_extremes_as_when_every_one_is_parsed(times: list[Any]) -> None:
    doc = SessionDoc("s", None, None, None, {}, _turns=[{"timestamp": t} for t in times])
    fast, ref = Stats(), Stats()
    fast.add(doc)
    ref_stats_add(ref, doc)
    assert (fast.oldest_ms, fast.newest_ms) == (ref.oldest_ms, ref.newest_ms)


ODD_TURNS: list[dict[str, Any]] = [
    {"role": "assistant", "model": "gpt-4o", "provider": "openai", "tokens": {"prompt": 1}},
    {"role": "assistant", "tokens": {"prompt": 2.7, "completion": True}, "cost": 0.1},
    {"role": ["not", "hashable"], "model": "m"},
    {"role": "user", "model": 7, "provider": "p", "cost": True},
    {"role": "assistant", "model": "openai/gpt-4o", "provider": "openai", "cost": 2},
    {"role": "tool", "provider": "only-provider", "tokens": "not a dict"},
    {"role": "assistant", "tokens": {"prompt": None, "completion": 5}, "cost": -0.0},
    {"role": None, "model": "", "provider": None},
]


@pytest.mark.parametrize("cut", range(len(ODD_TURNS)))
def test_odd_turns_count_as_turn_by_turn(cut: int) -> None:
    turns = ODD_TURNS[cut:] + ODD_TURNS[:cut]
    fast, ref = Stats(), Stats()
    for stats, add in ((fast, Stats.add), (ref, ref_stats_add)):
        for model in (None, "session-model"):
            doc = SessionDoc("s", None, None, None, {"model": model, "provider": "prov"},
                             _turns=[dict(t) for t in turns])  # fmt: skip
            add(stats, doc)
    assert orjson.dumps(fast.as_dict()) == orjson.dumps(ref.as_dict())
    assert list(fast.by_model) == list(ref.by_model) and list(fast.by_role) == list(ref.by_role)


def test_native_stats_are_those_of_the_reference(store: Any) -> None:
    from neurolink_cli.models import make_turn

    for n in range(7):
        for i in range(n + 1):
            turn = make_turn("user" if i % 2 == 0 else "assistant", f"c{i}",
                             f"2026-11-2{n}T10:00:{i:02d}.000Z",
                             model="gpt-4o-mini" if i % 3 else None,
                             provider="openai" if i % 2 else None,
                             tokens={"prompt": i, "completion": 2 * i} if i % 2 else None,
                             cost=0.01 * i if i % 4 == 1 else None)  # fmt: skip
            store.append_turn(f"n{n}", turn, user_id="u")
    fast, ref = Stats(), Stats()
    for doc in store.iter_docs():
        fast.add(doc)
    for doc in store.iter_docs():
        ref_stats_add(ref, doc)
    assert orjson.dumps(fast.as_dict()) == orjson.dumps(ref.as_dict())
    assert fast.turns == 28 and fast.cost


def test_ttls_without_scripts_come_from_one_ttl_each(
    client: Any, prefix: str, redis_server: Any
) -> None:
    import redis

    user = f"noscript-{prefix.replace(':', '-')}"
    client.execute_command("ACL", "SETUSER", user, "on", ">pw", "~*", "+@all", "-@scripting")
    c, u = f"{prefix}:conversation:", f"{prefix}:user:sessions:"
    for n in range(7):
        client.set(f"{c}u:s{n}", orjson.dumps({"sessionId": f"s{n}", "messages": []}),
                   ex=1000 if n % 2 else None)  # fmt: skip
    limited = redis.Redis.from_url(redis_server.url, username=user, password="pw")
    try:
        store = UpstreamStore(limited, c, u, batch_size=3)
        ttls = {d.session_id: d.ttl for d in store.iter_docs() if isinstance(d, SessionDoc)}
    finally:
        limited.close()
        client.execute_command("ACL", "DELUSER", user)
    assert {s for s, t in ttls.items() if t} == {"s1", "s3", "s5"} and len(ttls) == 7
    assert all(0 < t <= 1000 for t in ttls.values() if t)
