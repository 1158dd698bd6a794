"""chat.Chat and chat.TurnWriter: what one exchange stores, against a real Redis."""

from __future__ import annotations

from typing import Any

import pytest
import redis as redis_py
from support.fake_llm import FakeLLM
from support.redis_server import RedisServer

from neurolink_cli.chat.conversation import Chat, ChatOptions, TurnWriter, history_turns
from neurolink_cli.errors import ProviderError
from neurolink_cli.store.memory import MemoryStore
from neurolink_cli.store.native import NativeStore

pytestmark = pytest.mark.timeout(60)


def make_chat(store: Any, **kw: Any) -> tuple[Chat, FakeLLM]:
    llm = FakeLLM()
    options = ChatOptions(model=kw.pop("model", "fake/model"), system=kw.pop("system", None))
    writer = TurnWriter(store) if store is not None else None
    return Chat(llm, writer, session_id=kw.pop("session_id", "s1"), options=options, **kw), llm


def test_exchange_stores_user_and_assistant_turns(store: NativeStore) -> None:
    chat, llm = make_chat(store, user_id="u1")
    seen: list[str] = []
    ex = chat.send("hello", on_text=seen.append)
    assert ex.content == "echo: hello (1 messages)" == "".join(seen)
    assert ex.indexes == [0, 1]
    doc = store.get("s1")
    assert doc is not None and not isinstance(doc, type(None))
    user, answer = doc.turns  # type: ignore[union-attr]
    assert list(user) == ["index", "role", "content", "timestamp"]
    assert user["role"] == "user" and user["content"] == "hello"
    assert answer["model"] == "fake-model" and answer["provider"] == "fake"
    assert answer["tokens"] == {"prompt": 7, "completion": 2}
    assert answer["latencyMs"] == 12 and answer["cost"] == 0.25
    assert "interrupted" not in answer
    assert doc.user_id == "u1" and doc.metadata["model"] == "fake-model"  # type: ignore[union-attr]
    chat.send("again")
    assert [m["role"] for m in llm.calls[-1]["messages"]] == ["user", "assistant", "user"]


def test_provider_refusal_stores_the_prompt_and_a_failed_turn(store: NativeStore) -> None:
    chat, llm = make_chat(store, model="fake/model")
    with pytest.raises(ProviderError):
        chat.send("boom")
    doc = store.get("s1")
    user, failed = doc.turns  # type: ignore[union-attr]
    assert user["role"] == "user" and user["content"] == "boom"
    assert failed["role"] == "assistant" and failed["content"] == ""
    assert failed["error"] == {
        "type": "provider_error",
        "message": "model 'x': authentication refused",
        "status": None,
    }
    assert failed["model"] == "model" and failed["provider"] == "fake"
    assert doc.metadata["errorCount"] == 1  # type: ignore[union-attr]
    # the failed exchange is never sent back to the model
    chat.send("next")
    assert llm.calls[-1]["messages"] == [{"role": "user", "content": "next"}]
    # nor after a restart (history read from Redis)
    again, llm2 = make_chat(store)
    again.load(store)
    again.send("later")
    assert [m["content"] for m in llm2.calls[-1]["messages"]] == [
        "next",
        "echo: next (1 messages)",
        "later",
    ]


def test_mid_answer_failure_keeps_partial_text_with_the_error(store: NativeStore) -> None:
    chat, llm = make_chat(store)
    ex = chat.send("break")
    assert ex.error is not None and ex.content == "half"
    answer = store.get("s1").turns[1]  # type: ignore[union-attr]
    assert answer["content"] == "half" and answer["interrupted"] is True
    assert answer["error"]["message"] == "model 'x': the provider failed"
    chat.send("then")
    assert llm.calls[-1]["messages"] == [{"role": "user", "content": "then"}]


def test_ctrl_c_keeps_partial_answer_as_interrupted(store: NativeStore) -> None:
    chat, llm = make_chat(store)
    ex = chat.send("stop")
    assert ex.interrupted and ex.content == "partial"
    assert llm.last is not None and llm.last.closed
    turns = store.get("s1").turns  # type: ignore[union-attr]
    assert turns[1]["content"] == "partial" and turns[1]["interrupted"] is True
    assert "tokens" not in turns[1]


def test_failure_mid_answer_keeps_partial_and_reports(store: NativeStore) -> None:
    chat, _ = make_chat(store)
    ex = chat.send("break")
    assert ex.error is not None and ex.interrupted and ex.content == "half"
    assert store.get("s1").turns[1]["interrupted"] is True  # type: ignore[union-attr]


def test_system_prompt_stored_once_and_resumed(store: NativeStore) -> None:
    chat, llm = make_chat(store, system="be brief")
    chat.send("one")
    chat.send("two")
    roles = [t["role"] for t in store.get("s1").turns]  # type: ignore[union-attr]
    assert roles == ["system", "user", "assistant", "user", "assistant"]
    resumed, llm2 = make_chat(store, system="be brief")
    assert resumed.load(store) == 5
    resumed.send("three")
    sent = llm2.calls[-1]["messages"]
    assert [m["content"] for m in sent][:2] == ["be brief", "one"] and len(sent) == 6


def test_history_respects_max_turns(store: NativeStore) -> None:
    chat, llm = make_chat(store, max_turns=3)
    for word in ("a", "b", "c"):
        chat.send(word)
    sent = llm.calls[-1]["messages"]
    assert len(sent) == 4  # the last 3 stored turns, then the prompt
    assert sent[0]["content"] == "echo: a (1 messages)" and sent[-1]["content"] == "c"


def test_memory_off_sends_no_history(store: NativeStore) -> None:
    chat, llm = make_chat(None, keep_history=False, system="sys")
    chat.send("one")
    chat.send("two")
    assert llm.calls[-1]["messages"] == [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "two"},
    ]
    assert store.get("s1") is None


def test_memory_store_has_the_native_shape() -> None:
    mem = MemoryStore(max_turns=3)
    chat, _ = make_chat(mem, user_id="u")
    chat.send("x")
    chat.send("y")
    doc = mem.get("s1")
    assert doc is not None
    assert [t["index"] for t in doc.turns] == [1, 2, 3]  # trimmed, never renumbered
    assert doc.user_id == "u" and doc.metadata["provider"] == "fake"
    assert history_turns(doc)[-1]["content"].startswith("echo: y")
    assert mem.delete("s1") and not mem.delete("s1")


def test_writer_queues_while_redis_is_away_and_flushes_after(prefix: str) -> None:
    server = RedisServer().start()
    try:
        client = redis_py.Redis.from_url(server.url, socket_timeout=2, socket_connect_timeout=1)
        native = NativeStore(client, prefix)
        warnings: list[str] = []
        notes: list[str] = []
        writer = TurnWriter(native, warn=warnings.append, note=notes.append)
        chat = Chat(FakeLLM(), writer, session_id="s1", options=ChatOptions(model="m"))
        chat.send("before")
        server.stop()
        ex = chat.send("during")
        assert ex.indexes == [None, None] and len(writer.pending) == 2
        assert len(warnings) == 1 and "Redis" in warnings[0]
        chat.send("still down")
        assert len(writer.pending) == 4 and len(warnings) == 1
        server.start()  # a fresh server (no persistence): it holds what was queued, in order
        chat.send("after")
        assert writer.pending == [] and notes and "back" in notes[0]
        turns = native.get("s1").turns  # type: ignore[union-attr]
        assert [t["index"] for t in turns] == list(range(6))
        assert [t["content"] for t in turns if t["role"] == "user"] == [
            "during",
            "still down",
            "after",
        ]
        client.close()
    finally:
        server.cleanup()


def test_resuming_keeps_the_stored_user(store) -> None:
    from neurolink_cli.chat import Chat, ChatOptions

    add = store.append_turn
    add("owned", {"role": "user", "content": "hi", "timestamp": "2026-01-01T00:00:00.000Z"},
        user_id="alice")  # fmt: skip
    chat = Chat(None, None, session_id="owned", options=ChatOptions(model="m"))
    assert chat.load(store) == 1
    assert chat.user_id == "alice"
    given = Chat(None, None, session_id="owned", options=ChatOptions(model="m"), user_id="bob")
    given.load(store)
    assert given.user_id == "bob"
