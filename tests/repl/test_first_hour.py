"""Issue 15, "the first hour with neurolink loop", as a user meets each item.

In-process: the REPL on prompt_toolkit's pipe input with a scripted LLM and a real Redis, or
the whole ``loop`` command through CliRunner against the local OpenAI-compatible server.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput
from support.fake_llm import FakeLLM
from support.llm_server import LLMServer

from neurolink_cli.chat import Chat, ChatOptions, TurnWriter
from neurolink_cli.repl.app import STARTING, make_prompt_session, run_repl
from neurolink_cli.repl.state import ChatState
from neurolink_cli.repl.toolbar import make_toolbar
from neurolink_cli.store.native import NativeStore

pytestmark = pytest.mark.timeout(60)

CTRL_D = "\x04"


def make_state(store: NativeStore, **kw: Any) -> ChatState:
    chat = Chat(
        FakeLLM(),
        TurnWriter(store),
        session_id="first-hour",
        options=ChatOptions(model=kw.pop("model", "fake/model")),
    )
    return ChatState(
        chat=chat, store=store, writer=chat.writer, out=io.StringIO(), err=io.StringIO(), **kw
    )


def drive(state: ChatState, keys: str) -> tuple[str, str]:
    with create_pipe_input() as pipe:
        pipe.send_text(keys)
        run_repl(state, make_prompt_session(state, input=pipe, output=DummyOutput()))
    return state.out.getvalue(), state.err.getvalue()  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def llm_server() -> Iterator[LLMServer]:
    server = LLMServer().start()
    yield server
    server.stop()


@pytest.fixture
def loop_env(llm_server: LLMServer) -> dict[str, str]:
    return {
        "OPENAI_API_BASE": llm_server.base_url,
        "OPENAI_API_KEY": "test-key",
        "NEUROLINK_MODEL": "openai/test",
    }


# -- timing table: a visible "starting…" while the first answer waits for litellm ----------
def test_first_message_shows_starting_while_the_model_library_loads(store: NativeStore) -> None:
    state = make_state(store, interactive=True)
    state.chat.llm.is_ready = False  # type: ignore[attr-defined]
    out, err = drive(state, "hello\r" + CTRL_D)
    assert STARTING in err
    assert err.index(STARTING) < err.index("\r\x1b[K")  # erased once the answer starts
    assert out.strip() == "echo: hello (1 messages)"  # stdout carries the answer only


def test_no_starting_indicator_once_loaded_or_without_a_person(store: NativeStore) -> None:
    state = make_state(store, interactive=True)
    assert STARTING not in drive(state, "hello\r" + CTRL_D)[1]
    state = make_state(store, interactive=False)
    state.chat.llm.is_ready = False  # type: ignore[attr-defined]
    assert STARTING not in drive(state, "hello\r" + CTRL_D)[1]


# -- item 2: Ctrl-C before any text --------------------------------------------------------
@pytest.mark.parametrize("prompt", ["stop0", "hang"])
def test_ctrl_c_before_any_text_stores_no_assistant_turn(store: NativeStore, prompt: str) -> None:
    state = make_state(store)
    out, err = drive(state, f"{prompt}\rafter\r" + CTRL_D)
    assert "interrupted before any answer arrived" in err
    assert "partial answer is kept" not in err
    turns = store.get("first-hour").turns  # type: ignore[union-attr]
    assert [(t["role"], t["content"]) for t in turns] == [
        ("user", prompt),
        ("user", "after"),
        ("assistant", "echo: after (2 messages)"),
    ]
    # the next request carried no empty assistant message
    sent = state.chat.llm.calls[-1]["messages"]  # type: ignore[attr-defined]
    assert all(m["content"] for m in sent)
    answer = turns[-1]
    assert answer["model"] == "fake-model" and answer["provider"] == "fake"


# -- item 9: /model is checked when set ----------------------------------------------------
def test_model_command_refuses_a_model_litellm_does_not_know(store: NativeStore) -> None:
    state = make_state(store)
    out, err = drive(state, "/model nosuch/xyz\rhi\r/model other/good\r" + CTRL_D)
    assert "unknown model 'nosuch/xyz' (litellm names: provider/model); still fake/model" in err
    calls = state.chat.llm.calls  # type: ignore[attr-defined]
    assert calls[0]["model"] == "fake/model"  # the next message still works
    assert state.model == "other/good"


# -- items 3, 7, 8 through the whole command (piped stdin, CliRunner) ----------------------
def test_piped_input_is_one_prompt(cli: Any, loop_env: dict[str, str]) -> None:
    result = cli("loop", input="line1\nline2\nline3\n", env=loop_env)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "echo: line1\nline2\nline3 (1 messages)\n"


def test_each_line_flag_sends_every_line(cli: Any, loop_env: dict[str, str]) -> None:
    result = cli("loop", "--each-line", input="one\ntwo\n", env=loop_env)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "echo: one (1 messages)\necho: two (3 messages)\n"


def test_unknown_session_id_says_new_then_resume_says_how_many(
    cli: Any, loop_env: dict[str, str]
) -> None:
    first = cli("loop", "--session-id", "my-typo", input="hello\n", env=loop_env)
    assert first.exit_code == 0, first.stderr
    assert "new session my-typo: no stored session has this id" in first.stderr
    # item 7: the last line names the session and how to resume it
    last = first.stderr.strip().splitlines()[-1]
    assert last == (
        "neurolink: session my-typo saved (2 turns); "
        "resume with: neurolink loop --session-id my-typo"
    )
    again = cli("loop", "--session-id", "my-typo", input="more\n", env=loop_env)
    assert "resuming session my-typo (2 turns)" in again.stderr
    assert "new session" not in again.stderr
    assert again.stdout == "echo: more (3 messages)\n"


# -- item 5: the toolbar fits 80 and 120 columns, whole session id -------------------------
@pytest.mark.parametrize("columns", [60, 80, 120, 200])
def test_toolbar_fits_the_terminal(store: NativeStore, columns: int) -> None:
    state = make_state(store, model="openai/gpt-4o-mini")
    state.chat.session_id = "3f0c2a9e-8d1b-4c55-9f7e-2b6a1d0c9e88"
    text = "".join(t[1] for t in make_toolbar(state, width=lambda: columns)())
    assert len(text) <= columns
    assert "3f0c2a9e-8d1b-4c55-9f7e-2b6a1d0c9e88" in text
    if columns >= 80:
        assert "openai/gpt-4o-mini" in text and "0 turns" in text and "/help" in text
    if columns >= 120:
        assert "store redis" in text
    if columns >= 200:
        assert "Esc Enter: new line" in text


# -- item 11: the TypeScript CLI's loop flags, and /sessions + /resume -----------------------
def test_resume_flag_is_session_id(cli: Any, loop_env: dict[str, str]) -> None:
    cli("loop", "--session-id", "ts-user", input="hello\n", env=loop_env)
    for flag in ("-r", "--resume"):
        result = cli("loop", flag, "ts-user", input="again\n", env=loop_env)
        assert "resuming session ts-user" in result.stderr


def test_new_flag_conflicts_with_resume(cli: Any, loop_env: dict[str, str]) -> None:
    result = cli("loop", "-n", "-r", "x", input="", env=loop_env)
    assert result.exit_code == 2 and "-n/--new starts a new session" in result.stderr
    assert cli("loop", "-n", input="hi\n", env=loop_env).exit_code == 0


def test_list_conversations_needs_a_terminal(cli: Any, loop_env: dict[str, str]) -> None:
    result = cli("loop", "-l", input="1\n", env=loop_env)
    assert result.exit_code == 2 and "needs a terminal" in result.stderr


def test_sessions_and_resume_commands(store: NativeStore) -> None:
    from support.helpers import add_conversation

    add_conversation(store, "older-one", n_turns=2, start_s=0)
    add_conversation(store, "newer-one", n_turns=4, start_s=600)
    state = make_state(store)
    out, err = drive(state, "/sessions\r/resume 2\rhi\r" + CTRL_D)
    lines = [line for line in err.splitlines() if "turns  " in line]
    assert "newer-one" in lines[0] and "older-one" in lines[1]
    assert "resuming session older-one (2 turns)" in err
    assert state.session_id == "older-one"
    assert "echo: hi (3 messages)" in out  # the resumed history went to the model


def test_loop_start_does_not_repeat_the_embedded_store_notice(store: NativeStore) -> None:
    """Item 5: the embedded store's URL is announced once (by the connection), not again by
    the loop's start lines (which wrapped it a second time at 80 columns)."""
    from types import SimpleNamespace

    from neurolink_cli.environment import Environment
    from neurolink_cli.repl.runner import announce

    notes: list[str] = []
    app = SimpleNamespace(
        env=Environment.fake(),
        settings=SimpleNamespace(redis_configured=False),
        note=notes.append,
        shown_url=lambda: "unix:///home/u/.local/share/neurolink/redis.sock",
    )
    announce(app, make_state(store), resumed=False)
    assert not any("unix://" in n for n in notes)
    assert any("embedded store" in n for n in notes)
    assert all(len(f"neurolink: {n}") <= 80 for n in notes)
