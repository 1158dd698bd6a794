"""The garbage collector's pace during a long walk that makes short-lived objects.

An export makes a few container objects per session (the document, its metadata dict,
lists of replies), nearly all gone before the next session: no cycles. CPython's
collector runs a young-generation pass every 700 allocations net of frees (its default
threshold), and every tenth of those an older one, so on a walk of a million sessions it
walks what is alive thousands of times for nothing. :func:`paced` raises the young
generation's threshold for the length of a block: the passes are fewer, what they find
the same (memory stays bounded: a pass still comes every :data:`PACE` allocations).
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

PACE = 20_000  # allocations net of frees between two passes of the young generation


@contextlib.contextmanager
def paced(threshold: int = PACE) -> Iterator[None]:
    """Within the block the young generation's threshold is at least ``threshold``.

    On exit only this block's own change is undone: a threshold that is already as high
    (an enclosing ``paced``, a caller's setting) is left alone, and so is one that was set
    to something else inside the block; the older generations' thresholds are never
    touched."""
    before = gc.get_threshold()[0]
    if before == 0 or before >= threshold:  # collection off, or already as slow
        yield
        return
    gc.set_threshold(threshold, *gc.get_threshold()[1:])
    try:
        yield
    finally:
        now = gc.get_threshold()
        if now[0] == threshold:  # still ours
            gc.set_threshold(before, *now[1:])
