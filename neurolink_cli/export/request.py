"""What a user asked of an export, turned into :class:`ExportOptions` — for the CLI and the SDK.

``memory export``/``export-all`` (from their flags) and the SDK's export methods (from keyword
arguments) both call :func:`export_options`, so a time, a redaction or a CSV guard means the
same thing on both sides. Times are ISO 8601 text, a duration back from now (``7d``) or, from
Python, a :class:`~datetime.datetime` (naive means UTC). An error names the option as the
caller spells it: ``--since`` on the command line, ``start_time`` in Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from neurolink_cli.errors import BadInput
from neurolink_cli.util.timeutil import parse_time

if TYPE_CHECKING:  # imported by export_options: memory list reads time_range only
    from neurolink_cli.export.transform import ExportOptions

TimeValue = str | datetime | None


def time_text(value: TimeValue) -> str | None:
    """A time as the text a user would type: a datetime becomes ISO 8601 (naive = UTC)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.isoformat()
    raise BadInput(
        f"a time is a datetime, an ISO 8601 string or a duration such as '7d', not {value!r}"
    )


def _time(value: str | None, option: str) -> int | None:
    return None if value is None else parse_time(value, option=option)


def time_range(
    since: TimeValue, since_name: str, until: TimeValue, until_name: str
) -> tuple[int | None, int | None]:
    """Both ends parsed against one "now"; BadInput when the start is not before the end."""
    since, until = time_text(since), time_text(until)
    start, end = _time(since, since_name), _time(until, until_name)
    if start is not None and end is not None and start >= end:
        if since_name.startswith("--"):
            example = "--since 30d --until 7d"
        else:
            example = f"{since_name}='30d', {until_name}='7d'"
        raise BadInput(
            f"{since_name} {since} is not before {until_name} {until}: nothing can match "
            f"(a duration counts back from now: {example})"
        )
    return start, end


def export_options(
    fmt: str,
    *,
    include_metadata: bool = True,
    start_time: TimeValue = None,
    end_time: TimeValue = None,
    redact: bool = False,
    redact_patterns: Sequence[str] = (),
    csv_guard: bool = True,
    umask: int = 0o077,
    user_id: str | None = None,
    errors_only: bool = False,
    min_turns: int = 0,
    start_name: str = "start_time",
    end_name: str = "end_time",
) -> ExportOptions:
    """The options of one export; ``start_name``/``end_name`` are the names errors use."""
    from neurolink_cli.export.transform import ExportOptions

    start_text, end_text = time_text(start_time), time_text(end_time)
    start, end = time_range(start_text, start_name, end_text, end_name)
    patterns = tuple(redact_patterns)
    redactor = None
    if redact or patterns:
        from neurolink_cli.export.redact import make_redactor

        redactor = make_redactor(patterns, builtin=redact)
    return ExportOptions(
        format=fmt,
        start_text=start_text,
        end_text=end_text,
        redact_patterns=patterns,
        redact_builtin=redact,
        include_metadata=include_metadata,
        start_ms=start,
        end_ms=end,
        redact=redactor,
        csv_guard=csv_guard,
        user_id=user_id,
        umask=umask,
        errors_only=errors_only,
        min_turns=min_turns,
    )
