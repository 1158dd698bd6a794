"""Validators take any string: they accept it or say BadInput; what they accept cannot
escape a key or a directory."""

from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes

from hypothesis import given
from hypothesis import strategies as st

from neurolink_cli.errors import BadInput
from neurolink_cli.util.validate import check_key_prefix, check_session_id, file_name_for

wild_text = st.text(max_size=300)  # includes lone surrogates


@given(wild_text)
def test_session_id_validator_accepts_or_says_bad_input(value: str) -> None:
    try:
        assert check_session_id(value) == value
    except BadInput as exc:
        assert "bad session id" in str(exc)
        return
    raw = value.encode("utf-8")
    assert 1 <= len(raw) <= 256
    assert not re.search(r"[\s{}]", value)


@given(wild_text)
def test_prefix_validator(value: str) -> None:
    try:
        check_key_prefix(value)
    except BadInput:
        return
    assert value and not re.search(r"[\s{}*?\[\]]", value)


@given(st.text(st.characters(codec="utf-8", exclude_characters="{}"), min_size=1, max_size=60))
def test_file_names_stay_in_the_directory_and_decode_back(session_id: str) -> None:
    name = file_name_for(session_id)
    assert "/" not in name and "\\" not in name and "\x00" not in name
    assert name not in (".", "..")
    assert re.fullmatch(r"[A-Za-z0-9._%-]+", name)
    assert unquote_to_bytes(name).decode("utf-8") == session_id
