"""Validation of what users type that becomes part of a Redis key or a file name.

A session id is 1-256 bytes of printable UTF-8 with no whitespace, ``{`` or ``}``
(CONTRACT §3): anything else is BadInput (exit 2) and never reaches a key. File names
for ``export-all --output`` are the id percent-encoded outside ``A-Za-z0-9._-`` (§5),
so no id can name a path outside the export directory.
"""

from __future__ import annotations

import re

from neurolink_cli.errors import BadInput

_SAFE_NAME_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")


def session_id_problem(session_id: str) -> str | None:
    """Why ``session_id`` is not a valid id, or None when it is."""
    if not isinstance(session_id, str):
        return "it is not text"
    try:
        size = len(session_id.encode("utf-8"))
    except UnicodeEncodeError:
        return "it is not valid UTF-8"
    if size == 0:
        return "it is empty"
    if size > 256:
        return f"it is {size} bytes long (at most 256)"
    for ch in session_id:
        if ch in "{}":
            return "it contains '{' or '}'"
        if ch.isspace():
            return "it contains whitespace"
        if not ch.isprintable():
            return f"it contains the unprintable character U+{ord(ch):04X}"
    return None


def check_session_id(session_id: str) -> str:
    """Return ``session_id`` if valid, else raise BadInput naming the problem."""
    problem = session_id_problem(session_id)
    if problem:
        shown = session_id if len(session_id) <= 60 else session_id[:57] + "..."
        raise BadInput(
            f"bad session id {shown!r}: {problem}; an id is 1-256 bytes of printable "
            "UTF-8 without whitespace, '{' or '}'"
        )
    return session_id


def check_key_prefix(prefix: str) -> str:
    """A key prefix: non-empty printable text without whitespace or braces."""
    if not prefix or any(ch.isspace() or ch in "{}*?[]" or not ch.isprintable() for ch in prefix):
        raise BadInput(
            f"bad key prefix {prefix!r}: use printable text without whitespace, braces "
            "or glob characters (e.g. neurolink)"
        )
    return prefix


_PLAIN_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")


def file_name_for(session_id: str) -> str:
    """The id with every UTF-8 byte outside ``A-Za-z0-9._-`` percent-encoded (upper-case hex),
    and a leading ``.`` encoded as ``%2E``; :mod:`neurolink_cli.export.naming` builds the
    whole file name from it."""
    if _PLAIN_NAME.fullmatch(session_id):  # nothing to encode (most ids): as it is
        return session_id
    out = []
    for b in session_id.encode("utf-8", "surrogatepass"):
        out.append(chr(b) if b in _SAFE_NAME_BYTES else f"%{b:02X}")
    name = "".join(out)
    # A leading "." would hide the file, and "." / ".." name directories: encode it, so that
    # no session file can be or shadow a temporary, the partial log or the lock (all ".*").
    if name.startswith("."):
        name = "%2E" + name[1:]
    return name
