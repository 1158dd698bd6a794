"""How ``memory show`` renders one session for reading (no click in here).

Two renderings of the same facts, from the export path's :class:`SessionDoc` (either layout):

- :func:`render_rich`: for a terminal. A header with the session's totals, then each turn
  under a rule naming its index, role, time, model, tokens, latency and cost; Markdown
  rendered; tool calls in yellow panels, failed turns in a red panel, interrupted ones
  flagged (labels from :func:`neurolink_cli.failures.failure_label`).
- :func:`render_plain`: the same as plain text (``--no-pager``, piped): content exactly as
  stored, no escape sequences.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from neurolink_cli.failures import failure_label, is_failed
from neurolink_cli.models import SOURCE_NATIVE, SessionDoc
from neurolink_cli.util import jsonutil

ROLE_STYLE = {
    "user": "bold cyan",
    "assistant": "bold green",
    "system": "bold magenta",
    "tool": "bold yellow",
    "tool_call": "bold yellow",
    "tool_result": "bold yellow",
}


def when(value: Any) -> str:
    """A stored RFC 3339 time as ``2026-12-02 14:00:01 UTC`` (as stored when not one)."""
    text = str(value or "")
    if len(text) >= 19 and text[10] == "T":
        return text[:10] + " " + text[11:19] + " UTC"
    return text or "-"


def turn_facts(turn: dict[str, Any]) -> list[str]:
    """Time, model, tokens, latency and cost of a turn, each as short text, where known."""
    facts = [when(turn.get("timestamp"))]
    model, provider = turn.get("model"), turn.get("provider")
    if model:
        facts.append(f"{model} ({provider})" if provider else str(model))
    tokens = turn.get("tokens")
    if isinstance(tokens, dict) and (tokens.get("prompt") is not None or tokens.get("completion")):
        facts.append(f"{tokens.get('prompt') or 0} → {tokens.get('completion') or 0} tokens")
    if isinstance(turn.get("latencyMs"), int | float):
        facts.append(f"{turn['latencyMs']:,} ms")
    if isinstance(turn.get("cost"), int | float):
        facts.append(f"${turn['cost']:.6f}")
    return facts


def tool_calls(turn: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """``(name, arguments as text)`` of every tool call the turn records (both layouts)."""
    for call in turn.get("toolCalls") or ():
        if not isinstance(call, dict):
            yield "tool", _text(call)
            continue
        found = call.get("function")
        function: dict[str, Any] = found if isinstance(found, dict) else {}
        name = call.get("name") or call.get("toolName") or function.get("name") or "tool"
        args = call.get("args", call.get("arguments", function.get("arguments")))
        yield str(name), _text(args)
    if turn.get("role") == "tool_call" or (turn.get("tool") and "args" in turn):
        yield str(turn.get("tool") or "tool"), _text(turn.get("args"))


def tool_result(turn: dict[str, Any]) -> str | None:
    """The result of a tool turn kept outside ``content`` (the TypeScript layout), if any."""
    if turn.get("role") in ("tool_result", "tool") and turn.get("result") not in (None, ""):
        return _text(turn.get("result"))
    return None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return jsonutil.dumps(value).decode()


def session_facts(doc: SessionDoc) -> list[tuple[str, str]]:
    """The header: who, when, which model, and the session's totals."""
    turns = doc.turns
    prompt = sum(_tokens(t, "prompt") for t in turns)
    completion = sum(_tokens(t, "completion") for t in turns)
    costs = [t["cost"] for t in turns if isinstance(t.get("cost"), int | float)]
    failed = sum(1 for t in turns if is_failed(t))
    md = doc.metadata
    facts = [
        ("session", doc.session_id),
        ("user", doc.user_id or "-"),
        ("layout", "neurolink" if doc.source == SOURCE_NATIVE else doc.source),
        ("created", when(doc.created_at)),
        ("updated", when(doc.updated_at)),
        ("model", " / ".join(str(x) for x in (md.get("provider"), md.get("model")) if x) or "-"),
        ("turns", str(len(turns))),
        ("tokens", f"{prompt:,} in, {completion:,} out"),
    ]
    if md.get("title"):
        facts.insert(0, ("title", str(md["title"])))
    if costs:
        facts.append(("cost", f"${sum(costs):.6f}"))
    if failed:
        facts.append(("failed turns", str(failed)))
    return facts


def _tokens(turn: dict[str, Any], key: str) -> int:
    tokens = turn.get("tokens")
    value = tokens.get(key) if isinstance(tokens, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _content(turn: dict[str, Any]) -> str:
    content = turn.get("content")
    return content if isinstance(content, str) else _text(content)


def render_plain(doc: SessionDoc) -> str:
    """The session as plain text: header, then each turn under a ``──`` line."""
    lines = [f"{label}: {value}" for label, value in session_facts(doc)]
    for turn in doc.turns:
        head = " · ".join([f"#{turn.get('index')} {turn.get('role')}", *turn_facts(turn)])
        lines += ["", f"── {head}"]
        label = failure_label(turn)
        if label is not None:
            lines.append(f"!! {label}")
        for name, args in tool_calls(turn):
            lines.append(f">> tool call {name}({args})")
        result = tool_result(turn)
        if result is not None:
            lines.append(f"<< tool result {result}")
        content = _content(turn)
        if content:
            lines.append(content)
    return "\n".join(lines) + "\n"


def render_rich(doc: SessionDoc, console: Any) -> None:
    """The session on a rich ``console``: Markdown rendered, failures and tools highlighted."""
    from rich.markdown import Markdown
    from rich.panel import Panel
    from rich.rule import Rule
    from rich.table import Table
    from rich.text import Text

    header = Table(box=None, show_header=False, pad_edge=False)
    header.add_column(style="bold", no_wrap=True)
    header.add_column()
    for label, value in session_facts(doc):
        style = "bold red" if label == "failed turns" else ""
        header.add_row(label, Text(value, style=style))
    console.print(Panel(header, title="session", title_align="left", border_style="blue"))
    for turn in doc.turns:
        role = str(turn.get("role"))
        title = Text.assemble(
            (f"#{turn.get('index')} ", "dim"),
            (role, ROLE_STYLE.get(role, "bold")),
            ("  " + "  ·  ".join(turn_facts(turn)), "dim"),
        )
        console.print()
        console.print(Rule(title, align="left", style="dim"))
        failure = failure_label(turn)
        if failure is not None:
            style = "red" if is_failed(turn) else "yellow"
            head, _, message = failure.partition(": ")
            body = Text(message or head, style=f"bold {style}")
            console.print(Panel(body, title=head, title_align="left", border_style=style))
        for name, args in tool_calls(turn):
            body = Text(args or "(no arguments)")
            console.print(Panel(body, title=f"tool call {name}", border_style="yellow"))
        shown = tool_result(turn)
        if shown is not None:
            console.print(Panel(Text(shown), title="tool result", border_style="yellow"))
        content = _content(turn)
        if not content:
            continue
        if role in ("assistant", "system"):
            console.print(Markdown(content))
        else:
            console.print(Text(content))
    console.print()
