"""Passwords never leave the process (CONTRACT §1): one masker for URLs, one scrubber for text.

A Redis URL's password may hold any character, ``@ : / ? #`` included, raw or
percent-encoded, and a ``unix://`` URL may carry it as ``?password=``. A parser that splits
the URL the standard way (``urlsplit``) takes ``redis://:S3cret/PWtail@host`` for host
``""`` and path ``/PWtail@host``, so masking the parsed password would leak ``PWtail``.
:func:`mask_url` therefore does not parse: everything between ``://`` and the *last* ``@``
is the user information (a host never holds an ``@``), and everything after its first
``:`` is the password. It over-masks rather than under-masks.

:func:`url_secrets` lists the strings that must never be printed for a URL (the password
as written, decoded and re-encoded); :func:`scrub` replaces them in any text: error
messages, tracebacks, notices. :func:`mask_urls_in` masks every URL inside free text (the
loop's history file).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote, unquote

MASK = "***"
MIN_SCRUB = 4
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)(.*)$", re.S)
_QUERY_PASSWORD = re.compile(r"(?i)([?&;](?:password|pass|pwd|passwd)=)([^&;\s]*)")
_URL_IN_TEXT = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://\S+")


def _split(url: str) -> tuple[str, str, str] | None:
    """``(scheme://, userinfo, rest)`` or None when there is no ``scheme://`` or no ``@``."""
    m = _SCHEME.match(url)
    if not m:
        return None
    scheme, after = m.groups()
    userinfo, at, rest = after.rpartition("@")
    if not at:
        return None
    return scheme, userinfo, rest


def mask_url(url: str) -> str:
    """``url`` with its password replaced by ``***`` (``redis://:***@host:6379``).

    The user name stays; a ``password=`` query parameter is masked too. A URL without a
    password comes back unchanged.
    """
    parts = _split(url)
    if parts is not None:
        scheme, userinfo, rest = parts
        user, colon, _password = userinfo.partition(":")
        if colon:
            url = f"{scheme}{user}:{MASK}@{rest}"
    return _QUERY_PASSWORD.sub(lambda m: m.group(1) + MASK, url)


def url_secrets(url: str | None) -> set[str]:
    """The password of ``url`` in every spelling that could be printed (empty set: none)."""
    found: set[str] = set()
    if not url:
        return found
    parts = _split(url)
    if parts is not None:
        _scheme, userinfo, _rest = parts
        user, colon, password = userinfo.partition(":")
        if colon and password:
            found.add(password)
    found.update(m.group(2) for m in _QUERY_PASSWORD.finditer(url) if m.group(2))
    return spellings(found)


def spellings(secrets: Iterable[str | None]) -> set[str]:
    """Each secret as written, percent-decoded and percent-encoded (the forms it may take)."""
    out: set[str] = set()
    for secret in secrets:
        if not secret:
            continue
        out.update(
            {secret, unquote(secret), quote(secret, safe=""), quote(unquote(secret), safe="")}
        )
    return {s for s in out if s}


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every URL masked and every one of ``secrets`` replaced by ``***``.

    Secrets shorter than :data:`MIN_SCRUB` characters are left to the URL masking (replacing
    every ``a`` of a message would make it unreadable without protecting anything).
    """
    text = mask_urls_in(text)
    for secret in sorted(set(secrets), key=len, reverse=True):
        if len(secret) >= MIN_SCRUB:
            text = text.replace(secret, MASK)
    return text


def mask_urls_in(text: str) -> str:
    """Every ``scheme://...`` in free text with its password masked (up to whitespace)."""
    return _URL_IN_TEXT.sub(lambda m: mask_url(m.group(0)), text)
