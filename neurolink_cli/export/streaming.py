"""Writing a huge (paged) session as its pages are read: memory bounded by one page.

A paged :class:`~neurolink_cli.models.SessionDoc` (``doc.paged``) is never held whole: each
format's writer hands it here, which writes the document's fields around its turns and the
turns page by page, byte for byte what the whole-document writers of
:mod:`~neurolink_cli.export.formats` write for the same session.

A bad turn can be met on any page, after earlier pages were written. So on a stream the
session is first written to a spool (:data:`SPOOL_MEMORY` in memory, beyond that a
temporary file in ``$TMPDIR``) and copied to the output once whole; a failed session
leaves nothing in the output. A file of ``export-all --output DIR`` is already written to a
temporary name and renamed when complete, so there no spool is needed.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from typing import IO, Any

from neurolink_cli.models import SessionDoc, core_turn, parse_turns
from neurolink_cli.util import jsonutil

SPOOL_MEMORY = 1 << 20


@contextlib.contextmanager
def spooled(out: IO[bytes], spool: bool) -> Iterator[IO[bytes]]:
    """``out`` itself, or a spool that is copied to ``out`` only when the block succeeds."""
    if not spool:
        yield out
        return
    import tempfile  # not at import time: only a huge session is spooled

    with tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY) as tmp:
        yield tmp  # type: ignore[misc]
        tmp.seek(0)
        shutil.copyfileobj(tmp, out, 1 << 20)  # type: ignore[misc]


def _around(doc: SessionDoc, include_metadata: bool, pretty: bool) -> tuple[bytes, bytes]:
    """The document's bytes before and after the turns (whose ``[`` ... ``]`` excluded)."""
    mark = b'"turns": []' if pretty else b'"turns":[]'
    whole = jsonutil.dumps(doc.skeleton(include_metadata), pretty=pretty)
    at = whole.index(mark) + len(mark) - 1  # the head holds only strings: the first is it
    return whole[:at], whole[at:]


def write_jsonl(doc: SessionDoc, out: IO[bytes], include_metadata: bool) -> None:
    """One compact line (with its newline), the stored turns spliced page by page when they
    pass :func:`~neurolink_cli.util.jsonutil.splice_ok`, else parsed and written again."""
    before, after = _around(doc, include_metadata, pretty=False)
    out.write(before)
    sep = b""
    if include_metadata and not doc.page_filters and not doc.more_parsed:
        offset = 0
        for raw in doc.raw_pages():
            joined = b",".join(raw)
            if not jsonutil.splice_ok(raw, joined):  # names a bad turn, or writes it again
                joined = b",".join(map(jsonutil.dumps, parse_turns(raw, doc.session_id, offset)))
            offset += len(raw)
            out.write(sep + joined)
            sep = b","
    else:
        for page in doc.turn_pages():
            if not include_metadata:
                page = [core_turn(t) for t in page]
            out.write(sep + b",".join(map(jsonutil.dumps, page)))
            sep = b","
    out.write(after + b"\n")


def write_json(doc: SessionDoc, out: IO[bytes], include_metadata: bool) -> None:
    """The indented document (``--format json``), as ``jsonutil.dumps(..., pretty=True)``
    writes it whole: each turn indented two levels deeper."""
    before, after = _around(doc, include_metadata, pretty=True)
    out.write(before)
    sep = b"\n    "
    for page in doc.turn_pages():
        if not include_metadata:
            page = [core_turn(t) for t in page]
        parts = [jsonutil.dumps(t, pretty=True).replace(b"\n", b"\n    ") for t in page]
        out.write(sep + b",\n    ".join(parts))
        sep = b",\n    "
    if sep != b"\n    ":  # some turn was written
        out.write(b"\n  ")
    out.write(after + b"\n")


def write_csv(doc: SessionDoc, out: IO[bytes], include_metadata: bool, guard: bool) -> None:
    """The rows of the session, page by page (the header is the writer's): read from the
    stored turns when no page filter stands between them and the rows."""
    from neurolink_cli.export.formats import csv_lines, csv_stored_lines

    if not doc.page_filters and not doc.more_parsed:
        offset = 0
        for raw in doc.raw_pages():
            text = "".join(csv_stored_lines(doc, raw, include_metadata, guard, offset))
            offset += len(raw)
            out.write(text.encode("utf-8", "backslashreplace"))
        return
    for page in doc.turn_pages():
        text = "".join(csv_lines(doc, include_metadata, guard, page))
        out.write(text.encode("utf-8", "backslashreplace"))


def write_markdown(doc: SessionDoc, out: IO[bytes], include_metadata: bool) -> None:
    """The transcript: the head block, then each page's sections."""
    from neurolink_cli.export.formats import markdown_head, markdown_turns

    out.write("\n".join(markdown_head(doc, include_metadata)).encode("utf-8", "backslashreplace"))
    for page in doc.turn_pages():
        text = "\n" + "\n".join(markdown_turns(page, include_metadata))
        out.write(text.encode("utf-8", "backslashreplace"))


def write_paged(fmt: str, doc: SessionDoc, out: IO[bytes], include_metadata: bool,
                guard: bool, spool: bool, before: bytes = b"") -> None:  # fmt: skip
    """Write paged ``doc`` in format ``fmt`` to ``out`` (through a spool when ``spool``),
    after ``before`` (what the writer still holds, e.g. the CSV header)."""
    writers: dict[str, Any] = {
        "jsonl": lambda o: write_jsonl(doc, o, include_metadata),
        "json": lambda o: write_json(doc, o, include_metadata),
        "csv": lambda o: write_csv(doc, o, include_metadata, guard),
        "markdown": lambda o: write_markdown(doc, o, include_metadata),
    }
    with spooled(out, spool) as target:
        target.write(before)
        writers[fmt](target)
