"""The REPL's state: one object that bindings, toolbar and slash commands read."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from neurolink_cli.chat.conversation import Chat, TurnStore, TurnWriter


def new_session_id() -> str:
    """A fresh session id (a UUID4: valid, unique, safe as a file name)."""
    return str(uuid.uuid4())


@dataclass
class ChatState:
    """Everything the loop knows: the chat, where turns go, and where text is printed.

    ``store_kind`` is ``redis``, ``memory`` or ``off`` (conversation memory disabled).
    ``confirm`` asks the user a yes/no question (set by the loop to a prompt on the terminal).
    """

    chat: Chat
    store: TurnStore | None = None
    writer: TurnWriter | None = None
    store_kind: str = "redis"
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    markdown: bool = False  # answers rendered as Markdown (stdout is a terminal)
    running: bool = True
    confirm: Callable[[str], bool] = field(default=lambda _q: False)
    recent: list[str] = field(default_factory=list)  # session ids /sessions listed
    interactive: bool = False  # a person at a terminal: show progress such as "starting…"

    @property
    def session_id(self) -> str:
        return self.chat.session_id

    @property
    def model(self) -> str:
        return self.chat.options.model

    @property
    def turn_count(self) -> int:
        return len(self.chat.turns)

    @property
    def pending(self) -> int:
        return len(self.writer.pending) if self.writer is not None else 0

    def note(self, message: str) -> None:
        """A line on stderr (``neurolink: ...``)."""
        self.err.write(f"neurolink: {message}\n")
        self.err.flush()

    def warn(self, message: str) -> None:
        self.err.write(f"neurolink: warning: {message}\n")
        self.err.flush()

    def error(self, message: str) -> None:
        self.err.write(f"neurolink: error: {message}\n")
        self.err.flush()

    def say(self, text: str) -> None:
        """Text on stdout (answers, /history, /export without a file)."""
        self.out.write(text)
        if not text.endswith("\n"):
            self.out.write("\n")
        self.out.flush()

    def start_new_session(self) -> str:
        """Switch to a new, empty session; its id."""
        sid = new_session_id()
        self.chat.reset(sid)
        self.note(f"new session {sid}")
        return sid
