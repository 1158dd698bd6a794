"""Redaction properties: digit runs are redacted exactly when they pass Luhn; redacting
never crashes and is idempotent."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from neurolink_cli.export.redact import luhn_ok, make_redactor

any_text = st.text(st.characters(codec="utf-8"), max_size=300)


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
