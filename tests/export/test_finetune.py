"""``--format chat-jsonl`` (issue 18 item 4): fine-tuning data in the OpenAI / TRL "messages"
shape, tool calls in that shape, failed and interrupted turns left out, ``--min-turns``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from support.helpers import add_conversation

from neurolink_cli.export import registry
from neurolink_cli.models import make_turn
from neurolink_cli.store.native import NativeStore

ERROR = {"type": "server_error", "message": "model 'm': the provider failed", "status": 500}
T = "2026-01-01T00:00:0{}.000Z"


def seed_native(store: NativeStore) -> None:
    add = lambda turn: store.append_turn("n1", turn, user_id="u")  # noqa: E731
    add(make_turn("system", "be brief", T.format(0)))
    add(make_turn("user", "weather in Oslo?", T.format(1)))
    call = {"id": "call_1", "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}}  # fmt: skip
    add(make_turn("assistant", "", T.format(2), model="m", tool_calls=[call]))
    add(
        {"role": "tool", "content": '{"temp": 3}', "timestamp": T.format(3), "toolCallId": "call_1"}
    )
    add(make_turn("assistant", "3 degrees.", T.format(4), model="m"))
    add(make_turn("user", "and tomorrow?", T.format(5)))  # failed: left out with its question
    add(make_turn("assistant", "", T.format(6), model="m", error=ERROR))
    add(make_turn("user", "tell me a story", T.format(7)))  # interrupted: left out too
    add(make_turn("assistant", "Once upon", T.format(8), model="m", interrupted=True))
    add(make_turn("user", "thanks", T.format(9)))
    add(make_turn("assistant", "You're welcome!", "2026-01-01T00:00:10.000Z", model="m"))


EXPECTED = [
    {"role": "system", "content": "be brief"},
    {"role": "user", "content": "weather in Oslo?"},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function",
         "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}}]},
    {"role": "tool", "tool_call_id": "call_1", "content": '{"temp": 3}'},
    {"role": "assistant", "content": "3 degrees."},
    {"role": "user", "content": "thanks"},
    {"role": "assistant", "content": "You're welcome!"},
]  # fmt: skip


def test_registry_row() -> None:
    fmt = registry.get("chat-jsonl")
    assert fmt.extension == "chat.jsonl" and not fmt.importable
    assert "chat-jsonl" in registry.single_choices() and "chat-jsonl" in registry.bulk_choices()


def test_native_session_as_one_example(cli: Any, store: NativeStore) -> None:
    seed_native(store)
    result = cli("memory", "export", "--session-id", "n1", "--format", "chat-jsonl")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and orjson.loads(lines[0]) == {"messages": EXPECTED}


def test_typescript_tool_turns_in_the_openai_shape(cli: Any, client: Any, prefix: str) -> None:
    doc = {
        "id": "c", "sessionId": "ts-1", "userId": "bob", "title": None,
        "createdAt": T.format(0), "updatedAt": T.format(5),
        "messages": [
            {"id": "m1", "role": "user", "content": "weather?", "timestamp": T.format(0)},
            {"id": "m2", "role": "tool_call", "content": "", "tool": "getWeather",
             "args": {"city": "Oslo"}, "timestamp": T.format(1)},
            {"id": "m3", "role": "tool_call", "content": "", "tool": "getTime",
             "args": {}, "timestamp": T.format(2)},
            {"id": "m4", "role": "tool_result", "content": "", "tool": "getTime",
             "result": "noon", "timestamp": T.format(3)},
            {"id": "m5", "role": "tool_result", "content": "", "tool": "getWeather",
             "result": {"temp": 3}, "timestamp": T.format(4)},
            {"id": "m6", "role": "assistant", "content": "3 degrees at noon", "timestamp": T.format(5)},
        ],
    }  # fmt: skip
    client.set(f"{prefix}:conversation:bob:ts-1", orjson.dumps(doc))
    env = {"REDIS_KEY_PREFIX": f"{prefix}:conversation:"}
    out = cli("memory", "export", "--session-id", "ts-1", "--format", "chat-jsonl", env=env)
    assert orjson.loads(out.stdout)["messages"] == [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "m2", "type": "function",
             "function": {"name": "getWeather", "arguments": '{"city":"Oslo"}'}},
            {"id": "m3", "type": "function", "function": {"name": "getTime", "arguments": "{}"}},
        ]},
        {"role": "tool", "tool_call_id": "m3", "content": "noon"},
        {"role": "tool", "tool_call_id": "m2", "content": '{"temp":3}'},
        {"role": "assistant", "content": "3 degrees at noon"},
    ]  # fmt: skip


def test_export_all_min_turns_and_sessions_without_an_answer(
    cli: Any, store: NativeStore, tmp_path: Path
) -> None:
    seed_native(store)  # 6 messages without the system one
    add_conversation(store, "short", 2)  # 2 messages
    store.append_turn("only-user", make_turn("user", "hello?", T.format(0)))
    store.append_turn("only-fail", make_turn("user", "hi", T.format(0)))
    store.append_turn("only-fail", make_turn("assistant", "", T.format(1), error=ERROR))

    def ids(*args: str) -> list[str]:
        result = cli("memory", "export-all", "--format", "chat-jsonl", *args)
        assert result.exit_code == 0, result.stderr
        docs = [orjson.loads(x) for x in result.stdout.splitlines()]
        assert all(list(d) == ["messages"] for d in docs)
        return sorted(d["messages"][-1]["content"] for d in docs)

    assert ids() == ["You're welcome!", "message 1"]
    assert ids("--min-turns", "3") == ["You're welcome!"]
    assert ids("--min-turns", "7") == []

    out = tmp_path / "train"
    result = cli(
        "memory", "export-all", "--format", "chat-jsonl", "--min-turns", "3", "-o", str(out)
    )
    assert result.exit_code == 0, result.stderr
    manifest = orjson.loads((out / "manifest.json").read_bytes())
    assert [s["file"] for s in manifest["sessions"]] == ["n1.chat.jsonl"]
    assert orjson.loads((out / "n1.chat.jsonl").read_bytes()) == {"messages": EXPECTED}
    skipped = {s["sessionId"]: s["reason"] for s in manifest["skipped"]}
    assert skipped == {
        "short": "fewer than 3 turns",
        "only-user": "nothing to write as chat-jsonl",
        "only-fail": "nothing to write as chat-jsonl",
    }
    assert manifest["format"] == "chat-jsonl" and manifest["filters"]["minTurns"] == 3


def test_redaction_applies(cli: Any, store: NativeStore) -> None:
    store.append_turn("r", make_turn("user", "mail me at a@example.com", T.format(0)))
    store.append_turn("r", make_turn("assistant", "ok", T.format(1)))
    out = cli("memory", "export-all", "--format", "chat-jsonl", "--redact").stdout
    assert orjson.loads(out)["messages"][0]["content"] == "mail me at [REDACTED:email]"
