"""Failures are part of the history (CONTRACT §9, issue 18 item 1): SDK ``generate`` and the
chat against the local OpenAI-compatible server told to fail, then list/export/stats."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from support.llm_server import LLMServer
from support.redis_server import RedisServer

from neurolink_cli import NeuroLink
from neurolink_cli.chat.conversation import Chat, ChatOptions, TurnWriter
from neurolink_cli.chat.llm import LiteLLM
from neurolink_cli.errors import ProviderError
from neurolink_cli.store.native import NativeStore

# slow: each test waits on litellm and the local LLM server (seconds each)
pytestmark = [pytest.mark.timeout(120), pytest.mark.slow]
KEY = "test-key-SECRET12345"


@pytest.fixture(scope="module")
def llm_server() -> Iterator[LLMServer]:
    server = LLMServer().start()
    yield server
    server.stop()


@pytest.fixture
def nl(redis_server: RedisServer, prefix: str, llm_server: LLMServer) -> Iterator[NeuroLink]:
    made = NeuroLink(
        conversation_memory={"redis": {"url": redis_server.url, "keyPrefix": prefix}},
        model="openai/test",
        api_base=llm_server.base_url,
        api_key=KEY,
    )
    yield made
    made.close()


def fail(nl: NeuroLink, session: str, model: str, prompt: str = "q") -> ProviderError:
    with pytest.raises(ProviderError) as info:
        nl.generate(prompt=prompt, context={"sessionId": session, "userId": "u"}, model=model)
    return info.value


def test_http_failures_are_stored_with_type_status_and_counted(
    nl: NeuroLink, store: NativeStore
) -> None:
    nl.generate(prompt="hello", context={"sessionId": "s1"})
    err = fail(nl, "s1", "openai/fail-500", "why")
    assert err.error_type == "server_error" and err.status == 500
    fail(nl, "s1", "openai/fail-429")
    turns = store.get("s1").turns  # type: ignore[union-attr]
    assert [t["role"] for t in turns] == ["user", "assistant"] * 3
    assert turns[2]["content"] == "why"
    e500, e429 = turns[3]["error"], turns[5]["error"]
    assert (e500["type"], e500["status"]) == ("server_error", 500)
    assert (e429["type"], e429["status"]) == ("rate_limit", 429)
    assert "test failure 429" in e429["message"] and "\n" not in e429["message"]
    assert turns[5]["model"] == "fail-429" and turns[5]["provider"] == "openai"
    assert "error" not in turns[1]
    assert store.get("s1").metadata["errorCount"] == 2  # type: ignore[union-attr]
    # the next request carries only the exchange that succeeded
    nl.generate(prompt="again", context={"sessionId": "s1"})
    assert nl.get_conversation_history("s1")[-1]["content"] == "echo: again (3 messages)"


def test_no_secret_in_a_stored_error(nl: NeuroLink, store: NativeStore) -> None:
    err = fail(nl, "leak", "openai/fail-leak")
    stored = store.get("leak").turns[1]["error"]["message"]  # type: ignore[union-attr]
    for text in (stored, str(err)):
        assert KEY not in text and "sk-proj-abcdefghijklmnop1234" not in text
        assert "bad key" in text


def chat_on(store: NativeStore, llm_server: LLMServer, model: str, **llm: Any) -> Chat:
    client = LiteLLM(api_base=llm_server.base_url, api_key=KEY, **llm)
    opts = ChatOptions(model=model, stream=True)
    return Chat(client, TurnWriter(store), session_id="c1", options=opts)


def test_stream_cut_off_keeps_what_arrived(store: NativeStore, llm_server: LLMServer) -> None:
    chat = chat_on(store, llm_server, "openai/fail-cut")
    exchange = chat.send("tell me")
    assert exchange.error is not None and exchange.content.startswith("partial answer")
    answer = store.get("c1").turns[1]  # type: ignore[union-attr]
    assert answer["content"].startswith("partial answer") and answer["interrupted"] is True
    assert answer["error"]["type"] == "stream_broken"
    assert store.get("c1").metadata["errorCount"] == 1  # type: ignore[union-attr]


def test_timeout_is_a_stored_failure(store: NativeStore, llm_server: LLMServer) -> None:
    llm_server.hang_seconds = 3.0
    chat = chat_on(store, llm_server, "openai/fail-timeout", timeout=0.5)
    with pytest.raises(ProviderError) as info:
        chat.send("slowly")
    assert info.value.error_type == "timeout"
    failed = store.get("c1").turns[1]  # type: ignore[union-attr]
    assert failed["error"]["type"] == "timeout" and failed["content"] == ""


def test_list_export_and_stats_show_failures(nl: NeuroLink, cli: Any) -> None:
    nl.generate(prompt="fine", context={"sessionId": "ok", "userId": "u"})
    nl.generate(prompt="fine", context={"sessionId": "bad", "userId": "u"})
    fail(nl, "bad", "openai/fail-500", "=1+1")

    rows = [orjson.loads(x) for x in cli("memory", "list", "--errors").stdout.splitlines()]
    assert [(r["sessionId"], r["errorCount"]) for r in rows] == [("bad", 1)]
    assert len(cli("memory", "list").stdout.splitlines()) == 2

    docs = [orjson.loads(x) for x in cli("memory", "export-all", "--errors").stdout.splitlines()]
    assert [d["sessionId"] for d in docs] == ["bad"]
    assert docs[0]["metadata"]["errorCount"] == 1
    assert docs[0]["turns"][3]["error"]["status"] == 500

    out = cli("memory", "export", "--session-id", "bad", "--format", "csv").stdout
    rows_csv = list(csv.reader(io.StringIO(out)))
    assert rows_csv[0][-1] == "content" and len(rows_csv[0]) == 10  # the contract's header
    assert rows_csv[3][-1] == "'=1+1"  # the formula guard still applies to plain content
    assert rows_csv[4][-1].startswith("[error server_error (HTTP 500): model 'openai/fail-500'")

    md = cli("memory", "export", "--session-id", "bad", "--format", "markdown").stdout
    assert "error server_error (HTTP 500)" in md

    stats = orjson.loads(cli("memory", "stats", "--format", "json").stdout)
    assert stats["errors"] == {
        "total": 1,
        "sessions": 1,
        "byProvider": {"openai": 1},
        "byModel": {"openai/fail-500": 1},
    }


def test_export_all_errors_into_a_directory(nl: NeuroLink, cli: Any, tmp_path: Path) -> None:
    nl.generate(prompt="fine", context={"sessionId": "ok"})
    fail(nl, "bad", "openai/fail-500")
    out = tmp_path / "x"
    assert cli("memory", "export-all", "--errors", "--output", str(out)).exit_code == 0
    manifest = orjson.loads((out / "manifest.json").read_bytes())
    assert [s["sessionId"] for s in manifest["sessions"]] == ["bad"]
    assert manifest["filters"]["errors"] is True


def test_tables_on_a_terminal_show_failures(
    nl: NeuroLink, env: dict[str, str], store: NativeStore
) -> None:
    import os

    from click.testing import CliRunner

    from neurolink_cli.cli import main
    from neurolink_cli.environment import Environment

    nl.generate(prompt="fine", context={"sessionId": "ok"})
    fail(nl, "bad", "openai/fail-500")
    full = {**{k: None for k in os.environ if k.startswith(("REDIS_", "NEUROLINK_"))}, **env}

    def table(*args: str) -> str:
        fake = Environment.fake(tty=True, width=120)
        assert CliRunner().invoke(main, list(args), env=full, obj=fake).exit_code == 0
        return re.sub(r"\x1b\[[0-9;]*m", "", Environment.text_of(fake.stdout))

    listed = table("memory", "list").splitlines()
    assert listed[0].split()[-1] == "ERRORS"
    assert [row.split()[0] for row in listed[1:]] == ["bad", "ok"]
    assert listed[1].split()[-1] == "1" and listed[2].split()[-1] == "-"
    assert [row.split()[0] for row in table("memory", "list", "--errors").splitlines()[1:]] == [
        "bad"
    ]
    stats = table("memory", "stats")
    assert "failed turns" in stats and "provider openai" in stats
    assert "model openai/fail-500" in stats


def test_a_failed_session_survives_export_delete_import(nl: NeuroLink, cli: Any) -> None:
    nl.generate(prompt="fine", context={"sessionId": "bad"})
    fail(nl, "bad", "openai/fail-429")
    before = cli("memory", "export", "--session-id", "bad").stdout
    assert cli("memory", "delete", "--session-id", "bad", "--yes").exit_code == 0
    assert cli("memory", "import", "-", input=before).exit_code == 0
    assert cli("memory", "export", "--session-id", "bad").stdout == before
    assert orjson.loads(before)["metadata"]["errorCount"] == 1
    rows = [orjson.loads(x) for x in cli("memory", "list", "--errors").stdout.splitlines()]
    assert [(r["sessionId"], r["errorCount"]) for r in rows] == [("bad", 1)]
