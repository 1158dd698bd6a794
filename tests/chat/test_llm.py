"""The litellm adapter against a local OpenAI-compatible server (litellm's real HTTP path).

Also: the ``memory`` commands (and ``--help``) never import litellm, checked in a subprocess.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from support.llm_server import LLMServer

from neurolink_cli.chat.llm import LiteLLM, provider_error
from neurolink_cli.errors import ProviderError

# slow: each test waits on litellm and the local LLM server (seconds each)
pytestmark = [pytest.mark.timeout(60), pytest.mark.slow]

MSGS = [{"role": "user", "content": "hello there"}]


@pytest.fixture(scope="module")
def llm_server() -> Iterator[LLMServer]:
    server = LLMServer().start()
    yield server
    server.stop()


@pytest.fixture
def llm(llm_server: LLMServer) -> LiteLLM:
    return LiteLLM(api_base=llm_server.base_url, api_key="test-key")


def test_non_streaming_with_usage(llm: LiteLLM, llm_server: LLMServer) -> None:
    completion = llm.complete(MSGS, model="openai/test", stream=False)
    assert "".join(completion) == "echo: hello there (1 messages)"
    assert completion.text == "echo: hello there (1 messages)"
    assert completion.model == "test" and completion.provider == "openai"
    assert completion.usage.prompt_tokens == 3 and completion.usage.completion_tokens == 5
    assert completion.cost is None  # litellm cannot price "test"
    assert completion.latency_ms is not None and completion.latency_ms >= 0
    assert llm_server.requests[-1].get("stream") in (None, False)


def test_streaming_drops_none_deltas_and_reports_usage(llm: LiteLLM, llm_server: LLMServer) -> None:
    completion = llm.complete(MSGS, model="openai/test", stream=True)
    deltas = list(completion)
    assert all(isinstance(d, str) and d for d in deltas)
    assert len(deltas) > 1
    assert "".join(deltas) == "echo: hello there (1 messages)"
    assert completion.usage.prompt_tokens == 3
    assert completion.usage.completion_tokens == 5
    assert llm_server.requests[-1]["stream_options"] == {"include_usage": True}


def test_parameters_reach_the_provider(llm: LiteLLM, llm_server: LLMServer) -> None:
    list(llm.complete(MSGS, model="openai/test", temperature=0.3, max_tokens=17))
    req = llm_server.requests[-1]
    assert req["temperature"] == 0.3 and req["max_tokens"] == 17
    assert req["messages"] == MSGS


@pytest.mark.parametrize("stream", [True, False])
def test_cost_when_litellm_can_price_the_model(llm: LiteLLM, stream: bool) -> None:
    completion = llm.complete(MSGS, model="openai/gpt-4o-mini", stream=stream)
    list(completion)
    assert completion.cost is not None and completion.cost > 0
    assert completion.model == "gpt-4o-mini"


@pytest.mark.parametrize(
    ("model", "words", "kind", "status"),
    [
        ("openai/fail-401", "authentication", "auth", 401),
        ("openai/fail-404", "not found", "not_found", 404),
        ("openai/fail-429", "rate limited", "rate_limit", 429),
        ("openai/fail-500", "the provider failed", "server_error", 500),
        ("no-such-model-xyz", "unknown to litellm", "unknown_model", None),
    ],
)
def test_provider_errors_are_one_readable_line(
    llm: LiteLLM,
    model: str,
    words: str,
    kind: str,
    status: int | None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(ProviderError) as info:
        list(llm.complete(MSGS, model=model, stream=True))
    message = str(info.value)
    assert words in message
    assert info.value.as_turn_error() == {"type": kind, "message": message, "status": status}
    assert "\n" not in message and len(message) < 400
    assert info.value.exit_code == 1
    out = capsys.readouterr().out
    assert out == ""  # never litellm's banner on stdout


def test_interrupted_stream_keeps_partial_text(llm: LiteLLM) -> None:
    completion = llm.complete([{"role": "user", "content": "slow"}], model="openai/test")
    got = []
    for delta in completion:
        got.append(delta)
        if len(got) == 3:
            break
    completion.close()
    assert completion.text == "".join(got) == "w0 w1 w2 "
    assert completion.latency_ms is not None


def test_mock_response_needs_no_server() -> None:
    llm = LiteLLM(extra={"mock_response": "mocked answer"})
    completion = llm.complete(MSGS, model="gpt-4o-mini", stream=True)
    assert "".join(completion) == "mocked answer"


def test_provider_error_message_is_trimmed() -> None:
    class AuthenticationError(Exception):
        pass

    err = provider_error(
        "openai/x", AuthenticationError("litellm.AuthenticationError: Bad key\nmore lines")
    )
    assert (
        str(err)
        == "model 'openai/x': authentication refused (check the provider's API key variable): Bad key"
    )


IMPORT_CHECK = """
import sys
sys.argv = ["neurolink", *sys.argv[1:]]
from neurolink_cli.__main__ import main
try:
    main()
except SystemExit:
    pass
heavy = sorted(m for m in ("litellm", "prompt_toolkit", "openai") if m in sys.modules)
sys.stderr.write("HEAVY=" + ",".join(heavy) + "\\n")
"""


def _heavy_modules(args: list[str], env: dict[str, str]) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", IMPORT_CHECK, *args],
        capture_output=True,
        env=env,
        timeout=60,
        text=True,
    )
    line = [x for x in proc.stderr.splitlines() if x.startswith("HEAVY=")]
    assert line, proc.stderr
    return line[-1][len("HEAVY=") :]


def test_memory_list_never_imports_litellm(env: dict[str, str]) -> None:
    assert _heavy_modules(["memory", "list", "--format", "json"], env) == ""


def test_help_never_imports_litellm_or_prompt_toolkit(env: dict[str, str]) -> None:
    assert _heavy_modules(["--help"], env) == ""
    assert _heavy_modules(["loop", "--help"], env) == ""


def test_import_package_is_cheap(env: dict[str, str]) -> None:
    code = (
        "import sys, neurolink_cli; assert neurolink_cli.__version__; "
        "print('litellm' in sys.modules, 'neurolink_cli.sdk' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, env=env, text=True, timeout=30
    )
    assert out.stdout.split() == ["False", "False"], out.stderr


def test_first_send_waits_for_the_warm_up_instead_of_importing_again(
    llm: LiteLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 15: the warm-up thread and the first message must not load litellm at once."""
    import threading
    import time

    from neurolink_cli.chat import llm as llm_module

    monkeypatch.setattr(llm_module, "_warmed", False)
    events: list[str] = []
    real_load = llm_module.load_litellm

    def slow_warm_up(model: str | None = None) -> None:
        with llm_module._lock:
            events.append("warm-up start")
            real_load()
            time.sleep(0.3)  # litellm "still loading"
            events.append("warm-up end")
            llm_module._warmed = True

    thread = threading.Thread(target=slow_warm_up)
    thread.start()
    while not events:
        time.sleep(0.01)
    assert not llm.ready()
    completion = llm.complete(MSGS, model="openai/test", stream=False)
    events.append("answer")
    thread.join()
    assert "".join(completion).startswith("echo: hello there")
    assert events == ["warm-up start", "warm-up end", "answer"]
    assert llm.ready()


def test_warm_up_runs_the_first_call_paths_without_network() -> None:
    from neurolink_cli.chat.llm import litellm_ready, warm_up

    warm_up("openai/test")
    assert litellm_ready()
    assert "httpcore" in sys.modules


def test_missing_provider_key_is_one_short_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 15 item 10: no key was four wrapped lines of litellm's text."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_BASE", raising=False)
    with pytest.raises(ProviderError) as caught:
        LiteLLM().complete(MSGS, model="openai/gpt-4o-mini", stream=False)
    assert str(caught.value) == (
        "model 'openai/gpt-4o-mini': no API key; set OPENAI_API_KEY (environment or .env)"
    )
