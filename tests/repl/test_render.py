"""Issue 15 item 6: answers read well on a terminal: Markdown rendered while streaming, no
word split at the edge, no ``^C`` glued to the text, user and assistant lines distinct."""

from __future__ import annotations

import io
import os
import termios

import pytest
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput
from support.fake_llm import FakeLLM

from neurolink_cli.chat import Chat, ChatOptions
from neurolink_cli.repl.app import PROMPT, STYLE, make_prompt_session, run_repl
from neurolink_cli.repl.render import MarkdownStream, quiet_terminal, split_complete
from neurolink_cli.repl.state import ChatState

pytestmark = pytest.mark.timeout(30)

ANSWER = (
    "# Plan\n\nFirst, **install** the package with pip and then configure everything "
    "thoroughly before running the extraordinarily comprehensive tests.\n\n"
    "- one item\n- two items\n\n```python\nprint('hi')\n\nx = 1\n```\n\nDone."
)


def stream(text: str, width: int, step: int = 3) -> str:
    out = io.StringIO()
    render = MarkdownStream(out, width=width)
    for i in range(0, len(text), step):
        render.feed(text[i : i + step])
    render.end()
    return out.getvalue()


def test_split_complete_cuts_at_blank_lines_outside_code_fences() -> None:
    assert split_complete("a\n\nb") == ("a\n\n", "b")
    assert split_complete("```\nx\n\ny") == ("", "```\nx\n\ny")  # open fence: not complete
    assert split_complete("```\nx\n\n```\nmore") == ("```\nx\n\n```\n", "more")


def test_markdown_is_rendered_while_streaming_and_printed_once() -> None:
    text = stream(ANSWER, width=60)
    assert "**" not in text and "```" not in text and "# Plan" not in text
    assert "• one item" in text and "print('hi')" in text
    assert text.count("Done.") == 1 and text.count("Plan") == 1


def test_no_word_is_split_at_the_edge() -> None:
    text = stream(ANSWER, width=40)
    lines = text.splitlines()
    assert all(len(line.rstrip()) <= 40 for line in lines)
    words = set(" ".join(lines).split())
    for word in ("extraordinarily", "comprehensive", "thoroughly", "configure"):
        assert word in words


def test_typed_keys_are_not_echoed_while_an_answer_streams() -> None:
    master, slave = os.openpty()
    try:
        with os.fdopen(slave, "rb", buffering=0, closefd=False) as tty:
            before = termios.tcgetattr(slave)[3]
            assert before & termios.ECHO
            with quiet_terminal(tty):
                during = termios.tcgetattr(slave)[3]
                assert not during & termios.ECHO and not during & termios.ECHOCTL
            assert termios.tcgetattr(slave)[3] == before
    finally:
        os.close(master)
        os.close(slave)


def test_user_and_assistant_lines_look_different() -> None:
    assert PROMPT == [("class:user-prompt", "> ")]
    styles = dict(STYLE.style_rules)
    assert "bold" in styles["user-prompt"] and "bold" in styles["user-input"]
    chat = Chat(FakeLLM(), None, session_id="r", options=ChatOptions(model="fake/model"))
    state = ChatState(
        chat=chat, store_kind="off", out=io.StringIO(), err=io.StringIO(), markdown=True
    )
    state.interactive = True
    with create_pipe_input() as pipe:
        pipe.send_text("**hi**\r\x04")
        run_repl(state, make_prompt_session(state, input=pipe, output=DummyOutput()))
    out = state.out.getvalue()  # type: ignore[attr-defined]
    # the answer sits between blank lines, rendered (no Markdown asterisks left)
    assert out.startswith("\n") and out.endswith("\n\n")
    assert "echo: hi (1 messages)" in out
