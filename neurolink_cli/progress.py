"""Progress on stderr for long bulk work, only when stderr is a terminal.

:func:`export_progress` yields a callback ``(sessions, turns)`` that advances a rich
progress bar (sessions done / total, turns per second, ETA). The total comes from a cheap
estimate (the index size). On a pipe it yields None and costs nothing.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def export_progress(total: Callable[[], int]) -> Iterator[Callable[[int, int], None] | None]:
    if not sys.stderr.isatty():
        yield None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("exporting"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
        transient=True,
        redirect_stdout=False,
        redirect_stderr=False,
    ) as bar:
        task = bar.add_task("export", total=total() or None, rate="")
        state = {"sessions": 0, "turns": 0, "shown": 0.0, "start": time.monotonic()}

        def advance(sessions: int, turns: int) -> None:
            state["sessions"] += sessions
            state["turns"] += turns
            now = time.monotonic()
            if now - state["shown"] >= 0.1:  # redraw at most 10 times a second
                rate = state["turns"] / max(now - state["start"], 1e-6)
                bar.update(task, completed=state["sessions"], rate=f"{rate:,.0f} turns/s")
                state["shown"] = now

        yield advance
        bar.update(task, completed=state["sessions"])
