"""Key bindings of the loop's prompt (a factory reading :class:`ChatState`, as pgcli does)."""

from __future__ import annotations

from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent

from neurolink_cli.repl.state import ChatState


def make_key_bindings(state: ChatState) -> KeyBindings:
    """Ctrl-C clears the line; Esc Enter (or Alt-Enter) inserts a new line; Enter sends."""
    kb = KeyBindings()

    @kb.add("c-c")
    def _clear_line(event: KeyPressEvent) -> None:
        event.current_buffer.reset()

    @kb.add("escape", "enter")
    def _new_line(event: KeyPressEvent) -> None:
        event.current_buffer.insert_text("\n")

    return kb
