"""The CSV writer builds lines itself: it must write exactly what the csv module writes
(QUOTE_MINIMAL, CRLF) for the contract's rows (:func:`csv_rows` here), for any content."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neurolink_cli.errors import BadData
from neurolink_cli.export.formats import CSV_HEADER, CSV_HEADER_BARE, CsvWriter, turn_content_text
from neurolink_cli.failures import failure_label
from neurolink_cli.models import SessionDoc, parse_turns
from neurolink_cli.util import jsonutil

TEXT = st.text(
    alphabet=st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Z", "Cc")),
    max_size=40,
) | st.sampled_from(["", "=1+1", "-x", "@a", "\tx", "\rx", 'a "q", b', "l1\nl2", "a,b", "+"])
SCALAR = (
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT
)
TURN = st.fixed_dictionaries(
    {
        "index": st.integers(0, 10**6) | SCALAR,
        "role": TEXT | SCALAR | st.lists(SCALAR, max_size=2),
        "content": TEXT | st.lists(SCALAR, max_size=3),
    },
    optional={
        "timestamp": TEXT | SCALAR,
        "provider": SCALAR,
        "model": SCALAR,
        "tokens": st.fixed_dictionaries({}, optional={"prompt": SCALAR, "completion": SCALAR})
        | SCALAR,
        "result": SCALAR | st.dictionaries(st.text(max_size=3), SCALAR, max_size=2),
        "tool": SCALAR,
        "error": st.fixed_dictionaries(
            {}, optional={"type": SCALAR, "message": SCALAR, "status": SCALAR}
        )
        | SCALAR,
        "interrupted": SCALAR,
        "latencyMs": SCALAR,
    },
)


def _cell(value: Any, guard: bool) -> Any:
    """A cell as CONTRACT §5 describes it, for the csv module to write."""
    if value is None:
        return ""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        value = jsonutil.dumps(value).decode()  # exact numbers (a RawNumber) too
    if guard and isinstance(value, str) and value.startswith(("=", "+", "-", "@", "\t", "\r")):
        value = "'" + value
    return value


def csv_rows(doc: SessionDoc, include_metadata: bool, guard: bool) -> list[list[Any]]:
    """The reference: the rows of one session, straight from the contract."""
    rows = []
    for t in doc.turns:
        tokens = t.get("tokens") if isinstance(t.get("tokens"), dict) else {}
        cells = [doc.session_id, doc.user_id, t.get("index"), t.get("role"), t.get("timestamp")]
        if include_metadata:
            cells += [t.get("provider"), t.get("model"), tokens.get("prompt"),
                      tokens.get("completion")]  # fmt: skip
        text, label = turn_content_text(t), failure_label(t)  # §9: no column for it
        cells.append(text if label is None else f"[{label}] {text}" if text else f"[{label}]")
        rows.append([_cell(c, guard) for c in cells])
    return rows


def _csv_module(doc: SessionDoc, include_metadata: bool, guard: bool) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(CSV_HEADER if include_metadata else CSV_HEADER_BARE)
    w.writerows(csv_rows(doc, include_metadata, guard))
    return buf.getvalue().encode("utf-8", "backslashreplace")


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    sid=TEXT,
    uid=st.none() | TEXT,
    turns=st.lists(TURN, max_size=4),
    include_metadata=st.booleans(),
    guard=st.booleans(),
)
def test_csv_writer_writes_what_the_csv_module_writes(
    sid: str, uid: str | None, turns: list[dict[str, Any]], include_metadata: bool, guard: bool
) -> None:
    def doc() -> SessionDoc:
        d = SessionDoc(sid, uid, None, None, {})
        d.turns = [dict(t) for t in turns]
        return d

    out = io.BytesIO()
    writer = CsvWriter(out, include_metadata, guard)
    writer.write(doc())
    writer.close()
    assert out.getvalue() == _csv_module(doc(), include_metadata, guard)


# -- the stored-bytes path: turns decoded straight into cells, or parsed when it cannot --
def _dumps_variants(turn: dict[str, Any]) -> list[bytes]:
    """The same turn as different writers store it: compact, ASCII escapes, spaces and
    line breaks, a key written twice (the last one counts), a field CSV does not read."""
    compact = json.dumps(turn, separators=(",", ":"), ensure_ascii=False)
    out = [
        compact.encode("utf-8", "surrogatepass"),
        json.dumps(turn).encode(),  # \uXXXX escapes, ", " and ": "
        json.dumps(turn, indent=1, ensure_ascii=False).encode("utf-8", "surrogatepass"),
        ('{"content":"shadowed","index":-1,' + compact[1:]).encode("utf-8", "surrogatepass")
        if len(turn)
        else b'{"content":"shadowed"}',
        ('{"latencyMs":1.5e999,"other":["x"],' + compact[1:]).encode("utf-8", "surrogatepass")
        if len(turn)
        else b'{"other":null}',
    ]
    return out


ODD_TURNS = st.sampled_from([
    b'[1]', b'"x"', b"not json", b"", b'{"content":"a"}{"content":"b"}',
    b'{"content":"a","other":"\xff"}', b'{"content":"a","latencyMs":"\xed\xa0\x80"}',
    b'{"content":"\xc3"}', b'{"content":"\\ud800 cut","role":"assistant"}',
    b'{"content":"x","other":"\\udc00"}', b'{"index":' + b"9" * 5000 + b',"content":"big"}',
    b'{"index":1e999,"content":"x"}', b'{"tokens":{"prompt":1,"prompt":"two"},"content":"x"}', b'{"tokens":{"prompt":1,"total":3},"content":"x"}',
    b'{"tokens":null,"content":"x"}', b'{"tokens":[1,2],"content":"x"}',
    b'{"\\u0063ontent":"escaped key","role":"user"}', b'{"content":"=1","error":{"type":"x"}}',
    b'{"content":"","tool":"t","args":{"a":1}}', b'{"content":"a","interrupted":true}',
])  # fmt: skip


def _rows_or_error(doc: SessionDoc, include_metadata: bool, guard: bool) -> bytes | str:
    out = io.BytesIO()
    writer = CsvWriter(out, include_metadata, guard)
    try:
        writer.write(doc)
    except BadData as exc:
        return str(exc)
    writer.close()
    return out.getvalue()


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(
    uid=st.none() | TEXT,
    turns=st.lists(
        st.tuples(TURN, st.integers(0, 4)).map(lambda p: _dumps_variants(p[0])[p[1]]) | ODD_TURNS,
        max_size=4,
    ),
    include_metadata=st.booleans(),
    guard=st.booleans(),
    paged=st.booleans(),
)
def test_csv_of_stored_turns_is_csv_of_the_parsed_turns(
    uid: str | None, turns: list[bytes], include_metadata: bool, guard: bool, paged: bool
) -> None:
    """Whatever the bytes, the rows (or the BadData naming a bad turn) are those of the
    turns as every reader parses them."""
    try:
        parsed: list[dict[str, Any]] | str = parse_turns(turns, "s-1")
    except BadData as exc:
        parsed = str(exc)
    if isinstance(parsed, str):
        expected: bytes | str = parsed
    else:
        whole = SessionDoc("s-1", uid, None, None, {})
        whole.turns = parsed
        expected = _csv_module(whole, include_metadata, guard)
    doc = SessionDoc("s-1", uid, None, None, {}, raw_turns=list(turns))
    if paged:  # a huge session: its turns in pages of one
        doc.raw_turns, doc.more = turns[:1], iter([[t] for t in turns[1:]])
    assert _rows_or_error(doc, include_metadata, guard) == expected


def test_plain_stored_turns_are_not_parsed_into_dicts(monkeypatch: Any) -> None:
    """The point of the stored-bytes path: turns of the contract's fields become rows
    without a dict per turn (the full parse is only the fallback)."""
    from neurolink_cli.export import formats

    def refuse(*_args: Any) -> None:
        raise AssertionError("parsed")

    monkeypatch.setattr(formats, "parse_turns", refuse)
    raws = [
        b'{"index":0,"role":"user","content":"hi, \\"you\\"","timestamp":"2026-01-01T00:00:01.000Z"}',
        b'{"index":1,"role":"assistant","content":"=x\\ny","timestamp":"2026-01-01T00:00:02.000Z",'
        b'"model":"m","provider":"p","tokens":{"prompt":1,"completion":2},"latencyMs":5,'
        b'"cost":0.5,"toolCalls":[{"name":"t"}]}',
    ]
    doc = SessionDoc("s-1", "u", None, None, {}, raw_turns=raws)
    assert formats.csv_lines(doc, True, True) == [
        's-1,u,0,user,2026-01-01T00:00:01.000Z,,,,,"hi, ""you"""\r\n',
        's-1,u,1,assistant,2026-01-01T00:00:02.000Z,p,m,1,2,"\'=x\ny"\r\n',
    ]
