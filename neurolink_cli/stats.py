"""``memory stats``: one streaming pass over every session, summarised (no click in here).

:func:`compute_stats` walks :meth:`Repository.iter_docs` (pipelined batches, one batch in
memory at a time) and keeps only counters, so memory does not grow with the number of
sessions. What is counted:

- ``sessions``, ``turns``, ``byRole`` (turns per role);
- ``byModel``: turns per model, keyed ``provider/model`` (``openai/gpt-4o-mini``), or the
  model alone when no provider is known, or when the model name already starts with
  ``provider/`` (litellm names). A turn counts under its own ``model``/``provider``; an
  assistant turn that names none counts under its session's metadata model, when there
  is one. Other turns without a model are not in ``byModel``;
- ``tokens``: the sums of ``tokens.prompt`` and ``tokens.completion`` where recorded;
- ``cost``: the sum of recorded turn costs, ``null`` when no turn recorded one;
- ``oldest``/``newest``: the earliest and latest activity (``createdAt``, ``updatedAt`` and
  turn timestamps), UTC RFC 3339, ``null`` when there is no session;
- ``expiringWithin24h``: sessions whose keys have a TTL of at most 24 hours left;
- ``errors`` (CONTRACT §9, beside the contract's keys): failed turns, ``{"total",
  "sessions", "byProvider", "byModel"}`` (the provider, or ``unknown``; the ``byModel`` key).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from neurolink_cli.errors import BadData
from neurolink_cli.models import SOURCE_NATIVE, SessionDoc, Unreadable
from neurolink_cli.util.timeutil import ms_to_rfc3339, stored_to_ms

if TYPE_CHECKING:
    from neurolink_cli.store.native import NativeStore
    from neurolink_cli.store.repository import Repository

DAY_MS = 86_400_000
TTL_BATCH = 250


def model_key(model: Any, provider: Any) -> str | None:
    """The ``byModel`` key of a model and provider: ``provider/model``, or the model alone."""
    if not model:
        return None
    model, provider = str(model), str(provider) if provider else ""
    if not provider or model.startswith(provider + "/"):
        return model
    return f"{provider}/{model}"


def _number(value: Any) -> int | float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value


@dataclass
class Stats:
    """Counters over a stream of sessions; :meth:`as_dict` is the ``--format json`` shape."""

    sessions: int = 0
    turns: int = 0
    by_role: Counter[str] = field(default_factory=Counter)
    by_model: Counter[str] = field(default_factory=Counter)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float | None = None
    oldest_ms: int | None = None
    newest_ms: int | None = None
    expiring: int = 0
    errors: int = 0
    error_sessions: int = 0
    errors_by_provider: Counter[str] = field(default_factory=Counter)
    errors_by_model: Counter[str] = field(default_factory=Counter)
    unreadable: list[tuple[str, str]] = field(default_factory=list)

    def _seen(self, value: Any) -> None:
        ms = stored_to_ms(value)
        if ms is None:
            return
        if self.oldest_ms is None or ms < self.oldest_ms:
            self.oldest_ms = ms
        if self.newest_ms is None or ms > self.newest_ms:
            self.newest_ms = ms

    def add(self, doc: SessionDoc) -> None:
        """Count one session (BadData when its stored turns cannot be parsed)."""
        turns = doc.turns
        self.sessions += 1
        self.turns += len(turns)
        self._seen(doc.created_at)
        self._seen(doc.updated_at)
        session_model = model_key(doc.metadata.get("model"), doc.metadata.get("provider"))
        failed_before = self.errors
        for turn in turns:
            role = turn.get("role")
            self.by_role[str(role)] += 1
            key = model_key(turn.get("model"), turn.get("provider"))
            if key is None and role == "assistant":
                key = session_model
            if key is not None:
                self.by_model[key] += 1
            if isinstance(turn.get("error"), dict):
                self.errors += 1
                provider = turn.get("provider") or doc.metadata.get("provider") or "unknown"
                self.errors_by_provider[str(provider)] += 1
                self.errors_by_model[key or "unknown"] += 1
            tokens = turn.get("tokens")
            if isinstance(tokens, dict):
                self.prompt_tokens += int(_number(tokens.get("prompt")) or 0)
                self.completion_tokens += int(_number(tokens.get("completion")) or 0)
            cost = _number(turn.get("cost"))
            if cost is not None:
                self.cost = (self.cost or 0.0) + cost
            self._seen(turn.get("timestamp"))
        if self.errors > failed_before:
            self.error_sessions += 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "sessions": self.sessions,
            "turns": self.turns,
            "byRole": dict(self.by_role.most_common()),
            "byModel": dict(self.by_model.most_common()),
            "tokens": {"prompt": self.prompt_tokens, "completion": self.completion_tokens},
            "cost": None if self.cost is None else round(self.cost, 6),
            "oldest": None if self.oldest_ms is None else ms_to_rfc3339(self.oldest_ms),
            "newest": None if self.newest_ms is None else ms_to_rfc3339(self.newest_ms),
            "expiringWithin24h": self.expiring,
            "errors": {
                "total": self.errors,
                "sessions": self.error_sessions,
                "byProvider": dict(self.errors_by_provider.most_common()),
                "byModel": dict(self.errors_by_model.most_common()),
            },
        }


def _count_expiring(native: NativeStore, session_ids: list[str]) -> int:
    """How many of these native sessions have a TTL of at most 24 h (one pipelined call)."""
    return sum(1 for ms in native.ttls_ms(session_ids) if 0 < ms <= DAY_MS)


def compute_stats(repo: Repository, warn: Callable[[str], None] | None = None) -> Stats:
    """Summarise every session of ``repo`` in one streaming pass."""
    stats = Stats()
    pending: list[str] = []
    for item in repo.iter_docs():
        if isinstance(item, Unreadable):
            if warn:
                prefix = "skipped " if item.skip else ""
                warn(f"{prefix}{item.key or item.session_id}: {item.reason}")
            if not item.skip:
                stats.unreadable.append((item.session_id, item.reason))
            continue
        try:
            stats.add(item)
        except BadData as exc:
            stats.unreadable.append((item.session_id, str(exc)))
            if warn:
                warn(str(exc))
            continue
        if item.source == SOURCE_NATIVE:
            pending.append(item.session_id)
            if len(pending) >= TTL_BATCH:
                stats.expiring += _count_expiring(repo.native, pending)
                pending = []
        elif item.ttl is not None and 0 < item.ttl <= DAY_MS // 1000:
            stats.expiring += 1
    stats.expiring += _count_expiring(repo.native, pending)
    return stats
