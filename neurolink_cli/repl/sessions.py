"""Picking a past conversation: ``neurolink loop -l`` and the loop's ``/sessions``.

The TypeScript CLI's ``--list-conversations`` offers recent sessions to continue; this is the
same: a numbered list of the newest sessions (from the native store's index), and a choice
by number or id.
"""

from __future__ import annotations

import itertools
from typing import Any

from neurolink_cli.models import SessionSummary

RECENT = 10


def recent_sessions(store: Any, n: int = RECENT) -> list[SessionSummary]:
    """The ``n`` most recently updated sessions of ``store`` ([] if it cannot list)."""
    summaries = getattr(store, "summaries", None)
    if summaries is None:
        return []
    return list(itertools.islice(summaries(), n))


def session_lines(rows: list[SessionSummary]) -> list[str]:
    """One numbered line per session: number, whole id, turns, last update, title."""
    lines = []
    for i, r in enumerate(rows, 1):
        updated = (r.updated_at or "-").replace("T", " ")[:16]
        title = f"  {r.title[:40]}" if r.title else ""
        lines.append(f"{i:>3}  {r.session_id}  {r.turns:>4} turns  {updated}{title}")
    return lines


def choose(rows: list[SessionSummary], answer: str) -> str | None:
    """The session id an answer names (a number from the list, or an id); None for none."""
    answer = answer.strip()
    if not answer:
        return None
    if answer.isdigit() and 1 <= int(answer) <= len(rows):
        return rows[int(answer) - 1].session_id
    return answer
