"""Issue 12, items 2 and 7: the file-name rule of ``export-all --output DIR`` as properties.

Over arbitrary valid ids (CONTRACT §3: 1-256 bytes of printable UTF-8 without whitespace,
``{`` or ``}``), both layouts and any user: distinct sessions get distinct names, no name
exceeds 255 bytes, no name is or shadows the manifest or a hidden file of the run (temporary,
partial log, lock), names are stable, and unshortened names decode back to the session.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes

from hypothesis import given
from hypothesis import strategies as st

from neurolink_cli.export.naming import session_file_name, session_stem
from neurolink_cli.export.registry import FORMATS
from neurolink_cli.models import SOURCE_NATIVE, SOURCE_UPSTREAM
from neurolink_cli.util.atomic import LOCK_NAME, temp_name
from neurolink_cli.util.validate import session_id_problem

_printable = st.characters(codec="utf-8", exclude_categories=("Z", "C"), exclude_characters="{}")
_cjk = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)
valid_ids = st.one_of(
    st.text(_printable, min_size=1, max_size=40),
    st.text(_cjk, min_size=1, max_size=85),  # up to 255 bytes, 765 once encoded
    st.text(st.sampled_from("ab.-_%~/:"), min_size=1, max_size=256),
    st.sampled_from(["manifest", "MANIFEST", ".manifest.partial.jsonl", ".", "..", LOCK_NAME]),
).filter(lambda s: session_id_problem(s) is None)
# An exported TypeScript session's userId is null or non-empty ("" and "randomUser" read as null).
users = st.one_of(st.none(), st.text(_printable, min_size=1, max_size=20))
sessions = st.tuples(st.sampled_from([SOURCE_NATIVE, SOURCE_UPSTREAM]), users, valid_ids).map(
    lambda t: (t[0], None if t[0] == SOURCE_NATIVE else t[1], t[2])
)
EXTENSIONS = [f.extension for f in FORMATS.values() if f.directory]


def name_of(session: tuple[str, str | None, str], ext: str = "jsonl") -> str:
    source, user, sid = session
    return session_file_name(sid, ext, source, user)


@given(sessions, st.sampled_from(EXTENSIONS))
def test_a_name_is_short_safe_and_never_a_file_of_the_run(session, ext) -> None:
    name = name_of(session, ext)
    assert len(name.encode()) <= 255
    assert re.fullmatch(r"[A-Za-z0-9_%~-][A-Za-z0-9._%~-]*", name)  # never a hidden name
    assert name.lower() != "manifest.json" and name != LOCK_NAME
    assert name == name_of(session, ext)  # stable
    assert len(temp_name().encode()) <= 255 and temp_name().startswith(".")


@given(st.lists(sessions, min_size=2, max_size=8, unique=True))
def test_distinct_sessions_never_share_a_name(batch) -> None:
    # (native sessions have no user in the key; the native layout holds one session per id)
    keys = {(s, u if s != SOURCE_NATIVE else None, i) for s, u, i in batch}
    assert len({name_of(s) for s in keys}) == len(keys)


@given(valid_ids, users)
def test_the_same_id_in_both_layouts_or_under_two_users_gets_two_names(sid, user) -> None:
    native = session_file_name(sid, "json", SOURCE_NATIVE)
    upstream = session_file_name(sid, "json", SOURCE_UPSTREAM, user)
    other = session_file_name(sid, "json", SOURCE_UPSTREAM, (user or "") + "x")
    assert len({native, upstream, other}) == 3


@given(valid_ids)
def test_unshortened_names_decode_back_to_the_id(sid) -> None:
    stem = session_stem(sid)
    if "~~" in stem:  # shortened: the digest keeps it apart, it does not decode
        assert len(stem) <= 200
        return
    assert unquote_to_bytes(stem).decode("utf-8") == sid


def test_the_examples_of_the_issue() -> None:
    assert session_file_name("manifest", "json") == "%6Danifest.json"
    assert session_file_name(".manifest.partial.jsonl", "json").startswith("%2E")
    cjk = "会" * 28  # 252 bytes once percent-encoded
    ascii_id = "a" * 245
    for sid in (cjk, ascii_id, "b" * 256):
        for source, user in ((SOURCE_NATIVE, None), (SOURCE_UPSTREAM, "u" * 200)):
            assert len(session_file_name(sid, "jsonl", source, user).encode()) <= 255
    assert session_file_name("s", "json", SOURCE_UPSTREAM, "alice") == "s~alice.json"
    assert session_file_name("s", "json", SOURCE_UPSTREAM, None) == "s~.json"
