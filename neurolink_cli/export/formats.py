"""Formatters: a document in, bytes out, one session at a time.

Every writer has the same shape: ``write(doc)`` for each session, then ``close()``. They
write bytes to a binary stream (``sys.stdout.buffer`` or a file), never through
``click.echo``. Which writer serves which format is the table in
:mod:`~neurolink_cli.export.registry`. JSON and JSONL splice a document's raw stored turns when it still has them
(see :class:`~neurolink_cli.models.SessionDoc`); CSV decodes them straight into the cells
of its rows (:func:`csv_stored_lines`); Markdown reads parsed turns.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import IO, Any

import msgspec
import orjson

from neurolink_cli.export.streaming import write_paged
from neurolink_cli.failures import failure_label
from neurolink_cli.models import SessionDoc, parse_turns
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


_LEFT_OUT = ("sessionId", "userId", "createdAt", "updatedAt", "turns", "metadata")


def doc_compact(doc: SessionDoc, include_metadata: bool = True) -> bytes:
    """The document as one line of compact JSON (no newline), keys in contract order.

    The stored turns are spliced unparsed when the whole line passes
    :func:`~neurolink_cli.util.jsonutil.line_ok` (every turn exactly one JSON object, the
    line valid UTF-8 JSON); otherwise they are parsed, which names a bad one (BadData).

    The hot path of ``export-all``: the line is one orjson call on the document's fields,
    its ``turns`` the stored turns joined, one fragment orjson copies in as is. What
    orjson alone cannot write is written field by field (:func:`_compact_parts`, with the
    fallbacks of :func:`~neurolink_cli.util.jsonutil.dumps`): the same bytes either way.
    """
    raw = doc.raw_turns if include_metadata and not doc.paged else None
    if raw is not None:
        try:
            joined = b",".join(raw)
        except TypeError:  # not bytes
            pass
        else:
            fields = {
                "sessionId": doc.session_id,
                "userId": doc.user_id,
                "createdAt": doc.created_at,
                "updatedAt": doc.updated_at,
                "turns": [orjson.Fragment(joined)],  # no copy of it with its brackets
                "metadata": doc.metadata,
            }
            if doc.extra:
                for key, value in doc.extra.items():
                    if key not in _LEFT_OUT:
                        fields[key] = value
            try:
                line = orjson.dumps(fields, default=jsonutil.fragment)
            except orjson.JSONEncodeError:
                line = _compact_parts(doc, joined)
            if jsonutil.line_ok(line, raw):
                return line
    return jsonutil.dumps(doc.as_dict(include_metadata))


def _compact_parts(doc: SessionDoc, joined: bytes) -> bytes:
    """The line of :func:`doc_compact`, each field written on its own by
    :func:`~neurolink_cli.util.jsonutil.dumps` (with its fallbacks)."""
    head = jsonutil.dumps(doc.head())
    parts = [head[:-1], b',"turns":[', joined, b'],"metadata":', jsonutil.dumps(doc.metadata)]
    for key, value in doc.extra.items():
        if key not in _LEFT_OUT:
            parts += [b",", jsonutil.dumps(key), b":", jsonutil.dumps(value)]
    parts.append(b"}")
    return b"".join(parts)


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


class _Cells(msgspec.Struct, gc=False):
    """A turn as a CSV row reads it: any JSON value each, None when absent (its other fields
    are not read: converted from a dict, they are left there)."""

    index: Any = None
    role: Any = None
    content: Any = None
    timestamp: Any = None
    provider: Any = None
    model: Any = None
    tokens: Any = None
    error: Any = None
    interrupted: Any = None


class _Tokens(msgspec.Struct, gc=False, forbid_unknown_fields=True):
    """A stored turn's ``tokens`` object (any other field: the turn is parsed in full)."""

    prompt: Any = None
    completion: Any = None


class _StoredCells(_Cells, forbid_unknown_fields=True):
    """A stored turn decoded straight into its cells. Every field a turn may have (CONTRACT
    §3, and the tool fields of imported turns) is named, so msgspec reads each value whole
    (strict UTF-8 included) and a turn with another field is refused (then parsed in
    full): nothing is skipped unchecked."""

    tokens: _Tokens | None = None  # (not an object: the turn is parsed in full)
    latencyMs: Any = None  # noqa: N815 - the stored name
    cost: Any = None
    toolCalls: Any = None  # noqa: N815
    tool: Any = None
    args: Any = None
    result: Any = None


_DECODE_CELLS = jsonutil.typed_decoder(_StoredCells)
_CELLS_OF_DICTS = list[_Cells]
_TEXT_OR_NONE = frozenset((str, type(None)))


def csv_lines(
    doc: SessionDoc,
    include_metadata: bool,
    guard: bool,
    turns: list[dict[str, Any]] | None = None,
) -> list[str]:
    """The CSV text of one session (or of ``turns``, one page of it), one ``...\\r\\n``
    line per turn. A session whose stored turns are still unparsed is read from them
    (:func:`csv_stored_lines`)."""
    if turns is None and doc.raw_turns is not None and not doc.paged:
        return csv_stored_lines(doc, doc.raw_turns, include_metadata, guard)
    return _csv_of_turns(doc, doc.turns if turns is None else turns, include_metadata, guard)


def csv_stored_lines(doc: SessionDoc, raws: list[bytes], include_metadata: bool, guard: bool,
                     offset: int = 0) -> list[str]:  # fmt: skip
    """The CSV lines of stored turns ``raws`` (``offset``: the first one's position in the
    session), each decoded straight into the cells a row reads (:class:`_StoredCells`): no
    dict is built. When that fails (a turn with a field it does not name, one that is not a
    JSON object, or what only the full parser reads: a lone surrogate escape, a number
    beyond a float) the turns are parsed as every reader parses them, which names a bad
    turn (BadData) or reads them: the rows are those of the same values either way."""
    try:
        cells = list(map(_DECODE_CELLS, raws))
    except (msgspec.DecodeError, ValueError, RecursionError, TypeError):
        return _csv_of_turns(doc, parse_turns(raws, doc.session_id, offset), include_metadata,
                             guard)  # fmt: skip
    return _csv_rows(doc, cells, lambda i: jsonutil.loads(raws[i]), include_metadata, guard)


def _csv_of_turns(doc: SessionDoc, turns: list[dict[str, Any]], include_metadata: bool,
                  guard: bool) -> list[str]:  # fmt: skip
    cells = msgspec.convert(turns, _CELLS_OF_DICTS)
    return _csv_rows(doc, cells, turns.__getitem__, include_metadata, guard)


def _csv_rows(doc: SessionDoc, cells: list[_Cells], turn_at: Callable[[int], dict[str, Any]],
              include_metadata: bool, guard: bool) -> list[str]:  # fmt: skip
    """The lines of the turns whose cells are ``cells``; ``turn_at(i)`` is turn ``i`` whole,
    asked for only when its content is not plain text or it failed.

    Byte for byte what :mod:`csv` (``QUOTE_MINIMAL``, ``\\r\\n``) writes for the same
    cells (``tests/export/test_csv_equivalence.py`` holds it to that), built with one
    f-string per turn: the csv module walks every character of every cell in a loop, which
    made it the bulk of a CSV export's time. A cell that is text or an int is written
    here inline; anything else goes through :func:`_field`."""
    formula = _FORMULA_CHARS if guard else frozenset()
    head = f"{_field(doc.session_id, guard)},{_field(doc.user_id, guard)},"
    # (role, provider, model) repeat on almost every row: their cells are rendered once per
    # session (:func:`_around_ts`, which keeps only those of text or None: False == 0 == 0.0
    # would share one rendering, and a list or an object cannot be a key).
    memo: dict[tuple[Any, Any, Any], tuple[str, str]] = {}
    lines: list[str] = []
    append = lines.append
    for i, cell in enumerate(cells):
        text = cell.content
        # (a falsy ``interrupted`` labels nothing: no need to look at the whole turn)
        if text.__class__ is not str or not text or cell.error is not None or cell.interrupted:
            text = _content_cell(turn_at(i))
        if text[:1] in formula:  # content: every row, so no function call
            text = "'" + text
        if '"' in text:
            text = '"' + text.replace('"', '""') + '"'
        elif "," in text or "\n" in text or "\r" in text:
            text = '"' + text + '"'
        index = cell.index
        if index.__class__ is not int:
            index = _field(index, guard)
        ts = cell.timestamp
        if (
            ts.__class__ is not str
            or ts[:1] in formula
            or '"' in ts
            or "," in ts
            or "\n" in ts
            or "\r" in ts
        ):
            ts = _field(ts, guard)
        key = (cell.role, cell.provider, cell.model)
        try:
            before, after = memo[key]
        except (KeyError, TypeError):  # the first of these, or a list or object
            before, after = _around_ts(key, memo, include_metadata, guard)
        if not include_metadata:
            append(f"{head}{index},{before}{ts},{text}\r\n")
            continue
        tokens: Any = cell.tokens  # _Tokens decoded, a dict converted, or anything
        if tokens.__class__ is _Tokens:
            prompt, completion = tokens.prompt, tokens.completion
        elif tokens.__class__ is dict:
            prompt, completion = tokens.get("prompt"), tokens.get("completion")
        else:
            append(f"{head}{index},{before}{ts}{after},,,{text}\r\n")
            continue
        if prompt.__class__ is not int:
            prompt = _field(prompt, guard)
        if completion.__class__ is not int:
            completion = _field(completion, guard)
        append(f"{head}{index},{before}{ts}{after},{prompt},{completion},{text}\r\n")
    return lines


def _around_ts(key: tuple[Any, Any, Any], memo: dict[tuple[Any, Any, Any], tuple[str, str]],
               include_metadata: bool, guard: bool) -> tuple[str, str]:  # fmt: skip
    """The cells of (role, provider, model) around the timestamp's: ``role,`` before it,
    ``,provider,model`` after it (nothing without metadata); kept in ``memo`` when all three
    are text or None, whose equal values render equally."""
    role, provider, model = key
    after = f",{_field(provider, guard)},{_field(model, guard)}" if include_metadata else ""
    around = f"{_field(role, guard)},", after
    if {role.__class__, provider.__class__, model.__class__} <= _TEXT_OR_NONE:
        memo[key] = around
    return around


def _content_cell(turn: dict[str, Any]) -> str:
    """The content cell's text of a turn whose content is not plain text, or that failed:
    its text (:func:`turn_content_text`) after its failure label (no column for it, §9)."""
    text = turn_content_text(turn)
    if turn.get("error") is not None or turn.get("interrupted") is not None:
        label = failure_label(turn)
        if label is not None:
            text = f"[{label}] {text}" if text else f"[{label}]"
    return text


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
