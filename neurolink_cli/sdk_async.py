"""``AsyncNeuroLink``: the SDK's API as coroutines and async generators (CONTRACT §7).

::

    async with AsyncNeuroLink(conversation_memory={"redis": {"url": "redis://localhost:6379"}}) as nl:
        result = await nl.generate(prompt="Hi", context={"sessionId": "s-1"})
        async with contextlib.aclosing(nl.stream(prompt="More", context={"sessionId": "s-1"})) as chunks:
            async for chunk in chunks:
                print(chunk, end="")
        print(await nl.get_conversation_history("s-1"))

``generate``, ``stream`` and ``get_conversation_history`` are truly async: ``redis.asyncio``
(a Redis Cluster is recognised on connect) through :mod:`neurolink_cli.store.aio`, which runs
the sync store's own append script, and litellm's ``acompletion``. The turns written are the
ones :class:`~neurolink_cli.chat.conversation.Chat` makes for the loop and the sync SDK.

The export, list, stats and clear methods run the sync SDK's code (the CLI's pipelines) in
a worker thread (``asyncio.to_thread``): a second, async reader of both layouts would
duplicate the store. They do not block the event loop; ``iter_sessions`` fetches each
document in the worker, so memory stays bounded as in the sync SDK.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import IO, TYPE_CHECKING, Any

from neurolink_cli.chat.conversation import Chat, ChatOptions, history_turns
from neurolink_cli.chat.llm import Usage
from neurolink_cli.config import Settings
from neurolink_cli.errors import NeurolinkError, ProviderError
from neurolink_cli.export.request import TimeValue
from neurolink_cli.sdk import ChatRequest, GenerateResult, NeuroLink, for_python
from neurolink_cli.sdk_history import ExportReport
from neurolink_cli.util.validate import check_session_id

if TYPE_CHECKING:
    from neurolink_cli.archive.run import ArchiveReport

log = logging.getLogger("neurolink")
_DONE = object()


class AsyncNeuroLink:
    """Chat with any litellm model from asyncio; conversation memory in Redis (or in process).

    Takes the arguments of :class:`~neurolink_cli.sdk.NeuroLink`; ``llm`` replaces the
    litellm client with anything having :class:`~neurolink_cli.chat.allm.AsyncLiteLLM`'s
    ``acomplete``. No I/O here: Redis is connected and litellm imported on first use.
    """

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
        self._sync = NeuroLink(
            conversation_memory, model=model, api_base=api_base, api_key=api_key, settings=settings
        )
        self.settings = self._sync.settings
        self.default_model = self._sync.default_model
        self._llm = llm
        self._api_base, self._api_key = api_base, api_key
        self._client: Any = None
        self._store: Any = None
        self._connect_lock: asyncio.Lock | None = None

    # -- plumbing -------------------------------------------------------------------------
    def _llm_client(self) -> Any:
        if self._llm is None:
            from neurolink_cli.chat.allm import AsyncLiteLLM

            self._llm = AsyncLiteLLM(api_base=self._api_base, api_key=self._api_key)
        return self._llm

    async def _native(self) -> Any:
        """The async native store, connected on first use (one connection pool per object)."""
        if self._store is not None:
            return self._store
        if self._connect_lock is None:
            self._connect_lock = asyncio.Lock()
        async with self._connect_lock:
            if self._store is None:
                from neurolink_cli.store.aio import AsyncNativeStore, make_async_client

                s = self.settings
                connection = self._sync._app
                if not s.redis_configured:  # the embedded store: started once, in a thread
                    await asyncio.to_thread(connection.client)
                url = connection.redis_url
                self._client = await make_async_client(s, url)
                self._store = AsyncNativeStore(
                    self._client, s.key_prefix, max_turns=s.max_turns, ttl=s.ttl
                )
        return self._store

    async def _turn_store(self) -> Any:
        """Where turns go: the async native store, or the sync SDK's in-process store."""
        if self.settings.store == "memory":
            return _InProcess(self._sync._store())
        return await self._native()

    async def _prepared_chat(
        self,
        prompt: str | None,
        context: Mapping[str, Any] | None,
        model: str | None,
        input: Mapping[str, Any] | None,
        system_prompt: str | None,
        temperature: float | None,
        max_tokens: int | None,
        stream: bool,
    ) -> tuple[str, Chat, Any]:
        request = ChatRequest.of(
            prompt, context, model or self.default_model, input,
            ChatOptions(model="", system=system_prompt, temperature=temperature,
                        max_tokens=max_tokens, stream=stream),
        )  # fmt: skip
        chat = request.chat(self._llm_client(), None, self.settings)
        store = await self._turn_store() if self.settings.memory_enabled else None
        if store is not None:
            with self._redis_errors():
                stored = await store.get(chat.session_id)
            chat.turns = history_turns(stored)
            if chat.user_id is None:
                chat.user_id = getattr(stored, "user_id", None)
        return request.prompt, chat, store

    def _redis_errors(self) -> Any:
        from neurolink_cli.store.connection import redis_errors

        return redis_errors(self._sync._app.redis_url)

    async def _record(self, store: Any, chat: Chat, turn: dict[str, Any]) -> None:
        index = None
        if store is not None:
            with self._redis_errors():
                index = await store.append_turn(chat.session_id, turn, user_id=chat.user_id)
        chat.turns.append({"index": index, **turn} if index is not None else dict(turn))

    async def _request(self, chat: Chat, messages: list[dict[str, Any]], stream: bool) -> Any:
        opts = chat.options
        return await self._llm_client().acomplete(
            messages,
            model=opts.model,
            stream=stream,
            temperature=opts.temperature,
            max_tokens=opts.max_tokens,
        )

    # -- chat -----------------------------------------------------------------------------
    async def generate(
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
        """:meth:`NeuroLink.generate <neurolink_cli.sdk.NeuroLink.generate>`, awaited.

        Concurrent calls on one session each get their own, contiguous turn indexes (the
        index is allocated by the append script on the server).
        """
        try:
            prompt, chat, store = await self._prepared_chat(
                prompt, context, model, input, system_prompt, temperature, max_tokens, False
            )
            new_turns, messages = chat.outgoing(prompt)
            completion = await self._request(chat, messages, stream=False)
            for turn in new_turns:
                await self._record(store, chat, turn)
            async for _delta in completion:
                pass
            answer = chat.answer_turn(completion, False)
            if answer["content"]:
                await self._record(store, chat, answer)
        except NeurolinkError as exc:
            raise for_python(exc) from None
        return GenerateResult(
            content=answer["content"],
            usage=Usage(completion.usage.prompt_tokens, completion.usage.completion_tokens),
            model=answer.get("model") or chat.options.model,
            provider=answer.get("provider"),
            session_id=chat.session_id,
            cost=answer.get("cost"),
            latency_ms=answer.get("latencyMs"),
        )

    async def stream(
        self,
        prompt: str | None = None,
        context: Mapping[str, Any] | None = None,
        model: str | None = None,
        *,
        input: Mapping[str, Any] | None = None,
        system_prompt: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> AsyncIterator[str]:
        """:meth:`NeuroLink.stream <neurolink_cli.sdk.NeuroLink.stream>` as an async generator.

        Closed early (``await chunks.aclose()``, or leaving ``contextlib.aclosing``), what
        arrived is stored with ``"interrupted": true``. A generator left unclosed is closed
        by asyncio when collected, so close it explicitly to store the turn at once. Being
        an async generator, it raises bad input, like provider errors, on the first
        ``__anext__``.
        """
        try:
            text, chat, store = await self._prepared_chat(
                prompt, context, model, input, system_prompt, temperature, max_tokens, True
            )
            new_turns, messages = chat.outgoing(text)
            completion = await self._request(chat, messages, stream=True)
            for turn in new_turns:
                await self._record(store, chat, turn)
        except NeurolinkError as exc:
            raise for_python(exc) from None
        interrupted, error = True, None
        try:
            async for delta in completion:
                yield delta
            interrupted = False
        except ProviderError as exc:
            error = exc
            await completion.aclose()
        except BaseException:  # GeneratorExit (closed early), CancelledError, ...
            await completion.aclose()
            raise
        finally:
            answer = chat.answer_turn(completion, interrupted)
            if answer["content"] or error is not None:
                try:
                    await self._record(store, chat, answer)
                except NeurolinkError as exc:
                    raise for_python(exc) from None
        if error is not None:
            raise for_python(error)

    async def get_conversation_history(self, session_id: str) -> list[dict[str, Any]]:
        """The session's turns as ``[{"role", "content"}, ...]``, oldest first; [] if none.

        A native session is read with the async client; one only the TypeScript SDK's
        layout holds is read by the sync store in a worker thread.
        """
        check_session_id(session_id)
        if self.settings.store != "memory":
            try:
                with self._redis_errors():
                    doc = await (await self._native()).get(session_id)
            except NeurolinkError as exc:
                raise for_python(exc) from None
            if doc is not None:
                return [{"role": t.get("role"), "content": t.get("content")} for t in doc.turns]
        return await asyncio.to_thread(self._sync.get_conversation_history, session_id)

    # -- the sync SDK's pipelines, in a worker thread ---------------------------------------
    async def clear_conversation_session(self, session_id: str) -> bool:
        """Delete one session (every layout holding it); True if it existed. (Worker thread.)"""
        return await asyncio.to_thread(self._sync.clear_conversation_session, session_id)

    async def clear_all_conversations(self) -> None:
        """Delete EVERY session under the configured prefixes, without asking. Irreversible.
        (Worker thread.)"""
        await asyncio.to_thread(self._sync.clear_all_conversations)

    async def export_conversation_history(
        self,
        session_id: str,
        *,
        format: str = "json",
        include_metadata: bool = True,
        start_time: TimeValue = None,
        end_time: TimeValue = None,
        redact: bool = False,
        redact_patterns: tuple[str, ...] = (),
        csv_guard: bool = True,
    ) -> str:
        """The CLI's ``memory export`` text (see the sync method). (Worker thread.)"""
        return await asyncio.to_thread(
            lambda: self._sync.export_conversation_history(
                session_id,
                format=format,
                include_metadata=include_metadata,
                start_time=start_time,
                end_time=end_time,
                redact=redact,
                redact_patterns=redact_patterns,
                csv_guard=csv_guard,
            )
        )

    async def get_session(self, session_id: str, **options: Any) -> dict[str, Any]:
        """The session's export document as a dict. (Worker thread.)"""
        return await asyncio.to_thread(lambda: self._sync.get_session(session_id, **options))

    async def list_sessions(
        self,
        *,
        user_id: str | None = None,
        since: TimeValue = None,
        until: TimeValue = None,
        limit: int = 50,
    ) -> list[dict[str, Any]]:
        """``memory list``'s JSON objects, newest first. (Worker thread.)"""
        return await asyncio.to_thread(
            lambda: self._sync.list_sessions(user_id=user_id, since=since, until=until, limit=limit)
        )

    async def iter_sessions(self, **filters: Any) -> AsyncIterator[dict[str, Any]]:
        """Every session's export document, one at a time (each read in a worker thread)."""
        documents: Iterator[dict[str, Any]] = await asyncio.to_thread(
            lambda: self._sync.iter_sessions(**filters)
        )
        try:
            while True:
                doc = await asyncio.to_thread(next, documents, _DONE)
                if doc is _DONE:
                    return
                yield doc  # type: ignore[misc]
        finally:
            close = getattr(documents, "close", None)
            if close is not None:
                await asyncio.to_thread(close)

    async def export_all(
        self, path_or_file: str | os.PathLike[str] | IO[bytes] | IO[str], **options: Any
    ) -> ExportReport:
        """``memory export-all`` into a directory or an open file. (Worker thread.)"""
        return await asyncio.to_thread(lambda: self._sync.export_all(path_or_file, **options))

    async def archive(self, to: str, **options: Any) -> ArchiveReport:
        """``memory archive`` (see :meth:`NeuroLink.archive`). (Worker thread.)"""
        return await asyncio.to_thread(lambda: self._sync.archive(to, **options))

    async def stats(self) -> dict[str, Any]:
        """``memory stats --format json`` as a dict. (Worker thread.)"""
        return await asyncio.to_thread(self._sync.stats)

    # -- lifetime -------------------------------------------------------------------------
    async def close(self) -> None:
        """Close the async and the sync Redis connections."""
        client, self._client, self._store = self._client, None, None
        if client is not None:
            try:
                await client.aclose()
            except Exception as exc:  # closing is best effort
                log.debug("closing the async Redis client: %s", exc)
        await asyncio.to_thread(self._sync.close)

    async def __aenter__(self) -> AsyncNeuroLink:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class _InProcess:
    """The sync SDK's in-process store (``store="memory"``: no I/O) with async methods."""

    def __init__(self, store: Any) -> None:
        self.store = store

    async def get(self, session_id: str) -> Any:
        return self.store.get(session_id)

    async def append_turn(
        self, session_id: str, turn: dict[str, Any], *, user_id: str | None = None
    ) -> int:
        return int(self.store.append_turn(session_id, turn, user_id=user_id))
