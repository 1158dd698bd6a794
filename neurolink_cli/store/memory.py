"""An in-process store for ``neurolink loop --store memory``: history for this process only.

The same writing and reading shape as :class:`~neurolink_cli.store.native.NativeStore`
(``append_turn``, ``get``, ``exists``, ``delete``, ``delete_all``), so the chat code does not
know which one it talks to. Nothing leaves the process: ``memory export`` will not see it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from neurolink_cli.models import SessionDoc
from neurolink_cli.util import jsonutil
from neurolink_cli.util.timeutil import now_rfc3339


class MemoryStore:
    """Sessions held in a dict, with the native store's indexing, trimming and metadata rules."""

    source = "memory"

    def __init__(self, *, max_turns: int = 100) -> None:
        self.max_turns = max_turns
        self._sessions: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def next_write_seq(self) -> int:
        """Writes to process memory cannot half-fail; any number will do."""
        return 0

    def append_turn(
        self,
        session_id: str,
        turn: dict[str, Any],
        *,
        user_id: str | None = None,
        tools_used: Iterable[str] = (),
        write_seq: int | None = None,
    ) -> int:
        """Store one turn (its index allocated here, contiguous per session); return the index."""
        with self._lock:
            s = self._sessions.setdefault(
                session_id,
                {
                    "turns": [],
                    "next": 0,
                    "meta": {
                        "sessionId": session_id,
                        "userId": None,
                        "createdAt": turn.get("timestamp") or now_rfc3339(),
                        "toolsUsed": [],
                    },
                },
            )
            idx = s["next"]
            s["next"] += 1
            stored = {"index": idx, **{k: v for k, v in turn.items() if k != "index"}}
            s["turns"].append(jsonutil.loads(jsonutil.dumps(stored)))
            if self.max_turns > 0 and len(s["turns"]) > self.max_turns:
                del s["turns"][: len(s["turns"]) - self.max_turns]
            meta = s["meta"]
            if user_id:
                meta["userId"] = user_id
            meta["updatedAt"] = turn.get("timestamp")
            for key in ("provider", "model"):
                if turn.get(key):
                    meta[key] = turn[key]
            if isinstance(turn.get("error"), dict):
                meta["errorCount"] = meta.get("errorCount", 0) + 1
            for tool in tools_used:
                if tool not in meta["toolsUsed"]:
                    meta["toolsUsed"].append(tool)
            return int(idx)

    def get(self, session_id: str) -> SessionDoc | None:
        """The session's document (a copy), or None when this process has no such session."""
        with self._lock:
            s = self._sessions.get(session_id)
            if s is None:
                return None
            meta = s["meta"]
            turns = [dict(t) for t in s["turns"]]
            return SessionDoc(
                session_id=session_id,
                user_id=meta.get("userId"),
                created_at=meta.get("createdAt"),
                updated_at=meta.get("updatedAt"),
                metadata={
                    "provider": meta.get("provider"),
                    "model": meta.get("model"),
                    "totalTurns": len(turns),
                    "toolsUsed": list(meta["toolsUsed"]),
                    **({"errorCount": meta["errorCount"]} if "errorCount" in meta else {}),
                },
                _turns=turns,
            )

    def exists(self, session_id: str) -> bool:
        with self._lock:
            return session_id in self._sessions

    def delete(self, session_id: str) -> bool:
        """Forget one session; True if it existed."""
        with self._lock:
            return self._sessions.pop(session_id, None) is not None

    def delete_all(self) -> int:
        """Forget every session; return how many there were."""
        with self._lock:
            n = len(self._sessions)
            self._sessions.clear()
            return n
