"""Issue 15 item 1: the README's SDK example is safe to paste, run as written.

The example runs in a subprocess against the private Redis (the environment overrides the
example's URL, as documented) and the local LLM server, next to another user's session under
the same prefix: that session must survive.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.helpers import add_conversation
from support.llm_server import LLMServer

from neurolink_cli.store.native import NativeStore

README = Path(__file__).resolve().parents[2] / "README.md"

# slow: each test waits on litellm and the local LLM server (seconds each)
pytestmark = [pytest.mark.timeout(120), pytest.mark.slow]


@pytest.fixture(scope="module")
def llm_server() -> Iterator[LLMServer]:
    server = LLMServer().start()
    yield server
    server.stop()


def sdk_example() -> str:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("### Python SDK") :]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match is not None
    return match.group(1)


def test_readme_sdk_example_deletes_nothing_but_its_own_session(
    env: dict[str, str], store: NativeStore, llm_server: LLMServer
) -> None:
    add_conversation(store, "someone-elses-loop-session")
    code = sdk_example()
    assert "clear_all_conversations()" not in code
    check = "\nimport os\nassert nl.settings.redis_url == os.environ['REDIS_URL']\n"
    result = subprocess.run(
        [sys.executable, "-c", code + check],
        env={**env, "OPENAI_API_BASE": llm_server.base_url, "OPENAI_API_KEY": "test-key"},
        capture_output=True,
        timeout=100,
    )
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.startswith(b"echo: What is machine learning?")
    assert store.get("someone-elses-loop-session") is not None
    assert store.get("session-123") is None  # the example cleaned up after itself


def test_readme_warns_what_clear_all_conversations_deletes() -> None:
    text = README.read_text(encoding="utf-8")
    sdk = text[text.index("### Python SDK") : text.index("### `memory list`")]
    assert "clear_all_conversations()" in sdk
    assert "deletes every session" in sdk


def sdk_section_examples() -> list[str]:
    """Every ```python block of the README's SDK section after the first."""
    text = README.read_text(encoding="utf-8")
    start = text.index("### Python SDK")
    section = text[start : text.index("### `memory list`", start)]
    return re.findall(r"```python\n(.*?)```", section, re.S)[1:]


def test_readme_sdk_method_examples_run_and_delete_only_their_own_sessions(
    env: dict[str, str], store: NativeStore, llm_server: LLMServer, tmp_path: Path
) -> None:
    blocks = sdk_section_examples()
    code = "\n".join(blocks)
    for method in ("export_conversation_history", "get_session", "list_sessions",
                   "iter_sessions", "export_all", "stats", "stream", "AsyncNeuroLink",
                   "NeuroLinkError"):  # fmt: skip
        assert method in code, method
    assert "clear_all_conversations" not in code
    add_conversation(store, "someone-elses-loop-session")
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={
            **env,
            "OPENAI_API_BASE": llm_server.base_url,
            "OPENAI_API_KEY": "test-key",
            "NEUROLINK_MODEL": "openai/test",
        },
        cwd=tmp_path,
        capture_output=True,
        timeout=100,
    )
    assert result.returncode == 0, result.stderr.decode()
    out = result.stdout.decode()
    assert "echo: Question 0" in out and "SessionNotFound: session 'no-such-session'" in out
    assert (tmp_path / "readme-exports" / "manifest.json").is_file()
    assert (tmp_path / "readme-all.jsonl").stat().st_size > 0
    assert store.get("someone-elses-loop-session") is not None
    for sid in ("readme-s1", "readme-s2", "readme-s3"):
        assert store.get(sid) is None  # each example cleaned up after itself
