"""``--format chat-jsonl``: the chat fine-tuning format, one training example per session.

Each line is ``{"messages": [{"role", "content"}, ...]}``: the JSONL that OpenAI's
fine-tuning API (chat models), Hugging Face TRL (``SFTTrainer``'s conversational "messages"
format, which applies the model's chat template) and most fine-tuning services (Azure
OpenAI, Together, Fireworks, Axolotl's ``chat_template`` datasets...) read.

What goes in, from the stored turns of either layout:

- ``system``, ``user`` and ``assistant`` turns with text, as ``{"role", "content"}``;
- tool calls in the OpenAI shape: an assistant message with ``"tool_calls": [{"id",
  "type": "function", "function": {"name", "arguments"}}]`` (``arguments`` a JSON string)
  for a native turn's ``toolCalls`` or the TypeScript SDK's ``tool_call`` turns (consecutive
  ones merged into one message), and ``{"role": "tool", "tool_call_id", "content"}`` for
  a tool result;
- never a failed turn (``error``) or an interrupted one, nor the user turn(s) they answered:
  an example never teaches a half answer, and never has two user turns in a row for it.

A session whose messages hold no assistant message is no example: it is left out (listed
as skipped in a directory export's manifest), as are sessions with fewer than
``export-all --min-turns N`` messages (system messages not counted).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import IO, Any

import orjson

from neurolink_cli.export.formats import Failure, turn_content_text
from neurolink_cli.failures import is_incomplete
from neurolink_cli.models import SessionDoc

Message = dict[str, Any]


def _arguments(value: Any) -> str:
    if isinstance(value, str):
        return value
    return orjson.dumps({} if value is None else value).decode()


def _tool_call(call: Any, fallback_id: str) -> Message:
    """One call in the OpenAI shape, from what a turn recorded."""
    if not isinstance(call, dict):
        return {"id": fallback_id, "type": "function",
                "function": {"name": "tool", "arguments": _arguments(call)}}  # fmt: skip
    found = call.get("function")
    function: dict[str, Any] = found if isinstance(found, dict) else {}
    name = function.get("name") or call.get("name") or call.get("toolName") or call.get("tool")
    args = function.get("arguments", call.get("arguments", call.get("args")))
    return {
        "id": str(call.get("id") or call.get("toolCallId") or fallback_id),
        "type": "function",
        "function": {"name": str(name or "tool"), "arguments": _arguments(args)},
    }


def complete_turns(turns: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The turns without failed or interrupted ones and the user turns they answered."""
    kept: list[dict[str, Any]] = []
    for turn in turns:
        if is_incomplete(turn):
            while kept and kept[-1].get("role") == "user":
                kept.pop()
            continue
        kept.append(turn)
    return kept


def training_messages(doc: SessionDoc) -> list[Message]:
    """The session's messages for fine-tuning (see the module's docstring)."""
    messages: list[Message] = []
    open_calls: list[tuple[str, str]] = []  # (id, tool name) of calls not yet answered
    for turn in complete_turns(doc.turns):
        role = turn.get("role")
        index = turn.get("index")
        if role == "tool_call":  # the TypeScript SDK: one turn per call
            call = _tool_call({"id": turn.get("toolCallId") or turn.get("id"),
                               "name": turn.get("tool"), "args": turn.get("args")},
                              f"call_{index}")  # fmt: skip
            last = messages[-1] if messages else None
            if last is not None and last["role"] == "assistant" and "tool_calls" in last:
                last["tool_calls"].append(call)
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
            open_calls.append((call["id"], call["function"]["name"]))
            continue
        if role in ("tool", "tool_result"):
            content = turn.get("content")
            if role == "tool_result" or not isinstance(content, str) or not content:
                result = turn.get("result", content)
                content = result if isinstance(result, str) else _arguments(result)
            call_id = turn.get("toolCallId") or turn.get("tool_call_id")
            if call_id is None:
                match = next((c for c in open_calls if c[1] == turn.get("tool")), None)
                match = match or (open_calls[0] if open_calls else None)
                call_id = match[0] if match else f"call_{index}"
            open_calls = [c for c in open_calls if c[0] != call_id]
            messages.append({"role": "tool", "tool_call_id": str(call_id), "content": content})
            continue
        if role not in ("system", "user", "assistant"):
            continue
        text = turn_content_text(turn)
        message: Message = {"role": role, "content": text}
        calls = turn.get("toolCalls") if role == "assistant" else None
        if calls:
            message["tool_calls"] = [
                _tool_call(c, f"call_{index}_{i}") for i, c in enumerate(calls)
            ]
            if not text:
                message["content"] = None
            open_calls += [(c["id"], c["function"]["name"]) for c in message["tool_calls"]]
        elif not text:
            continue
        messages.append(message)
    return messages


def example_turns(doc: SessionDoc) -> int:
    """How many messages the session's example has, system messages not counted; 0 when it
    has no assistant message (no example at all)."""
    messages = training_messages(doc)
    if not any(m["role"] == "assistant" for m in messages):
        return 0
    return sum(1 for m in messages if m["role"] != "system")


class ChatJsonlWriter:
    """One ``{"messages": [...]}`` line per session (sessions with no example write nothing)."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out

    def write(self, doc: SessionDoc) -> None:
        messages = training_messages(doc)
        if any(m["role"] == "assistant" for m in messages):
            self.out.write(orjson.dumps({"messages": messages}) + b"\n")

    def close(self) -> list[Failure]:
        """Flush; nothing failed late (a bad session raised BadData from write())."""
        self.out.flush()
        return []
