"""From ``neurolink loop``'s options to a running loop: store, session, chat, prompt.

Redis is connected before the first prompt, so an unreachable Redis is an error at start
(exit 4). The session id is printed on stderr at start; a ``--session-id`` that exists is
resumed (its stored turns become the conversation so far). At the end, turns still queued
because Redis went away are written if it is back, or reported as lost (exit 4).
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from neurolink_cli.chat.conversation import Chat, ChatOptions, TurnStore, TurnWriter
from neurolink_cli.errors import BadInput, StoreUnavailable
from neurolink_cli.repl.state import ChatState, new_session_id
from neurolink_cli.util.validate import check_session_id

if TYPE_CHECKING:
    from neurolink_cli.appcontext import AppContext


@dataclass
class LoopOptions:
    """The options of ``neurolink loop`` (None: from the settings)."""

    memory_enabled: bool | None = None
    store: str | None = None
    session_id: str | None = None
    user_id: str | None = None
    model: str | None = None
    system: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    stream: bool = True


def open_store(app: AppContext, kind: str) -> TurnStore:
    """The store for ``kind`` (``redis`` connects now: StoreUnavailable if it cannot)."""
    if kind == "memory":
        from neurolink_cli.store.memory import MemoryStore

        return MemoryStore(max_turns=app.settings.max_turns)
    store: TurnStore = app.repository().native
    return store


def check_resumable(app: AppContext, session_id: str) -> None:
    """Refuse to continue a session of the TypeScript SDK's layout (writing natively would
    hide it behind a new native session of the same id)."""
    upstream = app.repository().upstream
    if upstream is None:
        return
    try:
        found = upstream.get(session_id)
    except Exception:
        return
    if found is not None:
        raise BadInput(
            f"session {session_id!r} was written by the TypeScript SDK; neurolink loop "
            "continues only its own sessions (use another --session-id)"
        )


def build_state(app: AppContext, opts: LoopOptions, llm: Any = None) -> ChatState:
    """Resolve options against settings, open the store, load the session: a ready state."""
    settings = app.settings
    enabled = settings.memory_enabled if opts.memory_enabled is None else opts.memory_enabled
    kind = (opts.store or settings.store) if enabled else "off"
    if opts.session_id is not None:
        check_session_id(opts.session_id)
    if opts.max_tokens is not None and opts.max_tokens <= 0:
        raise BadInput("--max-tokens must be a whole number above 0")
    warm_up = llm is None
    if llm is None:
        from neurolink_cli.chat.llm import LiteLLM

        llm = LiteLLM()
    sid = opts.session_id or new_session_id()
    chat_options = ChatOptions(
        model=opts.model or settings.model,
        system=opts.system,
        temperature=opts.temperature,
        max_tokens=opts.max_tokens,
        stream=opts.stream,
    )
    state_store: TurnStore | None = None
    writer = None
    if kind != "off":
        state_store = open_store(app, kind)
        writer = TurnWriter(state_store, warn=app.warn, note=app.note)
    chat = Chat(
        llm,
        writer,
        session_id=sid,
        options=chat_options,
        user_id=opts.user_id,
        max_turns=settings.max_turns,
        keep_history=kind != "off",
    )
    if opts.session_id and kind == "redis" and chat.load(state_store) == 0:
        check_resumable(app, sid)
    state = ChatState(
        chat=chat,
        store=state_store,
        writer=writer,
        store_kind=kind,
        markdown=sys.stdout.isatty() and not opts.stream,
    )
    announce(app, state, resumed=bool(chat.turns))
    if warm_up:  # import litellm (seconds) while the user types the first message
        from neurolink_cli.chat.llm import load_litellm

        threading.Thread(target=load_litellm, daemon=True).start()
    return state


def announce(app: AppContext, state: ChatState, *, resumed: bool) -> None:
    """The start notices on stderr: the session id first."""
    sid = state.session_id
    if resumed:
        app.note(f"resuming session {sid} ({state.turn_count} turns)")
    else:
        app.note(f"new session {sid}")
    if state.store_kind == "memory":
        app.note(
            "store: memory - history lives in this process only; "
            "'neurolink memory export' will not see this session"
        )
    elif state.store_kind == "off":
        app.note("conversation memory is off: nothing is stored and no history is sent")
    else:
        app.note(f"model {state.model}; turns are stored in Redis at {app.shown_url()}")
    if sys.stdin.isatty():
        app.note("type /help for commands, Ctrl-D to quit")


def finish(app: AppContext, state: ChatState) -> None:
    """Write what Redis could not take during the chat; StoreUnavailable if some is lost."""
    writer = state.writer
    if writer is None or not writer.pending:
        return
    if writer.flush():
        return
    lost = len(writer.pending)
    sessions = sorted({p.session_id for p in writer.pending})
    raise StoreUnavailable(
        f"{lost} turn(s) of session {', '.join(sessions)} could not be saved and are lost: "
        f"Redis at {app.shown_url()} is unreachable ({writer.last_error})"
    )


def start_loop(app: AppContext, opts: LoopOptions) -> None:
    """Run ``neurolink loop`` on the terminal until the user quits."""
    from neurolink_cli.repl.app import history_file, make_prompt_session, run_plain, run_repl

    state = build_state(app, opts)
    try:
        if sys.stdin.isatty():
            run_repl(state, make_prompt_session(state, history=history_file(app.settings.data_dir)))
        else:
            run_plain(state, sys.stdin)
    finally:
        finish(app, state)
