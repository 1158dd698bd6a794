"""The time and duration parsers take any string: epoch milliseconds or BadInput."""

from __future__ import annotations

import contextlib

from hypothesis import given
from hypothesis import strategies as st

from neurolink_cli.errors import BadInput
from neurolink_cli.util.timeutil import parse_duration, parse_time

wild_text = st.text(max_size=300)  # includes lone surrogates


@given(wild_text)
def test_time_and_duration_parsers_return_ms_or_bad_input(value: str) -> None:
    for parse in (parse_time, parse_duration):
        with contextlib.suppress(BadInput):
            assert isinstance(parse(value), int)
