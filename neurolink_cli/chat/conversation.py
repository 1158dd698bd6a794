"""One conversation turn: history in, LLM call, turns out. No click, no prompt_toolkit.

:class:`Chat` holds one session's conversation so far and sends a prompt with it to an
injected LLM (anything with the :class:`LLM` shape; :class:`neurolink_cli.chat.llm.LiteLLM` in
production). What it stores, through a :class:`TurnWriter`:

- the user's message (and the ``--system`` text, as a ``system`` turn, when it is new to the
  session), with the time it was sent;
- the answer when it completes, with ``model``, ``provider``, ``tokens``, ``latencyMs`` and
  ``cost`` where known; an answer stopped by Ctrl-C keeps its partial text and
  ``"interrupted": true``;
- when the provider fails (refuses the request, or breaks off the answer), an assistant
  turn with ``"error": {"type", "message", "status"}`` and whatever text arrived (CONTRACT
  §9; broken off, also ``"interrupted": true``). A failed turn, and the user turn it
  answered, are never sent back to the model as history (:meth:`Chat.messages`).

:class:`TurnWriter` keeps the chat going when Redis goes away: a turn that cannot be written
is queued and written, in order, before the next one once Redis is back; what is still
queued at the end is reported as lost by the caller.

Both the loop and the SDK use this module, so they write exactly the same turns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from neurolink_cli.errors import ProviderError, StoreUnavailable
from neurolink_cli.failures import is_failed
from neurolink_cli.models import make_turn
from neurolink_cli.util.timeutil import now_rfc3339

CHAT_ROLES = ("user", "assistant", "system")


class LLMCompletion(Protocol):
    """An answer being received (see :class:`neurolink_cli.chat.llm.Completion`)."""

    model: str
    provider: str | None
    text: str
    usage: Any
    cost: float | None
    latency_ms: int | None

    def __iter__(self) -> Iterator[str]: ...
    def close(self) -> None: ...


class LLM(Protocol):
    """What :class:`Chat` needs of a model client."""

    def complete(
        self,
        messages: list[dict[str, Any]],
        *,
        model: str,
        stream: bool = True,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> LLMCompletion: ...


class TurnStore(Protocol):
    """The writing/reading shape shared by NativeStore and MemoryStore."""

    def append_turn(
        self,
        session_id: str,
        turn: dict[str, Any],
        *,
        user_id: str | None = None,
        tools_used: Iterable[str] = (),
        write_seq: int | None = None,
    ) -> int: ...

    def next_write_seq(self) -> int: ...

    def get(self, session_id: str) -> Any: ...


def is_store_outage(exc: BaseException) -> bool:
    """True for errors meaning Redis is unreachable right now (worth queueing and retrying)."""
    if isinstance(exc, StoreUnavailable):
        return True
    if not type(exc).__module__.startswith("redis"):
        return False
    from redis import exceptions as rx

    return isinstance(
        exc, rx.ConnectionError | rx.TimeoutError | rx.ClusterDownError | rx.BusyLoadingError
    )


@dataclass
class PendingTurn:
    session_id: str
    turn: dict[str, Any]
    user_id: str | None
    write_seq: int  # the same on every attempt, so a retry never stores the turn twice


class TurnWriter:
    """Writes turns through a store; queues them while the store is unreachable."""

    def __init__(
        self,
        store: TurnStore,
        *,
        warn: Callable[[str], None] | None = None,
        note: Callable[[str], None] | None = None,
    ) -> None:
        self.store = store
        self.pending: list[PendingTurn] = []
        self.warn = warn or (lambda _m: None)
        self.note = note or (lambda _m: None)
        self.down = False
        self.last_error = ""

    def write(
        self, session_id: str, turn: dict[str, Any], user_id: str | None = None
    ) -> int | None:
        """Store ``turn``; its index, or None when it was queued because Redis is away."""
        item = PendingTurn(session_id, turn, user_id, self.store.next_write_seq())
        if self.pending and not self.flush():
            self.pending.append(item)
            return None
        try:
            return self._append(item)
        except Exception as exc:
            if not is_store_outage(exc):
                raise
            self.pending.append(item)
            self._went_down(exc)
            return None

    def flush(self) -> bool:
        """Write the queued turns in order; True when nothing is left queued."""
        written = 0
        while self.pending:
            item = self.pending[0]
            try:
                self._append(item)
            except Exception as exc:
                if not is_store_outage(exc):
                    raise
                self._went_down(exc)
                return False
            self.pending.pop(0)
            written += 1
        if self.down:
            self.down = False
            self.note(f"Redis is back; wrote {written} queued turn(s)")
        return True

    def _append(self, item: PendingTurn) -> int:
        return self.store.append_turn(
            item.session_id, item.turn, user_id=item.user_id, write_seq=item.write_seq
        )

    def _went_down(self, exc: BaseException) -> None:
        from neurolink_cli.store.connection import describe_error

        self.last_error = describe_error(exc)
        if not self.down:
            self.down = True
            self.warn(
                f"cannot save to Redis ({self.last_error}); the chat goes on and unsaved "
                "turns will be written when Redis is back"
            )


@dataclass
class ChatOptions:
    """How to call the model."""

    model: str
    system: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    stream: bool = True


@dataclass
class Exchange:
    """The outcome of one prompt: the answer and what was recorded."""

    content: str
    model: str
    provider: str | None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost: float | None = None
    latency_ms: int | None = None
    interrupted: bool = False
    error: ProviderError | None = None  # set when the provider broke off mid-answer
    indexes: list[int | None] = field(default_factory=list)  # of the turns written


def history_turns(doc: Any, max_turns: int = 0) -> list[dict[str, Any]]:
    """The stored turns of ``doc`` usable as chat history (user/assistant/system with text),
    failed turns included so that :meth:`Chat.messages` can leave out their exchange.

    At most the last ``max_turns`` (0 = all).
    """
    if doc is None or not hasattr(doc, "turns"):
        return []
    turns = [
        t
        for t in doc.turns
        if t.get("role") in CHAT_ROLES
        and isinstance(t.get("content"), str)
        and (t["content"] or t.get("role") != "assistant" or is_failed(t))
    ]
    return turns[-max_turns:] if max_turns > 0 else turns


class Chat:
    """One session's conversation: the turns so far, and :meth:`send` for the next one."""

    def __init__(
        self,
        llm: LLM,
        writer: TurnWriter | None,
        *,
        session_id: str,
        options: ChatOptions,
        user_id: str | None = None,
        max_turns: int = 100,
        keep_history: bool = True,
    ) -> None:
        self.llm = llm
        self.keep_history = keep_history
        self.writer = writer
        self.session_id = session_id
        self.user_id = user_id
        self.options = options
        self.max_turns = max_turns
        self.turns: list[dict[str, Any]] = []

    def load(self, store: TurnStore | None) -> int:
        """Read this session's stored turns as the conversation so far; how many were found.

        A resumed session keeps its stored user unless one was given for this chat.
        """
        stored = None if store is None else store.get(self.session_id)
        self.turns = history_turns(stored)
        if self.user_id is None:
            self.user_id = getattr(stored, "user_id", None)
        return len(self.turns)

    def reset(self, session_id: str) -> None:
        """Start over as a new, empty session."""
        self.session_id = session_id
        self.turns = []

    def messages(self) -> list[dict[str, str]]:
        """The history as chat messages, at most ``max_turns`` of them (0 = all).

        Without ``keep_history`` (conversation memory off) there is no history to send.
        """
        if not self.keep_history:
            return []
        turns = self.turns[-self.max_turns :] if self.max_turns > 0 else self.turns
        kept: list[dict[str, Any]] = []
        for t in turns:
            if is_failed(t):  # a failed exchange: neither the failure nor its question
                while kept and kept[-1]["role"] == "user":
                    kept.pop()
                continue
            kept.append(t)
        return [
            {"role": t["role"], "content": t["content"]}
            for t in kept
            if t["content"] or t["role"] != "assistant"
        ]

    def _system_turn(self, timestamp: str) -> dict[str, Any] | None:
        system = self.options.system
        if not system:
            return None
        if not self.keep_history:
            return make_turn("system", system, timestamp)
        last = next((t["content"] for t in reversed(self.turns) if t["role"] == "system"), None)
        return None if last == system else make_turn("system", system, timestamp)

    def outgoing(self, prompt: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The turns ``prompt`` adds (the system turn when new, the user turn; not yet
        stored) and the messages to send for it: the history, then those turns."""
        sent_at = now_rfc3339()
        new_turns = [t for t in (self._system_turn(sent_at),) if t is not None]
        new_turns.append(make_turn("user", prompt, sent_at))
        messages = self.messages() + [
            {"role": t["role"], "content": t["content"]} for t in new_turns
        ]
        return new_turns, messages

    def send(
        self,
        prompt: str,
        on_text: Callable[[str], None] | None = None,
        on_end: Callable[[str], None] | None = None,
    ) -> Exchange:
        """Send ``prompt`` with the history; stream the answer to ``on_text``; store both turns.

        ``on_end`` gets the whole answer text once it stopped arriving, before it is stored.

        When the provider refuses the request, the user's turn and a failed assistant turn
        are stored and the ProviderError is raised. Ctrl-C while the answer arrives stops it: the partial answer is stored as
        interrupted and returned with ``interrupted=True``; stopped before any text arrived,
        only the user's turn is stored (no empty assistant turn).
        """
        opts = self.options
        new_turns, messages = self.outgoing(prompt)
        interrupted = False
        error: ProviderError | None = None
        completion: LLMCompletion | None = None
        try:
            completion = self.llm.complete(
                messages,
                model=opts.model,
                stream=opts.stream,
                temperature=opts.temperature,
                max_tokens=opts.max_tokens,
            )
        except KeyboardInterrupt:
            interrupted = True
        except ProviderError as exc:
            for t in new_turns:
                self._record(t)
            model, provider = self._resolve()
            failed = make_turn(
                "assistant", "", now_rfc3339(), model=model, provider=provider,
                error=exc.as_turn_error(),
            )  # fmt: skip
            self._record(failed)
            raise
        indexes = [self._record(t) for t in new_turns]
        if completion is not None and not interrupted:
            try:
                for delta in completion:
                    if on_text is not None:
                        on_text(delta)
            except KeyboardInterrupt:
                interrupted = True
                completion.close()
            except ProviderError as exc:
                interrupted, error = True, exc
                completion.close()
        answer = self._answer_turn(completion, interrupted)
        if error is not None:
            answer["error"] = error.as_turn_error()
        if on_end is not None:
            on_end(answer["content"])
        if answer["content"] or error is not None:
            indexes.append(self._record(answer))
        usage = getattr(completion, "usage", None)
        return Exchange(
            content=answer["content"],
            model=answer.get("model") or opts.model,
            provider=answer.get("provider"),
            prompt_tokens=getattr(usage, "prompt_tokens", None),
            completion_tokens=getattr(usage, "completion_tokens", None),
            cost=answer.get("cost"),
            latency_ms=answer.get("latencyMs"),
            interrupted=interrupted,
            error=error,
            indexes=indexes,
        )

    def _resolve(self) -> tuple[str, str | None]:
        """The model and provider as the LLM client names them (as stored on every turn)."""
        resolve = getattr(self.llm, "resolve", None)
        if resolve is None:
            return self.options.model, None
        try:
            name, provider = resolve(self.options.model)
        except Exception:
            return self.options.model, None
        return str(name), provider

    def _answer_turn(self, completion: LLMCompletion | None, interrupted: bool) -> dict[str, Any]:
        """The assistant turn. Stopped before any text arrived, its content is empty and it
        is not stored (callers check): the history never holds an empty assistant message."""
        if completion is None:
            model, provider = self._resolve()
            return make_turn(
                "assistant", "", now_rfc3339(), model=model, provider=provider, interrupted=True
            )
        tokens = None if interrupted else completion.usage.as_turn_tokens()
        return make_turn(
            "assistant",
            completion.text,
            now_rfc3339(),
            model=completion.model,
            provider=completion.provider,
            tokens=tokens,
            latency_ms=completion.latency_ms,
            cost=None if interrupted else completion.cost,
            interrupted=interrupted,
        )

    def answer_turn(self, completion: LLMCompletion | None, interrupted: bool) -> dict[str, Any]:
        """The assistant turn for what ``completion`` received (see :meth:`send`); the SDK's
        streams build theirs with it so that they store what :meth:`send` stores."""
        return self._answer_turn(completion, interrupted)

    def record(self, turn: dict[str, Any]) -> int | None:
        """Store ``turn`` (through the writer) and add it to the conversation; its index."""
        return self._record(turn)

    def _record(self, turn: dict[str, Any]) -> int | None:
        index = None
        if self.writer is not None:
            index = self.writer.write(self.session_id, turn, self.user_id)
        kept = dict(turn)
        if index is not None:
            kept = {"index": index, **turn}
        self.turns.append(kept)
        return index
