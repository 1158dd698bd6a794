"""stored_to_ms's fast path (the stored shape straight to fromisoformat) gives exactly what the
general parse gives, for stored timestamps and for strings that only look like them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import example, given
from hypothesis import strategies as st

from neurolink_cli.util.timeutil import ms_to_rfc3339, stored_to_ms


def old_stored_to_ms(value: object) -> int | None:
    """stored_to_ms before the fast path (issue 14), kept here as the reference."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str) and value:
        s = value.strip()
        if s.endswith(("z", "Z")):
            s = s[:-1] + "+00:00"
        try:
            dt = datetime.fromisoformat(s)
        except ValueError:
            return None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        return int(dt.timestamp() * 1000)
    return None


EPOCH = datetime(1, 1, 1, tzinfo=UTC)
times = st.integers(0, (datetime(9999, 12, 31, tzinfo=UTC) - EPOCH) // timedelta(milliseconds=1))
stored = times.map(
    lambda ms: (EPOCH + timedelta(milliseconds=ms)).isoformat(timespec="milliseconds")[:-6] + "Z"
)
# 24 characters ending in Z that are not quite the stored shape: each character of a stored
# timestamp replaced by one of these, or moved about
odd_chars = st.sampled_from(list("0123456789-:T.tZz ,+_\x00\u0660\u00e9") + ["\udc80"])


@st.composite
def near_stored(draw: st.DrawFn) -> str:
    text = list(draw(stored))
    for _ in range(draw(st.integers(1, 3))):
        text[draw(st.integers(0, 22))] = draw(odd_chars)
    return "".join(text)


@given(stored)
def test_stored_timestamps(value: str) -> None:
    assert stored_to_ms(value) == old_stored_to_ms(value)


@given(near_stored())
@example(" 026-11-26T22:45:59.525Z")
@example("2026-11-26T22:45:59.525zZ")
@example("2026-11-26 22:45:59.525Z")
@example("2026-11-26T22:45:59,525Z")
@example("2026-11-26T22:45:59.5+00Z")
@example("20261126T224559.525000Z")
@example("2026-11-26T22:45:59.52\u0665Z")
@example("2026-02-30T22:45:59.525Z")
@example("2026-11-26T24:00:00.000Z")
def test_strings_of_the_stored_length(value: str) -> None:
    assert stored_to_ms(value) == old_stored_to_ms(value)


@given(
    st.one_of(
        st.text(max_size=40),
        st.text(alphabet="0123456789-:T.Zz+ ", min_size=20, max_size=30),
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.booleans(),
        st.none(),
        st.binary(max_size=30),
    )
)
def test_anything(value: object) -> None:
    assert stored_to_ms(value) == old_stored_to_ms(value)


@given(times)
def test_written_timestamps_read_back(ms: int) -> None:
    if ms >= 62135596800000:  # ms_to_rfc3339 takes epoch ms (year 1970 on)
        epoch_ms = ms - 62135596800000
        assert stored_to_ms(ms_to_rfc3339(epoch_ms)) == old_stored_to_ms(ms_to_rfc3339(epoch_ms))
