"""``memory delete``: by id, --all, --older-than, --dry-run, confirmation and --yes."""

from __future__ import annotations

import pytest
from support.helpers import add_conversation

from neurolink_cli.models import make_turn
from neurolink_cli.util.timeutil import ms_to_rfc3339, now_ms


def ids(cli) -> list[str]:
    out = cli("memory", "list", "--format", "jsonl", "--limit", "0").stdout
    import orjson

    return sorted(orjson.loads(line)["sessionId"] for line in out.splitlines())


def test_without_a_terminal_yes_is_required(cli, store) -> None:
    add_conversation(store, "a", 2)
    result = cli("memory", "delete", "--session-id", "a")
    assert result.exit_code == 2
    assert "--yes" in result.stderr
    assert ids(cli) == ["a"]


def test_delete_ids_with_yes(cli, store) -> None:
    for sid in ("a", "b", "c"):
        add_conversation(store, sid, 2)
    result = cli("memory", "delete", "--session-id", "a", "--session-id", "b", "--yes")
    assert result.exit_code == 0, result.stderr
    assert "deleted 2 sessions" in result.stderr
    assert ids(cli) == ["c"]


def test_missing_id_is_exit_3_after_deleting_the_others(cli, store) -> None:
    add_conversation(store, "a", 2)
    result = cli("memory", "delete", "--session-id", "a", "--session-id", "nope", "--yes")
    assert result.exit_code == 3
    assert "'nope' not found" in result.stderr
    assert ids(cli) == []


def test_dry_run_prints_and_deletes_nothing(cli, store) -> None:
    add_conversation(store, "a", 2)
    add_conversation(store, "b", 2)
    result = cli("memory", "delete", "--all", "--dry-run")
    assert result.exit_code == 0
    assert sorted(result.stdout.split()) == ["a", "b"]
    assert "would be deleted" in result.stderr
    assert ids(cli) == ["a", "b"]


def test_all_with_yes_and_with_user(cli, store) -> None:
    add_conversation(store, "a", 2, user_id="x")
    add_conversation(store, "b", 2, user_id="y")
    assert cli("memory", "delete", "--all", "--user-id", "x", "--yes").exit_code == 0
    assert ids(cli) == ["b"]
    assert cli("memory", "delete", "--all", "--yes").exit_code == 0
    assert ids(cli) == []


def test_older_than(cli, store) -> None:
    store.append_turn("old", make_turn("user", "x", ms_to_rfc3339(now_ms() - 10 * 86400_000)))
    store.append_turn("new", make_turn("user", "x", ms_to_rfc3339(now_ms() - 3600_000)))
    result = cli("memory", "delete", "--older-than", "7d", "--yes")
    assert result.exit_code == 0, result.stderr
    assert ids(cli) == ["new"]


@pytest.mark.e2e
def test_confirmation_on_a_terminal(store, env) -> None:
    """Through the installed binary in a pseudo-terminal: 'n' keeps, 'y' deletes."""
    import pexpect
    from conftest import NEUROLINK

    add_conversation(store, "keep", 2)
    child = pexpect.spawn(
        NEUROLINK, ["memory", "delete", "--session-id", "keep"], env=env, timeout=20
    )
    child.expect(r"Delete keep at .*\? \[y/N\]")
    child.sendline("n")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1
    assert b"nothing deleted" in child.before and b"Aborted" not in child.before
    assert store.get("keep") is not None
    child = pexpect.spawn(
        NEUROLINK, ["memory", "delete", "--session-id", "keep"], env=env, timeout=20
    )
    child.expect(r"\[y/N\]")
    child.sendline("y")
    child.expect("deleted 1 session")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert store.get("keep") is None


def test_selector_is_required_and_exclusive(cli) -> None:
    assert cli("memory", "delete", "--yes").exit_code == 2
    assert cli("memory", "delete", "--all", "--session-id", "a", "--yes").exit_code == 2
    assert cli("memory", "delete", "--older-than", "soon", "--yes").exit_code == 2
