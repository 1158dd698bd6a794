"""``memory stats``: the JSON shape, what each number counts, the table, unreadable sessions."""

from __future__ import annotations

from typing import Any

import orjson
from support.helpers import add_conversation, seed_sessions, ts

from neurolink_cli.models import make_turn
from neurolink_cli.stats import compute_stats, model_key
from neurolink_cli.store.native import NativeStore
from neurolink_cli.store.repository import Repository

KEYS = [
    "sessions",
    "turns",
    "byRole",
    "byModel",
    "tokens",
    "cost",
    "oldest",
    "newest",
    "expiringWithin24h",
    "errors",  # beside the contract's keys (CONTRACT §9)
]


def stats_json(cli: Any, **kw: Any) -> dict[str, Any]:
    result = cli("memory", "stats", "--format", "json", **kw)
    assert result.exit_code == 0, result.stderr
    data: dict[str, Any] = orjson.loads(result.stdout)
    return data


def test_empty_store(cli) -> None:
    data = stats_json(cli)
    assert list(data) == KEYS
    assert data == {
        "sessions": 0,
        "turns": 0,
        "byRole": {},
        "byModel": {},
        "tokens": {"prompt": 0, "completion": 0},
        "cost": None,
        "oldest": None,
        "newest": None,
        "expiringWithin24h": 0,
        "errors": {"total": 0, "sessions": 0, "byProvider": {}, "byModel": {}},
    }


def test_counts_roles_models_tokens_cost_and_activity(cli, store) -> None:
    add_conversation(store, "a", 4, start_s=0)  # 2 user, 2 assistant openai/gpt-4o-mini
    store.append_turn("b", make_turn("system", "sys", ts(500)))
    store.append_turn(
        "b",
        make_turn(
            "assistant",
            "x",
            ts(600),
            model="anthropic/claude-3-5-sonnet",
            provider="anthropic",
            tokens={"prompt": 5, "completion": 6},
            cost=0.25,
        ),
    )
    store.append_turn("b", make_turn("assistant", "y", ts(700), model="llama3"))
    store.append_turn("b", make_turn("tool", "z", ts(800), cost=0.5))
    data = stats_json(cli)
    assert data["sessions"] == 2 and data["turns"] == 8
    assert data["byRole"] == {"assistant": 4, "user": 2, "system": 1, "tool": 1}
    assert data["byModel"] == {
        "openai/gpt-4o-mini": 2,
        "anthropic/claude-3-5-sonnet": 1,
        "llama3": 1,
    }
    # add_conversation records tokens 11/21 and 13/23 on its two assistant turns
    assert data["tokens"] == {"prompt": 11 + 13 + 5, "completion": 21 + 23 + 6}
    assert data["cost"] == 0.75
    assert data["oldest"] == ts(0) and data["newest"] == ts(800)
    assert data["expiringWithin24h"] == 0


def test_assistant_turn_without_model_counts_under_the_sessions_model(client, prefix) -> None:
    store = NativeStore(client, prefix)
    store.append_turn("s", make_turn("user", "q", ts(0)))
    store.append_turn("s", make_turn("assistant", "a", ts(1), model="m1", provider="p1"))
    store.append_turn("s", make_turn("assistant", "b", ts(2)))  # no model of its own
    stats = compute_stats(Repository(store))
    assert dict(stats.by_model) == {"p1/m1": 2}


def test_model_key_forms() -> None:
    assert model_key("gpt-4o-mini", "openai") == "openai/gpt-4o-mini"
    assert model_key("openai/gpt-4o-mini", "openai") == "openai/gpt-4o-mini"
    assert model_key("gpt-4o-mini", None) == "gpt-4o-mini"
    assert model_key(None, "openai") is None


def test_expiring_within_24h(cli, client, store) -> None:
    for sid in ("soon", "later", "never"):
        add_conversation(store, sid, 2)
    client.expire(store.meta_key("soon"), 3600)
    client.expire(store.turns_key("soon"), 3600)
    client.expire(store.meta_key("later"), 3 * 86400)
    assert stats_json(cli)["expiringWithin24h"] == 1


def test_expiring_counts_sessions_counted_by_either_path(cli, client, store) -> None:
    """The TTLs read with each page count a session decoded on the fast path and one whose
    turns only the parser reads (a lone surrogate escape), not one that cannot be read."""
    for sid in ("fast", "parsed", "broken"):
        add_conversation(store, sid, 2)
    client.rpush(store.turns_key("parsed"), b'{"role":"user","content":"\\ud800"}')
    client.rpush(store.turns_key("broken"), b"{not json")
    for sid in ("fast", "parsed", "broken"):
        client.expire(store.meta_key(sid), 3600)
    result = cli("memory", "stats", "--format", "json")
    assert result.exit_code == 1 and "broken" in result.stderr
    data = orjson.loads(result.stdout)
    assert data["sessions"] == 2 and data["turns"] == 5 and data["expiringWithin24h"] == 2


def test_expiring_reads_the_ttl_of_the_sessions_own_key(cli, client, store) -> None:
    """A metadata hash whose ``sessionId`` field names another session: the TTL that
    counts is that of the key the session is stored under (it was once looked up by the
    field, so under a key that does not exist)."""
    add_conversation(store, "mine", 2)
    client.hset(store.meta_key("mine"), "sessionId", "someone-else")
    client.expire(store.meta_key("mine"), 3600)
    assert stats_json(cli)["expiringWithin24h"] == 1


def test_a_session_with_a_key_of_the_wrong_type_is_named_as_export_all_names_it(
    cli, client, store
) -> None:
    for sid in ("good", "bad"):
        add_conversation(store, sid, 2)
    client.delete(store.turns_key("bad"))
    client.set(store.turns_key("bad"), b"not a list")
    said = f"bad: key {store.turns_key('bad')} is not of the expected type"
    stats = cli("memory", "stats", "--format", "json")
    assert stats.exit_code == 1 and said in stats.stderr
    assert orjson.loads(stats.stdout)["sessions"] == 1
    exported = cli("memory", "export-all", "--format", "jsonl")
    assert exported.exit_code == 1 and said in exported.stderr


def test_upstream_sessions_are_counted_with_their_ttl(cli, client, prefix) -> None:
    conv = f"{prefix}:conversation:"
    session = {
        "sessionId": "ts1",
        "userId": "bob",
        "createdAt": ts(0),
        "updatedAt": ts(1),
        "messages": [
            {"role": "user", "content": "q", "timestamp": ts(0)},
            {"role": "assistant", "content": "a", "timestamp": ts(1)},
        ],
    }
    client.set(conv + "bob:ts1", orjson.dumps(session), ex=600)
    data = stats_json(cli, env={"REDIS_KEY_PREFIX": conv})
    assert data["sessions"] == 1 and data["byRole"] == {"user": 1, "assistant": 1}
    assert data["expiringWithin24h"] == 1


def test_table_output(cli, store) -> None:
    add_conversation(store, "a", 4)
    result = cli("memory", "stats", "--format", "table")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    for label in ("sessions", "turns", "openai/gpt-4o-mini", "tokens in", "expiring within 24h"):
        assert label in out
    assert "2026-01-01 00:00:00 UTC" in out


def test_piped_default_is_json(cli, store) -> None:
    add_conversation(store, "a", 2)
    result = cli("memory", "stats")
    assert orjson.loads(result.stdout)["sessions"] == 1


def test_unreadable_session_is_reported_and_exit_1(cli, client, store) -> None:
    add_conversation(store, "ok", 2)
    store.append_turn("broken", make_turn("user", "x", ts(5)))
    client.rpush(store.turns_key("broken"), b"not json")
    result = cli("memory", "stats", "--format", "json")
    assert result.exit_code == 1
    assert orjson.loads(result.stdout)["sessions"] == 1
    assert "broken" in result.stderr and "could not be read" in result.stderr


def test_many_sessions_stream_in_batches(cli, client, prefix) -> None:
    seed_sessions(client, prefix, 1200, turns=3)
    data = stats_json(cli)
    assert data["sessions"] == 1200 and data["turns"] == 3600
    assert data["byRole"] == {"user": 2400, "assistant": 1200}


def test_help_has_a_description_and_an_example(cli) -> None:
    out = cli("memory", "stats", "--help").stdout
    assert "Example:" in out and "--format [table|json]" in out
