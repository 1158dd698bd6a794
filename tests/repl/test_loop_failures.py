"""Issue 18 item 1 in the loop: the REPL on prompt_toolkit's pipe input, the real litellm
client, and the local OpenAI-compatible server told to fail (HTTP 500, a stream cut off)."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput
from support.llm_server import LLMServer

from neurolink_cli.chat import Chat, ChatOptions, TurnWriter
from neurolink_cli.chat.llm import LiteLLM
from neurolink_cli.repl.app import make_prompt_session, run_repl
from neurolink_cli.repl.state import ChatState
from neurolink_cli.store.native import NativeStore

# slow: each test waits on litellm and the local LLM server (seconds each)
pytestmark = [pytest.mark.timeout(90), pytest.mark.slow]
CTRL_D = "\x04"


@pytest.fixture(scope="module")
def llm_server() -> Iterator[LLMServer]:
    server = LLMServer().start()
    yield server
    server.stop()


def drive(store: NativeStore, llm_server: LLMServer, model: str, keys: str) -> str:
    llm = LiteLLM(api_base=llm_server.base_url, api_key="sk-test-abcdefghijklmnop")
    chat = Chat(llm, TurnWriter(store), session_id="lf", options=ChatOptions(model=model))
    err = io.StringIO()
    state = ChatState(chat=chat, store=store, writer=chat.writer, out=io.StringIO(), err=err)
    with create_pipe_input() as pipe:
        pipe.send_text(keys)
        run_repl(state, make_prompt_session(state, input=pipe, output=DummyOutput()))
    return err.getvalue()


def test_http_500_is_recorded_and_the_chat_goes_on(
    store: NativeStore, llm_server: LLMServer
) -> None:
    err = drive(store, llm_server, "openai/fail-500", "hi\r/model openai/test\rhello\r" + CTRL_D)
    assert "the provider failed" in err and "the failure is recorded" in err
    turns = store.get("lf").turns  # type: ignore[union-attr]
    assert [(t["role"], t["content"]) for t in turns] == [
        ("user", "hi"),
        ("assistant", ""),
        ("user", "hello"),
        ("assistant", "echo: hello (1 messages)"),  # the failed exchange was not sent
    ]
    assert turns[1]["error"]["status"] == 500 and turns[1]["error"]["type"] == "server_error"
    assert store.get("lf").metadata["errorCount"] == 1  # type: ignore[union-attr]


def test_stream_cut_off_keeps_the_partial_answer(store: NativeStore, llm_server: LLMServer) -> None:
    err = drive(store, llm_server, "openai/fail-cut", "go\r" + CTRL_D)
    assert "partial answer kept" in err
    answer = store.get("lf").turns[1]  # type: ignore[union-attr]
    assert answer["content"].startswith("partial answer")
    assert answer["interrupted"] is True and answer["error"]["type"] == "stream_broken"
