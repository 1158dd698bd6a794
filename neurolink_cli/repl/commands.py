"""Slash commands of the loop, in a small registry filled by a decorator (litecli's way).

A line starting with ``/`` is a command; ``//text`` sends ``/text`` to the model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from neurolink_cli.errors import NeurolinkError
from neurolink_cli.failures import failure_label
from neurolink_cli.models import SessionDoc
from neurolink_cli.repl.state import ChatState

Handler = Callable[[ChatState, str], None]


@dataclass(frozen=True)
class SlashCommand:
    """One registered command."""

    name: str
    usage: str
    help: str
    handler: Handler


COMMANDS: dict[str, SlashCommand] = {}


def slash_command(name: str, usage: str, help: str) -> Callable[[Handler], Handler]:
    """Register the decorated function as ``/name``."""

    def register(func: Handler) -> Handler:
        COMMANDS[name] = SlashCommand(name, usage, help, func)
        return func

    return register


def is_command(line: str) -> bool:
    """True when ``line`` is a slash command (not ``//...``, which is sent as text)."""
    return line.startswith("/") and not line.startswith("//")


def run_command(state: ChatState, line: str) -> None:
    """Run the slash command in ``line``; an unknown one is reported on stderr."""
    name, _, arg = line[1:].strip().partition(" ")
    command = COMMANDS.get(name.lower())
    if command is None:
        state.error(f"unknown command /{name}; /help lists the commands")
        return
    command.handler(state, arg.strip())


def session_doc(state: ChatState) -> SessionDoc:
    """This session as an export document: from the store, else from the turns in memory."""
    if state.store is not None:
        found: Any = state.store.get(state.session_id)
        if isinstance(found, SessionDoc):
            return found
    turns = [
        {"index": t.get("index", i), **{k: v for k, v in t.items() if k != "index"}}
        for i, t in enumerate(state.chat.turns)
    ]
    last: dict[str, Any] = next((t for t in reversed(turns) if t.get("model")), {})
    return SessionDoc(
        session_id=state.session_id,
        user_id=state.chat.user_id,
        created_at=turns[0]["timestamp"] if turns else None,
        updated_at=turns[-1]["timestamp"] if turns else None,
        metadata={
            "provider": last.get("provider"),
            "model": last.get("model"),
            "totalTurns": len(turns),
            "toolsUsed": [],
        },
        _turns=turns,
    )


@slash_command("help", "/help", "show the commands")
def help_command(state: ChatState, arg: str) -> None:
    width = max(len(c.usage) for c in COMMANDS.values())
    lines = [f"  {c.usage.ljust(width)}  {c.help}" for c in COMMANDS.values()]
    lines += [
        "",
        "  Enter sends; Esc Enter inserts a new line; Ctrl-C clears the line or stops an answer;",
        "  Ctrl-D on an empty line quits. Start a line with // to send a leading /.",
    ]
    state.err.write("\n".join(lines) + "\n")
    state.err.flush()


@slash_command("session", "/session", "this session: id, user, turns, model, store")
def session_command(state: ChatState, arg: str) -> None:
    info = [
        f"session  {state.session_id}",
        f"user     {state.chat.user_id or '-'}",
        f"turns    {state.turn_count}",
        f"model    {state.model}",
        f"store    {state.store_kind}",
    ]
    if state.pending:
        info.append(f"unsaved  {state.pending} turn(s) waiting for Redis")
    state.err.write("\n".join(info) + "\n")
    state.err.flush()


@slash_command("history", "/history", "show this session's turns")
def history_command(state: ChatState, arg: str) -> None:
    if not state.chat.turns:
        state.note("no turns yet in this session")
        return
    for i, turn in enumerate(state.chat.turns):
        index = turn.get("index", i)
        label = failure_label(turn)  # as memory show and the exports label it
        mark = f" ({label})" if label is not None else ""
        state.say(f"[{index}] {turn['role']}{mark}: {turn['content']}")


@slash_command("sessions", "/sessions", "recent sessions, numbered (then /resume N)")
def sessions_command(state: ChatState, arg: str) -> None:
    from neurolink_cli.repl.sessions import recent_sessions, session_lines

    rows = recent_sessions(state.store)
    state.recent = [r.session_id for r in rows]
    if not rows:
        state.note("no stored sessions to list")
        return
    state.err.write("\n".join(session_lines(rows)) + "\n")
    state.err.flush()


@slash_command("resume", "/resume N|ID", "continue session N of /sessions, or by id")
def resume_command(state: ChatState, arg: str) -> None:
    from neurolink_cli.util.validate import check_session_id

    sid = arg.strip()
    if sid.isdigit() and 1 <= int(sid) <= len(state.recent):
        sid = state.recent[int(sid) - 1]
    if not sid:
        state.error("/resume needs a number from /sessions or a session id")
        return
    check_session_id(sid)
    state.chat.reset(sid)
    found = state.chat.load(state.store)
    if found:
        state.note(f"resuming session {sid} ({found} turns)")
    else:
        state.note(f"new session {sid}: no stored session has this id")


@slash_command("new", "/new", "start a new session")
def new_command(state: ChatState, arg: str) -> None:
    state.start_new_session()


@slash_command("model", "/model NAME", "switch to another model (any litellm name)")
def model_command(state: ChatState, arg: str) -> None:
    if not arg:
        state.note(f"model {state.model}; /model NAME switches")
        return
    resolve = getattr(state.chat.llm, "resolve", None)
    if resolve is not None and resolve(arg)[1] is None:
        state.error(f"unknown model {arg!r} (litellm names: provider/model); still {state.model}")
        return
    state.chat.options.model = arg
    state.note(f"model {arg}")


@slash_command("export", "/export [FILE]", "this session as JSON (to FILE or stdout)")
def export_command(state: ChatState, arg: str) -> None:
    from neurolink_cli.export.registry import render
    from neurolink_cli.util.atomic import open_output

    data = render(session_doc(state), "json")
    if not arg:
        state.say(data.decode("utf-8"))
        return
    path = Path(arg).expanduser()
    try:
        with open_output(str(path)) as fh:
            fh.write(data)
    except NeurolinkError as exc:
        state.error(str(exc))
        return
    state.note(f"exported {state.session_id} to {path}")
    if state.store_kind == "memory":
        state.note("(--store memory: 'neurolink memory export' will not see this session)")


@slash_command("clear", "/clear", "delete this session (asks first), then start a new one")
def clear_command(state: ChatState, arg: str) -> None:
    sid = state.session_id
    if not state.confirm(f"Delete session {sid} ({state.turn_count} turns)? [y/N] "):
        state.note("not deleted")
        return
    if state.store is not None and hasattr(state.store, "delete"):
        state.store.delete(sid)
    if state.writer is not None:
        state.writer.pending = [p for p in state.writer.pending if p.session_id != sid]
    state.note(f"deleted session {sid}")
    state.start_new_session()


@slash_command("exit", "/exit", "quit (as does Ctrl-D)")
def exit_command(state: ChatState, arg: str) -> None:
    state.running = False
