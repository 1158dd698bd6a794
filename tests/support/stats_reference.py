"""``memory stats`` as it was computed before pages were counted as parts (kept verbatim
below this docstring, but for this one): the reference the counts of today are held
against (tests/export/test_stats_pages.py).

--- the module's docstring then:
``memory stats``: one streaming pass over every session, summarised (no click in here).

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


_TEXT = {str, type(None)}
_INT = {int, type(None)}
_NUMBER = {int, float}  # exactly: bool is not a number here


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

    def _seen_all(self, values: list[Any]) -> None:
        """:meth:`_seen` of each value, parsing only the earliest and the latest when all
        are stored timestamps of the one shape ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (their string
        order is then their time order)."""
        lo = hi = None
        if values and _same_shape(values):
            lo, hi = stored_to_ms(min(values)), stored_to_ms(max(values))
        if lo is None or hi is None:  # another shape, or the extreme is no real time
            for value in values:
                self._seen(value)
            return
        if self.oldest_ms is None or lo < self.oldest_ms:
            self.oldest_ms = lo
        if self.newest_ms is None or hi > self.newest_ms:
            self.newest_ms = hi

    def add(self, doc: SessionDoc) -> None:
        """Count one session (BadData when its stored turns cannot be parsed).

        Per field, not per turn: roles are counted in one C-level pass, and models,
        tokens and costs are looked at turn by turn only in sessions where some turn
        has such a field."""
        turns = doc.turns
        self.sessions += 1
        self.turns += len(turns)
        fields: set[str] = set().union(*turns)
        roles = [turn.get("role") for turn in turns]
        self.by_role.update(map(str, roles))
        session_model = model_key(doc.metadata.get("model"), doc.metadata.get("provider"))
        if "model" in fields or "provider" in fields:
            self._add_models(turns, roles, session_model)
        elif session_model is not None:
            assistant = roles.count("assistant")
            if assistant:
                self.by_model[session_model] += assistant
        if "tokens" in fields:
            self._add_tokens([turn.get("tokens") for turn in turns])
        if "cost" in fields:
            for cost in [turn.get("cost") for turn in turns]:
                if cost is not None and type(cost) in _NUMBER:
                    self.cost = (self.cost or 0.0) + cost
        if "error" in fields:
            self._add_errors(doc, turns, session_model)
        times = [turn.get("timestamp") for turn in turns]
        times += (doc.created_at, doc.updated_at)
        if None in times:
            times = [t for t in times if t is not None]
        self._seen_all(times)

    def _add_errors(self, doc: SessionDoc, turns: list[Any], session_model: str | None) -> None:
        """Failed turns (CONTRACT §9) by provider and model; the session counted once."""
        failed = [turn for turn in turns if isinstance(turn.get("error"), dict)]
        if not failed:
            return
        self.error_sessions += 1
        for turn in failed:
            self.errors += 1
            provider = turn.get("provider") or doc.metadata.get("provider") or "unknown"
            self.errors_by_provider[str(provider)] += 1
            key = model_key(turn.get("model"), turn.get("provider"))
            if key is None and turn.get("role") == "assistant":
                key = session_model
            self.errors_by_model[key or "unknown"] += 1

    def _add_models(self, turns: list[Any], roles: list[Any], session_model: str | None) -> None:
        """``byModel`` of these turns: each distinct (model, provider, role) once, counted
        in C, when models and providers are strings (else turn by turn)."""
        models = [turn.get("model") for turn in turns]
        providers = [turn.get("provider") for turn in turns]
        combos: Counter[tuple[Any, Any, Any]] | None = None
        if set(map(type, models)) <= _TEXT and set(map(type, providers)) <= _TEXT:
            try:
                combos = Counter(zip(models, providers, roles, strict=True))
            except TypeError:  # a role that is not hashable (a list, a dict)
                combos = None
        if combos is None:
            for combo in zip(models, providers, roles, strict=True):
                self._add_model(*combo, session_model)
            return
        for (model, provider, role), n in combos.items():  # first-met order, as turn by turn
            self._add_model(model, provider, role, session_model, n)

    def _add_model(
        self, model: Any, provider: Any, role: Any, session_model: str | None, n: int = 1
    ) -> None:
        key = model_key(model, provider)
        if key is None and role == "assistant":
            key = session_model
        if key is not None:
            self.by_model[key] += n

    def _add_tokens(self, tokens: list[Any]) -> None:
        found = [t for t in tokens if isinstance(t, dict)]
        prompt = [t.get("prompt") for t in found]
        completion = [t.get("completion") for t in found]
        if set(map(type, prompt)) <= _INT and set(map(type, completion)) <= _INT:
            self.prompt_tokens += sum(filter(None, prompt))
            self.completion_tokens += sum(filter(None, completion))
            return
        for p in prompt:
            self.prompt_tokens += int(_number(p) or 0)
        for c in completion:
            self.completion_tokens += int(_number(c) or 0)

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


_SHAPE = b"--T::.Z"  # the punctuation of YYYY-MM-DDTHH:MM:SS.mmmZ, digits elsewhere
_SHAPE_AT = ((4, "-"), (7, "-"), (10, "T"), (13, ":"), (16, ":"), (19, "."), (23, "Z"))
_DIGITS = b"0123456789"


def _same_shape(values: list[Any]) -> bool:
    """True if every value is a ``str`` of the shape ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (a few
    C-level passes over the values joined, no per-value Python)."""
    if set(map(type, values)) != {str} or set(map(len, values)) != {24}:
        return False
    joined = "".join(values)
    n = len(values)
    if any(joined[at::24] != char * n for at, char in _SHAPE_AT):
        return False
    try:
        data = joined.encode("ascii")
    except UnicodeEncodeError:
        return False
    return data.translate(None, _DIGITS) == _SHAPE * n


def _count_expiring(native: NativeStore, session_ids: list[str]) -> int:
    """How many of these native sessions have a TTL of at most 24 h (one pipelined call)."""
    pipe = native.client.pipeline(transaction=False)
    for sid in session_ids:
        pipe.pttl(native.meta_key(sid))
    return sum(1 for ms in pipe.execute() if isinstance(ms, int) and 0 < ms <= DAY_MS)


def compute_stats(repo: Repository, warn: Callable[[str], None] | None = None) -> Stats:
    """Summarise every session of ``repo`` in one streaming pass."""
    stats = Stats()
    pending: list[str] = []
    for item in repo.iter_docs(counting=True):
        if isinstance(item, Unreadable):
            if warn:
                warn(item.warning)
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
