"""``neurolink memory show SESSION_ID`` (CONTRACT §9, issue 18 item 2): both layouts, plain
text when piped or with --no-pager, rich through the pager on a terminal."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner
from conftest import NEUROLINK
from support.helpers import add_conversation

from neurolink_cli.cli import main
from neurolink_cli.cli.pager import page
from neurolink_cli.environment import Environment
from neurolink_cli.models import make_turn
from neurolink_cli.store.native import NativeStore

ERROR = {"type": "rate_limit", "message": "model 'm': rate limited", "status": 429}


def seed(store: NativeStore) -> None:
    add_conversation(store, "s1", 2, user_id="alice")
    store.append_turn("s1", make_turn("user", "weather?", "2026-01-01T00:05:00.000Z"))
    store.append_turn(
        "s1",
        make_turn(
            "assistant",
            "## Forecast\n\n**sunny**, see `get_weather`",
            "2026-01-01T00:05:01.000Z",
            model="gpt-4o-mini",
            provider="openai",
            tokens={"prompt": 5, "completion": 9},
            latency_ms=1234,
            cost=0.00012,
            tool_calls=[
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                }
            ],
        ),  # fmt: skip
    )
    store.append_turn("s1", make_turn("user", "more", "2026-01-01T00:06:00.000Z"))
    store.append_turn(
        "s1", make_turn("assistant", "", "2026-01-01T00:06:01.000Z", model="m", error=ERROR)
    )
    store.append_turn(
        "s1", make_turn("assistant", "half an", "2026-01-01T00:07:01.000Z", interrupted=True)
    )


def test_piped_show_is_plain_text_with_every_fact(cli: Any, store: NativeStore) -> None:
    seed(store)
    result = cli("memory", "show", "s1")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "\x1b[" not in out
    assert "session: s1" in out and "user: alice" in out and "failed turns: 1" in out
    assert "── #3 assistant · 2026-01-01 00:05:01 UTC · gpt-4o-mini (openai)" in out
    assert "5 → 9 tokens · 1,234 ms · $0.000120" in out
    assert '>> tool call get_weather({"city": "Oslo"})' in out
    assert "## Forecast\n\n**sunny**" in out  # content exactly as stored
    assert "!! error rate_limit (HTTP 429): model 'm': rate limited" in out
    assert "── #6 assistant" in out and "!! interrupted\nhalf an" in out
    assert cli("memory", "show", "s1", "--no-pager").stdout == out


def test_show_of_a_typescript_sdk_session(cli: Any, client: Any, prefix: str) -> None:
    doc = {
        "id": "c-1", "title": "Weather chat", "sessionId": "ts-1", "userId": "bob",
        "createdAt": "2026-01-01T00:00:00.000Z", "updatedAt": "2026-01-01T00:01:00.000Z",
        "messages": [
            {"id": "m1", "role": "user", "content": "weather?", "timestamp": "2026-01-01T00:00:00.000Z"},
            {"id": "m2", "role": "tool_call", "content": "", "tool": "getWeather",
             "args": {"city": "Oslo"}, "timestamp": "2026-01-01T00:00:01.000Z"},
            {"id": "m3", "role": "tool_result", "content": "", "tool": "getWeather",
             "result": {"temp": 3}, "timestamp": "2026-01-01T00:00:02.000Z"},
            {"id": "m4", "role": "assistant", "content": "3 degrees", "timestamp": "2026-01-01T00:00:03.000Z"},
        ],
    }  # fmt: skip
    client.set(f"{prefix}:conversation:bob:ts-1", orjson.dumps(doc))
    out = cli("memory", "show", "ts-1", env={"REDIS_KEY_PREFIX": f"{prefix}:conversation:"}).stdout
    assert "title: Weather chat" in out and "user: bob" in out and "layout: neurolink-ts" in out
    assert '>> tool call getWeather({"city":"Oslo"})' in out
    assert '<< tool result {"temp":3}' in out and "3 degrees" in out


def test_missing_and_bad_ids(cli: Any) -> None:
    missing = cli("memory", "show", "nope")
    assert missing.exit_code == 3 and "not found" in missing.stderr
    assert cli("memory", "show", "has space").exit_code == 2


def run_on_terminal(env: dict[str, str], *args: str, width: int = 100) -> tuple[int, str]:
    fake = Environment.fake(tty=True, colors=True, width=width)
    full = {**{k: None for k in os.environ if k.startswith(("REDIS_", "NEUROLINK_"))}, **env}
    result = CliRunner().invoke(main, list(args), env=full, obj=fake, catch_exceptions=False)
    return result.exit_code, Environment.text_of(fake.stdout)


def test_terminal_goes_through_the_pager_with_colours(
    env: dict[str, str], store: NativeStore, tmp_path: Path
) -> None:
    seed(store)
    seen = tmp_path / "paged"
    pager = f"sh -c 'echo LESS=$LESS > {seen}; cat >> {seen}'"
    code, out = run_on_terminal({**env, "NO_COLOR": "", "PAGER": pager}, "memory", "show", "s1")
    assert code == 0 and out == ""
    paged = seen.read_text()
    assert paged.startswith("LESS=FRX\n") and "\x1b[" in paged  # colours for less -R
    assert "Forecast" in paged and "**sunny**" not in paged  # Markdown rendered
    assert "tool call get_weather" in paged and "rate_limit (HTTP 429)" in paged
    # --no-pager on a terminal: plain text on stdout
    code, out = run_on_terminal({**env, "PAGER": pager}, "memory", "show", "s1", "--no-pager")
    assert code == 0 and out.startswith("session: s1") and "\x1b[" not in out


def test_no_pager_program_writes_directly() -> None:
    fake = Environment.fake(tty=True)
    page("text\n", fake, {"PAGER": "no-such-pager-xyz"})
    assert Environment.text_of(fake.stdout) == "text\n"
    fake = Environment.fake(tty=True)
    page("cat\n", fake, {"PAGER": "cat"})
    assert Environment.text_of(fake.stdout) == "cat\n"


@pytest.mark.e2e
def test_installed_binary_pages_through_less_in_a_terminal(
    env: dict[str, str], store: NativeStore
) -> None:
    import pexpect

    for i in range(30):  # longer than the 24-line terminal: less waits for the user
        store.append_turn("long", make_turn("user", f"line {i}", f"2026-01-01T00:00:{i:02d}.000Z"))
    child = pexpect.spawn(
        NEUROLINK,
        ["memory", "show", "long"],
        env={**env, "PAGER": "less", "TERM": "xterm", "NO_COLOR": ""},
        dimensions=(24, 80),
        timeout=20,
    )
    child.expect("line 0")
    assert child.isalive()  # less holds the screen
    child.send("G")  # to the end, as in less
    child.expect("line 29")
    child.send("q")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
