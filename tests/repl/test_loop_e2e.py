"""``neurolink loop`` as a user runs it: the installed binary in a pseudo-terminal (pexpect),
talking to the local test LLM server and the suite's private Redis. No network."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pexpect
import pytest
from conftest import NEUROLINK
from support.llm_server import LLMServer
from support.redis_server import RedisServer, free_port

pytestmark = pytest.mark.timeout(120)

SESSION = re.compile(rb"(new|resuming) session ([0-9a-f-]{36})")


@pytest.fixture(scope="module")
def llm_server() -> Iterator[LLMServer]:
    server = LLMServer().start()
    yield server
    server.stop()


@pytest.fixture
def loop_env(env: dict[str, str], llm_server: LLMServer) -> dict[str, str]:
    return {
        **env,
        "OPENAI_API_BASE": llm_server.base_url,
        "OPENAI_API_KEY": "test-key",
        "NEUROLINK_MODEL": "openai/test",
        "TERM": "xterm",
        "PROMPT_TOOLKIT_NO_CPR": "1",
    }


def spawn(env: dict[str, str], *args: str, cwd: Path | None = None) -> pexpect.spawn:
    child = pexpect.spawn(
        NEUROLINK,
        ["loop", *args],
        env=env,
        cwd=str(cwd) if cwd else None,
        timeout=30,
        dimensions=(40, 200),
    )
    return child


def ask(child: pexpect.spawn, text: str, answer: str) -> None:
    child.expect_exact(">")
    child.sendline(text)
    child.expect_exact(answer)


def quit_loop(child: pexpect.spawn) -> int:
    child.expect_exact(">")
    child.sendcontrol("d")
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus  # type: ignore[no-any-return]


@pytest.mark.e2e
def test_chat_quit_export_resume(loop_env: dict[str, str], neurolink_bin: Any) -> None:
    child = spawn(loop_env)
    child.expect(SESSION)
    sid = child.match.group(2).decode()
    ask(child, "hello", "echo: hello (1 messages)")
    ask(child, "slow", "w5 ")
    child.sendintr()  # Ctrl-C while the answer streams
    child.expect_exact("interrupted")
    ask(child, "abc\x03", "")  # Ctrl-C at the prompt clears the line
    ask(child, "after", "echo: after (5 messages)")
    assert quit_loop(child) == 0

    result = neurolink_bin("memory", "export", "--session-id", sid, env_extra=loop_env)
    assert result.returncode == 0, result.stderr
    doc = orjson.loads(result.stdout)
    turns = doc["turns"]
    assert [t["role"] for t in turns] == ["user", "assistant"] * 3
    assert [t["index"] for t in turns] == list(range(6))
    first = turns[1]
    assert first["model"] == "test" and first["provider"] == "openai"
    assert first["tokens"] == {"prompt": 2, "completion": 4}
    assert first["timestamp"].endswith("Z") and isinstance(first["latencyMs"], int)
    assert turns[3]["interrupted"] is True and turns[3]["content"].startswith("w0 w1")
    assert doc["metadata"]["model"] == "test" and doc["metadata"]["totalTurns"] == 6

    child = spawn(loop_env, "--session-id", sid)
    child.expect_exact(f"resuming session {sid} (6 turns)".encode())
    ask(child, "remember?", "echo: remember? (7 messages)")  # the model got the history
    assert quit_loop(child) == 0


@pytest.mark.e2e
def test_memory_store_and_memory_off(
    loop_env: dict[str, str], llm_server: LLMServer, neurolink_bin: Any
) -> None:
    child = spawn(loop_env, "--store", "memory")
    child.expect(SESSION)
    sid = child.match.group(2).decode()
    child.expect_exact("will not see")
    ask(child, "one", "(1 messages)")
    ask(child, "two", "(3 messages)")
    assert quit_loop(child) == 0
    listed = neurolink_bin("memory", "list", "--format", "json", env_extra=loop_env)
    assert sid not in listed.stdout.decode()

    child = spawn(loop_env, "--disable-conversation-memory")
    child.expect_exact("nothing is stored")
    ask(child, "one", "(1 messages)")
    ask(child, "two", "(1 messages)")  # no history sent
    assert quit_loop(child) == 0
    listed = neurolink_bin("memory", "list", "--format", "json", env_extra=loop_env)
    assert orjson.loads(listed.stdout or b"[]") == []


@pytest.mark.e2e
def test_provider_error_is_one_line_and_chat_goes_on(loop_env: dict[str, str]) -> None:
    child = spawn(loop_env, "--model", "openai/fail-401")
    child.expect(SESSION)
    child.expect_exact(">")
    child.sendline("hi")
    child.expect(rb"neurolink: error: model 'openai/fail-401': authentication refused[^\r\n]*")
    assert b"Give Feedback" not in child.before + child.after
    child.sendline("/model openai/test")
    ask(child, "hi", "echo: hi (1 messages)")
    assert quit_loop(child) == 0


@pytest.mark.e2e
def test_redis_unreachable_at_start_exits_4(loop_env: dict[str, str]) -> None:
    env = {**loop_env, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    child = spawn(env)
    child.expect_exact("cannot reach Redis")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 4


@pytest.mark.e2e
def test_bad_session_id_exits_2(loop_env: dict[str, str]) -> None:
    child = spawn(loop_env, "--session-id", "has space")
    child.expect_exact("bad session id")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 2


@pytest.mark.e2e
def test_redis_gone_mid_chat_then_back(loop_env: dict[str, str], neurolink_bin: Any) -> None:
    server = RedisServer().start()
    env = {**loop_env, "REDIS_URL": server.url}
    try:
        child = spawn(env)
        child.expect(SESSION)
        sid = child.match.group(2).decode()
        ask(child, "one", "(1 messages)")
        # The answer's turn is written after its text appears: stop Redis only once the
        # prompt is back (the exchange stored), or that write meets the outage first and
        # the one-time warning scrolls past before "two" is sent.
        child.expect_exact(">")
        server.stop()
        child.sendline("two")
        child.expect_exact("cannot save to Redis")
        child.expect_exact("(3 messages)")  # the chat goes on
        child.expect_exact(">")  # the answer's turn is queued too
        server.start()  # a fresh, empty server on the same port
        child.sendline("three")
        child.expect_exact("Redis is back; wrote 2 queued turn(s)")
        child.expect_exact("(5 messages)")
        assert quit_loop(child) == 0
        doc = orjson.loads(
            neurolink_bin("memory", "export", "--session-id", sid, env_extra=env).stdout
        )
        assert [t["content"] for t in doc["turns"] if t["role"] == "user"] == ["two", "three"]
        assert [t["index"] for t in doc["turns"]] == [0, 1, 2, 3]

        child = spawn(env)
        child.expect(SESSION)
        server.stop()
        ask(child, "lost", "(1 messages)")
        child.expect_exact(">")
        child.sendcontrol("d")
        child.expect_exact("could not be saved and are lost")
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == 4
    finally:
        server.cleanup()


@pytest.mark.e2e
def test_piped_input_prints_answers_only(loop_env: dict[str, str], neurolink_bin: Any) -> None:
    result = neurolink_bin(
        "loop",
        "--user-id",
        "me",
        "--no-stream",
        "--each-line",  # one message per line (by default piped input is one prompt)
        input=b"hello\n/session\nagain\n",
        env_extra=loop_env,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"echo: hello (1 messages)\necho: again (3 messages)\n"
    sid = SESSION.search(result.stderr).group(2).decode()  # type: ignore[union-attr]
    assert b"user     me" in result.stderr
    doc = orjson.loads(
        neurolink_bin("memory", "export", "--session-id", sid, env_extra=loop_env).stdout
    )
    assert doc["userId"] == "me" and len(doc["turns"]) == 4


@pytest.mark.e2e
def test_first_message_at_once_then_ctrl_d(loop_env: dict[str, str], neurolink_bin: Any) -> None:
    """Issue 15's timing table as a user meets it: type the first message the moment the
    prompt shows (litellm still loading): "starting…" shows, then the answer; Ctrl-D then
    ends the process with every turn stored and a line saying how to resume."""
    child = spawn(loop_env)
    child.expect(SESSION)
    sid = child.match.group(2).decode()
    child.expect_exact(">")
    child.sendline("hello")
    child.expect_exact("starting")
    child.expect_exact("echo: hello (1 messages)")
    child.expect_exact(">")
    child.sendcontrol("d")
    child.expect_exact(f"session {sid} saved (2 turns); resume with: neurolink loop --session-id")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    doc = orjson.loads(
        neurolink_bin("memory", "export", "--session-id", sid, env_extra=loop_env).stdout
    )
    assert [t["content"] for t in doc["turns"]] == ["hello", "echo: hello (1 messages)"]


@pytest.mark.e2e
def test_list_conversations_picks_a_recent_session(loop_env: dict[str, str]) -> None:
    """The TypeScript CLI's ``loop -l``: a numbered list of recent sessions, pick by number."""
    child = spawn(loop_env, "-r", "picked-one")
    ask(child, "remember me", "echo: remember me (1 messages)")
    assert quit_loop(child) == 0
    child = spawn(loop_env, "-l")
    child.expect_exact("picked-one")
    child.expect_exact("Resume which?")
    child.sendline("1")
    child.expect_exact("resuming session picked-one (2 turns)")
    ask(child, "and now?", "echo: and now? (3 messages)")
    assert quit_loop(child) == 0
