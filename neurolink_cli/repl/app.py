"""The read-send-print loop on a prompt_toolkit ``PromptSession``.

Input and output are injectable (``create_pipe_input()`` + ``DummyOutput()`` in tests).
Answers stream raw to ``state.out``; with ``--no-stream`` on a terminal the complete answer
is rendered as Markdown with rich.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from prompt_toolkit import PromptSession
from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
from prompt_toolkit.formatted_text import FormattedText
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.lexers import SimpleLexer
from prompt_toolkit.styles import Style

from neurolink_cli.chat.conversation import is_store_outage
from neurolink_cli.errors import NeurolinkError, ProviderError
from neurolink_cli.export.redact import redact_secrets
from neurolink_cli.repl.bindings import make_key_bindings
from neurolink_cli.repl.commands import is_command, run_command
from neurolink_cli.repl.render import MarkdownStream, quiet_terminal
from neurolink_cli.repl.state import ChatState
from neurolink_cli.repl.toolbar import make_toolbar

# The user's lines: a bold green "> " and bold text; answers are rendered Markdown below a
# blank line, so the two never look alike (also with NO_COLOR: bold and the "> " remain).
PROMPT = FormattedText([("class:user-prompt", "> ")])
STYLE = Style.from_dict({"user-prompt": "ansigreen bold", "user-input": "bold"})


class SecretFreeFileHistory(FileHistory):
    """A FileHistory that never writes an API key, bearer token or URL password to disk.

    What was typed stays recallable (arrow up) as typed during this run; the file keeps
    ``[REDACTED:api_key]`` in its place.
    """

    def store_string(self, string: str) -> None:
        super().store_string(redact_secrets(string))


def history_file(data_dir: str | Path) -> History:
    """The persistent input history (``<data dir>/loop_history``, mode 0600, no secrets)."""
    path = Path(data_dir) / "loop_history"
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not path.exists():
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        return SecretFreeFileHistory(str(path))
    except OSError:
        return InMemoryHistory()


def make_prompt_session(
    state: ChatState,
    *,
    history: History | None = None,
    input: Any = None,
    output: Any = None,
) -> PromptSession[str]:
    """The prompt: history, auto-suggest, key bindings and the bottom toolbar."""
    return PromptSession(
        history=history or InMemoryHistory(),
        auto_suggest=AutoSuggestFromHistory(),
        key_bindings=make_key_bindings(state),
        bottom_toolbar=make_toolbar(state),
        style=STYLE,
        lexer=SimpleLexer("class:user-input"),
        prompt_continuation=lambda width, line_number, soft_wrap: "." * (width - 1) + " ",
        input=input,
        output=output,
    )


STARTING = "starting… (loading the model library, once)"


def llm_ready(state: ChatState) -> bool:
    """False while the model library still loads (only the first message waits for it)."""
    ready = getattr(state.chat.llm, "ready", None)
    return True if ready is None else bool(ready())


class StartingIndicator:
    """A dim "starting…" on the terminal while the first answer waits for litellm to load;
    erased by the first text (or the end of the answer). Nothing when not interactive."""

    def __init__(self, state: ChatState) -> None:
        self.state = state
        self.shown = False

    def show(self) -> None:
        if self.state.interactive and not llm_ready(self.state):
            self.state.err.write(f"\x1b[2m{STARTING}\x1b[0m")
            self.state.err.flush()
            self.shown = True

    def clear(self) -> None:
        if self.shown:
            self.state.err.write("\r\x1b[K")
            self.state.err.flush()
            self.shown = False


def ask(state: ChatState, text: str) -> None:
    """Send one message and print the answer as it arrives."""
    streamed = state.chat.options.stream
    starting = StartingIndicator(state)
    render = MarkdownStream(state.out) if streamed and state.markdown else None
    if state.interactive:
        state.out.write("\n")  # a blank line between the user's message and the answer
    starting.show()

    def show(delta: str) -> None:
        starting.clear()
        if render is not None:
            render.feed(delta)
            return
        state.out.write(delta)
        state.out.flush()

    def end(content: str) -> None:
        starting.clear()
        if not streamed:
            if content:
                print_answer(state, content)
        elif render is not None:
            render.end()
        elif content and not content.endswith("\n"):
            state.out.write("\n")
        if state.interactive:
            state.out.write("\n")
        state.out.flush()

    try:
        with quiet_terminal() if state.interactive else contextlib.nullcontext():
            exchange = state.chat.send(text, on_text=show if streamed else None, on_end=end)
    except ProviderError as exc:
        starting.clear()
        kept = "the failure is recorded" if state.chat.writer is not None else "nothing stored"
        state.error(f"{exc} ({kept}; the chat goes on)")
        return
    finally:
        starting.clear()
    if exchange.error is not None:
        kept = "partial answer kept" if exchange.content else "no answer arrived"
        state.error(f"{exchange.error} ({kept})")
    elif exchange.interrupted and exchange.content:
        state.note("interrupted; the partial answer is kept")
    elif exchange.interrupted:
        state.note("interrupted before any answer arrived; only your message is stored")


def print_answer(state: ChatState, content: str) -> None:
    """A complete answer: Markdown via rich on a terminal, raw text otherwise."""
    if state.markdown:
        from rich.console import Console
        from rich.markdown import Markdown

        Console(file=state.out).print(Markdown(content))
    else:
        state.say(content)


def run_line(state: ChatState, line: str) -> None:
    """One entered line: a slash command or a message."""
    text = line.strip()
    if not text:
        return
    try:
        if is_command(text):
            run_command(state, text)
        else:
            ask(state, text[1:] if text.startswith("//") else line.strip("\n"))
    except NeurolinkError as exc:
        state.error(str(exc))
    except Exception as exc:
        if not is_store_outage(exc):
            raise
        from neurolink_cli.store.connection import describe_error

        state.error(f"Redis is unreachable ({describe_error(exc)}); try again when it is back")


def run_repl(state: ChatState, session: PromptSession[str]) -> None:
    """Read lines until Ctrl-D on an empty line or /exit."""

    def confirm(question: str) -> bool:
        try:
            asker: PromptSession[str] = PromptSession(input=session.input, output=session.output)
            answer = asker.prompt(question)
        except (KeyboardInterrupt, EOFError):
            return False
        return answer.strip().lower() in ("y", "yes")

    state.confirm = confirm
    while state.running:
        try:
            line = session.prompt(PROMPT)
        except KeyboardInterrupt:
            continue
        except EOFError:
            break
        run_line(state, line)


def run_piped(state: ChatState, stream: Any) -> None:
    """Without a terminal (``cat notes.txt | neurolink loop``): all of stdin is ONE prompt
    (as ``llm`` does), its answer alone on stdout. ``--each-line`` uses :func:`run_plain`."""
    text = stream.read()
    if text.strip():
        run_line(state, text)


def run_plain(state: ChatState, lines: Any) -> None:
    """``--each-line`` without a terminal: one message or command per line, answers alone
    on stdout; no prompt, toolbar or line editing."""

    def confirm(question: str) -> bool:
        state.err.write(question)
        state.err.flush()
        answer = lines.readline()
        return answer.strip().lower() in ("y", "yes")

    state.confirm = confirm
    while state.running:
        line = lines.readline()
        if not line:
            break
        run_line(state, line)
