"""A scripted LLM client for the chat and REPL tests (the :class:`neurolink_cli.chat.LLM`
shape, plus ``ready``/``resolve`` as :class:`neurolink_cli.chat.llm.LiteLLM` has them)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from neurolink_cli.chat.llm import Usage
from neurolink_cli.errors import ProviderError


class FakeCompletion:
    """A scripted answer: deltas, then optionally Ctrl-C or a provider failure."""

    def __init__(self, deltas: list[str], then: BaseException | None = None) -> None:
        self.model = "fake-model"
        self.provider = "fake"
        self.text = ""
        self.usage = Usage(7, len(deltas))
        self.cost = 0.25
        self.latency_ms: int | None = None
        self.closed = False
        self._deltas = deltas
        self._then = then

    def __iter__(self) -> Iterator[str]:
        for d in self._deltas:
            self.text += d
            yield d
        if self._then is not None:
            raise self._then
        self.latency_ms = 12

    def close(self) -> None:
        self.closed = True
        self.latency_ms = self.latency_ms or 5


class FakeLLM:
    """Answers by the prompt: ``boom`` fails, ``stop`` is interrupted by Ctrl-C after two
    deltas (``stop0`` before any, ``hang`` before the provider answered), ``break`` fails
    mid-answer; otherwise ``echo: <prompt> (<n> messages)``. ``is_ready`` is what
    :meth:`ready` says (False: the model library is "still loading")."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.last: FakeCompletion | None = None
        self.is_ready = True

    def ready(self) -> bool:
        return self.is_ready

    def resolve(self, model: str) -> tuple[str, str | None]:
        """As LiteLLM: ``provider/name`` is known unless the provider is ``nosuch``."""
        provider, _, name = model.rpartition("/")
        if provider == "nosuch" or not provider:
            return model, None
        return name, provider

    def complete(self, messages: list[dict[str, Any]], **kw: Any) -> FakeCompletion:
        self.calls.append({"messages": messages, **kw})
        prompt = messages[-1]["content"]
        if prompt == "boom":
            raise ProviderError("model 'x': authentication refused")
        if prompt == "hang":  # Ctrl-C while waiting for the provider to answer
            raise KeyboardInterrupt
        if prompt == "stop0":  # Ctrl-C after the request, before any text
            self.last = FakeCompletion([], KeyboardInterrupt())
        elif prompt == "stop":
            self.last = FakeCompletion(["par", "tial"], KeyboardInterrupt())
        elif prompt == "break":
            self.last = FakeCompletion(["half"], ProviderError("model 'x': the provider failed"))
        else:
            text = f"echo: {prompt} ({len(messages)} messages)"
            self.last = FakeCompletion([text[:5], text[5:]])
        return self.last
