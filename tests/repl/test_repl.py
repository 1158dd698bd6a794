"""The REPL in-process: prompt_toolkit pipe input + DummyOutput, a fake LLM, a real Redis."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput
from support.fake_llm import FakeLLM

from neurolink_cli.chat import Chat, ChatOptions, TurnWriter
from neurolink_cli.repl.app import history_file, make_prompt_session, run_repl
from neurolink_cli.repl.commands import COMMANDS
from neurolink_cli.repl.state import ChatState
from neurolink_cli.repl.toolbar import make_toolbar
from neurolink_cli.store.native import NativeStore

pytestmark = pytest.mark.timeout(30)

CTRL_C, CTRL_D, ESC = "\x03", "\x04", "\x1b"


@pytest.fixture
def make_state(store: NativeStore) -> Iterator[Any]:
    def make(**kw: Any) -> ChatState:
        llm = FakeLLM()
        chat = Chat(
            llm,
            TurnWriter(store),
            session_id=kw.pop("session_id", "repl-1"),
            options=ChatOptions(model="fake/model"),
        )
        state = ChatState(
            chat=chat, store=store, writer=chat.writer, out=io.StringIO(), err=io.StringIO()
        )
        return state

    yield make


def drive(state: ChatState, keys: str, history: Any = None) -> None:
    """Type ``keys`` into the loop and run it until it ends."""
    with create_pipe_input() as pipe:
        pipe.send_text(keys)
        session = make_prompt_session(state, history=history, input=pipe, output=DummyOutput())
        run_repl(state, session)


def out(state: ChatState) -> str:
    return state.out.getvalue()  # type: ignore[attr-defined]


def err(state: ChatState) -> str:
    return state.err.getvalue()  # type: ignore[attr-defined]


def test_turns_are_sent_printed_and_stored(make_state: Any, store: NativeStore) -> None:
    state = make_state()
    drive(state, "hello\rsecond\r" + CTRL_D)
    assert "echo: hello (1 messages)\n" in out(state)
    assert "echo: second (3 messages)\n" in out(state)
    turns = store.get("repl-1").turns  # type: ignore[union-attr]
    assert [t["role"] for t in turns] == ["user", "assistant"] * 2
    assert [t["index"] for t in turns] == [0, 1, 2, 3]
    assert state.turn_count == 4


def test_ctrl_d_on_empty_line_ends_the_loop(make_state: Any) -> None:
    state = make_state()
    drive(state, CTRL_D + "never sent\r")
    assert out(state) == "" and state.chat.llm.calls == []


def test_ctrl_c_at_prompt_clears_the_line(make_state: Any) -> None:
    state = make_state()
    drive(state, "discard me" + CTRL_C + "kept\r" + CTRL_D)
    calls = state.chat.llm.calls
    assert len(calls) == 1 and calls[0]["messages"][-1]["content"] == "kept"


def test_ctrl_c_during_stream_keeps_partial_turn(make_state: Any, store: NativeStore) -> None:
    state = make_state()
    drive(state, "stop\rafter\r" + CTRL_D)
    assert "partial\n" in out(state)
    assert "interrupted" in err(state)
    turns = store.get("repl-1").turns  # type: ignore[union-attr]
    assert turns[1] == {**turns[1], "content": "partial", "interrupted": True}
    assert turns[3]["content"] == "echo: after (3 messages)"  # the loop went on


def test_provider_error_is_one_line_and_loop_goes_on(make_state: Any, store: NativeStore) -> None:
    state = make_state()
    drive(state, "boom\rfine\r" + CTRL_D)
    errors = [line for line in err(state).splitlines() if "error" in line]
    assert len(errors) == 1 and "authentication refused" in errors[0]
    assert "the failure is recorded" in errors[0]
    turns = store.get("repl-1").turns  # type: ignore[union-attr]
    assert [t["content"] for t in turns] == ["boom", "", "fine", "echo: fine (1 messages)"]
    assert turns[1]["error"]["message"] == "model 'x': authentication refused"
    # the failed exchange was not sent with the next message
    assert state.chat.llm.calls[-1]["messages"] == [{"role": "user", "content": "fine"}]


def test_history_labels_failed_and_interrupted_turns(make_state: Any) -> None:
    state = make_state()
    drive(state, "boom\rstop\r/history\r" + CTRL_D)
    shown = out(state)
    assert "[1] assistant (error provider_error: model 'x': authentication refused): " in shown
    assert "[3] assistant (interrupted): partial" in shown


def test_esc_enter_makes_multi_line_input(make_state: Any) -> None:
    state = make_state()
    drive(state, "line one" + ESC + "\rline two\r" + CTRL_D)
    assert state.chat.llm.calls[0]["messages"][-1]["content"] == "line one\nline two"


def test_slash_commands(make_state: Any, store: NativeStore, tmp_path: Path) -> None:
    state = make_state()
    target = tmp_path / "out.json"
    drive(
        state,
        "hi\r/session\r/history\r/model other/model\rnext\r"
        f"/export {target}\r/nope\r//slash text\r/exit\rnot sent\r",
    )
    e, o = err(state), out(state)
    assert "session  repl-1" in e and "turns    2" in e
    assert "[0] user: hi" in o and "[1] assistant: echo: hi (1 messages)" in o
    calls = state.chat.llm.calls
    assert calls[1]["model"] == "other/model"
    assert calls[2]["messages"][-1]["content"] == "/slash text"
    assert "unknown command /nope" in e
    doc = orjson.loads(target.read_bytes())
    assert doc["sessionId"] == "repl-1" and len(doc["turns"]) == 4
    assert len(calls) == 3  # /exit ended the loop


def test_export_to_stdout_and_help(make_state: Any) -> None:
    state = make_state()
    drive(state, "hi\r/export\r/help\r" + CTRL_D)
    doc_text = out(state).split("\n", 1)[1]
    assert orjson.loads(doc_text)["turns"][0]["content"] == "hi"
    for name in ("help", "session", "history", "new", "model", "export", "clear", "exit"):
        assert name in COMMANDS and f"/{name}" in err(state)


def test_new_starts_another_session(make_state: Any, store: NativeStore) -> None:
    state = make_state()
    drive(state, "one\r/new\rtwo\r" + CTRL_D)
    assert state.session_id != "repl-1" and "new session" in err(state)
    assert len(store.get("repl-1").turns) == 2  # type: ignore[union-attr]
    assert len(store.get(state.session_id).turns) == 2  # type: ignore[union-attr]
    assert len(state.chat.llm.calls[-1]["messages"]) == 1


def test_clear_asks_then_deletes(make_state: Any, store: NativeStore) -> None:
    state = make_state()
    drive(state, "one\r/clear\rn\r/session\r" + CTRL_D)
    assert store.get("repl-1") is not None and "not deleted" in err(state)
    state = make_state()
    drive(state, "/clear\ry\r" + CTRL_D)
    assert store.get("repl-1") is None and "deleted session repl-1" in err(state)
    assert state.session_id != "repl-1"


def test_toolbar_shows_session_model_turns(make_state: Any) -> None:
    state = make_state()
    text = "".join(t[1] for t in make_toolbar(state)())
    assert "repl-1" in text and "fake/model" in text and "0 turns" in text
    drive(state, "hi\r" + CTRL_D)
    assert "2 turns" in "".join(t[1] for t in make_toolbar(state)())


def test_history_file_persists_input(make_state: Any, tmp_path: Path) -> None:
    state = make_state()
    drive(state, "remember me\r" + CTRL_D, history=history_file(tmp_path / "data"))
    path = tmp_path / "data" / "loop_history"
    assert "remember me" in path.read_text()
    assert path.stat().st_mode & 0o777 == 0o600
