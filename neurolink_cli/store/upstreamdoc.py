"""The export document of a session stored by the TypeScript SDK (CONTRACT §4, §5).

:func:`document` maps a stored session object (already checked by
:class:`~neurolink_cli.store.upstream.UpstreamStore`) to a :class:`SessionDoc`; see the
upstream module's docstring for the mapping. It is the hot path of exporting that layout,
so it builds each turn with one dict display and looks at the messages' fields once
(``set().union``) to skip the passes that cannot find anything.
"""

from __future__ import annotations

from typing import Any

from neurolink_cli.models import SOURCE_UPSTREAM, SessionDoc

PLACEHOLDER_USER = "randomUser"
# Stored fields that go to the document's head, turns or metadata (the rest go to ``extra``).
MAPPED_FIELDS = (
    "sessionId",
    "userId",
    "createdAt",
    "updatedAt",
    "messages",
    "title",
    "summarizedMessage",
)
OPTIONAL_META = (
    "summarizedUpToMessageId",
    "lastTokenCount",
    "lastApiTokenCount",
    "additionalMetadata",
)
TURN_CORE = ("role", "content", "timestamp")
NOT_EXTRA = frozenset((*MAPPED_FIELDS, *OPTIONAL_META))


def str_or_none(value: Any) -> str | None:
    """``str(value)``, or None for None."""
    return None if value is None else str(value)


def turns_of(messages: list[dict[str, Any]], fields: set[str]) -> list[dict[str, Any]]:
    """``messages[i]`` as turns: ``index`` (= i), ``role``, ``content``, ``timestamp`` (null
    when missing), then the message's other fields as stored. One dict display per
    message (C-level); the index is set again only if a message has its own ``index``
    (``fields``: every field name of the messages)."""
    turns = [
        {"index": i, "role": None, "content": None, "timestamp": None, **m}
        for i, m in enumerate(messages)
    ]
    if "index" in fields:
        for i, turn in enumerate(turns):
            turn["index"] = i
    return turns


def derived(messages: list[dict[str, Any]], fields: set[str]) -> tuple[Any, Any, list[str]]:
    """Provider and model (the last a message's metadata names), and the tools used."""
    provider = model = None
    tools: dict[str, None] = {}
    if "metadata" not in fields and "tool" not in fields:  # no pass over the messages
        return provider, model, []
    for message in messages:
        meta = message.get("metadata")
        if isinstance(meta, dict):
            provider = meta.get("provider") or provider
            model = meta.get("model") or model
        tool = message.get("tool")
        if isinstance(tool, str) and tool:
            tools[tool] = None
    return provider, model, list(tools)


def user_of(data: dict[str, Any]) -> str | None:
    """The exported ``userId``: the stored one, None for none and for ``randomUser``."""
    stored_user = data.get("userId")
    return None if stored_user in (None, "", PLACEHOLDER_USER) else str(stored_user)


def document(data: dict[str, Any], ttl: int | None, counting: bool = False) -> SessionDoc:
    """The export document of a checked session object; with ``counting``, its turns are
    the stored messages themselves (no ``index``, stored field order): for counting and
    selecting only, never for export."""
    messages: list[dict[str, Any]] = data["messages"]
    fields: set[str] = set().union(*messages)  # every field name, in one C-level pass
    provider, model, tools = derived(messages, fields)
    metadata: dict[str, Any] = {
        "provider": provider,
        "model": model,
        "totalTurns": len(messages),
        "toolsUsed": tools,
        "title": data.get("title"),
        "summarizedMessage": data.get("summarizedMessage"),
        "source": SOURCE_UPSTREAM,
    }
    for key in OPTIONAL_META:
        if key in data:
            metadata[key] = data[key]
    extra = {k: v for k, v in data.items() if k not in NOT_EXTRA}
    doc = SessionDoc(
        session_id=data["sessionId"],
        user_id=user_of(data),
        created_at=str_or_none(data.get("createdAt")),
        updated_at=str_or_none(data.get("updatedAt")),
        metadata=metadata,
        extra=extra,
        source=SOURCE_UPSTREAM,
        ttl=ttl,
    )
    doc.turns = messages if counting else turns_of(messages, fields)
    return doc
