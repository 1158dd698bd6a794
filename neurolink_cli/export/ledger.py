"""What a bulk export did, recorded once: the stderr summary and the manifest read it.

Every session the walk meets ends in exactly one place: exported (or, with ``--resume``,
kept from the earlier run), ``skipped`` (left out on purpose: no turn in the time range),
``not_sessions`` (a key under the prefix that is not a session), or ``failed`` (could not
be read or formatted). ``warnings`` are sessions exported whole with a metadata problem.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


def _entry(session_id: str, reason: str) -> dict[str, str]:
    return {"sessionId": session_id, "reason": reason}


@dataclass
class ExportLedger:
    """The one record of a bulk export's outcome."""

    exported: int = 0
    turns: int = 0
    resumed: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)
    not_sessions: list[dict[str, str]] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    warnings: list[dict[str, str]] = field(default_factory=list)
    manifest: Path | None = None
    seconds: float = 0.0  # wall time of the run

    def export(self, turns: int) -> None:
        """A session written."""
        self.exported += 1
        self.turns += turns

    def resume(self) -> None:
        """A session whose file from the earlier run is kept."""
        self.resumed += 1

    def skip(self, session_id: str, reason: str) -> None:
        """A session left out on purpose."""
        self.skipped.append(_entry(session_id, reason))

    def not_session(self, key: str, reason: str) -> None:
        """A key under the prefix that is not a session."""
        self.not_sessions.append(_entry(key, reason))

    def fail(self, session_id: str, reason: str) -> None:
        """A session that could not be exported."""
        self.failed.append(_entry(session_id, reason))

    def fail_late(self, session_id: str, reason: str, turns: int) -> None:
        """A session counted as written that its writer then reported lost (at close)."""
        self.exported -= 1
        self.turns -= turns
        self.fail(session_id, reason)

    def warn(self, session_id: str, reason: str) -> None:
        """A session exported whole but with a metadata problem (reported, exit 1)."""
        self.warnings.append(_entry(session_id, reason))

    @property
    def problems(self) -> int:
        """Sessions that make the exit status 1."""
        return len(self.failed) + len(self.warnings)

    def manifest_lists(self) -> dict[str, list[dict[str, str]]]:
        """The ``failed``, ``skipped`` and ``warnings`` lists of ``manifest.json``."""
        return {
            "failed": self.failed,
            "skipped": self.skipped + self.not_sessions,
            "warnings": self.warnings,
        }

    def summary(self, output: str | None = None) -> str:
        """The one-line summary for stderr, printed at the end of every run (a cron log
        shows what it did): ``exported 1,234 sessions (45,678 turns) in 2.3 s; 0 failed``."""
        text = f"exported {self.exported:,} sessions ({self.turns:,} turns)"
        if output:
            text += f" to {output}"
        text += f" in {self.seconds:.1f} s"
        if self.resumed:
            text += f", {self.resumed:,} already done"
        if self.skipped:
            text += f", skipped {len(self.skipped):,} with no turn in range"
        text += f"; {len(self.failed):,} failed"
        if self.warnings:
            text += f", {len(self.warnings):,} with warnings"
        if self.problems:
            text += " (see above" + (" and manifest.json)" if output else ")")
        return text
