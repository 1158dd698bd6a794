"""The LLM adapter: the only module that imports litellm.

``import litellm`` takes seconds and, left alone, downloads a price list and prints a banner
to stdout on errors. So it is imported lazily (first call of :func:`load_litellm`), with
``LITELLM_LOCAL_MODEL_COST_MAP=True`` set before the import and ``suppress_debug_info`` after.
Only ``neurolink loop`` and the SDK's ``generate`` reach this module.

:class:`LiteLLM` turns one request into a :class:`Completion`: an iterator of text deltas
(``None`` deltas dropped) that, once exhausted, carries the usage the provider reported (also
when streaming, through ``stream_options={"include_usage": True}``), the cost when litellm can
price the model, and the latency. Every provider exception becomes a
:class:`~neurolink_cli.errors.ProviderError` with one readable line.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from neurolink_cli.errors import ProviderError

_litellm: Any = None

# litellm exception class name -> (stored error type, what to tell the user); the first
# name found in the exception's class hierarchy wins, so subclasses come first
_HINTS = {
    "AuthenticationError": (
        "auth",
        "authentication refused (check the provider's API key variable)",
    ),
    "PermissionDeniedError": ("permission", "permission denied by the provider"),
    "NotFoundError": ("not_found", "model or endpoint not found"),
    "RateLimitError": ("rate_limit", "rate limited by the provider (wait and try again)"),
    "ContextWindowExceededError": ("context_window", "the conversation is too long for this model"),
    "ContentPolicyViolationError": ("content_policy", "refused by the provider's content policy"),
    "BadRequestError": ("bad_request", "request rejected"),
    "Timeout": ("timeout", "the provider did not answer in time"),
    "APIConnectionError": ("connection", "cannot reach the provider"),
    "ServiceUnavailableError": ("unavailable", "the provider is unavailable"),
    "InternalServerError": ("server_error", "the provider failed"),
}
# environment variables whose values never appear in a stored or printed error message
_SECRET_VARIABLE = re.compile(r"(API_KEY|_TOKEN|_SECRET|SECRET_KEY|_PASSWORD)$")


# One lock for the import and the warm-up: the warm-up thread and the first send must never
# import litellm twice at once (on a busy box that doubled the wait for the first answer).
_lock = threading.RLock()
_warmed = False


def load_litellm() -> Any:
    """Import litellm once, quietly and without network (local price map, no banner).

    Thread-safe: a caller arriving while another thread imports waits for that import.
    """
    global _litellm
    if _litellm is not None:
        return _litellm
    with _lock:
        if _litellm is None:
            os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
            os.environ.setdefault("LITELLM_LOG", "ERROR")
            import litellm

            litellm.suppress_debug_info = True
            litellm.telemetry = False
            _litellm = litellm
    return _litellm


def litellm_ready() -> bool:
    """True once litellm is imported and warmed up (the next call pays no start-up cost)."""
    return _litellm is not None and _warmed


def warm_up(model: str | None = None) -> None:
    """Import litellm and run its first-call code paths once (a mock answer, no network),
    so the first real message costs only the request. Holds the lock until done: a send
    arriving meanwhile waits for this instead of importing a second time."""
    global _warmed
    with _lock:
        if _warmed:
            return
        litellm = load_litellm()
        with contextlib.suppress(Exception):  # best effort: the real call works regardless
            if model:
                resolve(model)
            chunks = litellm.completion(
                model="openai/warm-up",
                messages=[{"role": "user", "content": "hi"}],
                mock_response="ok",
                stream=True,
            )
            for _ in chunks:
                pass
            # litellm's HTTP stack, imported lazily by the first real request (a dependency
            # of litellm's, not ours: hence by name)
            importlib.import_module("httpcore")
        _warmed = True


def provider_error(
    model: str, exc: BaseException, *, secrets: tuple[str | None, ...] = (), stream: bool = False
) -> ProviderError:
    """One readable line for a provider exception (never litellm's multi-line text), with
    its error type and HTTP status, API keys and tokens scrubbed out of it.

    ``stream``: the exception broke off an answer already arriving (type ``stream_broken``).
    """
    name = type(exc).__name__
    text = scrub_secrets(str(exc).strip() or name, secrets)
    text = re.sub(r"^(litellm\.)?\w+(Error|Exception|Timeout)?:\s*", "", text)
    text = re.sub(r"^\w+(Error|Exception):\s*", "", text)
    text = re.sub(r"^\w+Exception - ", "", text)
    first = " ".join(text.splitlines()[0].split()) if text else name
    if len(first) > 240:
        first = first[:237] + "..."
    status = _status_of(exc)
    if "LLM Provider NOT provided" in text:
        return ProviderError(
            f"model {model!r}: unknown to litellm; name it as provider/model "
            "(e.g. openai/gpt-4o-mini, anthropic/claude-3-5-haiku-latest, ollama/llama3)",
            error_type="unknown_model",  # refused before any request: no HTTP status
        )
    missing = _missing_key_variable(text)
    if missing is not None:
        return ProviderError(
            f"model {model!r}: no API key; set {missing} (environment or .env)",
            error_type="no_api_key",
        )
    names = _mro_names(exc)
    kind, hint = next(
        (found for key, found in _HINTS.items() if key in names),
        ("provider_error", "request failed"),
    )
    if stream:
        kind, hint = "stream_broken", f"the answer broke off ({hint})"
    return ProviderError(f"model {model!r}: {hint}: {first}", error_type=kind, status=status)


def _status_of(exc: BaseException) -> int | None:
    status = getattr(exc, "status_code", None)
    if isinstance(status, int) and not isinstance(status, bool) and 100 <= status <= 599:
        return status
    return None


def scrub_secrets(text: str, secrets: tuple[str | None, ...] = ()) -> str:
    """``text`` without API keys, bearer tokens, URL passwords, the given ``secrets`` or
    the values of the environment's key/token/secret variables."""
    from neurolink_cli.export.redact import redact_secrets
    from neurolink_cli.util.secrets import scrub

    known = [s for s in secrets if s]
    known += [v for k, v in os.environ.items() if v and len(v) >= 8 and _SECRET_VARIABLE.search(k)]
    return redact_secrets(scrub(text, known))


def _missing_key_variable(text: str) -> str | None:
    """The variable to set when litellm says a provider's key is missing, else None."""
    if not re.search(r"missing (credentials|\w+ api key)|api_key client option", text, re.I):
        return None
    found = re.search(r"\b([A-Z][A-Z0-9_]*_API_KEY)\b", text)
    return found.group(1) if found else "the provider's API key variable"


def _mro_names(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


def resolve(model: str) -> tuple[str, str | None]:
    """``(model name, provider)`` as litellm understands ``model`` (provider None if unknown)."""
    litellm = load_litellm()
    try:
        name, provider, _, _ = litellm.get_llm_provider(model)
    except Exception:
        return model, None
    return str(name), str(provider) if provider else None


@dataclass
class Usage:
    """Tokens as the provider reported them (None when it did not)."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None

    @property
    def total_tokens(self) -> int | None:
        if self.prompt_tokens is None and self.completion_tokens is None:
            return None
        return (self.prompt_tokens or 0) + (self.completion_tokens or 0)

    def as_dict(self) -> dict[str, int | None]:
        return {
            "promptTokens": self.prompt_tokens,
            "completionTokens": self.completion_tokens,
            "totalTokens": self.total_tokens,
        }

    def as_turn_tokens(self) -> dict[str, int | None] | None:
        """The ``tokens`` field of a stored turn, or None when nothing was reported."""
        if self.prompt_tokens is None and self.completion_tokens is None:
            return None
        return {"prompt": self.prompt_tokens, "completion": self.completion_tokens}


@dataclass
class Completion:
    """One answer being received: iterate it for text deltas; then read usage and cost.

    ``text`` accumulates what has arrived, so an interrupted answer keeps its partial text.
    """

    model: str
    provider: str | None
    _chunks: Iterator[str]
    _started: float
    text: str = ""
    usage: Usage = field(default_factory=Usage)
    cost: float | None = None
    latency_ms: int | None = None
    done: bool = False
    _closer: Any = None

    def __iter__(self) -> Iterator[str]:
        for delta in self._chunks:
            self.text += delta
            yield delta
        self.done = True
        self.latency_ms = _elapsed_ms(self._started)

    def close(self) -> None:
        """Stop receiving (an interrupted stream); the latency counts up to now."""
        if self.latency_ms is None:
            self.latency_ms = _elapsed_ms(self._started)
        closer = self._closer
        if closer is not None:
            with contextlib.suppress(Exception):  # closing a dead stream is best effort
                closer()


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


class ProviderSettings:
    """What every litellm call carries: ``api_base``/``api_key`` (override the provider
    defaults), a timeout and extra parameters. Shared by the sync and the async client."""

    def __init__(
        self,
        *,
        api_base: str | None = None,
        api_key: str | None = None,
        timeout: float | None = 600.0,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.api_base = api_base
        self.api_key = api_key
        self.timeout = timeout
        self.extra = dict(extra or {})

    def params(
        self,
        messages: list[dict[str, Any]],
        model: str,
        *,
        stream: bool,
        temperature: float | None,
        max_tokens: int | None,
    ) -> dict[str, Any]:
        """The keyword arguments of ``litellm.completion`` / ``acompletion``."""
        params: dict[str, Any] = {"model": model, "messages": messages, **self.extra}
        if temperature is not None:
            params["temperature"] = temperature
        if max_tokens is not None:
            params["max_tokens"] = max_tokens
        if self.api_base:
            params["api_base"] = self.api_base
        if self.api_key:
            params["api_key"] = self.api_key
        if self.timeout:
            params["timeout"] = self.timeout
        if stream:
            params["stream"] = True
            params["stream_options"] = {"include_usage": True}
        return params


class LiteLLM(ProviderSettings):
    """Calls any model litellm knows. ``api_base``/``api_key`` override the provider defaults."""

    def ready(self) -> bool:
        """False while litellm still loads (the first answer then waits for it)."""
        return litellm_ready()

    def resolve(self, model: str) -> tuple[str, str | None]:
        """``(model name, provider)`` as stored in turns (provider None: unknown to litellm)."""
        return resolve(model)

    def complete(
        self,
        messages: list[dict[str, Any]],
        *,
        model: str,
        stream: bool = True,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> Completion:
        """Send ``messages`` to ``model``; ProviderError if the provider refuses the request."""
        with _lock:  # waits for a warm-up under way rather than racing it
            litellm = load_litellm()
        name, provider = resolve(model)
        params = self.params(
            messages, model, stream=stream, temperature=temperature, max_tokens=max_tokens
        )
        started = time.monotonic()
        try:
            response = litellm.completion(**params)
        except Exception as exc:
            raise provider_error(model, exc, secrets=(self.api_key,)) from None
        completion = Completion(model=name, provider=provider, _chunks=iter(()), _started=started)
        if stream:
            completion._chunks = self._stream_deltas(response, completion, model)
            completion._closer = getattr(response, "close", None) or _close_wrapper(response)
        else:
            text = _message_text(response)
            completion._chunks = iter([text] if text else [])
            completion.usage = _usage_of(response)
            completion.cost = _cost(litellm, response, model, completion.usage)
        return completion

    def _stream_deltas(self, response: Any, completion: Completion, model: str) -> Iterator[str]:
        litellm = load_litellm()
        try:
            for chunk in response:
                usage = getattr(chunk, "usage", None)
                if usage:
                    completion.usage = _usage_of(chunk)
                for choice in getattr(chunk, "choices", None) or ():
                    delta = getattr(choice, "delta", None)
                    content = getattr(delta, "content", None) if delta is not None else None
                    if content:  # litellm's final delta can be None
                        yield content
        except GeneratorExit:
            raise
        except Exception as exc:
            raise provider_error(model, exc, secrets=(self.api_key,), stream=True) from None
        completion.cost = _cost(litellm, None, model, completion.usage)


def _close_wrapper(response: Any) -> Any:
    stream = getattr(response, "completion_stream", None)
    return getattr(stream, "close", None)


def _message_text(response: Any) -> str:
    try:
        return str(response.choices[0].message.content or "")
    except (AttributeError, IndexError):
        return ""


def _usage_of(response: Any) -> Usage:
    usage = getattr(response, "usage", None)
    if not usage:
        return Usage()
    return Usage(
        prompt_tokens=_int_or_none(getattr(usage, "prompt_tokens", None)),
        completion_tokens=_int_or_none(getattr(usage, "completion_tokens", None)),
    )


def _int_or_none(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def _cost(litellm: Any, response: Any, model: str, usage: Usage) -> float | None:
    """The cost in USD when litellm can price the model, else None."""
    try:
        if response is not None:
            value = litellm.completion_cost(completion_response=response, model=model)
        elif usage.prompt_tokens is not None or usage.completion_tokens is not None:
            prompt, completion = litellm.cost_per_token(
                model=model,
                prompt_tokens=usage.prompt_tokens or 0,
                completion_tokens=usage.completion_tokens or 0,
            )
            value = prompt + completion
        else:
            return None
    except Exception:
        return None
    return round(float(value), 10) if value is not None else None
