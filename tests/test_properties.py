"""Property tests: validators take any string without crashing; ids never escape; content
survives export exactly."""

from __future__ import annotations

import contextlib
import json
import re
from urllib.parse import unquote_to_bytes

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neurolink_cli.config import mask_url
from neurolink_cli.errors import BadInput
from neurolink_cli.export.redact import luhn_ok, make_redactor
from neurolink_cli.models import SessionDoc, make_turn
from neurolink_cli.store.connection import check_url
from neurolink_cli.util.timeutil import parse_duration, parse_time
from neurolink_cli.util.validate import check_key_prefix, check_session_id, file_name_for

any_text = st.text(st.characters(codec="utf-8"), max_size=300)
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
def test_time_and_duration_parsers_return_ms_or_bad_input(value: str) -> None:
    for parse in (parse_time, parse_duration):
        with contextlib.suppress(BadInput):
            assert isinstance(parse(value), int)


@given(wild_text)
def test_prefix_validator(value: str) -> None:
    try:
        check_key_prefix(value)
    except BadInput:
        return
    assert value and not re.search(r"[\s{}*?\[\]]", value)


@given(wild_text)
def test_url_checker_never_crashes(value: str) -> None:
    with contextlib.suppress(BadInput):
        check_url(value)
    mask_url(value)


@given(
    st.text(st.characters(codec="utf-8", categories=["L", "N"]), min_size=4, max_size=30),
    st.sampled_from(["redis", "rediss"]),
)
def test_a_password_never_survives_masking(password: str, scheme: str) -> None:
    url = f"{scheme}://user:{password}@cache.example:6379/0"
    assert mask_url(url) == f"{scheme}://user:***@cache.example:6379/0"
    try:
        check_url(url)
    except BadInput as exc:
        assert f":{password}@" not in str(exc)


@given(st.text(st.characters(codec="utf-8", exclude_characters="{}"), min_size=1, max_size=60))
def test_file_names_stay_in_the_directory_and_decode_back(session_id: str) -> None:
    name = file_name_for(session_id)
    assert "/" not in name and "\\" not in name and "\x00" not in name
    assert name not in (".", "..")
    assert re.fullmatch(r"[A-Za-z0-9._%-]+", name)
    assert unquote_to_bytes(name).decode("utf-8") == session_id


@given(st.lists(wild_text, min_size=1, max_size=5))  # lone surrogates included
@settings(
    suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=40, deadline=None
)
def test_json_export_gives_back_exactly_what_was_stored(store, cli, contents) -> None:
    sid = "prop"
    store.delete(sid)
    for i, text in enumerate(contents):
        store.append_turn(sid, make_turn("user", text, f"2026-01-01T00:00:{i:02d}.000Z"))
    for fmt in ("json", "jsonl"):
        result = cli("memory", "export", "--session-id", sid, "--format", fmt)
        assert result.exit_code == 0, result.stderr
        result.stdout_bytes.decode("utf-8")  # always valid UTF-8
        assert [t["content"] for t in json.loads(result.stdout_bytes)["turns"]] == contents


@pytest.mark.timeout(120)
def test_a_5mb_turn_round_trips(store, cli) -> None:
    big = ("é🙂\u200f\x00" * 400_000)[:1_300_000]  # ~5 MB of UTF-8
    store.append_turn("big", make_turn("user", big, "2026-01-01T00:00:00.000Z"))
    out = cli("memory", "export", "--session-id", "big", "--format", "jsonl").stdout_bytes
    assert orjson.loads(out)["turns"][0]["content"] == big


@given(st.from_regex(r"[0-9]{13,19}", fullmatch=True))
def test_redaction_of_digit_runs_follows_luhn(number: str) -> None:
    out = make_redactor()(f"ref {number} end")
    if luhn_ok(number):
        assert "[REDACTED:card]" in out
    else:
        assert "[REDACTED:card]" not in out


@given(any_text)
def test_redaction_never_crashes_and_is_idempotent(text: str) -> None:
    redact = make_redactor()
    once = redact(text)
    assert redact(once) == once


def test_session_doc_keeps_raw_bytes_until_changed() -> None:
    doc = SessionDoc("s", None, None, None, {}, raw_turns=[b'{"index":0}'])
    assert doc.turn_count() == 1 and doc.raw_turns is not None
    assert doc.turns == [{"index": 0}]
    assert doc.raw_turns is None
