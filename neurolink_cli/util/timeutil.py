"""Times: the one format we write, and the forms a user may type.

Stored timestamps are UTC RFC 3339 with ``Z`` and milliseconds
(``2026-11-26T22:45:59.525Z``). Users may give an ISO 8601 date, a date-time with or
without offset (no offset means UTC), or a duration back from now (``90s 30m 24h 7d 2w``).
Internally every comparison is done on integer epoch milliseconds.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

from neurolink_cli.errors import BadInput

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_LONGEST_MS = 700_000 * 86_400_000  # ~1,900 years: a duration back from now stays after year 1
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def now_ms() -> int:
    """The current time in epoch milliseconds."""
    return time.time_ns() // 1_000_000


def ms_to_rfc3339(ms: int) -> str:
    """Epoch milliseconds -> ``YYYY-MM-DDTHH:MM:SS.mmmZ``."""
    dt = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def now_rfc3339() -> str:
    """The current time as a stored timestamp."""
    return ms_to_rfc3339(now_ms())


def parse_duration(text: str) -> int:
    """``90s``/``30m``/``24h``/``7d``/``2w`` -> milliseconds; BadInput otherwise."""
    m = _DURATION.match(text)
    if not m:
        raise BadInput(
            f"bad duration {text!r}: use a number and a unit s, m, h, d or w (e.g. 30m, 7d)"
        )
    ms = int(m.group(1)) * _UNIT_SECONDS[m.group(2)] * 1000
    if ms > _LONGEST_MS:
        raise BadInput(f"duration {text!r} reaches back before the year 1: at most 700000d")
    return ms


def iso_to_ms(text: str) -> int | None:
    """An ISO 8601 date or date-time -> epoch ms (no offset means UTC); None if not ISO."""
    s = text.strip()
    if s.endswith(("z", "Z")):
        s = s[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(s)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


def parse_time(text: str, *, option: str = "time") -> int:
    """A user-typed time (ISO 8601 or a duration back from now) -> epoch ms."""
    ms = iso_to_ms(text)
    if ms is not None:
        return ms
    if _DURATION.match(text):
        return now_ms() - parse_duration(text)
    raise BadInput(
        f"bad {option} {text!r}: give an ISO 8601 date or date-time "
        "(2026-11-26, 2026-11-26T10:00:00Z) or a duration back from now (90s, 30m, 24h, 7d, 2w)"
    )


_fromisoformat = datetime.fromisoformat


def stored_to_ms(value: object) -> int | None:
    """A stored timestamp (RFC 3339 string, or epoch ms number) -> epoch ms, None if unreadable.

    The shape we write (``2026-11-26T22:45:59.525Z``: 24 characters ending in ``Z``) goes
    straight to ``datetime.fromisoformat``, which reads the ``Z`` itself since Python 3.11
    (half the time of the general path below, which it gives the same result as);
    anything else, or what that refuses, takes the general path."""
    if type(value) is str and len(value) == 24 and value[23] == "Z":
        try:
            return int(_fromisoformat(value).timestamp() * 1000)
        except ValueError:
            pass
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str) and value:
        return iso_to_ms(value)
    return None
