"""How answers look on a terminal: Markdown rendered as it streams, words never split.

:class:`MarkdownStream` takes the streamed deltas. Every block that is complete (text up to
a blank line outside a code fence) is printed once, rendered by rich (which wraps at word
boundaries); the block still arriving is shown live below it and re-rendered on each delta,
in a transient region that the finished block replaces. So code blocks, lists and tables
render while the answer streams and nothing is ever printed twice.

:func:`quiet_terminal` keeps the terminal from echoing keys while an answer streams, so
Ctrl-C does not glue ``^C`` to the text (type-ahead stays queued for the next prompt).
"""

from __future__ import annotations

import contextlib
import re
import sys
from collections.abc import Iterator
from typing import Any, TextIO

_FENCE = re.compile(r"^\s*(```|~~~)", re.M)


def split_complete(text: str) -> tuple[str, str]:
    """``(complete blocks, the block still arriving)``: cut at the last blank line that is
    not inside a code fence."""
    cut = 0
    inside = False
    pos = 0
    for line in text.splitlines(keepends=True):
        pos += len(line)
        if _FENCE.match(line):
            inside = not inside
            if not inside and line.endswith("\n"):
                cut = pos  # a closed code block is complete
        elif not inside and not line.strip() and line.endswith("\n"):
            cut = pos
    return text[:cut], text[cut:]


class MarkdownStream:
    """Renders one streamed answer as Markdown on a rich console."""

    def __init__(self, file: TextIO, *, width: int | None = None) -> None:
        from rich.console import Console

        self.console = Console(file=file, width=width, highlight=False, soft_wrap=False)
        self.text = ""
        self.printed = 0  # characters of ``text`` already printed as finished blocks
        self._live: Any = None

    def _markdown(self, text: str) -> Any:
        from rich.markdown import Markdown

        return Markdown(text, code_theme="ansi_dark")

    def feed(self, delta: str) -> None:
        """One more piece of the answer."""
        from rich.live import Live

        self.text += delta
        done, tail = split_complete(self.text[self.printed :])
        if done.strip():
            if self._live is not None:
                self._live.update("", refresh=True)
            self.console.print(self._markdown(done))
        self.printed += len(done)
        if not self.console.is_terminal:
            return  # no live region on a file: blocks are printed as they complete
        if self._live is None:
            self._live = Live(
                console=self.console,
                auto_refresh=False,
                transient=True,
                # a block taller than the screen shows its top and "..." until it is
                # complete (then printed whole): a transient region taller than the
                # screen cannot be erased, and would leave copies behind
                vertical_overflow="ellipsis",
            )
            self._live.start()
        self._live.update(self._markdown(tail), refresh=True)

    def end(self) -> None:
        """The answer stopped (complete or interrupted): print what is left, finished."""
        if self._live is not None:
            self._live.update("", refresh=True)
            self._live.stop()
            self._live = None
        tail = self.text[self.printed :]
        if tail.strip():
            self.console.print(self._markdown(tail))
        self.printed = len(self.text)


@contextlib.contextmanager
def quiet_terminal(stream: Any = None) -> Iterator[None]:
    """No echo of typed keys (so no ``^C`` glued to the answer) while the block runs."""
    stream = stream or sys.stdin
    try:
        import termios

        fd = stream.fileno()
        if not stream.isatty():
            raise OSError
        saved = termios.tcgetattr(fd)
    except (ImportError, OSError, ValueError, AttributeError):
        yield
        return
    quiet = list(saved)
    quiet[3] &= ~(termios.ECHO | termios.ECHOCTL)
    try:
        termios.tcsetattr(fd, termios.TCSANOW, quiet)
        yield
    finally:
        with contextlib.suppress(Exception):
            termios.tcsetattr(fd, termios.TCSANOW, saved)
