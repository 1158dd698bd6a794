"""Older and odder shapes of the TypeScript SDK's layout, and keys that are not sessions."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import orjson
import pytest
from test_upstream import Upstream, jsonl, session
from test_upstream import up as up  # noqa: F401  (the fixture)

from neurolink_cli.models import SessionDoc, Unreadable

TOOL_MESSAGES: list[dict[str, Any]] = [
    {
        "id": "msg_1",
        "timestamp": "2026-11-20T10:00:00.000Z",
        "role": "user",
        "content": "Weather in Paris?",
    },
    {
        "id": "msg_2",
        "timestamp": "2026-11-20T10:00:01.000Z",
        "role": "tool_call",
        "content": "",
        "tool": "getWeather",
        "args": {"city": "Paris"},
    },
    {
        "id": "msg_3",
        "timestamp": "2026-11-20T10:00:02.000Z",
        "role": "tool_result",
        "content": "",
        "tool": "getWeather",
        "result": {"success": True, "result": {"tempC": 21, "sky": "clear"}},
    },
    {
        "id": "msg_4",
        "timestamp": "2026-11-20T10:00:03.000Z",
        "role": "assistant",
        "content": "It is 21°C and clear in Paris.",
        "metadata": {"provider": "openai", "model": "gpt-4o-mini"},
    },
]


def listed(cli: Any, *args: str) -> list[dict[str, Any]]:
    result = cli("memory", "list", "--format", "json", *args)
    assert result.exit_code == 0, result.stderr
    rows: list[dict[str, Any]] = orjson.loads(result.stdout)
    return rows


def test_v734_bare_array(cli, up: Upstream) -> None:
    up.put("legacy:1", [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}])
    (row,) = listed(cli)
    assert (row["sessionId"], row["userId"], row["updatedAt"], row["turns"]) == (
        "legacy:1",
        None,
        None,
        2,
    )
    result = cli("memory", "export", "--session-id", "legacy:1")
    assert result.exit_code == 0, result.stderr
    doc = orjson.loads(result.stdout)
    assert doc["turns"] == [
        {"index": 0, "role": "user", "content": "hi", "timestamp": None},
        {"index": 1, "role": "assistant", "content": "yo", "timestamp": None},
    ]
    assert doc["metadata"]["totalTurns"] == 2 and doc["metadata"]["title"] is None
    # Undated: never "older than" anything; deleted by id.
    assert cli("memory", "delete", "--older-than", "1s", "--dry-run").stdout == ""
    assert cli("memory", "delete", "--session-id", "legacy:1", "--yes").exit_code == 0
    assert up.snapshot() == {}


def test_ids_with_colons_come_from_the_json(cli, up: Upstream) -> None:
    up.put("org:alice:chat:42", session("chat:42", "org:alice", []), user="org:alice")
    up.put("org:bob:chat:43", session("chat:43", "org:bob", []))  # no set: found by SCAN
    rows = listed(cli)
    assert {(r["sessionId"], r["userId"]) for r in rows} == {
        ("chat:42", "org:alice"),
        ("chat:43", "org:bob"),
    }
    assert [r["sessionId"] for r in listed(cli, "--user-id", "org:alice")] == ["chat:42"]
    assert [r["sessionId"] for r in listed(cli, "--user-id", "org:bob")] == ["chat:43"]
    assert listed(cli, "--user-id", "org") == []
    doc = orjson.loads(cli("memory", "export", "--session-id", "chat:42").stdout)
    assert doc["userId"] == "org:alice"
    assert cli("memory", "delete", "--session-id", "chat:42", "--yes").exit_code == 0
    assert not up.client.exists(up.c + "org:alice:chat:42")
    assert not up.client.exists(up.u + "org:alice")  # its only member went with it
    assert up.client.exists(up.c + "org:bob:chat:43")


def test_random_user_keys(cli, up: Upstream) -> None:
    up.put("randomUser:r1", session("r1", "randomUser", TOOL_MESSAGES[:1]))
    (row,) = listed(cli)
    assert (row["sessionId"], row["userId"]) == ("r1", None)
    doc = orjson.loads(cli("memory", "export", "--session-id", "r1").stdout)
    assert doc["userId"] is None and doc["turns"][0]["id"] == "msg_1"
    assert cli("memory", "delete", "--session-id", "r1", "--yes").exit_code == 0
    assert up.snapshot() == {}


def test_tool_turns_in_json(cli, up: Upstream) -> None:
    up.put("dave:tools", session("tools", "dave", TOOL_MESSAGES), user="dave")
    doc = orjson.loads(cli("memory", "export", "--session-id", "tools").stdout)
    assert [t["role"] for t in doc["turns"]] == ["user", "tool_call", "tool_result", "assistant"]
    for i, (turn, message) in enumerate(zip(doc["turns"], TOOL_MESSAGES, strict=True)):
        assert turn == {"index": i, **message}
        assert list(turn)[:4] == ["index", "role", "content", "timestamp"]
    assert list(doc["turns"][1]) == ["index", "role", "content", "timestamp", "id", "tool", "args"]
    md = doc["metadata"]
    assert md["toolsUsed"] == ["getWeather"]
    assert (md["provider"], md["model"]) == ("openai", "gpt-4o-mini")
    rows = listed(cli)
    assert rows[0]["model"] == "gpt-4o-mini"


def test_tool_turns_are_csv_rows(cli, up: Upstream) -> None:
    up.put("dave:tools", session("tools", "dave", TOOL_MESSAGES), user="dave")
    result = cli("memory", "export", "--session-id", "tools", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["index"], r["role"]) for r in rows] == [
        ("0", "user"),
        ("1", "tool_call"),
        ("2", "tool_result"),
        ("3", "assistant"),
    ]
    assert "Paris" in rows[1]["content"]  # the call's arguments
    assert "21" in rows[2]["content"] and "clear" in rows[2]["content"]  # result.result
    assert rows[3]["content"] == "It is 21°C and clear in Paris."
    md = cli("memory", "export", "--session-id", "tools", "--format", "markdown")
    assert "## 1. Tool Call" in md.stdout and "Paris" in md.stdout


def test_summarized_session(cli, up: Upstream) -> None:
    value = session(
        "long",
        "erin",
        TOOL_MESSAGES[3:],
        summarizedUpToMessageId="msg_3",
        summarizedMessage="The user asked about the weather in Paris.",
        lastTokenCount=1234,
        additionalMetadata={"channel": "web"},
        futureField=[1, 2],
    )
    up.put("erin:long", value, user="erin")
    doc = orjson.loads(cli("memory", "export", "--session-id", "long").stdout)
    assert doc["metadata"] == {
        "provider": "openai",
        "model": "gpt-4o-mini",
        "totalTurns": 1,
        "toolsUsed": [],
        "title": "About long",
        "summarizedMessage": "The user asked about the weather in Paris.",
        "source": "neurolink-ts",
        "summarizedUpToMessageId": "msg_3",
        "lastTokenCount": 1234,
        "additionalMetadata": {"channel": "web"},
    }
    assert list(doc)[6:] == ["id", "futureField"]  # further fields after the six
    assert doc["futureField"] == [1, 2]


NOT_SESSIONS: dict[str, tuple[str, Any]] = {
    "a-hash": ("hash", "a hash, not a session"),
    "a-list": ("list", "a list, not a session"),
    "a-set": ("set", "a set, not a session"),
    "plain": ("string", "not JSON"),
    "binary": ("string", "not JSON"),
    "number": ("string", "JSON but not a session object"),
    "no-messages": ("string", "JSON without messages"),
    "no-id": ("string", "JSON without sessionId"),
    "odd-array": ("string", "a JSON array, but not of {role, content} messages"),
}


@pytest.fixture
def junk(up: Upstream) -> list[str]:
    """One key of each kind that is not a session, plus one real session."""
    c, r = up.c, up.client
    r.hset(c + "a-hash", "k", "v")
    r.rpush(c + "a-list", "x")
    r.sadd(c + "a-set", "x")
    r.set(c + "plain", "hello")
    r.set(c + "binary", b"\xff\xfe{")
    r.set(c + "number", "42")
    r.set(c + "no-messages", orjson.dumps({"sessionId": "x", "userId": "u"}))
    r.set(c + "no-id", orjson.dumps({"messages": []}))
    r.set(c + "odd-array", orjson.dumps([1, 2]))
    up.put("frank:real", session("real", "frank", TOOL_MESSAGES[:1]), user="frank")
    return [c + name for name in NOT_SESSIONS]


def test_not_sessions_are_warned_about_in_list(cli, up: Upstream, junk: list[str]) -> None:
    result = cli("memory", "list", "--format", "json")
    assert result.exit_code == 0
    assert [r["sessionId"] for r in orjson.loads(result.stdout)] == ["real"]
    for key, (_, reason) in zip(junk, NOT_SESSIONS.values(), strict=True):
        assert f"skipped {key}: {reason}" in result.stderr
    assert result.stderr.count("warning") == len(junk)


def test_not_sessions_are_counted_by_export_all(
    cli, up: Upstream, junk: list[str], tmp_path: Path
) -> None:
    result = cli("memory", "export-all")
    assert result.exit_code == 0, result.stderr
    assert [d["sessionId"] for d in jsonl(result.stdout)] == ["real"]
    out = tmp_path / "out"
    result = cli("memory", "export-all", "--output", str(out))
    assert result.exit_code == 0, result.stderr
    manifest = orjson.loads((out / "manifest.json").read_bytes())
    assert sorted(s["sessionId"] for s in manifest["skipped"]) == sorted(junk)
    assert [s["sessionId"] for s in manifest["sessions"]] == ["real"]
    # Deleting everything leaves what is not a session alone.
    before = up.snapshot()
    assert cli("memory", "delete", "--all", "--yes").exit_code == 0
    assert set(before) - set(up.snapshot()) == {
        (up.c + "frank:real").encode(),
        (up.u + "frank").encode(),
    }


def test_overlapping_prefixes_pass_user_sets_over(client, prefix: str, cli) -> None:
    c = f"{prefix}:"
    u = f"{prefix}:user:sessions:"  # the sets live under the session prefix
    up = Upstream(client, prefix)
    up.c, up.u = c, u
    cli.env["REDIS_KEY_PREFIX"] = c
    (cli.cwd / ".neurolink.toml").write_text(
        f'[conversationMemory.redis]\nupstreamUserSessionsPrefix = "{u}"\n'
    )
    up.put("gina:g1", session("g1", "gina", []), user="gina")
    result = cli("memory", "list", "--format", "json")
    assert result.exit_code == 0 and result.stderr == ""
    assert [r["sessionId"] for r in orjson.loads(result.stdout)] == ["g1"]


def test_a_broken_message_fails_that_session_only(cli, up: Upstream, tmp_path: Path) -> None:
    up.put("hal:bad", session("bad", "hal", [TOOL_MESSAGES[0], "not an object"]))
    up.put("hal:good", session("good", "hal", TOOL_MESSAGES[:1]))
    result = cli("memory", "export-all", "--output", str(tmp_path / "o"))
    assert result.exit_code == 1
    manifest = orjson.loads((tmp_path / "o/manifest.json").read_bytes())
    assert [f["sessionId"] for f in manifest["failed"]] == ["bad"]
    assert "message #1 is not a JSON object" in manifest["failed"][0]["reason"]
    assert [s["sessionId"] for s in manifest["sessions"]] == ["good"]
    result = cli("memory", "export", "--session-id", "bad")
    assert result.exit_code == 1 and "bad" in result.stderr


def test_same_id_for_two_users(cli, up: Upstream) -> None:
    older = session("dup", "ivy", [])
    newer = {**session("dup", "jack", []), "updatedAt": "2026-11-21T00:00:00.000Z"}
    up.put("ivy:dup", older, user="ivy")
    up.put("jack:dup", newer, user="jack")
    assert len(listed(cli)) == 2
    doc = orjson.loads(cli("memory", "export", "--session-id", "dup").stdout)
    assert doc["userId"] == "jack"
    assert cli("memory", "delete", "--session-id", "dup", "--yes").exit_code == 0
    assert up.snapshot() == {}


def test_store_batches_and_stale_set_members(up: Upstream) -> None:
    for i in range(10):
        up.put(f"kim:s{i}", session(f"s{i}", "kim", []), user="kim")
    up.client.sadd(up.u + "kim", "expired-long-ago")
    assert up.store.batch_size == 3
    assert sorted(d.session_id for d in up.store.iter_docs()) == sorted(f"s{i}" for i in range(10))
    by_user = list(up.store.iter_docs(user_id="kim"))
    assert len(by_user) == 10 and all(isinstance(d, SessionDoc) for d in by_user)
    assert len(list(up.store.summaries(user_id="kim"))) == 10
    assert up.store.get("nope") is None
    found = up.store.get("s3")
    assert isinstance(found, SessionDoc) and found.user_id == "kim"


def test_store_get_reports_a_broken_bare_key(up: Upstream) -> None:
    up.client.set(up.c + "broken", "{not json")
    found = up.store.get("broken")
    assert isinstance(found, Unreadable) and "not JSON" in found.reason
    assert up.store.delete("broken") is False
    assert up.client.exists(up.c + "broken")
