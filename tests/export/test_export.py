"""``memory export`` of one session: JSON, JSONL, CSV, Markdown, filters, --output."""

from __future__ import annotations

import csv
import io
import os
import stat

import orjson
import pytest
from support.helpers import CSV_HEADER, add_conversation, ts

from neurolink_cli.models import make_turn
from neurolink_cli.store.native import NativeStore


def stored_turns(client, store: NativeStore, sid: str) -> list[dict]:
    return [orjson.loads(r) for r in client.lrange(store.turns_key(sid), 0, -1)]


def test_json_equals_stored_turns_field_for_field(cli, store, client) -> None:
    add_conversation(store, "s-1", 4, user_id="alice")
    result = cli("memory", "export", "--session-id", "s-1")
    assert result.exit_code == 0, result.stderr
    doc = orjson.loads(result.stdout)
    assert list(doc) == ["sessionId", "userId", "createdAt", "updatedAt", "turns", "metadata"]
    assert doc["sessionId"] == "s-1" and doc["userId"] == "alice"
    assert doc["createdAt"] == ts(0) and doc["updatedAt"] == ts(180)
    assert doc["turns"] == stored_turns(client, store, "s-1")
    assert list(doc["turns"][1]) == [
        "index",
        "role",
        "content",
        "timestamp",
        "model",
        "provider",
        "tokens",
        "latencyMs",
    ]
    assert doc["metadata"] == {
        "provider": "openai",
        "model": "gpt-4o-mini",
        "totalTurns": 4,
        "toolsUsed": [],
    }
    assert result.stderr == ""


def test_missing_user_is_null(cli, store) -> None:
    add_conversation(store, "anon", 2, user_id=None)
    doc = orjson.loads(cli("memory", "export", "--session-id", "anon").stdout)
    assert doc["userId"] is None


def test_content_is_exported_byte_for_byte(cli, store) -> None:
    text = 'naïve café — 日本語 🙂 \u200f RTL \\ "q" \t tab\nline2\x00nul'
    store.append_turn("u", make_turn("user", text, ts(0)))
    out = cli("memory", "export", "--session-id", "u").stdout_bytes
    assert "日本語 🙂".encode() in out  # not \\u-escaped
    assert orjson.loads(out)["turns"][0]["content"] == text


def test_jsonl_is_one_line(cli, store) -> None:
    add_conversation(store, "j", 3)
    out = cli("memory", "export", "--session-id", "j", "--format", "jsonl").stdout
    assert out.count("\n") == 1
    assert orjson.loads(out)["sessionId"] == "j"


def test_csv_parses_back_with_multiline_quotes_unicode_and_guard(cli, store) -> None:
    store.append_turn("c", make_turn("user", 'He said "hi",\nthen left. 日本', ts(0)), user_id="u")
    store.append_turn(
        "c",
        make_turn(
            "assistant",
            '=HYPERLINK("x")',
            ts(1),
            model="m",
            provider="p",
            tokens={"prompt": 1, "completion": 2},
        ),
    )
    for i, danger in enumerate(["+1", "-2", "@cmd", "\tx", "\rx"]):
        store.append_turn("c", make_turn("user", danger, ts(2 + i)))
    result = cli("memory", "export", "--session-id", "c", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    raw = result.stdout_bytes
    assert raw.startswith(
        b"sessionId,userId,index,role,timestamp,provider,model,"
        b"promptTokens,completionTokens,content\r\n"
    )
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8"), newline="")))
    assert rows[0] == CSV_HEADER
    assert rows[1][9] == 'He said "hi",\nthen left. 日本'
    assert rows[2][5:10] == ["p", "m", "1", "2", '\'=HYPERLINK("x")']
    assert [r[9] for r in rows[3:]] == ["'+1", "'-2", "'@cmd", "'\tx", "'\rx"]
    unguarded = cli("memory", "export", "--session-id", "c", "--format", "csv", "--no-csv-guard")
    rows = list(csv.reader(io.StringIO(unguarded.stdout_bytes.decode(), newline="")))
    assert rows[2][9] == '=HYPERLINK("x")'


def test_csv_without_metadata_has_the_short_header(cli, store) -> None:
    add_conversation(store, "c2", 2)
    out = cli(
        "memory", "export", "--session-id", "c2", "--format", "csv", "--no-include-metadata"
    ).stdout
    rows = list(csv.reader(io.StringIO(out, newline="")))
    assert rows[0] == ["sessionId", "userId", "index", "role", "timestamp", "content"]
    assert len(rows) == 3


def test_no_include_metadata_keeps_core_turn_fields_only(cli, store) -> None:
    add_conversation(store, "m", 2)
    doc = orjson.loads(cli("memory", "export", "--session-id", "m", "--no-include-metadata").stdout)
    assert "metadata" not in doc
    assert all(list(t) == ["index", "role", "content", "timestamp"] for t in doc["turns"])


@pytest.mark.parametrize(
    "start,end,expected",
    [
        (ts(60), None, [1, 2, 3]),  # start is inclusive
        (None, ts(120), [0, 1]),  # end is exclusive
        (ts(60), ts(180), [1, 2]),
        ("2026-01-01T00:01:00+00:00", None, [1, 2, 3]),  # with an offset
        ("2026-01-01T01:01:00+01:00", None, [1, 2, 3]),  # another offset, same instant
        ("2026-01-01T00:01:00", None, [1, 2, 3]),  # no offset means UTC
        ("2026-01-02", None, []),  # a date; no turn in range: empty turns
    ],
)
def test_time_filters_at_the_boundaries(cli, store, start, end, expected) -> None:
    add_conversation(store, "t", 4, step_s=60)
    args = ["memory", "export", "--session-id", "t"]
    if start:
        args += ["--start-time", start]
    if end:
        args += ["--end-time", end]
    result = cli(*args)
    assert result.exit_code == 0, result.stderr
    assert [t["index"] for t in orjson.loads(result.stdout)["turns"]] == expected


def test_since_until_aliases_and_relative_durations(cli, store) -> None:
    from neurolink_cli.util.timeutil import ms_to_rfc3339, now_ms

    store.append_turn("rel", make_turn("user", "old", ms_to_rfc3339(now_ms() - 3 * 3600_000)))
    store.append_turn("rel", make_turn("user", "new", ms_to_rfc3339(now_ms() - 60_000)))
    doc = orjson.loads(cli("memory", "export", "--session-id", "rel", "--since", "2h").stdout)
    assert [t["content"] for t in doc["turns"]] == ["new"]
    doc = orjson.loads(cli("memory", "export", "--session-id", "rel", "--until", "90m").stdout)
    assert [t["content"] for t in doc["turns"]] == ["old"]


def test_markdown_is_a_transcript(cli, store) -> None:
    add_conversation(store, "md", 2)
    out = cli("memory", "export", "--session-id", "md", "--format", "markdown").stdout
    assert out.startswith("# ")
    assert "## 0. User" in out and "## 1. Assistant" in out and "gpt-4o-mini" in out


def test_output_file_is_written_atomically_with_mode_0600(cli, store) -> None:
    add_conversation(store, "f", 2)
    target = cli.cwd / "out.json"
    result = cli("memory", "export", "--session-id", "f", "--output", str(target))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert orjson.loads(target.read_bytes())["sessionId"] == "f"
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert [p.name for p in cli.cwd.iterdir()] == ["out.json"]


def test_output_into_a_missing_directory_is_a_clear_error(cli, store) -> None:
    add_conversation(store, "f", 2)
    result = cli("memory", "export", "--session-id", "f", "--output", "/nonexistent/dir/x.json")
    assert result.exit_code == 1
    assert "cannot write /nonexistent/dir/x.json" in result.stderr
    assert "Traceback" not in result.stderr


def test_redact_changes_output_not_storage(cli, store, client) -> None:
    store.append_turn(
        "p", make_turn("user", "mail me: jane@example.com, card 4111 1111 1111 1111", ts(0))
    )
    doc = orjson.loads(cli("memory", "export", "--session-id", "p", "--redact").stdout)
    assert doc["turns"][0]["content"] == "mail me: [REDACTED:email], card [REDACTED:card]"
    assert b"jane@example.com" in client.lindex(store.turns_key("p"), 0)
