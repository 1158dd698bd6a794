"""nativelist.summary_rows (each reply unpacked, each field decoded where used) gives the rows,
the prunes and the errors of the function it replaced (a list and a decode of every field
per reply, from one script reply per session), on hypothesis-generated replies with bad
values too. It reads the pipeline's replies (HMGET, LLEN, TTL per session): the old one is
given the same values as the script's ``[*fields, LLEN, TTL]``."""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from neurolink_cli.models import SOURCE_NATIVE, SessionSummary
from neurolink_cli.store import nativelist
from neurolink_cli.store.nativedoc import SUMMARY_FIELDS, as_int

_N = len(SUMMARY_FIELDS)


class Pruned:
    """A stand-in for the store: records the members it is told are gone."""

    def __init__(self) -> None:
        self.pruned: list[tuple[str, float]] = []

    def _prune_member(self, sid: str, score: float) -> None:
        self.pruned.append((sid, score))


def old_summary_rows(
    store: Any, rows: Any, found: list[Any], user_id: str | None, out: list[SessionSummary]
) -> int:
    """summary_rows before issue 14, kept here as the reference."""
    gone = 0
    for (sid, score), reply in zip(rows, found, strict=True):
        length, ttl = reply[_N], reply[_N + 1]
        if not length and ttl == -2:  # neither key exists (no metadata hash: TTL -2)
            store._prune_member(sid, score)
            gone += 1
            continue
        f = [x.decode("utf-8", "replace") if isinstance(x, bytes) else x for x in reply[:_N]]
        if user_id is not None and f[1] != user_id:
            continue
        total, errors = f[4], f[7]
        out.append(
            SessionSummary(
                sid,  # the keys name the session, not its sessionId field
                f[1],
                f[2],
                f[3],
                (length if total is None else as_int(total, length)) or 0,
                f[5],
                f[6],
                SOURCE_NATIVE,
                ttl if ttl and ttl > 0 else None,
                0 if errors is None else as_int(errors, 0) or 0,
            )
        )
    return gone


def outcome(function: Any, rows: Any, found: Any, user_id: str | None) -> Any:
    store, out = Pruned(), []
    if function is nativelist.summary_rows:  # the pipeline's three replies per session
        found = [part for r in found for part in (r[:_N], r[_N], r[_N + 1])]
        function = partial(function, bad=[])  # no reply here is an error
    try:
        gone = function(store, rows, found, user_id, out)
    except Exception as exc:  # noqa: BLE001 - compared
        return ("raised", type(exc), str(exc), [r.as_dict() for r in out], store.pruned)
    return (gone, [r.as_dict() for r in out], store.pruned)


text = st.text(max_size=8)
counter_bytes = st.one_of(
    st.integers(-(10**6), 10**6).map(lambda n: str(n).encode()),
    st.sampled_from(
        [
            b"",
            b" 7 ",
            b"1_000",
            b"+3",
            b"0x1f",
            b"3.5",
            b"-0",
            b"\xd9\xa3",
            b"\xff",
            b"\xef\xbc\x95",
            b"7\x00",
            b"\xc2\xa012",
            "\u0663".encode(),
        ]
    ),  # fmt: skip
    st.binary(max_size=6),
)
field = st.one_of(
    st.none(), text.map(lambda t: t.encode("utf-8", "surrogatepass")), st.binary(max_size=8)
)
number = st.one_of(st.integers(-3, 10**6), st.just(0))
odd = st.one_of(st.none(), text, st.integers(-5, 5), st.floats(allow_nan=True), st.booleans())


@st.composite
def reply(draw: st.DrawFn) -> list[Any]:
    """[sessionId, userId, createdAt, updatedAt, totalTurns, model, title, errorCount, LLEN,
    TTL]: mostly as Redis gives them, sometimes a bad value anywhere."""
    user = draw(st.one_of(st.none(), st.sampled_from([b"u1", b"u2", b"\xff", b""])))
    values = [draw(field), user, draw(field), draw(field), draw(st.one_of(st.none(), counter_bytes)),
              draw(field), draw(field), draw(st.one_of(st.none(), counter_bytes)),
              draw(number), draw(number)]  # fmt: skip
    if draw(st.integers(0, 9)) == 0:  # a value of a type Redis would not give
        values[draw(st.integers(0, len(values) - 1))] = draw(odd)
    for at in (_N, _N + 1):  # LLEN and TTL are numbers (or an error, raised), never nil
        if values[at] is None:
            values[at] = -2 if at > _N else 0
    return values


@given(
    st.lists(reply(), max_size=12),
    st.sampled_from([None, "u1", "u2", "\ufffd", ""]),
)
def test_rows_as_before(replies: list[list[Any]], user_id: str | None) -> None:
    rows = [(f"s{i}", float(i)) for i in range(len(replies))]
    new = outcome(nativelist.summary_rows, rows, replies, user_id)
    old = outcome(old_summary_rows, rows, replies, user_id)
    assert new == old


@pytest.mark.parametrize(
    "bad",
    [
        [None] * _N + [0, -2],  # gone: pruned
        [None] * _N + [0, -1],  # a hash with none of these fields, no turns: kept
        [b"s", None, None, None, None, None, None, None, 0, b"x"],  # a TTL that is bytes
        [b"s", None, None, None, float("inf"), None, None, None, 3, -1],
        [b"s", None, None, None, b"2", None, None, float("nan"), 3, 5],
    ],
)
def test_bad_replies_as_before(bad: Any) -> None:
    rows = [("s0", 1.0)]
    assert outcome(nativelist.summary_rows, rows, [bad], None) == outcome(
        old_summary_rows, rows, [bad], None
    )
