"""``neurolink memory search PATTERN`` (CONTRACT §9, issue 18 item 3): substring, regex,
case, filters, both layouts, JSON lines when piped, highlighted lines on a terminal, exit 1
when nothing matched."""

from __future__ import annotations

import os
import re
from typing import Any

import orjson
from click.testing import CliRunner
from support.helpers import add_conversation

from neurolink_cli.cli import main
from neurolink_cli.environment import Environment
from neurolink_cli.models import make_turn
from neurolink_cli.search import Matcher, SearchQuery
from neurolink_cli.store.native import NativeStore

ERROR = {"type": "timeout", "message": "model 'm': the provider did not answer", "status": 408}


def seed(store: NativeStore) -> None:
    add_conversation(store, "a", 4, user_id="alice", content="alpha {i} Refund")
    add_conversation(store, "b", 2, user_id="bob", start_s=3600, content="beta {i} refunded")
    store.append_turn("b", make_turn("user", 'say "hi"\nnow', "2026-01-01T02:00:00.000Z"))
    store.append_turn(
        "b",
        make_turn(
            "assistant", "", "2026-01-01T02:00:01.000Z", model="m", provider="p", error=ERROR
        ),
    )
    store.append_turn("c", make_turn("user", "Ünïcode straße", "2026-01-02T00:00:00.000Z"))


def lines(result: Any) -> list[dict[str, Any]]:
    return [orjson.loads(x) for x in result.stdout.splitlines()]


def test_substring_piped_is_one_json_object_per_turn(cli: Any, store: NativeStore) -> None:
    seed(store)
    result = cli("memory", "search", "Refund")
    assert result.exit_code == 0, result.stderr
    found = lines(result)
    assert [(h["sessionId"], h["index"]) for h in found] == [("a", 0), ("a", 1), ("a", 2), ("a", 3)]
    assert found[1] == {
        "sessionId": "a",
        "userId": "alice",
        "index": 1,
        "role": "assistant",
        "timestamp": "2026-01-01T00:01:00.000Z",
        "content": "alpha 1 Refund",
    }
    assert list(found[0]) == ["sessionId", "userId", "index", "role", "timestamp", "content"]


def test_case_regex_and_filters(cli: Any, store: NativeStore) -> None:
    seed(store)
    ids = lambda *a: [(h["sessionId"], h["index"]) for h in lines(cli("memory", "search", *a))]  # noqa: E731
    assert len(ids("-i", "refund")) == 6
    assert ids("--regex", r"refund(ed)?\b") == [("b", 0), ("b", 1)]
    assert ids("-E", "-i", "^alpha [13]") == [("a", 1), ("a", 3)]
    assert ids("-i", "refund", "--role", "user") == [("a", 0), ("a", 2), ("b", 0)]
    assert ids("-i", "refund", "--user-id", "bob") == [("b", 0), ("b", 1)]
    assert ids("-i", "refund", "--model", "gpt-4o-mini") == [("a", 1), ("a", 3), ("b", 1)]
    assert ids("-i", "refund", "--model", "openai/gpt-4o-mini") == [("a", 1), ("a", 3), ("b", 1)]
    assert ids(
        "-i", "refund", "--since", "2026-01-01T00:01:00Z", "--until", "2026-01-01T01:00:00Z"
    ) == [
        ("a", 1),
        ("a", 2),
        ("a", 3),
    ]
    assert ids('"hi"\nnow') == [("b", 2)]  # JSON-escaped characters still match
    assert ids("STRASSE", "-i") == []  # no Unicode case folding beyond Python's lower()
    assert ids("STRAßE", "-i") == [("c", 0)]
    # a failed turn matches on its error message and type; --errors keeps only those
    assert ids("did not answer") == [("b", 3)]
    assert ids("timeout", "--errors") == [("b", 3)]
    assert ids("", "--errors") == [("b", 3)]


def test_nothing_matched_exits_1_and_bad_regex_exits_2(cli: Any, store: NativeStore) -> None:
    seed(store)
    none = cli("memory", "search", "zebra")
    assert none.exit_code == 1 and none.stdout == "" and none.stderr == ""
    bad = cli("memory", "search", "--regex", "(")
    assert bad.exit_code == 2 and "bad --regex pattern" in bad.stderr


def test_typescript_layout_is_searched(cli: Any, client: Any, prefix: str) -> None:
    doc = {
        "id": "c", "sessionId": "ts-9", "userId": "carol", "title": None,
        "createdAt": "2026-01-01T00:00:00.000Z", "updatedAt": "2026-01-01T00:00:01.000Z",
        "messages": [{"id": "m1", "role": "user", "content": "where is my parcel",
                      "timestamp": "2026-01-01T00:00:00.000Z"}],
    }  # fmt: skip
    client.set(f"{prefix}:conversation:carol:ts-9", orjson.dumps(doc))
    result = cli("memory", "search", "parcel", env={"REDIS_KEY_PREFIX": f"{prefix}:conversation:"})
    assert [(h["sessionId"], h["userId"], h["index"]) for h in lines(result)] == [
        ("ts-9", "carol", 0)
    ]


def test_terminal_lines_highlight_the_match(env: dict[str, str], store: NativeStore) -> None:
    seed(store)
    fake = Environment.fake(tty=True, colors=True, width=100)
    full = {**{k: None for k in os.environ if k.startswith(("REDIS_", "NEUROLINK_"))}, **env}
    full["NO_COLOR"] = ""
    result = CliRunner().invoke(main, ["memory", "search", "did not"], env=full, obj=fake)
    assert result.exit_code == 0
    out = Environment.text_of(fake.stdout)
    assert len(out.splitlines()) == 1
    plain = re.sub(r"\x1b\[[0-9;]*m", "", out)
    assert (
        plain
        == "b  #3  assistant  2026-01-01 02:00:01 UTC  model 'm': the provider did not answer\n"
    )
    assert "\x1b[1;7;33mdid not\x1b[0m" in out  # the match highlighted


def test_raw_prefilter_is_used_only_when_safe() -> None:
    assert Matcher(SearchQuery("refund")).needle == b"refund"
    assert Matcher(SearchQuery("Refund", ignore_case=True)).needle == b"refund"
    assert Matcher(SearchQuery('say "hi"')).needle is None
    assert Matcher(SearchQuery("straße", ignore_case=True)).needle is None
    assert Matcher(SearchQuery("a.c", regex=True)).needle is None
