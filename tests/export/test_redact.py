"""Redaction on a labelled corpus: every true positive caught, true negatives left alone.

The README quotes the rates this corpus gives (it is printed with ``pytest -s``).
"""

from __future__ import annotations

import pytest

from neurolink_cli.export.redact import make_redactor

POSITIVES = [
    ("write to jane.doe@example.com today", "email"),
    ("cc: ops+alerts@mail.corp-x.io", "email"),
    ("call +1 415 555 0132 tomorrow", "phone"),
    ("call (415) 555-0132", "phone"),
    ("my number is +447911123456", "phone"),
    ("tel 030-1234-5678", "phone"),
    ("card 4111 1111 1111 1111 exp 12/29", "card"),
    ("card 5500-0000-0000-0004", "card"),
    ("amex 378282246310005", "card"),
    ("server at 10.0.12.7 is down", "ip"),
    ("ping 192.168.1.254", "ip"),
    ("v6 2001:db8::8a2e:370:7334 responds", "ip"),
    ("loopback ::1 only", "ip"),
    ("key sk-proj-abcdefghijklmnopqrstuvwxyz123456", "api_key"),
    ("OPENAI_API_KEY=sk-ABCDEFGHIJKLMNOPQRSTUVWX", "api_key"),
    ("slack xoxb-1234567890-abcdefghijkl", "api_key"),
    ("aws AKIAIOSFODNN7EXAMPLE", "api_key"),
    ("gh ghp_abcdefghijklmnopqrstuvwxyz0123456789", "api_key"),
    ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc", "token"),
]

NEGATIVES = [
    "The meeting is on 2026-11-26 at 10:30.",
    "Version 1.2.3 fixed the bug; see PR #4411.",
    "Order number 1234567890123 shipped.",  # 13 digits, fails Luhn
    "The population was 8,336,817 in 2022.",
    "Use the ratio 3:2 or 16:9 for video.",
    "Timestamps like 10:00:05 are fine.",
    "ISBN 978-3-16-148410-0 is a book.",
    "Pay 12.50 EUR by the 15th.",
    "E = mc^2 and a@b is not an address.",
    "The skeleton key is under the mat.",
    "sk-short is too short to be a key",
    "bearer of good news",
    "Room 101, floor 3, building 7.",
    "def f(x): return x**2  # python",
    "Call me maybe.",
    "The answer is 42.",
    "https://example.com/path?q=1",
    "hash a1b2c3d4e5f6 in git",
    "2026-11-26T22:45:59.525Z",
    "MAC-like 12:34 and 56:78 times",
]


@pytest.mark.parametrize("text,kind", POSITIVES)
def test_true_positives_are_redacted(text: str, kind: str) -> None:
    out = make_redactor()(text)
    assert f"[REDACTED:{kind}]" in out, out


@pytest.mark.parametrize("text", NEGATIVES)
def test_true_negatives_are_left_alone(text: str) -> None:
    assert make_redactor()(text) == text


def test_corpus_rates() -> None:
    redact = make_redactor()
    caught = sum(f"[REDACTED:{k}]" in redact(t) for t, k in POSITIVES)
    false_pos = sum(redact(t) != t for t in NEGATIVES)
    print(
        f"\nredaction: {caught}/{len(POSITIVES)} true positives caught, "
        f"{false_pos}/{len(NEGATIVES)} true negatives changed"
    )
    assert caught == len(POSITIVES) and false_pos == 0


def test_custom_pattern() -> None:
    redact = make_redactor([r"ACME-\d{4}"], builtin=False)
    assert redact("ticket ACME-1234, mail a@b.co") == "ticket [REDACTED:pattern], mail a@b.co"


def test_secrets_never_reach_the_loop_history_file(tmp_path) -> None:
    from neurolink_cli.repl.app import history_file

    history = history_file(tmp_path)
    history.append_string("use sk-proj-abcdefghijklmnopqrstuvwxyz123456 please")
    history.append_string("connect to redis://:hunter22@cache:6379 and Bearer abcdefghijklmnop")
    history.append_string("my mail is jane@example.com")  # not a secret: kept
    text = (tmp_path / "loop_history").read_text()
    assert "sk-proj-abc" not in text and "hunter22" not in text and "abcdefghijklmnop" not in text
    assert "[REDACTED:api_key]" in text and "redis://:***@cache" in text
    assert "jane@example.com" in text
    assert (tmp_path / "loop_history").stat().st_mode & 0o777 == 0o600
