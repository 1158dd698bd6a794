"""The CSV writer builds lines itself: it must write exactly what the csv module writes
(QUOTE_MINIMAL, CRLF) for the contract's rows (:func:`csv_rows` here), for any content."""

from __future__ import annotations

import csv
import io
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neurolink_cli.export.formats import CSV_HEADER, CSV_HEADER_BARE, CsvWriter, turn_content_text
from neurolink_cli.models import SessionDoc

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
    {"index": st.integers(0, 10**6), "role": TEXT, "content": TEXT | st.lists(SCALAR, max_size=3)},
    optional={
        "timestamp": TEXT,
        "provider": SCALAR,
        "model": SCALAR,
        "tokens": st.fixed_dictionaries({}, optional={"prompt": SCALAR, "completion": SCALAR})
        | SCALAR,
        "result": SCALAR | st.dictionaries(st.text(max_size=3), SCALAR, max_size=2),
    },
)


def _cell(value: Any, guard: bool) -> Any:
    """A cell as CONTRACT §5 describes it, for the csv module to write."""
    if value is None:
        return ""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        value = orjson.dumps(value).decode()
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
        cells.append(turn_content_text(t))
        rows.append([_cell(c, guard) for c in cells])
    return rows


def _csv_module(doc: SessionDoc, include_metadata: bool, guard: bool) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(CSV_HEADER if include_metadata else CSV_HEADER_BARE)
    w.writerows(csv_rows(doc, include_metadata, guard))
    return buf.getvalue().encode("utf-8", "surrogatepass")


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
