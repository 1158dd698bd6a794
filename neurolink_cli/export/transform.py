"""Changes applied to a document before it is formatted: time window and redaction.

A document whose turns are left untouched keeps its raw stored bytes (the fast path);
any change goes through :attr:`SessionDoc.turns`, which parses them once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from neurolink_cli.models import SessionDoc
from neurolink_cli.util.atomic import dir_mode, file_mode
from neurolink_cli.util.timeutil import ms_to_rfc3339, stored_to_ms


@dataclass(frozen=True)
class ExportOptions:
    """What the user asked of an export, independent of where the bytes go."""

    format: str = "json"
    include_metadata: bool = True
    start_ms: int | None = None  # inclusive
    end_ms: int | None = None  # exclusive
    redact: Callable[[str], str] | None = None
    csv_guard: bool = True
    user_id: str | None = None
    umask: int = 0o077  # export files 0600, export directories 0700
    filters_shown: dict[str, Any] = field(default_factory=dict)
    start_text: str | None = None  # the time window as typed (``--since 24h``)
    end_text: str | None = None
    redact_patterns: tuple[str, ...] = ()
    redact_builtin: bool = False  # ``--redact`` (the built-in rules)
    errors_only: bool = False  # ``export-all --errors``: only sessions with a failed turn
    min_turns: int = 0  # ``export-all --min-turns``: leave out sessions with fewer turns

    @property
    def file_mode(self) -> int:
        return file_mode(self.umask)

    @property
    def dir_mode(self) -> int:
        return dir_mode(self.umask)

    @property
    def has_time_window(self) -> bool:
        return self.start_ms is not None or self.end_ms is not None

    def filters(self) -> dict[str, Any]:
        """The filters as recorded in a manifest."""
        return {
            "startTime": ms_to_rfc3339(self.start_ms) if self.start_ms is not None else None,
            "endTime": ms_to_rfc3339(self.end_ms) if self.end_ms is not None else None,
            "userId": self.user_id,
            "includeMetadata": self.include_metadata,
            "redact": self.redact is not None,
            **({"errors": True} if self.errors_only else {}),
            **({"minTurns": self.min_turns} if self.min_turns else {}),
            **self.filters_shown,
        }

    def run_options(self) -> dict[str, Any]:
        """What makes two ``export-all --output DIR`` runs the same run (``--resume``):
        every option that changes a file's bytes, the time window as typed."""
        return {
            "format": self.format,
            "includeMetadata": self.include_metadata,
            "since": self.start_text,
            "until": self.end_text,
            "userId": self.user_id,
            "redact": self.redact_builtin,
            "redactPatterns": list(self.redact_patterns),
            "csvGuard": self.csv_guard,
            **({"errors": True} if self.errors_only else {}),
            **({"minTurns": self.min_turns} if self.min_turns else {}),
        }


def in_window(turn: dict[str, Any], start_ms: int | None, end_ms: int | None) -> bool:
    """True when the turn's timestamp is in [start, end); unreadable timestamps are out."""
    ts = stored_to_ms(turn.get("timestamp"))
    if ts is None:
        return False
    if start_ms is not None and ts < start_ms:
        return False
    return not (end_ms is not None and ts >= end_ms)


def apply(doc: SessionDoc, opts: ExportOptions) -> SessionDoc:
    """The document as it is to be exported: turns in the window, content redacted.

    A paged session (:attr:`SessionDoc.paged`) gets the same changes as page filters, applied
    to each page as it is read: it is never held whole."""
    if doc.paged:
        start, end, redact = opts.start_ms, opts.end_ms, opts.redact
        if opts.has_time_window:
            doc.page_filters.append(lambda ts: [t for t in ts if in_window(t, start, end)])
        if redact is not None:
            doc.page_filters.append(lambda ts: [redact_turn(t, redact) for t in ts])
        return doc
    if opts.has_time_window:
        doc.turns = [t for t in doc.turns if in_window(t, opts.start_ms, opts.end_ms)]
    if opts.redact is not None:
        doc.turns = [redact_turn(t, opts.redact) for t in doc.turns]
    return doc


def redact_turn(turn: dict[str, Any], redact: Callable[[str], str]) -> dict[str, Any]:
    """A copy of ``turn`` with every string inside its content (and tool payloads) redacted."""
    out = dict(turn)
    for key in ("content", "toolCalls", "args", "result"):
        if key in out:
            out[key] = _redact_value(out[key], redact)
    return out


def _redact_value(value: Any, redact: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [_redact_value(v, redact) for v in value]
    if isinstance(value, dict):
        return {k: _redact_value(v, redact) for k, v in value.items()}
    return value
