"""The file name of a session in ``export-all --output DIR`` (the README states this rule).

A session is identified by (layout, user, id): the native layout holds one session per id;
the TypeScript layout (``neurolink-ts``) one per (user, id). Its file is ``<stem>.<ext>``:

1. ``enc(x)``: every UTF-8 byte of ``x`` outside ``A-Za-z0-9._-`` as ``%XX`` (upper-case
   hex), and a leading ``.`` as ``%2E``. ``~`` is never produced by ``enc``.
2. Native session: ``stem = enc(sessionId)``. TypeScript session:
   ``stem = enc(sessionId) + "~" + enc(userId)`` (``userId`` empty when absent), so it can
   never equal a native stem, nor another user's.
3. A stem equal to ``manifest`` in any letter case gets its first letter encoded
   (``%6Danifest``), so no session file is or shadows ``manifest.json``.
4. A stem longer than 200 bytes is cut to its first 150 bytes (never inside a ``%XX``) and
   ``~~`` plus the first 40 hex digits of the SHA-256 of the whole stem are appended.
   ``~~`` appears in no stem of rules 1-3, so a shortened name cannot equal an unshortened
   one, and the digest keeps shortened ones apart. Names stay under 210 bytes.

Every name therefore starts with a byte other than ``.``; everything else neurolink puts in
DIR (temporaries ``.nl-*.tmp``, ``.manifest.partial.jsonl``, ``.neurolink-export.lock``)
starts with ``.``. The same session always gets the same name.
"""

from __future__ import annotations

import hashlib

from neurolink_cli.models import SOURCE_NATIVE
from neurolink_cli.util.validate import file_name_for as enc

MAX_STEM = 200
HEAD = 150
DIGEST_HEX = 40
RESERVED_STEMS = frozenset({"manifest"})


def session_stem(session_id: str, source: str = SOURCE_NATIVE, user_id: str | None = None) -> str:
    """The name of a session's file without its extension (rules 1-4 above)."""
    stem = enc(session_id)
    if source != SOURCE_NATIVE:
        stem += "~" + (enc(user_id) if user_id else "")
    if stem.lower() in RESERVED_STEMS:
        stem = f"%{ord(stem[0]):02X}{stem[1:]}"
    if len(stem.encode("ascii")) > MAX_STEM:
        head = stem[:HEAD]
        cut = head.rfind("%", HEAD - 2)
        if cut != -1:
            head = head[:cut]
        stem = head + "~~" + hashlib.sha256(stem.encode("ascii")).hexdigest()[:DIGEST_HEX]
    return stem


def session_file_name(
    session_id: str, extension: str, source: str = SOURCE_NATIVE, user_id: str | None = None
) -> str:
    """``<stem>.<extension>`` for a session."""
    return f"{session_stem(session_id, source, user_id)}.{extension}"
