"""Progress on stderr for long bulk work, only when stderr is a terminal.

:func:`export_progress` yields a callback ``(sessions, turns)`` that advances a one-line
bar on stderr: sessions done / total, turns per second, ETA. The total comes from a cheap
estimate (the index size, ZCARD). On a pipe it yields None and costs nothing.

The bar is drawn by the callback itself, at most a few times a second, with a carriage
return and an erase-line escape: no thread, no rich import (rich's live display costs a
redraw thread and ~50 ms of imports, several percent of a fast export). It is cleared
when the work ends, so the summary line that follows stands alone.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import IO

from neurolink_cli.environment import Environment

REDRAW_S = 0.25


class ExportBar:
    """A one-line progress bar on a terminal stream."""

    def __init__(
        self, total: int, stream: IO[str], label: str = "exporting", width: int = 80
    ) -> None:
        self.total = total
        self.stream = stream
        self.label = label
        self.width = width
        self.sessions = 0
        self.turns = 0
        self.start = time.monotonic()
        self.shown = 0.0
        self.drawn = False

    def advance(self, sessions: int, turns: int) -> None:
        self.sessions += sessions
        self.turns += turns
        now = time.monotonic()
        if now - self.shown >= REDRAW_S:
            self.shown = now
            self.draw(now)

    def line(self, now: float, width: int) -> str:
        elapsed = max(now - self.start, 1e-6)
        rate = self.turns / elapsed
        total = max(self.total, self.sessions)
        if total:
            left = (total - self.sessions) * elapsed / max(self.sessions, 1)
            m, s = divmod(int(left), 60)
            eta = f"ETA {m // 60}:{m % 60:02d}:{s:02d}" if m >= 60 else f"ETA {m}:{s:02d}"
        else:
            eta = ""
        counts = f"{self.sessions:,}/{total:,} sessions" if total else f"{self.sessions:,} sessions"
        tail = f" {counts} · {rate:,.0f} turns/s {eta}".rstrip()
        room = width - len(self.label) - len(tail) - 3
        if total and room >= 10:
            done = int(room * min(self.sessions / total, 1.0))
            bar = " " + "━" * done + "╺" * (room - done)
        else:
            bar = ""
        return f"{self.label}{bar}{tail}"[: width - 1]

    def draw(self, now: float | None = None) -> None:
        text = self.line(time.monotonic() if now is None else now, self.width)
        try:
            self.stream.write("\r\x1b[2K" + text)
            self.stream.flush()
        except (OSError, ValueError):
            return
        self.drawn = True

    def clear(self) -> None:
        if self.drawn:
            with contextlib.suppress(OSError, ValueError):
                self.stream.write("\r\x1b[2K")
                self.stream.flush()
            self.drawn = False


@contextlib.contextmanager
def export_progress(
    env: Environment, total: Callable[[], int]
) -> Iterator[Callable[[int, int], None] | None]:
    """A progress callback while the block runs, when ``env``'s stderr is a terminal;
    None on a pipe (and ``total`` is then never asked)."""
    if not env.stderr_isatty:
        yield None
        return
    bar = ExportBar(total() or 0, env.stderr, width=env.width)
    bar.draw()
    try:
        yield bar.advance
    finally:
        bar.clear()
