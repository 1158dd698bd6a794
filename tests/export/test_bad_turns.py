"""A corrupt stored turn is never passed through (issue 13, item 1).

Whatever bytes a turn holds, every byte written as JSON/JSONL is valid UTF-8 JSON; a session
with a turn that is not exactly one JSON object fails (named on stderr and in the manifest,
exit 1) in every format and path, and the other sessions are exported whole.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neurolink_cli.export.run import export_all
from neurolink_cli.export.transform import ExportOptions
from neurolink_cli.models import SessionDoc
from neurolink_cli.store.native import NativeStore
from neurolink_cli.store.repository import Repository
from neurolink_cli.util import jsonutil

GOOD = b'{"index":0,"role":"user","content":"h\xc3\xa9","timestamp":"2026-01-01T00:00:00.000Z"}'
BAD_TURNS = {
    "not-json": b"{not json at all}",
    "two-values": b'{"index":2}{"index":3}',
    "bad-utf8": b'{"index":1,"role":"user","content":"\xff","timestamp":"x"}',
    "nan": b'{"index":1,"content":NaN}',
    "two-spliced": b'{"index":1},{"index":2}',
    "fake-end": b'{"index":1}],"turns":[{"index":2}',
}


def _put(client: Any, store: NativeStore, sid: str, turns: list[bytes]) -> None:
    client.rpush(store.turns_key(sid), *turns)
    client.hset(store.meta_key(sid), mapping={"sessionId": sid, "totalTurns": len(turns)})
    client.zadd(store.index_key, {sid: 1})


def _parse(line: bytes) -> Any:
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:  # orjson refuses lone surrogate escapes (valid JSON)
        assert b"\\u" in line
        return jsonutil.loads(line)


def _lines_are_json(data: bytes) -> list[Any]:
    data.decode("utf-8")  # strict
    return [_parse(line) for line in data.splitlines()]


def test_splice_validator_refuses_turns_that_only_look_sound() -> None:
    merge = [b'{"a":[{}', b"{}]}", b'{"x":1},{"y":2}']  # first/last bytes all fine
    assert not jsonutil.splice_ok(merge, b",".join(merge))
    for bad in BAD_TURNS.values():
        raws = [GOOD, bad]
        assert not jsonutil.splice_ok(raws, b",".join(raws)), bad
    assert jsonutil.splice_ok([GOOD, GOOD], GOOD + b"," + GOOD)


@pytest.mark.parametrize("kind", sorted(BAD_TURNS))
@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv", "markdown"])
def test_export_of_a_bad_session_fails_in_every_format(
    cli: Any, client: Any, store: NativeStore, kind: str, fmt: str
) -> None:
    _put(client, store, "bad", [GOOD, BAD_TURNS[kind]])
    result = cli("memory", "export", "--session-id", "bad", "--format", fmt)
    assert result.exit_code != 0
    assert "bad" in result.stderr and "turn #1" in result.stderr
    assert result.stdout_bytes == b""


@pytest.mark.parametrize("kind", sorted(BAD_TURNS))
@pytest.mark.parametrize("args", [["--format", "jsonl"], ["--format", "jsonl", "--jobs", "2"]])
def test_export_all_stdout_leaves_the_bad_session_out(
    cli: Any, client: Any, store: NativeStore, kind: str, args: list[str]
) -> None:
    _put(client, store, "good", [GOOD])
    _put(client, store, "bad", [GOOD, BAD_TURNS[kind]])
    result = cli("memory", "export-all", *args)
    assert result.exit_code == 1
    docs = _lines_are_json(result.stdout_bytes)
    assert [d["sessionId"] for d in docs] == ["good"]
    assert "bad" in result.stderr and "1 failed" in result.stderr


@pytest.mark.e2e
@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_all_binary_stdout_reports_the_bad_session(
    neurolink_bin: Any, client: Any, store: NativeStore, fmt: str
) -> None:
    """The real binary: stdout a pipe, so CSV is formatted in the second process."""
    _put(client, store, "good", [GOOD])
    for kind, bad in BAD_TURNS.items():
        _put(client, store, f"bad-{kind}", [GOOD, bad])
    done = neurolink_bin("memory", "export-all", "--format", fmt)
    assert done.returncode == 1, done.stderr
    out = done.stdout.decode("utf-8")
    err = done.stderr.decode()
    for kind in BAD_TURNS:
        assert f"bad-{kind}" in err and f"bad-{kind}" not in out
    if fmt == "jsonl":
        assert [d["sessionId"] for d in _lines_are_json(done.stdout)] == ["good"]
    assert f"{len(BAD_TURNS)} failed" in err


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv"])
def test_export_all_directory_names_the_bad_session_in_the_manifest(
    cli: Any, client: Any, store: NativeStore, fmt: str
) -> None:
    _put(client, store, "good", [GOOD])
    for kind, bad in BAD_TURNS.items():
        _put(client, store, f"bad-{kind}", [GOOD, bad])
    out = Path(cli.cwd) / "out"
    result = cli("memory", "export-all", "--format", fmt, "--output", str(out))
    assert result.exit_code == 1
    manifest = orjson.loads((out / "manifest.json").read_bytes())
    assert sorted(f["sessionId"] for f in manifest["failed"]) == sorted(
        f"bad-{k}" for k in BAD_TURNS
    )
    assert [s["sessionId"] for s in manifest["sessions"]] == ["good"]
    files = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    assert files == sorted(["manifest.json", f"good.{fmt}"])
    if fmt != "csv":
        _lines_are_json((out / f"good.{fmt}").read_bytes().replace(b"\n", b" "))


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    raw=st.one_of(
        st.binary(max_size=40),
        st.binary(max_size=30).map(lambda b: b"{" + b + b"}"),
        st.lists(
            st.sampled_from([b"{", b"}", b'"a"', b":", b",", b"[", b"]", b"1", b"\xff", b"\\"]),
            max_size=12,
        ).map(lambda p: b"{" + b"".join(p) + b"}"),  # fmt: skip
    )
)
def test_arbitrary_stored_bytes_give_json_or_a_failure(
    client: Any, prefix: str, raw: bytes
) -> None:
    """Hypothesis: any bytes stored as a turn -> every output line parses and is UTF-8, or
    the session is reported failed (and then is not in the output)."""
    store = NativeStore(client, f"{prefix}h")
    store.delete("s")
    _put(client, store, "s", [GOOD, raw, GOOD] if raw else [GOOD, GOOD])
    for fmt in ("jsonl", "json"):
        out = io.BytesIO()
        ledger = export_all(Repository(store), ExportOptions(format=fmt), out)
        docs = _lines_are_json(out.getvalue())
        if ledger.failed:
            assert docs == []
        else:
            assert len(docs) == 1 and len(docs[0]["turns"]) == (3 if raw else 2)
            assert docs[0]["turns"][1] == (jsonutil.loads(raw) if raw else docs[0]["turns"][0])


def test_a_turn_with_line_breaks_is_written_again_on_one_line(
    cli: Any, client: Any, store: NativeStore
) -> None:
    """Valid JSON with whitespace between tokens: exported (not failed), but never spliced
    as stored, which would split the JSONL line."""
    _put(client, store, "ws", [GOOD, b'{"index":1,\r\n "role":"user"}'])
    result = cli("memory", "export-all", "--format", "jsonl")
    assert result.exit_code == 0, result.stderr
    [doc] = _lines_are_json(result.stdout_bytes)
    assert doc["turns"][1] == {"index": 1, "role": "user"}


def test_unsound_doc_is_never_spliced() -> None:
    doc = SessionDoc("s", None, None, None, {}, raw_turns=[GOOD, b'{"a":1},{"b":2}'])
    assert doc.spliceable() is None
