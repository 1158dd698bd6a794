"""The bottom toolbar: session id, model and turn count, read from the state (no I/O).

It fits the terminal's width: the less useful parts go first (the long key hints become
short ones, then the store, the hints, the turn count and the model go); the whole session
id always stays.
"""

from __future__ import annotations

from collections.abc import Callable

from prompt_toolkit.formatted_text import StyleAndTextTuples

from neurolink_cli.repl.state import ChatState

STYLE = "class:bottom-toolbar"
SEP = "│"


def _terminal_width() -> int:
    from prompt_toolkit.application.current import get_app

    try:
        return get_app().output.get_size().columns
    except Exception:
        return 80


LONG_HINTS = " Esc Enter: new line  /help  Ctrl-D: quit "
SHORT_HINTS = " /help  Ctrl-D: quit "
TINY_HINTS = " /help "


def toolbar_parts(state: ChatState, width: int) -> list[tuple[str, str]]:
    """The toolbar's ``(style, text)`` parts that fit in ``width`` columns."""
    parts: dict[str, tuple[str, str]] = {"session": (STYLE, f" {state.session_id} ")}
    parts["model"] = (STYLE, f" {state.model} ")
    parts["turns"] = (STYLE, f" {state.turn_count} turns ")
    if state.pending:
        parts["unsaved"] = (f"{STYLE} bold", f" {state.pending} unsaved ")
    parts["store"] = (STYLE, f" store {state.store_kind} ")
    parts["hints"] = (STYLE, LONG_HINTS)

    def fits() -> bool:
        used = sum(len(text) for _, text in parts.values()) + len(SEP) * (len(parts) - 1)
        return used <= width

    steps: list[Callable[[], object]] = [
        lambda: parts.update(hints=(STYLE, SHORT_HINTS)),
        lambda: parts.pop("store"),
        lambda: parts.update(hints=(STYLE, TINY_HINTS)),
        lambda: parts.pop("hints"),
        lambda: parts.pop("turns"),
        lambda: parts.pop("model"),
    ]
    for step in steps:
        if fits():
            break
        step()
    result: list[tuple[str, str]] = []
    for i, part in enumerate(parts.values()):
        if i:
            result.append((STYLE, SEP))
        result.append(part)
    return result


def make_toolbar(
    state: ChatState, width: Callable[[], int] | None = None
) -> Callable[[], StyleAndTextTuples]:
    """A callable prompt_toolkit calls on every redraw; it only reads ``state`` (and the
    terminal width prompt_toolkit already knows)."""
    columns = width or _terminal_width

    def toolbar() -> StyleAndTextTuples:
        return list(toolbar_parts(state, columns()))

    return toolbar
