"""``memory list`` rows of the TypeScript layout from the typed decode that skips message
bodies (:mod:`neurolink_cli.store.upstreamlist`) are exactly the rows of the full read.

The reference is the code as it was before (kept below): for any stored value (sessions of
every shape, broken JSON, invalid UTF-8, lone surrogates, huge numbers, duplicate keys,
nesting at the parser's depth limit) both give the same rows and the same unreadable keys.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any, cast

from hypothesis import given, settings
from hypothesis import strategies as st

from neurolink_cli.models import SOURCE_UPSTREAM, SessionSummary, Unreadable
from neurolink_cli.store import upstreamlist
from neurolink_cli.store.upstream import UpstreamStore, _Entry
from neurolink_cli.store.upstreamdoc import derived, str_or_none, user_of
from neurolink_cli.util import jsonutil
from neurolink_cli.util.timeutil import stored_to_ms

PREFIX = "neurolink:conversation:"


class Stored(UpstreamStore):
    """A store whose keys are the given entries (no Redis)."""

    def __init__(self, entries: list[_Entry]) -> None:
        super().__init__(cast(Any, None), PREFIX)
        self.given = entries

    def key_pages(self, user_id: str | None = None) -> Iterator[list[bytes]]:
        return iter([[e.key for e in self.given]])

    def _read_batches(self, batches: Iterable[list[bytes]], with_ttl: bool = True) -> Any:
        for _ in batches:
            yield self.given


def reference(
    store: UpstreamStore,
    since_ms: int | None = None,
    until_ms: int | None = None,
    user_id: str | None = None,
) -> Iterator[SessionSummary | Unreadable]:
    """``UpstreamStore.summaries`` as it was: every value read whole."""
    for entry in store._entries(user_id):
        data = store._session_data(entry)
        if data is None:
            continue
        if isinstance(data, Unreadable):
            yield data
            continue
        user = user_of(data)
        if user_id is not None and user != user_id:
            continue
        updated_at = str_or_none(data.get("updatedAt"))
        if since_ms is not None or until_ms is not None:
            updated = stored_to_ms(updated_at) or 0
            if since_ms is not None and updated < since_ms:
                continue
            if until_ms is not None and updated >= until_ms:
                continue
        messages = data["messages"]
        yield SessionSummary(
            session_id=data["sessionId"],
            user_id=user,
            created_at=str_or_none(data.get("createdAt")),
            updated_at=updated_at,
            turns=len(messages),
            model=derived(messages, set().union(*messages))[1],
            title=str_or_none(data.get("title")),
            source=SOURCE_UPSTREAM,
            ttl=entry.ttl,
        )


def shown(rows: list[SessionSummary | Unreadable]) -> list[Any]:
    return [jsonutil.dumps(r.as_dict()) if isinstance(r, SessionSummary) else repr(r) for r in rows]


def same_rows(values: list[bytes], **filters: Any) -> None:
    entries = [
        _Entry(f"{PREFIX}u:{i}".encode(), "string", v, 60 * i or None) for i, v in enumerate(values)
    ]
    store = Stored(entries)
    want = list(reference(store, **filters))
    got = list(upstreamlist.summaries(store, **filters))
    assert shown(got) == shown(want)


# -- values --------------------------------------------------------------------------------
SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**30), 10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
    st.sampled_from(["", "randomUser", "gpt-4o", "2026-01-01T00:00:00.000Z", "\U0001f600"]),
)
JSONISH = st.recursive(
    SCALAR,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
META = st.one_of(
    JSONISH,
    st.fixed_dictionaries(
        {"model": st.sampled_from(["m1", "m2", "", None, 0])}, optional={"provider": JSONISH}
    ),
    st.fixed_dictionaries({}, optional={"model": JSONISH, "provider": JSONISH}),
)
MESSAGE_OBJECT = st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "assistant"]), "content": st.text(max_size=12)},
    optional={"metadata": META, "tool": JSONISH, "x": JSONISH},
)
MESSAGE = st.one_of(MESSAGE_OBJECT, SCALAR)  # a scalar is not a message: the full read says so
FIELDS = {
    "sessionId": st.one_of(st.text(max_size=6), SCALAR),
    "messages": st.one_of(st.lists(MESSAGE, max_size=4), SCALAR),
    "userId": SCALAR,
    "createdAt": SCALAR,
    "updatedAt": SCALAR,
    "title": JSONISH,
    "other": JSONISH,
}
SESSION = st.fixed_dictionaries({}, optional=FIELDS)
WELL_FORMED = st.fixed_dictionaries(  # what the SDK writes, mostly
    {
        "sessionId": st.text(min_size=1, max_size=6),
        "messages": st.lists(MESSAGE_OBJECT, max_size=5),
    },
    optional={k: v for k, v in FIELDS.items() if k not in ("sessionId", "messages")},
)


@st.composite
def stored_values(draw: st.DrawFn) -> bytes:
    """A stored value: a session (or near one) serialised, maybe broken afterwards."""
    doc = draw(st.one_of(WELL_FORMED, WELL_FORMED, SESSION, st.lists(MESSAGE, max_size=3), JSONISH))
    text = json.dumps(doc, ensure_ascii=draw(st.booleans()))
    if draw(st.booleans()) and isinstance(doc, dict) and doc:  # a key written twice
        key = draw(st.sampled_from(sorted(doc)))
        text = "{" + json.dumps(key) + ":" + json.dumps(draw(JSONISH)) + "," + text[1:]
    data = text.encode("utf-8", "surrogatepass")
    edit = draw(
        st.sampled_from(["none", "none", "insert", "delete", "in-string", "surrogate", "number"])
    )
    at = draw(st.integers(0, len(data)))
    if edit == "insert":
        data = data[:at] + draw(st.sampled_from([b"\xff", b"\xed\xa0\x80", b"\xc3", b"]", b","]))
        data += data[at:]
    elif edit == "delete":
        data = data[:at] + data[at + 1 :]
    elif edit == "in-string":  # where the fast read skips: bytes that are not UTF-8
        bad = draw(st.sampled_from([b"\xff", b"\xed\xa0\x80", b"\xc3", b"\xc0\x80", b"\x01"]))
        data = data.replace(b'"content": "', b'"content": "' + bad, 1)
    elif edit == "surrogate":
        data = data.replace(b'"content": "', b'"content": "\\ud83d', 1)
    elif edit == "number":
        data = data.replace(b'"content": ', b'"content": 1' + b"7" * 5000 + b', "c": ', 1)
    return data


@settings(max_examples=400, deadline=None)
@given(values=st.lists(stored_values(), max_size=6))
def test_rows_are_those_of_the_full_read(values: list[bytes]) -> None:
    same_rows(values)


@settings(max_examples=60, deadline=None)
@given(values=st.lists(stored_values(), max_size=6), user=st.sampled_from(["", "a", "randomUser"]))
def test_filtered_rows_are_those_of_the_full_read(values: list[bytes], user: str) -> None:
    same_rows(values, user_id=user, since_ms=0, until_ms=2_000_000_000_000)


def test_the_fast_read_gives_up_on_nesting_no_later_than_the_full_read() -> None:
    """Where the parsers give up on nesting depends on how deep in the stack they are
    called (as it always did); called as deep, the fast read never keeps what the full read
    refuses: it decodes the value one level deeper."""
    store = Stored([])
    shapes = [(b"[", b"]"), (b'{"a":', b"}"), (b'[{"a":', b"}]"), (b'{"a":[', b"]}")]
    kept = refused = 0
    for field in (b"x", b"metadata"):
        for opener, closer in shapes:
            for depth in [*range(470, 510), *range(960, 1010)]:
                value = b'{"sessionId":"s","messages":[{"' + field + b'":'
                value += opener * depth + b"1" + closer * depth + b"}]}"
                entry = _Entry(b"k", "string", value, None)
                fast = upstreamlist._fast_row(entry)  # two calls down to the parser
                full = store._session_data(entry)  # two calls down to the parser too
                if fast is not None:
                    assert isinstance(full, dict), (field, opener, depth)
                    kept += 1
                refused += isinstance(full, Unreadable)
    assert kept and refused  # both sides of the limit were met


def test_plain_sessions_take_the_fast_read() -> None:
    value = json.dumps(
        {
            "sessionId": "s",
            "userId": "u",
            "messages": [{"role": "user", "metadata": {"model": "m"}}],
        }
    ).encode()
    row = upstreamlist._fast_row(_Entry(b"k", "string", value, None))
    assert row is not None and (row.session_id, row.user_id, row.model) == ("s", "u", "m")


# -- memory delete's selection reads the same fields the same way ----------------------------
def selected_reference(store: UpstreamStore) -> list[tuple[Any, ...]]:
    """What ``memory delete`` selected by before: every value read whole into a document."""
    return [
        (entry.key, doc.session_id, doc.user_id, doc.updated_at, stored_user)
        for entry, doc, stored_user in store.session_entries()
    ]


@settings(max_examples=400, deadline=None)
@given(values=st.lists(stored_values(), max_size=6))
def test_delete_selection_is_that_of_the_full_read(values: list[bytes]) -> None:
    entries = [_Entry(f"{PREFIX}u:{i}".encode(), "string", v, None) for i, v in enumerate(values)]
    store = Stored(entries)
    got = [(e.key, *rest) for e, *rest in upstreamlist.selection_entries(store)]
    assert got == selected_reference(store)
