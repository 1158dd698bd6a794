"""``--redact``: replace personal data and secrets in exported content (CONTRACT §5).

Kinds, applied in this order so that a longer match wins over a shorter one inside it:

- ``api_key``  ``sk-...``, ``sk-ant-...``, ``xoxb-``/``xoxp-``..., ``AKIA...``, ``ghp_...``, ``AIza...``
- ``token``    the credential after ``Bearer`` (the word ``Bearer`` stays)
- ``email``    ``name@host.tld``
- ``card``     13-19 digits, spaces or dashes allowed between them, that pass the Luhn check
               (so order numbers and other long numbers survive)
- ``ip``       IPv4 dotted quads and IPv6 addresses (validated with :mod:`ipaddress`)
- ``phone``    ``+`` and 8-15 digits, or groups of digits separated by space/dot/dash/
               parentheses with 9-15 digits in all (so dates and versions survive)
- ``pattern``  what each ``--redact-pattern REGEX`` matches

It changes the exported bytes only, never what is stored.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable

from neurolink_cli.errors import BadInput
from neurolink_cli.util.secrets import mask_urls_in

_API_KEY = re.compile(
    r"(?<![A-Za-z0-9])(?:sk-(?:ant-|proj-|live-|test-)?[A-Za-z0-9_\-]{16,}"
    r"|xox[abposr]-[A-Za-z0-9\-]{10,}"
    r"|(?:AKIA|ASIA)[0-9A-Z]{16}"
    r"|gh[pousr]_[A-Za-z0-9]{30,}"
    r"|AIza[0-9A-Za-z_\-]{35})(?![A-Za-z0-9])"
)
_BEARER = re.compile(r"(?i)(\bbearer\s+)([A-Za-z0-9._~+/\-]{8,}=*)")
_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}\b"
)
_CARD = re.compile(r"(?<![\d\w])(?:\d[ \-]?){12,18}\d(?![\d\w])")
_IPV4 = re.compile(
    r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}"
    r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?![\d.]|\.\d)"
)
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?:%\w+)?(?![\w:])")
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{8,15}(?!\d)"
    r"|(?:\+\d{1,3}[ .\-]?)?(?:\(\d{1,4}\)[ .\-]?)?\d{2,5}(?:[ .\-]\d{2,5}){1,4})(?![\w])"
)


def luhn_ok(digits: str) -> bool:
    """The Luhn checksum of a string of digits."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _card(m: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", m.group(0))
    if 13 <= len(digits) <= 19 and luhn_ok(digits):
        return "[REDACTED:card]"
    return m.group(0)


def _ipv6(m: re.Match[str]) -> str:
    text = m.group(0)
    if text.count(":") < 2 or ("::" not in text and text.count(":") != 7):
        return text
    try:
        ipaddress.IPv6Address(text.split("%")[0])
    except ValueError:
        return text
    return "[REDACTED:ip]"


def _phone(m: re.Match[str]) -> str:
    digits = sum(ch.isdigit() for ch in m.group(0))
    return "[REDACTED:phone]" if 9 <= digits <= 15 else m.group(0)


def redact_text(text: str, extra: Iterable[re.Pattern[str]] = (), builtin: bool = True) -> str:
    """``text`` with every match of the built-in kinds (and ``extra`` patterns) replaced."""
    if builtin:
        text = _API_KEY.sub("[REDACTED:api_key]", text)
        text = _BEARER.sub(lambda m: m.group(1) + "[REDACTED:token]", text)
        text = _EMAIL.sub("[REDACTED:email]", text)
        text = _CARD.sub(_card, text)
        text = _IPV4.sub("[REDACTED:ip]", text)
        text = _IPV6.sub(_ipv6, text)
        text = _PHONE.sub(_phone, text)
    for pattern in extra:
        text = pattern.sub("[REDACTED:pattern]", text)
    return text


def redact_secrets(text: str) -> str:
    """Only the secrets: API keys, bearer tokens and passwords in URLs (for history files)."""
    text = _API_KEY.sub("[REDACTED:api_key]", text)
    text = _BEARER.sub(lambda m: m.group(1) + "[REDACTED:token]", text)
    return mask_urls_in(text)


def make_redactor(patterns: Iterable[str] = (), builtin: bool = True) -> Callable[[str], str]:
    """A function redacting a string; BadInput for a pattern that does not compile."""
    compiled = []
    for p in patterns:
        try:
            regex = re.compile(p)
        except (re.error, OverflowError, RecursionError) as exc:  # a{99999999999}, deep groups
            raise BadInput(f"bad --redact-pattern {p!r}: {exc}") from None
        if regex.match(""):
            raise BadInput(f"bad --redact-pattern {p!r}: it matches the empty string")
        compiled.append(regex)

    def redact(text: str) -> str:
        return redact_text(text, compiled, builtin)

    return redact
