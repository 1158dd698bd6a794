"""From ``neurolink loop``'s options to a running loop: store, session, chat, prompt.

Redis is connected before the first prompt, so an unreachable Redis is an error at start
(exit 4). The session id is printed on stderr at start; a ``--session-id`` that exists is
resumed (its stored turns become the conversation so far). At the end, turns still queued
because Redis went away are written if it is back, or reported as lost (exit 4).
"""

from __future__ import annotations

import contextlib
import os
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
    each_line: bool = False  # piped input: every line a message (else all of it is one)
    pick: bool = False  # -l: choose a recent session to resume first


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
    asked_for = opts.session_id is not None
    state = ChatState(
        chat=chat,
        store=state_store,
        writer=writer,
        store_kind=kind,
        markdown=app.env.stdout_isatty,
        out=app.env.stdout,
        err=app.env.stderr,
    )
    announce(app, state, resumed=bool(chat.turns), asked_for=asked_for)
    if warm_up:  # import litellm (seconds) while the user types the first message
        from neurolink_cli.chat.llm import warm_up as warm_up_litellm

        threading.Thread(
            target=warm_up_litellm, args=(chat_options.model,), name="litellm-warm-up", daemon=True
        ).start()
    return state


def announce(app: AppContext, state: ChatState, *, resumed: bool, asked_for: bool = False) -> None:
    """The start notices on stderr: the session id first; a ``--session-id`` that holds no
    turns says plainly that it starts a new session (a typo must not pass silently)."""
    sid = state.session_id
    if resumed:
        app.note(f"resuming session {sid} ({state.turn_count} turns)")
    elif asked_for and state.store_kind == "redis":
        app.note(
            f"new session {sid}: no stored session has this id "
            "('neurolink memory list' shows the existing ones)"
        )
    else:
        app.note(f"new session {sid}")
    if state.store_kind == "memory":
        app.note(
            "store: memory - history lives in this process only; "
            "'neurolink memory export' will not see this session"
        )
    elif state.store_kind == "off":
        app.note("conversation memory is off: nothing is stored and no history is sent")
    elif not app.settings.redis_configured:  # the embedded store's own notice names it
        app.note(f"model {state.model}; turns are stored in the embedded store")
    else:
        app.note(f"model {state.model}; turns are stored in Redis at {app.shown_url()}")
    if app.env.stdin_isatty:
        app.note("type /help for commands, Ctrl-D to quit")


def goodbye(state: ChatState) -> None:
    """The last line: which session this was and how to come back to it."""
    sid = state.session_id
    if state.store_kind == "redis" and state.turn_count:
        state.note(
            f"session {sid} saved ({state.turn_count} turns); "
            f"resume with: neurolink loop --session-id {sid}"
        )
    elif state.store_kind == "memory" and state.turn_count:
        state.note(f"session {sid} was kept in this process only (--store memory); not saved")


def finish(app: AppContext, state: ChatState) -> None:
    """Write what Redis could not take during the chat (StoreUnavailable if some is lost),
    then say how to resume."""
    writer = state.writer
    if writer is None or not writer.pending or writer.flush():
        goodbye(state)
        return
    lost = len(writer.pending)
    sessions = sorted({p.session_id for p in writer.pending})
    raise StoreUnavailable(
        f"{lost} turn(s) of session {', '.join(sessions)} could not be saved and are lost: "
        f"Redis at {app.shown_url()} is unreachable ({writer.last_error})"
    )


def start_loop(app: AppContext, opts: LoopOptions) -> None:
    """Run ``neurolink loop`` on the terminal until the user quits."""
    from neurolink_cli.repl.app import (
        history_file,
        make_prompt_session,
        run_piped,
        run_plain,
        run_repl,
    )

    if opts.pick:
        opts.session_id = pick_session(app)
    state = build_state(app, opts)
    env = app.env
    state.interactive = env.stdin_isatty and env.stderr_isatty
    try:
        if env.stdin_isatty:
            run_repl(state, make_prompt_session(state, history=history_file(app.settings.data_dir)))
        elif opts.each_line:
            run_plain(state, env.stdin)
        else:
            run_piped(state, env.stdin)
    finally:
        finish(app, state)


def pick_session(app: AppContext) -> str | None:
    """``-l``: list recent sessions on stderr and read a number or id (Enter: a new one)."""
    from neurolink_cli.repl.sessions import choose, recent_sessions, session_lines

    env = app.env
    if not env.stdin_isatty:
        raise BadInput("-l/--list-conversations asks which session: it needs a terminal")
    rows = recent_sessions(app.repository().native)
    if not rows:
        app.note("no stored sessions yet; starting a new one")
        return None
    env.stderr.write("\n".join(session_lines(rows)) + "\n")
    env.stderr.write("Resume which? (number or id; Enter: a new session) ")
    env.stderr.flush()
    try:
        answer = env.stdin.readline()
    except KeyboardInterrupt:
        answer = ""
    return choose(rows, answer)


def owns_process() -> bool:
    """True when this is the ``neurolink`` process itself (not CliRunner or a test harness,
    which swap the standard streams)."""
    return sys.stdout is sys.__stdout__ and sys.stderr is sys.__stderr__


def exit_now(code: int) -> None:
    """End the process at once, skipping interpreter teardown (with litellm's thousands of
    modules loaded it took 1-3 s after Ctrl-D). Only once every turn is written (the store
    writes synchronously; :func:`finish` has run) and the history file is closed (written
    line by line). Does nothing inside a test harness, which keeps its process."""
    if not owns_process():
        return
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)
