"""The Python SDK (CONTRACT §7): ``from neurolink_cli import NeuroLink``.

::

    nl = NeuroLink(conversation_memory={"enabled": True, "store": "redis",
                                        "redis": {"url": "redis://localhost:6379"},
                                        "maxTurnsPerSession": 50})
    result = nl.generate(prompt="What is machine learning?",
                         context={"sessionId": "session-123", "userId": "u1"},
                         model="openai/gpt-4o-mini")
    result.content, result.usage.prompt_tokens, result.usage.completion_tokens
    nl.get_conversation_history("session-123")   # [{"role": ..., "content": ...}, ...]
    nl.clear_conversation_session("session-123") # deletes that session; True if it existed

``clear_all_conversations()`` deletes EVERY session under the configured prefixes in that
Redis (``neurolink loop`` sessions and the TypeScript SDK's too), without asking.

``conversation_memory`` takes the keys of the config file's ``[conversationMemory]`` table
(CONTRACT §2) and stands in for the config file; the environment still overrides it, exactly
as for the CLI (one precedence mechanism: :func:`neurolink_cli.config.load_settings`).
Without it, settings come from the environment and the config file.

``stream`` yields the answer as it arrives and stores the turns when it ends (or, closed
early, what arrived, as interrupted). The export, list and stats methods
(``export_conversation_history``, ``get_session``, ``list_sessions``, ``iter_sessions``,
``export_all``, ``stats``) come from :mod:`neurolink_cli.sdk_history`; the asyncio class is
:class:`neurolink_cli.sdk_async.AsyncNeuroLink`. ``archive`` is not here yet (the
``memory archive`` command is being built). Every error is a ``NeuroLinkError``.

``generate`` writes exactly what ``neurolink loop`` writes (both go through
:class:`neurolink_cli.chat.Chat`), re-reading the session's stored turns before each call
so that several processes can share one session. Nothing connects until first use.
"""

from __future__ import annotations

import copy
import functools
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, cast

from neurolink_cli.chat.conversation import Chat, ChatOptions, TurnWriter
from neurolink_cli.chat.llm import Usage
from neurolink_cli.config import Settings, load_settings
from neurolink_cli.errors import BadInput, NeurolinkError, ProviderError
from neurolink_cli.sdk_history import ExportReport, HistoryMethods
from neurolink_cli.store.connection import Connection
from neurolink_cli.util.validate import check_session_id

if TYPE_CHECKING:
    from neurolink_cli.store.memory import MemoryStore
    from neurolink_cli.store.native import NativeStore

__all__ = ["ExportReport", "GenerateResult", "NeuroLink"]

F = TypeVar("F", bound=Callable[..., Any])

_STORE_KEYS = {"enabled", "store", "redis", "maxTurnsPerSession", "model"}


@dataclass
class GenerateResult:
    """What :meth:`NeuroLink.generate` returns."""

    content: str
    usage: Usage = field(default_factory=Usage)
    model: str | None = None
    provider: str | None = None
    session_id: str | None = None
    cost: float | None = None
    latency_ms: int | None = None

    def __str__(self) -> str:
        return self.content


# The store's messages name the CLI's flags; a Python user sets the same things here.
_SDK_WORDS = [
    ("--redis-url / REDIS_URL", "conversation_memory={'redis': {'url': ...}} or REDIS_URL"),
    ("--redis-url", "conversation_memory={'redis': {'url': ...}}"),
    ("--tls-ca-cert FILE", "redis.tlsCaCert"),
    ("--tls-cert FILE", "redis.tlsCert"),
    ("--tls-key FILE", "redis.tlsKey"),
    ("--tls-insecure", "redis.tlsInsecure"),
    ("--tls-ca-cert", "redis.tlsCaCert"),
    ("--tls-cert", "redis.tlsCert"),
    ("--tls-key", "redis.tlsKey"),
    ("run 'neurolink memory list' to see them", "NeuroLink.list_sessions() lists them"),
]


def for_python(exc: NeurolinkError) -> NeurolinkError:
    """``exc`` with the CLI's flags in its message replaced by the SDK's settings."""
    original = text = str(exc)
    for flag, setting in _SDK_WORDS:
        text = text.replace(flag, setting)
    if text == original:
        return exc
    renamed = copy.copy(exc)
    renamed.args = (text,)
    return renamed


def _python_words(method: F) -> F:
    """Raise the method's NeurolinkErrors in the SDK's words (:func:`for_python`)."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except NeurolinkError as exc:
            raise for_python(exc) from None

    return cast(F, wrapper)


def _in_python_words(chunks: Iterator[str]) -> Iterator[str]:
    """A stream whose NeurolinkErrors are in the SDK's words (closing it closes ``chunks``)."""
    try:
        yield from chunks
    except NeurolinkError as exc:
        raise for_python(exc) from None


class NeuroLink(HistoryMethods):
    """Chat with any litellm model; conversation memory in Redis (or in process)."""

    def __init__(
        self,
        conversation_memory: Mapping[str, Any] | None = None,
        *,
        model: str | None = None,
        api_base: str | None = None,
        api_key: str | None = None,
        llm: Any = None,
        settings: Settings | None = None,
    ) -> None:
        """No I/O here: Redis is connected and litellm imported on first use.

        ``model`` is the default model (else ``NEUROLINK_MODEL`` / config, else gpt-4o-mini);
        ``api_base``/``api_key`` are passed to the provider; ``llm`` replaces the litellm
        client (anything with :class:`neurolink_cli.chat.LLM`'s ``complete``).
        """
        if settings is None:
            file_values = None
            if conversation_memory is not None:
                unknown = set(conversation_memory) - _STORE_KEYS
                if unknown:
                    raise BadInput(
                        f"conversation_memory: unknown key(s) {', '.join(sorted(unknown))}; "
                        f"use {', '.join(sorted(_STORE_KEYS))}"
                    )
                file_values = dict(conversation_memory)
            settings = load_settings(file_values=file_values)
        self.settings = settings
        self.default_model = model or settings.model
        self._llm = llm
        self._api_base, self._api_key = api_base, api_key
        self._app = Connection(settings)  # never prints: notices go to the neurolink logger
        self._memory_store: MemoryStore | None = None
        self._lock = threading.Lock()

    # -- plumbing -------------------------------------------------------------------------
    @property
    def memory_enabled(self) -> bool:
        return self.settings.memory_enabled

    def _llm_client(self) -> Any:
        if self._llm is None:
            from neurolink_cli.chat.llm import LiteLLM

            self._llm = LiteLLM(api_base=self._api_base, api_key=self._api_key)
        return self._llm

    def _store(self) -> MemoryStore | NativeStore:
        """The store turns go to: the native Redis store, or this object's memory store."""
        if self.settings.store == "memory":
            with self._lock:
                if self._memory_store is None:
                    from neurolink_cli.store.memory import MemoryStore

                    self._memory_store = MemoryStore(max_turns=self.settings.max_turns)
            return self._memory_store
        return self._app.repository().native

    def _redis(self, func: Any, *args: Any) -> Any:
        from neurolink_cli.store.connection import redis_errors

        with redis_errors(self._app.redis_url):
            return func(*args)

    def _chat(
        self,
        prompt: str | None,
        context: Mapping[str, Any] | None,
        model: str | None,
        input: Mapping[str, Any] | None,
        system_prompt: str | None,
        temperature: float | None,
        max_tokens: int | None,
        *,
        stream: bool,
    ) -> tuple[str, Chat, TurnWriter | None]:
        """The prompt, and a Chat for its session with the stored turns loaded."""
        store = self._store() if self.memory_enabled else None
        writer = TurnWriter(store) if store is not None else None
        request = ChatRequest.of(
            prompt, context, model or self.default_model, input,
            ChatOptions(model="", system=system_prompt, temperature=temperature,
                        max_tokens=max_tokens, stream=stream),
        )  # fmt: skip
        chat = request.chat(self._llm_client(), writer, self.settings)
        if store is not None:
            self._redis(chat.load, store)
        return request.prompt, chat, writer

    # -- the API --------------------------------------------------------------------------
    @_python_words
    def generate(
        self,
        prompt: str | None = None,
        context: Mapping[str, Any] | None = None,
        model: str | None = None,
        *,
        input: Mapping[str, Any] | None = None,
        system_prompt: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> GenerateResult:
        """Send ``prompt`` (with the session's stored turns as history) and store both turns.

        ``context`` may name ``sessionId`` (a new id is made when absent; see
        ``result.session_id``) and ``userId``. ``input={"text": ...}`` is accepted for
        ``prompt`` as in the TypeScript SDK. Raises ProviderError when the provider fails
        (after storing the prompt and a failed assistant turn, CONTRACT §9),
        StoreUnavailable when Redis cannot be reached.
        """
        prompt, chat, writer = self._chat(
            prompt, context, model, input, system_prompt, temperature, max_tokens, stream=False
        )
        try:
            exchange = self._redis(chat.send, prompt)
        except ProviderError:  # the failed turn is stored (CONTRACT §9), then raised
            if writer is not None and writer.pending:
                self._redis(_raise_unsaved, writer)
            raise
        if writer is not None and writer.pending:
            self._redis(_raise_unsaved, writer)
        return GenerateResult(
            content=exchange.content,
            usage=Usage(exchange.prompt_tokens, exchange.completion_tokens),
            model=exchange.model,
            provider=exchange.provider,
            session_id=chat.session_id,
            cost=exchange.cost,
            latency_ms=exchange.latency_ms,
        )

    @_python_words
    def stream(
        self,
        prompt: str | None = None,
        context: Mapping[str, Any] | None = None,
        model: str | None = None,
        *,
        input: Mapping[str, Any] | None = None,
        system_prompt: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> Iterator[str]:
        """Send ``prompt`` like :meth:`generate`; yield the answer's text as it arrives.

        The user's turn is stored once the provider accepted the request, the answer when
        the stream ends. Closed early (``break`` out of the loop, ``.close()``, an
        exception), what arrived is stored as ``"interrupted": true``, as ``neurolink loop``
        does on Ctrl-C. Bad input raises here; the request is sent on the first ``next()``,
        which raises ProviderError (storing nothing) when the provider refuses it.
        Use ``contextlib.closing(nl.stream(...))`` to store an early stop at once::

            with closing(nl.stream(prompt="hi", context={"sessionId": "s-1"})) as chunks:
                for chunk in chunks:
                    print(chunk, end="")
        """
        prompt, chat, writer = self._chat(
            prompt, context, model, input, system_prompt, temperature, max_tokens, stream=True
        )
        return _in_python_words(self._chunks(prompt, chat, writer))

    def _chunks(self, prompt: str, chat: Chat, writer: TurnWriter | None) -> Iterator[str]:
        opts = chat.options
        new_turns, messages = chat.outgoing(prompt)
        completion = chat.llm.complete(
            messages,
            model=opts.model,
            stream=True,
            temperature=opts.temperature,
            max_tokens=opts.max_tokens,
        )
        for turn in new_turns:
            self._redis(chat.record, turn)
        interrupted, error = True, None
        try:
            yield from completion
            interrupted = False
        except ProviderError as exc:
            error = exc
            completion.close()
        except BaseException:  # GeneratorExit (closed early), KeyboardInterrupt, ...
            completion.close()
            raise
        finally:
            answer = chat.answer_turn(completion, interrupted)
            if answer["content"] or error is not None:
                self._redis(chat.record, answer)
            if writer is not None and writer.pending:
                self._redis(_raise_unsaved, writer)
        if error is not None:
            raise error

    @_python_words
    def get_conversation_history(self, session_id: str) -> list[dict[str, Any]]:
        """The session's turns as ``[{"role", "content"}, ...]``, oldest first; [] if none."""
        check_session_id(session_id)
        if self.settings.store == "memory":
            doc = self._store().get(session_id)
        else:
            from neurolink_cli.errors import SessionNotFound

            try:
                doc = self._redis(self._app.repository().get, session_id)
            except SessionNotFound:
                return []
        if doc is None or not hasattr(doc, "turns"):
            return []
        return [{"role": t.get("role"), "content": t.get("content")} for t in doc.turns]

    @_python_words
    def clear_conversation_session(self, session_id: str) -> bool:
        """Delete one session (every layout holding it); True if it existed."""
        check_session_id(session_id)
        if self.settings.store == "memory":
            return bool(self._store().delete(session_id))
        return bool(self._redis(self._app.repository().delete, session_id))

    @_python_words
    def clear_all_conversations(self) -> None:
        """Delete EVERY session under the configured prefixes in this Redis, without asking:
        ``neurolink loop`` sessions and the TypeScript SDK's included. Irreversible; use
        :meth:`clear_conversation_session` to delete one."""
        if self.settings.store == "memory":
            self._store().delete_all()
            return
        self._redis(self._app.repository().delete_all)

    def close(self) -> None:
        """Close the Redis connection (also done when the object is garbage collected)."""
        self._app.close()

    def __enter__(self) -> NeuroLink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class ChatRequest:
    """What a generate/stream call asked for, checked (no I/O): shared by both SDK classes."""

    prompt: str
    session_id: str
    user_id: str | None
    options: ChatOptions

    @classmethod
    def of(
        cls,
        prompt: str | None,
        context: Mapping[str, Any] | None,
        model: str,
        input: Mapping[str, Any] | None,
        options: ChatOptions,
    ) -> ChatRequest:
        """BadInput for an empty prompt or a bad session id; a new session id when none."""
        if prompt is None and input is not None:
            prompt = input.get("text")
        if not isinstance(prompt, str) or not prompt:
            raise BadInput("generate() needs a non-empty prompt")
        ctx = dict(context or {})
        session_id = ctx.get("sessionId") or ctx.get("session_id")
        if session_id is None:
            from neurolink_cli.repl.state import new_session_id

            session_id = new_session_id()
        check_session_id(str(session_id))
        user_id = ctx.get("userId") or ctx.get("user_id")
        options.model = model
        return cls(prompt, str(session_id), str(user_id) if user_id is not None else None, options)

    def chat(self, llm: Any, writer: TurnWriter | None, settings: Settings) -> Chat:
        """A Chat for this request's session (history not loaded yet)."""
        return Chat(
            llm,
            writer,
            session_id=self.session_id,
            options=self.options,
            user_id=self.user_id,
            max_turns=settings.max_turns,
            keep_history=settings.memory_enabled,
        )


def _raise_unsaved(writer: TurnWriter) -> None:
    """In the SDK a turn that Redis did not take is an error, not a queue: retry, then raise."""
    if writer.flush():
        return
    from neurolink_cli.errors import StoreUnavailable

    raise StoreUnavailable(
        f"{len(writer.pending)} turn(s) could not be stored: Redis unreachable "
        f"({writer.last_error})"
    )
