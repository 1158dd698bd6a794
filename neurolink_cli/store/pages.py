"""The turns of a huge native session, read in pages while they are written out.

A batch read (:mod:`~neurolink_cli.store.batchread`) fetches at most :data:`FIRST_PAGE`
turns of each session (``LRANGE key 0 FIRST_PAGE-1``), so a batch never holds a whole huge
session. A session that filled that first page gets :func:`turn_pages` as its
``SessionDoc.more``: further ``LRANGE`` pages, read only as the writer consumes them, sized
to about :data:`PAGE_BYTES` (the page shrinks when turns are big, grows when small), so
memory stays bounded whatever the session's size.

Pages are positions in the list, and a writer may trim the oldest turns (and append new
ones) between two page reads. The turns' ``index`` (stored first, ``{"index":N,...``) tells:
when the next page does not start at the index after the last one written, the position is
corrected by the difference and the page read again, so no turn is skipped or written twice
(turns trimmed meanwhile are gone; turns appended meanwhile are included).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

FIRST_PAGE = 256  # turns of each session in a batch read (the default cap per session is 100)
PAGE_BYTES = 1 << 20  # aim of one further page
MIN_PAGE, MAX_PAGE = 16, 8192

_INDEX = re.compile(rb'\{"index":(\d{1,18})[,}]').match


def stored_index(raw: bytes) -> int | None:
    """The ``index`` a stored turn starts with, None when it does not start with one."""
    m = _INDEX(raw) if isinstance(raw, bytes) else None
    return int(m.group(1)) if m else None


def turn_pages(
    client: Any, key: str, start: int, last: bytes, page: int = 1024
) -> Iterator[list[bytes]]:
    """The turns of list ``key`` from position ``start`` on, one page per step; ``last``
    is the turn just before ``start`` (for the continuity check above)."""
    size = max(MIN_PAGE, min(page, MAX_PAGE))
    prev = stored_index(last)
    expected = None if prev is None else prev + 1
    corrections = 0
    while True:
        rows: list[bytes] = client.lrange(key, start, start + size - 1)
        if not rows:
            return
        got = stored_index(rows[0])
        if expected is not None and got is not None and got != expected and corrections < 8:
            corrections += 1
            start = max(0, start + expected - got)  # trimmed: back; pushed in front: ahead
            continue
        corrections = 0
        yield rows
        start += len(rows)
        if len(rows) < size:
            return
        prev = stored_index(rows[-1])
        expected = None if prev is None else prev + 1
        nbytes = sum(map(len, rows)) or 1
        size = max(MIN_PAGE, min(MAX_PAGE, size * PAGE_BYTES // nbytes))
