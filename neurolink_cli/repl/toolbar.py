"""The bottom toolbar: session id, model and turn count, read from the state (no I/O)."""

from __future__ import annotations

from collections.abc import Callable

from prompt_toolkit.formatted_text import StyleAndTextTuples

from neurolink_cli.repl.state import ChatState


def make_toolbar(state: ChatState) -> Callable[[], StyleAndTextTuples]:
    """A callable prompt_toolkit calls on every redraw; it only reads ``state``."""

    def toolbar() -> StyleAndTextTuples:
        parts: StyleAndTextTuples = [
            ("class:bottom-toolbar", f" session {state.session_id} "),
            ("class:bottom-toolbar", f"| model {state.model} "),
            ("class:bottom-toolbar", f"| {state.turn_count} turns "),
            ("class:bottom-toolbar", f"| store {state.store_kind} "),
        ]
        if state.pending:
            parts.append(("class:bottom-toolbar bold", f"| {state.pending} unsaved "))
        parts.append(("class:bottom-toolbar", "| Esc Enter: new line  /help  Ctrl-D: quit "))
        return parts

    return toolbar
