"""Formatters: a document in, bytes out, one session at a time.

Every writer has the same shape: ``write(doc)`` for each session, then ``close()``. They
write bytes to a binary stream (``sys.stdout.buffer`` or a file), never through
``click.echo``. Which writer serves which format is the table in
:mod:`~neurolink_cli.export.registry`. JSON and JSONL splice a document's raw stored turns when it still has them
(see :class:`~neurolink_cli.models.SessionDoc`); CSV and Markdown read parsed turns.
"""

from __future__ import annotations

import re
from typing import IO, Any

from neurolink_cli.export.streaming import write_paged
from neurolink_cli.failures import failure_label
from neurolink_cli.models import SessionDoc
from neurolink_cli.util import jsonutil

# A session a writer could only report as failed when it closed: (id, reason, turns).
Failure = tuple[str, str, int]

CSV_HEADER = (
    "sessionId",
    "userId",
    "index",
    "role",
    "timestamp",
    "provider",
    "model",
    "promptTokens",
    "completionTokens",
    "content",
)
CSV_HEADER_BARE = ("sessionId", "userId", "index", "role", "timestamp", "content")


def doc_compact(doc: SessionDoc, include_metadata: bool = True) -> bytes:
    """The document as one line of compact JSON (no newline), keys in contract order.

    The stored turns are spliced unparsed when the whole line passes
    :func:`~neurolink_cli.util.jsonutil.line_ok` (every turn exactly one JSON object, the
    line valid UTF-8 JSON); otherwise they are parsed, which names a bad one (BadData)."""
    raw = doc.raw_turns if include_metadata and not doc.paged else None
    if raw is not None:
        head = jsonutil.dumps(doc.head())
        parts = [head[:-1], b',"turns":[', b"", b'],"metadata":', jsonutil.dumps(doc.metadata)]
        for key, value in doc.extra.items():
            if key not in ("sessionId", "userId", "createdAt", "updatedAt", "turns", "metadata"):
                parts += [b",", jsonutil.dumps(key), b":", jsonutil.dumps(value)]
        parts.append(b"}")
        try:
            parts[2] = b",".join(raw)
        except TypeError:  # not bytes
            pass
        else:
            line = b"".join(parts)
            if jsonutil.line_ok(line, raw):
                return line
    return jsonutil.dumps(doc.as_dict(include_metadata))


def doc_pretty(doc: SessionDoc, include_metadata: bool = True) -> bytes:
    """The document as indented JSON with a final newline (``--format json``).

    A document that still has its stored turns is spliced compact (:func:`doc_compact`)
    and re-indented without building Python values when its bytes are already as
    :func:`~neurolink_cli.util.jsonutil.dumps` writes them
    (:func:`~neurolink_cli.util.jsonutil.reindent`), else by one C-level parse of the whole
    line: no per-turn Python work either way.
    """
    if include_metadata and doc.raw_turns is not None and not doc.paged:
        line = doc_compact(doc, include_metadata)  # sound: checked or parsed
        fast = jsonutil.reindent(line)
        if fast is not None:
            return fast + b"\n"
        return jsonutil.dumps(jsonutil.loads(line), pretty=True) + b"\n"
    return jsonutil.dumps(doc.as_dict(include_metadata), pretty=True) + b"\n"


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return value
    return jsonutil.dumps(value).decode()


def turn_content_text(turn: dict[str, Any]) -> str:
    """A turn's content as text for CSV and Markdown (non-string content as JSON)."""
    content = turn.get("content")
    if isinstance(content, str) and content:
        return content
    # Upstream tool turns keep their payload outside ``content`` (output in ``result.result``
    # before v9.11); name the tool with it, since CSV has no tool column.
    payload = {
        k: turn[k] for k in ("tool", "args", "result") if turn.get(k) not in (None, "", {}, [])
    }
    if set(payload) - {"tool"}:
        return jsonutil.dumps(payload).decode()
    if content is None or isinstance(content, str):
        return content or ""
    return jsonutil.dumps(content).decode()


_FORMULA_CHARS = frozenset("=+-@\t\r")  # a cell starting so gets a leading ' (§5)
_NO_TOKENS: dict[str, Any] = {}


def csv_lines(
    doc: SessionDoc,
    include_metadata: bool,
    guard: bool,
    turns: list[dict[str, Any]] | None = None,
) -> list[str]:
    """The CSV text of one session (or of ``turns``, one page of it), one ``...\\r\\n``
    line per turn.

    Byte for byte what :mod:`csv` (``QUOTE_MINIMAL``, ``\\r\\n``) writes for the same
    cells (``tests/test_perf_shape.py`` holds it to that), built with one f-string per turn
    instead: the csv module walks every character of every cell in a loop, which made it the
    bulk of a CSV export's time.
    """

    def field(value: Any) -> str:
        return _field(value, guard)

    head = f"{field(doc.session_id)},{field(doc.user_id)},"
    # Roles, providers and models repeat on almost every row: render each value once.
    memo: dict[Any, str] = {}
    lines: list[str] = []
    append = lines.append
    plain = _PLAIN_CELL
    for turn in doc.turns if turns is None else turns:
        get = turn.get
        content = get("content")
        text = content if content.__class__ is str and content else turn_content_text(turn)
        if get("error") is not None or get("interrupted") is not None:
            label = failure_label(turn)  # no column for it in the contract's header (§9)
            if label is not None:
                text = f"[{label}] {text}" if text else f"[{label}]"
        if guard and text[:1] in _FORMULA_CHARS:  # content: every row, so no function call
            text = "'" + text
        text = _quote(text)
        index = get("index")
        index_s = str(index) if index.__class__ is int else field(index)
        role = get("role")
        role_s = memo.get(role) if role.__class__ is str else None
        if role_s is None:
            role_s = field(role)
            if role.__class__ is str:
                memo[role] = role_s
        ts = get("timestamp")
        ts_s = ts if ts.__class__ is str and plain(ts) else field(ts)
        if include_metadata:
            pm = (get("provider"), get("model"))
            # keyed with the types too: False == 0 == 0.0 would share one rendering
            key = (pm, pm[0].__class__, pm[1].__class__)
            pm_s = memo.get(key)
            if pm_s is None:
                pm_s = memo[key] = f"{field(pm[0])},{field(pm[1])}"
            tokens = get("tokens")
            if tokens.__class__ is not dict:
                tokens = _NO_TOKENS
            prompt, completion = tokens.get("prompt"), tokens.get("completion")
            prompt_s = str(prompt) if prompt.__class__ is int else field(prompt)
            completion_s = str(completion) if completion.__class__ is int else field(completion)
            append(f"{head}{index_s},{role_s},{ts_s},{pm_s},{prompt_s},{completion_s},{text}\r\n")
        else:
            append(f"{head}{index_s},{role_s},{ts_s},{text}\r\n")
    return lines


# A cell the csv module writes as is and the formula guard leaves alone (timestamps).
_PLAIN_CELL = re.compile(r"[0-9A-Za-z][0-9A-Za-z.:_ TZ+-]*").fullmatch


def _quote(text: str) -> str:
    if '"' in text:
        return '"' + text.replace('"', '""') + '"'
    if "," in text or "\n" in text or "\r" in text:
        return '"' + text + '"'
    return text


def _field(value: Any, guard: bool) -> str:
    """One CSV field as the csv module writes it: None empty, non-scalars as JSON, and with
    ``guard`` a leading ``'`` on text a spreadsheet would run as a formula (CONTRACT §5)."""
    if value.__class__ is not str:
        if value is None:
            return ""
        if value.__class__ is int:
            return str(value)
        value = _cell(value)
        if not isinstance(value, str):
            return repr(value) if isinstance(value, float) else str(value)
    if guard and value[:1] in _FORMULA_CHARS:
        value = "'" + value
    return _quote(value)


CHUNK = 1 << 18  # bytes gathered before one write(): few syscalls, bounded memory


class JsonlWriter:
    """One compact JSON document per line, written in chunks of about :data:`CHUNK` bytes."""

    spool = True  # a paged session goes through a spool (False: ``out`` is all-or-nothing)

    def __init__(self, out: IO[bytes], include_metadata: bool = True) -> None:
        self.out = out
        self.include_metadata = include_metadata
        self._parts: list[bytes] = []
        self._size = 0

    def write(self, doc: SessionDoc) -> None:
        if doc.paged:
            self._flush()
            write_paged("jsonl", doc, self.out, self.include_metadata, False, self.spool)
            return
        line = doc_compact(doc, self.include_metadata)
        self._parts += (line, b"\n")
        self._size += len(line) + 1
        if self._size >= CHUNK:
            self._flush()

    def _flush(self) -> None:
        if self._parts:
            self.out.write(b"".join(self._parts))
            self._parts = []
            self._size = 0

    def close(self) -> list[Failure]:
        """Flush; nothing failed late (a bad session raised BadData from write())."""
        self._flush()
        self.out.flush()
        return []


class JsonWriter(JsonlWriter):
    """One indented JSON document (a single session)."""

    def write(self, doc: SessionDoc) -> None:
        if doc.paged:
            write_paged("json", doc, self.out, self.include_metadata, False, self.spool)
            return
        self.out.write(doc_pretty(doc, self.include_metadata))


class CsvWriter:
    """RFC 4180 CSV, one row per turn, one header for the whole stream."""

    spool = True

    def __init__(self, out: IO[bytes], include_metadata: bool = True, guard: bool = True) -> None:
        self.out = out
        self.include_metadata = include_metadata
        self.guard = guard
        header = CSV_HEADER if include_metadata else CSV_HEADER_BARE
        self._lines: list[str] = [",".join(header) + "\r\n"]
        self._size = 0

    def without_header(self) -> CsvWriter:
        """This writer, continuing a stream whose header another writer wrote."""
        self._lines = []
        return self

    def write(self, doc: SessionDoc) -> None:
        if doc.paged:  # with the lines held (the header), all or nothing
            held = "".join(self._lines).encode("utf-8", "backslashreplace")
            write_paged("csv", doc, self.out, self.include_metadata, self.guard, self.spool, held)
            self._lines = []
            self._size = 0
            return
        lines = csv_lines(doc, self.include_metadata, self.guard)
        self._lines += lines
        self._size += len(lines)
        if self._size >= 1000:
            self._flush()

    def _flush(self) -> None:
        if self._lines:
            self.out.write("".join(self._lines).encode("utf-8", "backslashreplace"))
            self._lines = []
            self._size = 0

    def close(self) -> list[Failure]:
        """Flush; nothing failed late (a bad session raised BadData from write())."""
        self._flush()
        self.out.flush()
        return []


class MarkdownWriter:
    """A readable transcript: title, a metadata block, one section per turn."""

    spool = True

    def __init__(self, out: IO[bytes], include_metadata: bool = True) -> None:
        self.out = out
        self.include_metadata = include_metadata

    def write(self, doc: SessionDoc) -> None:
        if doc.paged:
            write_paged("markdown", doc, self.out, self.include_metadata, False, self.spool)
            return
        self.out.write(
            render_markdown(doc, self.include_metadata).encode("utf-8", "backslashreplace")
        )

    def close(self) -> list[Failure]:
        """Flush; nothing failed late (a bad session raised BadData from write())."""
        self.out.flush()
        return []


def render_markdown(doc: SessionDoc, include_metadata: bool = True) -> str:
    """The transcript of a whole session."""
    lines = markdown_head(doc, include_metadata) + markdown_turns(doc.turns, include_metadata)
    return "\n".join(lines)


def markdown_head(doc: SessionDoc, include_metadata: bool = True) -> list[str]:
    """The title and the facts block of a transcript, as lines."""
    title = doc.metadata.get("title") if include_metadata else None
    lines = [f"# {title or 'Conversation ' + doc.session_id}", ""]
    facts = [
        ("Session", doc.session_id),
        ("User", doc.user_id),
        ("Created", doc.created_at),
        ("Updated", doc.updated_at),
    ]
    if include_metadata:
        md = doc.metadata
        facts += [
            ("Provider", md.get("provider")),
            ("Model", md.get("model")),
            ("Turns", md.get("totalTurns")),
            ("Tools used", ", ".join(map(str, md.get("toolsUsed") or [])) or None),
        ]
    for label, value in facts:
        if value not in (None, ""):
            lines.append(f"- **{label}:** {value}")
    lines.append("")
    return lines


def markdown_turns(turns: list[dict[str, Any]], include_metadata: bool = True) -> list[str]:
    """One section per turn, as lines."""
    lines: list[str] = []
    for turn in turns:
        role = str(turn.get("role", "?"))
        heading = f"## {turn.get('index')}. {role.replace('_', ' ').title()}"
        details = [str(turn.get("timestamp") or "")]
        if include_metadata and turn.get("model"):
            details.append(str(turn["model"]))
        failure = failure_label(turn)
        if failure is not None:
            details.append(failure)
        shown = " · ".join(d for d in details if d)
        lines += [heading, ""] + ([f"*{shown}*", ""] if shown else [])
        lines += [turn_content_text(turn), ""]
    return lines
