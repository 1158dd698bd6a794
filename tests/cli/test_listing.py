"""Issue 15 item 4: ``memory list`` as a table fits the terminal with whole session ids, and
says when ``--limit`` cut the list."""

from __future__ import annotations

import uuid
from typing import Any

from support.helpers import add_conversation

from neurolink_cli.store.native import NativeStore


def seed(store: NativeStore, n: int) -> list[str]:
    ids = [str(uuid.uuid4()) for _ in range(n)]
    for i, sid in enumerate(ids):
        add_conversation(store, sid, user_id="alice.longname@example.com", start_s=i * 600)
    return ids


def table(cli: Any, columns: int, *args: str) -> Any:
    return cli("memory", "list", "--format", "table", *args, env={"COLUMNS": str(columns)})


def test_80_columns_keep_whole_session_ids(cli: Any, store: NativeStore) -> None:
    ids = seed(store, 3)
    result = table(cli, 80)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), lines
    for sid in ids:
        assert any(line.startswith(sid + " ") for line in lines)
    assert "SESSION" in lines[0] and "TURNS" in lines[0] and "UPDATED" in lines[0]


def test_wide_terminal_shows_every_column(cli: Any, store: NativeStore) -> None:
    seed(store, 1)
    header = table(cli, 160).stdout.splitlines()[0]
    for name in ("SESSION", "USER", "TURNS", "UPDATED (UTC)", "MODEL", "SOURCE"):
        assert name in header


def test_very_narrow_terminal_still_keeps_the_id(cli: Any, store: NativeStore) -> None:
    (sid,) = seed(store, 1)
    assert sid in table(cli, 40).stdout


def test_limit_says_how_many_are_not_shown(cli: Any, store: NativeStore) -> None:
    seed(store, 5)
    result = table(cli, 100, "--limit", "2")
    assert len(result.stdout.splitlines()) == 3  # header + 2 rows
    assert "2 of 5 shown (newest first); --limit 0 for all" in result.stderr
    assert "shown" not in table(cli, 100, "--limit", "0").stderr
    assert "shown" not in table(cli, 100, "--limit", "5").stderr  # nothing left out
