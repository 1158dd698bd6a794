# ruff: noqa: F811 - fixtures imported from support.sdk_fixtures are test parameters
"""The Python SDK (CONTRACT §7) against the private Redis and the local test LLM server."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import orjson
import pytest
from support.llm_server import LLMServer
from support.redis_server import free_port
from support.sdk_fixtures import clean_env, llm_server, make_nl  # noqa: F401 (fixtures)

from neurolink_cli import NeuroLink
from neurolink_cli.errors import BadInput, ProviderError, StoreUnavailable
from neurolink_cli.store.native import NativeStore

pytestmark = pytest.mark.timeout(120)


def test_generate_stores_turns_like_the_loop(make_nl: Any, store: NativeStore) -> None:
    nl = make_nl()
    result = nl.generate(
        prompt="What is machine learning?", context={"sessionId": "session-123", "userId": "u1"}
    )
    assert result.content == "echo: What is machine learning? (1 messages)"
    assert result.usage.prompt_tokens == 5 and result.usage.completion_tokens == 7
    assert result.usage.total_tokens == 12
    assert result.provider == "openai" and result.session_id == "session-123"
    second = nl.generate(prompt="and more?", context={"sessionId": "session-123"})
    assert second.content.endswith("(3 messages)")  # the history was sent
    doc = store.get("session-123")
    assert doc is not None and doc.user_id == "u1"  # type: ignore[union-attr]
    turns = doc.turns  # type: ignore[union-attr]
    assert [t["index"] for t in turns] == [0, 1, 2, 3]
    assert turns[1]["model"] == "test" and turns[1]["tokens"] == {"prompt": 5, "completion": 7}
    assert "latencyMs" in turns[1]


def test_history_and_clear(make_nl: Any) -> None:
    nl = make_nl()
    nl.generate(prompt="hi", context={"sessionId": "a"})
    nl.generate(prompt="yo", context={"sessionId": "b"})
    assert nl.get_conversation_history("a") == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "echo: hi (1 messages)"},
    ]
    assert nl.get_conversation_history("missing") == []
    assert nl.clear_conversation_session("a") is True
    assert nl.clear_conversation_session("a") is False
    assert nl.get_conversation_history("b")
    assert nl.clear_all_conversations() is None
    assert nl.get_conversation_history("b") == []


def test_new_session_id_when_context_has_none(make_nl: Any) -> None:
    nl = make_nl()
    result = nl.generate(prompt="hi")
    assert result.session_id and len(nl.get_conversation_history(result.session_id)) == 2


def test_memory_disabled_stores_nothing(make_nl: Any, llm_server: LLMServer) -> None:
    nl = make_nl(enabled=False)
    nl.generate(prompt="one", context={"sessionId": "off"})
    assert nl.generate(prompt="two", context={"sessionId": "off"}).content.endswith("(1 messages)")
    assert make_nl().get_conversation_history("off") == []


def test_memory_store_keeps_history_in_process(make_nl: Any) -> None:
    nl = make_nl(store="memory")
    nl.generate(prompt="one", context={"sessionId": "m"})
    assert nl.generate(prompt="two", context={"sessionId": "m"}).content.endswith("(3 messages)")
    assert len(nl.get_conversation_history("m")) == 4
    assert make_nl().get_conversation_history("m") == []  # never reached Redis


def test_environment_overrides_the_dict(make_nl: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEUROLINK_MEMORY_MAX_TURNS_PER_SESSION", "2")
    nl = make_nl(maxTurnsPerSession=50)
    assert nl.settings.max_turns == 2


def test_bad_input(make_nl: Any) -> None:
    nl = make_nl()
    with pytest.raises(BadInput):
        nl.generate(prompt="x", context={"sessionId": "has space"})
    with pytest.raises(BadInput):
        nl.generate(prompt="")
    with pytest.raises(BadInput):
        NeuroLink(conversation_memory={"enabeld": True})


def test_provider_error_raises_and_stores_the_failure(make_nl: Any) -> None:
    nl = make_nl()
    with pytest.raises(ProviderError, match="authentication"):
        nl.generate(prompt="x", context={"sessionId": "p"}, model="openai/fail-401")
    assert nl.get_conversation_history("p") == [
        {"role": "user", "content": "x"},
        {"role": "assistant", "content": ""},
    ]


@pytest.mark.slow
def test_unreachable_redis_is_store_unavailable(llm_server: LLMServer) -> None:
    nl = NeuroLink(
        conversation_memory={"redis": {"url": f"redis://127.0.0.1:{free_port()}/0"}},
        api_base=llm_server.base_url,
        api_key="k",
    )
    with pytest.raises(StoreUnavailable) as info:
        nl.generate(prompt="x", context={"sessionId": "s"}, model="openai/test")
    assert info.value.exit_code == 4


WORKER = """
import sys
from neurolink_cli import NeuroLink
nl = NeuroLink(api_base=sys.argv[1], api_key="k", model="openai/test")
for i in range(int(sys.argv[3])):
    nl.generate(prompt=f"{sys.argv[2]}-{i}", context={"sessionId": "shared", "userId": "u"})
"""


@pytest.mark.slow
def test_processes_sharing_a_session_keep_contiguous_indexes(
    env: dict[str, str], llm_server: LLMServer, store: NativeStore
) -> None:
    workers, each = 4, 5
    env = {**env, "NEUROLINK_MEMORY_MAX_TURNS_PER_SESSION": "0"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, llm_server.base_url, f"w{n}", str(each)],
            env=env,
            stderr=subprocess.PIPE,
        )
        for n in range(workers)
    ]
    for p in procs:
        _, err = p.communicate(timeout=100)
        assert p.returncode == 0, err.decode()
    doc = store.get("shared")
    turns = doc.turns  # type: ignore[union-attr]
    assert [t["index"] for t in turns] == list(range(2 * workers * each))
    prompts = [t["content"] for t in turns if t["role"] == "user"]
    assert sorted(prompts) == sorted(f"w{n}-{i}" for n in range(workers) for i in range(each))
    for n in range(workers):  # each process's own turns in its own order
        mine = [p for p in prompts if p.startswith(f"w{n}-")]
        assert mine == [f"w{n}-{i}" for i in range(each)]
    assert doc.metadata["totalTurns"] == 2 * workers * each  # type: ignore[union-attr]
    assert orjson.loads(orjson.dumps(doc.user_id)) == "u"  # type: ignore[union-attr]


@pytest.mark.slow
def test_errors_name_sdk_settings_not_cli_flags() -> None:
    """Issue 15 item 10: a Python user cannot pass --redis-url."""
    nl = NeuroLink(
        conversation_memory={"redis": {"url": f"redis://127.0.0.1:{free_port()}/0"}},
        llm=object(),
    )
    with pytest.raises(StoreUnavailable) as caught:
        nl.get_conversation_history("s1")
    message = str(caught.value)
    assert "--" not in message and "conversation_memory={'redis': {'url': ...}}" in message
    assert caught.value.exit_code == 4
