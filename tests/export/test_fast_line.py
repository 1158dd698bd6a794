"""The fast forms of the export hot path against the code they replaced (kept in
tests/support/fast_line_reference.py): a session's document from its replies
(``session_doc``), its compact line (``doc_compact``) and the line's check (``line_ok``)
give the same documents, the same bytes and the same answers, on sound and broken data,
odd metadata (``meta.*``/``doc.*`` fields, names holding line breaks or the prefixes
elsewhere, unicode, nested values, numbers no float holds, lone surrogates).
"""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from neurolink_cli.export import formats
from neurolink_cli.models import SessionDoc
from neurolink_cli.store import nativedoc
from neurolink_cli.util import jsonutil
from tests.support import fast_line_reference as ref

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
texts = st.one_of(
    st.text(max_size=12),
    st.text(alphabet=st.sampled_from('ab"\\\n\r\t/é東😀\x00\x7f'), max_size=8),
    st.builds(lambda a, s, b: a + s + b, st.text(max_size=3), surrogates, st.text(max_size=3)),
    st.sampled_from(['"turns":[]', "turns", "metadata", "sessionId", "meta.x", "doc.y"]),
)
numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([jsonutil.RawNumber("1e400"), jsonutil.RawNumber("3.14159265358979323846")]),
)
values = st.recursive(
    st.one_of(st.none(), st.booleans(), numbers, texts),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)


def _json(value: Any) -> bytes:
    return jsonutil.dumps(value)


stored_values = st.one_of(
    values.map(_json),
    st.binary(max_size=8),
    st.sampled_from([b"", b"[]", b"[1", b"{}", b"nope", b"\xff\xfe", b"12", b" 7 ", b"-3"]),
    texts.map(lambda t: t.encode("utf-8", "surrogatepass")),
)
field_names = st.one_of(
    st.sampled_from([b"provider", b"model", b"title", b"errorCount", b"totalTurns", b"toolsUsed",
                     b"sessionId", b"userId", b"createdAt", b"updatedAt", b"nextIndex", b"w:abc"]),
    texts.map(lambda t: b"meta." + t.encode("utf-8", "surrogatepass")),
    texts.map(lambda t: b"doc." + t.encode("utf-8", "surrogatepass")),
    st.sampled_from([b"meta.", b"doc.", b"x\nmeta.y", b"xmeta.y", b"META.x", b"doc", b"\xffmeta.z"]),
    st.binary(max_size=6),
)  # fmt: skip
metas = st.dictionaries(field_names, stored_values, max_size=12)

turn_dicts = st.dictionaries(
    st.sampled_from(["index", "role", "content", "timestamp", "model", "tokens", "é"]), values,
    max_size=5,
)  # fmt: skip
BAD_TURNS = [
    b"{not json at all}", b'{"index":2}{"index":3}', b'{"c":"\xff"}', b'{"index":1,"content":NaN}',
    b'{"index":1},{"index":2}', b'{"index":1}],"turns":[{"index":2}', b'{"c":"\\ud800x"}',
    b'{"c":"a\nb"}', b'{"a":1}\n', b' {"index":1} ', b"[1,2]", b'"str"', b"", b"{", b"}",
    b'{"n":340282366920938463463374607431768211455,"f":3.141592653589793238462643383279}',
    b'{"k":1,"k":2}', b'{"a":[{}', b"{}]}", b'{"a":1}\r',
]  # fmt: skip
raw_turn = st.one_of(
    turn_dicts.map(_json),
    turn_dicts.map(_json),
    st.sampled_from(BAD_TURNS),
    st.binary(max_size=6),
)
raw_turns = st.lists(raw_turn, max_size=6)


def _fields(doc: SessionDoc) -> tuple[Any, ...]:
    return (
        doc.session_id, doc.user_id, doc.created_at, doc.updated_at,
        list(doc.metadata.items()), list(doc.extra.items()), doc.problems, doc.raw_turns,
    )  # fmt: skip


def _same(a: Any, b: Any) -> bool:
    """Equal, and NaN-free values in the same order (repr tells 0.0 from -0.0)."""
    return repr(a) == repr(b)


def _outcome(fn: Any, *args: Any) -> tuple[str, Any]:
    try:
        return "ok", fn(*args)
    except Exception as exc:  # noqa: BLE001 - the same error is what is compared
        return "error", (type(exc), str(exc))


@SETTINGS
@given(metas, raw_turns, st.booleans())
@example({b"w:x": b"1", b"x\nmeta.y": b"2"}, [], False)
@example({b"meta.a": b'{"b":[1,{"c":"\xc3\xa9"}]}', b"doc.turns": b"[1]"}, [b"{}"], False)
def test_session_doc_is_the_reference(
    meta: dict[bytes, bytes], raws: list[bytes], as_str: bool
) -> None:
    if as_str:  # a client that decodes replies
        meta = {k.decode("utf-8", "surrogateescape"): v.decode("utf-8", "surrogateescape")  # type: ignore[misc]
                for k, v in meta.items()}  # fmt: skip
    new = _outcome(lambda: _fields(nativedoc.session_doc("sid", "mkey", dict(meta), list(raws))))
    old = _outcome(lambda: _fields(ref.session_doc("sid", "mkey", dict(meta), list(raws))))
    assert _same(new, old)


heads = st.one_of(st.none(), texts, values)


@SETTINGS
@given(metas, raw_turns, st.dictionaries(texts, values, max_size=3), heads, heads)
@example({}, [b'{"a":1}'], {}, {"turns": []}, None)
@example({}, [b'{"a":1}'], {"x": 2**70, "turns": 1, "metadata": 2}, "u", "2026")
def test_doc_compact_is_the_reference(meta: dict[bytes, bytes], raws: list[bytes],
                                      extra: dict[str, Any], user: Any, created: Any) -> None:  # fmt: skip
    def build(make: Any) -> SessionDoc:
        doc: SessionDoc = make("sid", "mkey", dict(meta), list(raws))
        doc.extra.update(extra)
        if user is not None:
            doc.user_id = user
        if created is not None:
            doc.created_at = created
        return doc

    for make in (ref.session_doc, nativedoc.session_doc):
        new = _outcome(formats.doc_compact, build(make))
        old = _outcome(ref.doc_compact, build(make))
        assert new == old


@SETTINGS
@given(metas, raw_turns)
def test_line_ok_is_the_reference(meta: dict[bytes, bytes], raws: list[bytes]) -> None:
    doc = ref.session_doc("sid", "mkey", meta, raws)
    line = formats._compact_parts(doc, b",".join(raws))  # the line as doc_compact built it
    assert jsonutil.line_ok(line, raws) == ref.line_ok(line, raws)


def test_a_fast_line_is_the_document() -> None:
    raws = [b'{"index":0,"content":"caf\xc3\xa9 1e5"}', b'{"index":1,"n":1e5}']
    doc = nativedoc.session_doc("s", "m", {b"sessionId": b"s", b"meta.k": b"[1]"}, raws)
    line = formats.doc_compact(doc)
    assert line == ref.doc_compact(
        ref.session_doc("s", "m", {b"sessionId": b"s", b"meta.k": b"[1]"}, raws)
    )
    assert orjson.loads(line)["turns"][1] == {"index": 1, "n": 100000.0}
    assert b'"n":1e5' in line  # spliced as stored
