"""Usage errors and wording as a user meets them (issue 15 item 10; aliases of item 11)."""

from __future__ import annotations

from typing import Any

import pytest
from support.helpers import add_conversation


def one_line(result: Any) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["memroy"], "Did you mean 'memory'?"),
        (["memory", "lst"], "Did you mean 'list'?"),
        (["memory", "--redis-url", "redis://x", "list"], "put it before the command"),
        (["memory", "list", "--limit", "x"], "memory list --help'"),
        (["memory", "export"], "Missing option '--session-id'"),
        (["memory", "list", "--format", "yaml"], "'yaml' is not one of"),
        (["memory", "export", "--session-id", "s", "--umask", "999"], "octal umask"),
    ],
)
def test_click_usage_errors_are_one_line_with_a_hint(
    cli: Any, args: list[str], expected: str
) -> None:
    result = cli(*args)
    assert result.exit_code == 2
    line = one_line(result)
    assert line.startswith("neurolink: error: ") and expected in line
    assert line.count("Did you mean") <= 1


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["memory", "export", "--session-id", "s", "--since", "5x"], "bad --since '5x'"),
        (["memory", "export", "--session-id", "s", "--start-time", "5x"], "bad --start-time"),
        (["memory", "export-all", "--until", "5x"], "bad --until '5x'"),
        (["memory", "export-all", "--end-time", "5x"], "bad --end-time '5x'"),
    ],
)
def test_a_bad_time_is_named_as_typed(cli: Any, args: list[str], named: str) -> None:
    result = cli(*args)
    assert result.exit_code == 2 and named in one_line(result)


def test_alias_and_name_together_are_refused(cli: Any) -> None:
    result = cli("memory", "export-all", "--since", "1d", "--start-time", "2d")
    assert result.exit_code == 2 and "not both" in one_line(result)


def test_a_duration_too_long_says_so(cli: Any) -> None:
    result = cli("memory", "list", "--since", "99999999999d")
    assert result.exit_code == 2 and "before the year 1" in one_line(result)
    assert cli("memory", "list", "--since", "700000d").exit_code == 0


@pytest.mark.parametrize("cmd", [["memory", "list"], ["memory", "export-all"]])
def test_start_after_end_is_bad_input(cli: Any, cmd: list[str]) -> None:
    result = cli(*cmd, "--since", "7d", "--until", "30d")
    assert result.exit_code == 2 and "is not before --until" in one_line(result)


def test_export_all_into_a_file_says_it_is_a_file(cli: Any, tmp_path: Any, store: Any) -> None:
    add_conversation(store, "s1", 2)
    target = tmp_path / "existing.txt"
    target.write_text("keep me")
    result = cli("memory", "export-all", "--output", str(target))
    assert result.exit_code == 1 and "it is a file, not a directory" in one_line(result)
    assert target.read_text() == "keep me"


def test_deleted_counts_read_well(cli: Any, store: Any) -> None:
    add_conversation(store, "one", 2)
    result = cli("memory", "delete", "--session-id", "one", "--yes")
    assert "deleted 1 session\n" in result.stderr


def test_history_and_clear_are_the_typescript_clis_names(cli: Any, store: Any) -> None:
    add_conversation(store, "h1", 2)
    add_conversation(store, "h2", 2)
    history = cli("memory", "history", "h1")
    assert history.exit_code == 0
    assert history.stdout == cli("memory", "export", "--session-id", "h1").stdout
    assert cli("memory", "clear", "h1", "--yes").exit_code == 0
    assert cli("memory", "export", "--session-id", "h1").exit_code == 3
    assert cli("memory", "clear").exit_code == 2  # no terminal, no --yes: refused
    assert cli("memory", "export", "--session-id", "h2").exit_code == 0
