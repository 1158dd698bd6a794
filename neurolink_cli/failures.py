"""Failed and interrupted turns (CONTRACT §9): how they are recognised and labelled.

A provider failure during ``loop`` or SDK ``generate`` is stored as an assistant turn with
``"error": {"type", "message", "status"}`` (and whatever content arrived); an answer stopped
by Ctrl-C, or broken off by the provider, has ``"interrupted": true``. Every reader labels
them the same way through :func:`failure_label`: ``memory show``, ``memory search``, the
Markdown export and the CSV export (whose content cell is prefixed ``[<label>] ``, since the
contract's header has no column for it). Such turns are never sent back to a model and
are left out of the fine-tuning export.
"""

from __future__ import annotations

from typing import Any

# ProviderError.error_type values (see neurolink_cli.chat.llm.provider_error)
ERROR_TYPES = (
    "auth",
    "permission",
    "not_found",
    "rate_limit",
    "context_window",
    "content_policy",
    "bad_request",
    "timeout",
    "connection",
    "unavailable",
    "server_error",
    "unknown_model",
    "no_api_key",
    "stream_broken",
    "provider_error",
)


def error_of(turn: dict[str, Any]) -> dict[str, Any] | None:
    """The turn's ``error`` object, or None when the turn did not fail."""
    error = turn.get("error")
    return error if isinstance(error, dict) else None


def is_failed(turn: dict[str, Any]) -> bool:
    """True for a turn that records a provider failure."""
    return isinstance(turn.get("error"), dict)


def is_incomplete(turn: dict[str, Any]) -> bool:
    """True for a failed or interrupted turn (never history, never training data)."""
    return is_failed(turn) or turn.get("interrupted") is True


def failure_label(turn: dict[str, Any]) -> str | None:
    """One line naming what went wrong with the turn, or None for a complete turn.

    ``error rate_limit (HTTP 429): <message>`` for a failure, ``interrupted`` for an
    answer stopped before its end (with the error when the provider broke it off).
    """
    error = error_of(turn)
    if error is None:
        return "interrupted" if turn.get("interrupted") is True else None
    kind = str(error.get("type") or "provider_error")
    status = error.get("status")
    head = f"error {kind}" + (f" (HTTP {status})" if status not in (None, "") else "")
    message = str(error.get("message") or "").strip()
    return f"{head}: {message}" if message else head


def error_count(doc: Any) -> int:
    """How many failed turns a session holds: its ``errorCount`` metadata counter when
    set, else counted from its turns (sessions imported or of the TypeScript layout)."""
    counted = doc.metadata.get("errorCount") if isinstance(doc.metadata, dict) else None
    if isinstance(counted, int) and not isinstance(counted, bool):
        return counted
    return sum(1 for t in doc.turns if is_failed(t))
