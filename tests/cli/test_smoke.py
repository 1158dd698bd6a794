"""The CLI starts, and talks to the private Redis the suite started."""

from __future__ import annotations

import orjson

from neurolink_cli.models import make_turn


def test_help_lists_commands(cli) -> None:
    result = cli("--help")
    assert result.exit_code == 0
    assert "memory" in result.stdout and "loop" in result.stdout


def test_export_round_trip(cli, store) -> None:
    store.append_turn("s1", make_turn("user", "hi", "2026-01-01T00:00:00.000Z"), user_id="u")
    result = cli("memory", "export", "--session-id", "s1")
    assert result.exit_code == 0, result.stderr
    doc = orjson.loads(result.stdout)
    assert list(doc) == ["sessionId", "userId", "createdAt", "updatedAt", "turns", "metadata"]
    assert doc["turns"][0]["content"] == "hi"
