"""The async LLM adapter: litellm's ``acompletion``, for ``AsyncNeuroLink``.

litellm itself is imported by :func:`neurolink_cli.chat.llm.load_litellm` (still the only
importer), in a worker thread the first time so the event loop is never blocked for the
seconds the import takes. :class:`AsyncCompletion` mirrors :class:`~neurolink_cli.chat.llm.Completion`:
``async for`` gives the text deltas, then ``usage``, ``cost`` and ``latency_ms`` are set;
``text`` holds what arrived, so a stream closed early keeps its partial answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from neurolink_cli.chat import llm as sync_llm
from neurolink_cli.chat.llm import Usage, provider_error


@dataclass
class AsyncCompletion:
    """One answer being received asynchronously (see the module docstring)."""

    model: str
    provider: str | None
    _chunks: AsyncIterator[str]
    _started: float
    text: str = ""
    usage: Usage = field(default_factory=Usage)
    cost: float | None = None
    latency_ms: int | None = None
    done: bool = False
    _closer: Any = None

    async def __aiter__(self) -> AsyncIterator[str]:
        async for delta in self._chunks:
            self.text += delta
            yield delta
        self.done = True
        self.latency_ms = int((time.monotonic() - self._started) * 1000)

    async def aclose(self) -> None:
        """Stop receiving (a stream closed early); the latency counts up to now."""
        if self.latency_ms is None:
            self.latency_ms = int((time.monotonic() - self._started) * 1000)
        closer, self._closer = self._closer, None
        if closer is not None:
            with contextlib.suppress(Exception):  # closing a dead stream is best effort
                result = closer()
                if inspect.isawaitable(result):
                    await result


async def _once(text: str) -> AsyncIterator[str]:
    if text:
        yield text


class AsyncLiteLLM(sync_llm.ProviderSettings):
    """Calls any model litellm knows, with ``litellm.acompletion``."""

    async def resolve(self, model: str) -> tuple[str, str | None]:
        """``(model name, provider)`` as stored in turns."""
        if sync_llm._litellm is None:
            await asyncio.to_thread(sync_llm.load_litellm)
        return sync_llm.resolve(model)

    async def acomplete(
        self,
        messages: list[dict[str, Any]],
        *,
        model: str,
        stream: bool = True,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> AsyncCompletion:
        """Send ``messages`` to ``model``; ProviderError if the provider refuses the request."""
        name, provider = await self.resolve(model)
        litellm = sync_llm.load_litellm()
        params = self.params(
            messages, model, stream=stream, temperature=temperature, max_tokens=max_tokens
        )
        started = time.monotonic()
        try:
            response = await litellm.acompletion(**params)
        except Exception as exc:
            raise provider_error(model, exc) from None
        completion = AsyncCompletion(name, provider, _once(""), started)
        if stream:
            completion._chunks = self._deltas(response, completion, model)
            inner = getattr(response, "completion_stream", None)
            completion._closer = getattr(response, "aclose", None) or getattr(inner, "close", None)
        else:
            completion._chunks = _once(sync_llm._message_text(response))
            completion.usage = sync_llm._usage_of(response)
            completion.cost = sync_llm._cost(litellm, response, model, completion.usage)
        return completion

    async def _deltas(
        self, response: Any, completion: AsyncCompletion, model: str
    ) -> AsyncIterator[str]:
        litellm = sync_llm.load_litellm()
        try:
            async for chunk in response:
                if getattr(chunk, "usage", None):
                    completion.usage = sync_llm._usage_of(chunk)
                for choice in getattr(chunk, "choices", None) or ():
                    delta = getattr(choice, "delta", None)
                    content = getattr(delta, "content", None) if delta is not None else None
                    if content:  # litellm's final delta can be None
                        yield content
        except GeneratorExit:
            raise
        except Exception as exc:
            raise provider_error(model, exc) from None
        completion.cost = sync_llm._cost(litellm, None, model, completion.usage)
