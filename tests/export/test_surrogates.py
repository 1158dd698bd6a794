"""Lone UTF-16 surrogates: what JavaScript's JSON.stringify writes for a cut emoji.

The TypeScript SDK can store ``"\\ud83d"`` escapes; Python callers can hand us strings with
lone surrogates. Neither may make a session unreadable or an export invalid UTF-8.
"""

from __future__ import annotations

import csv
import io
import json

import orjson
import pytest

from neurolink_cli.models import make_turn

CUT = "stream cut here: \ud83d"  # the first half of 🙂


def test_native_turn_with_a_lone_surrogate_is_stored_and_exported(cli, store) -> None:
    store.append_turn("sur", make_turn("user", CUT, "2026-01-01T00:00:00.000Z"))
    for fmt in ("json", "jsonl"):
        out = cli("memory", "export", "--session-id", "sur", "--format", fmt).stdout_bytes
        out.decode("utf-8")  # valid UTF-8
        assert b"\\ud83d" in out
        assert json.loads(out)["turns"][0]["content"] == CUT
    out = cli("memory", "export", "--session-id", "sur", "--format", "csv").stdout_bytes
    rows = list(csv.reader(io.StringIO(out.decode("utf-8"), newline="")))
    assert rows[1][-1] == "stream cut here: \\ud83d"


def test_upstream_session_with_escaped_surrogate_is_readable(cli, client, env) -> None:
    prefix = env["NEUROLINK_KEY_PREFIX"] + ":conversation:"
    value = json.dumps(
        {
            "id": "1",
            "title": None,
            "sessionId": "js",
            "userId": "u",
            "createdAt": "2026-01-01T00:00:00.000Z",
            "updatedAt": "2026-01-01T00:00:00.000Z",
            "messages": [
                {
                    "id": "m",
                    "role": "assistant",
                    "content": CUT,
                    "timestamp": "2026-01-01T00:00:00.000Z",
                }
            ],
        }
    )
    assert "\\ud83d" in value  # as JSON.stringify writes it
    client.set(prefix + "u:js", value)
    result = cli("memory", "export", "--session-id", "js", env={"REDIS_KEY_PREFIX": prefix})
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout_bytes)["turns"][0]["content"] == CUT
    client.delete(prefix + "u:js")


def test_import_of_escaped_surrogates_round_trips(cli, store) -> None:
    store.append_turn("rt", make_turn("user", CUT, "2026-01-01T00:00:00.000Z"))
    first = cli("memory", "export", "--session-id", "rt", "--format", "jsonl").stdout_bytes
    assert cli("memory", "delete", "--session-id", "rt", "--yes").exit_code == 0
    result = cli("memory", "import", "-", input=first)
    assert result.exit_code == 0, result.stderr
    again = cli("memory", "export", "--session-id", "rt", "--format", "jsonl").stdout_bytes
    assert json.loads(again) == json.loads(first)
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(first)  # orjson alone could not have read it back
