"""``memory stats``: one streaming pass over every session, summarised (no click in here).

:func:`compute_stats` walks the native index and then the TypeScript layout's keys in
pages (pipelined batches, one in memory at a time per process) and keeps only counters,
so memory does not grow with the number of sessions. Each page is counted on its own
(:mod:`~neurolink_cli.statspages`: the turns decoded straight into the counted fields, a
:class:`Run` of columns counted field by field in C) into a part :class:`Stats`, and the
parts are merged in walk order (:meth:`Stats.merge`): counters added with their keys in
the order first met, costs added one after the other in the turns' order (a float sum
depends on it), warnings said in order; so the result is the one a single pass session
by session gives, also when a forked second process counts about half the pages
(``share``, :mod:`~neurolink_cli.util.forkmap`; the CLI shares when there are two cores,
not on a Cluster, and not with ``NEUROLINK_EXPORT_PROCESSES=1``). What is counted:

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

import operator
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial, reduce
from itertools import chain, repeat
from typing import TYPE_CHECKING, Any

import msgspec

from neurolink_cli.models import SessionDoc
from neurolink_cli.util.timeutil import ms_to_rfc3339, stored_to_ms

if TYPE_CHECKING:
    from neurolink_cli.store.repository import Repository

DAY_MS = 86_400_000


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
    # A part of the count (one page, :meth:`merge`): its costs in order, not yet added up
    # (float sums depend on their order), and what is to be said about it, in order.
    cost_terms: list[Any] | None = None
    warnings: list[str] = field(default_factory=list)

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
        """Count one session (BadData when its stored turns cannot be parsed)."""
        run = Run()
        run.add(doc, list(map(turn_of, doc.turns)))
        self.count(run)

    def count(self, run: Run) -> None:
        """Count the sessions of ``run``, as :meth:`add` of each in turn would.

        Per field over all their turns, not per turn or session: roles are counted in one
        C-level pass, and models, tokens and costs are looked at turn by turn only when
        some turn has such a field. The order things are first met in (``byModel``'s
        order among equal counts) is the turns' order, as session by session."""
        roles, models, providers, tokens, costs, errors, stamps = run.columns()
        self.sessions += len(run.sizes)
        self.turns += len(roles)
        self._add_roles_models(models, providers, roles, run)
        if tokens.count(None) != len(tokens):
            self._add_tokens(tokens)
        if costs.count(None) != len(costs):
            found = [cost for cost in costs if cost is not None and type(cost) in _NUMBER]
            if self.cost_terms is not None:  # a part, merged in order later
                self.cost_terms += found
            elif found:  # one addition after the other, in the turns' order
                self.cost = reduce(operator.add, found, self.cost or 0.0)
        if errors.count(None) != len(errors):
            self._add_errors(run, errors, roles, models, providers)
        times = stamps + run.times
        if None in times:
            times = [t for t in times if t is not None]
        self._seen_all(times)

    def merge(self, part: Stats, warn: Callable[[str], None] | None = None) -> None:
        """Add the counts of ``part`` (the sessions met after these, counted with
        ``cost_terms``), as if its sessions had been counted here; its warnings said."""
        for text in part.warnings:
            if warn:
                warn(text)
        self.unreadable += part.unreadable
        self.sessions += part.sessions
        self.turns += part.turns
        self.by_role.update(part.by_role)
        self.by_model.update(part.by_model)
        self.prompt_tokens += part.prompt_tokens
        self.completion_tokens += part.completion_tokens
        if part.cost_terms:
            self.cost = reduce(operator.add, part.cost_terms, self.cost or 0.0)
        for ms in (part.oldest_ms, part.newest_ms):
            if ms is not None:
                self._seen(ms)
        self.expiring += part.expiring
        self.errors += part.errors
        self.error_sessions += part.error_sessions
        self.errors_by_provider.update(part.errors_by_provider)
        self.errors_by_model.update(part.errors_by_model)

    def _add_errors(self, run: Run, errors: list[Any], roles: list[Any], models: list[Any],
                    providers: list[Any]) -> None:  # fmt: skip
        """Failed turns (CONTRACT §9) by provider and model; each session counted once."""
        at = 0
        for size, session_model, session_provider in zip(
            run.sizes, run.session_models, run.session_providers, strict=True
        ):
            failed = [i for i in range(at, at + size) if isinstance(errors[i], dict)]
            at += size
            if not failed:
                continue
            self.error_sessions += 1
            for i in failed:
                self.errors += 1
                provider = providers[i] or session_provider or "unknown"
                self.errors_by_provider[str(provider)] += 1
                key = model_key(models[i], providers[i])
                if key is None and roles[i] == "assistant":
                    key = session_model
                self.errors_by_model[key or "unknown"] += 1

    def _add_roles_models(self, models: list[Any], providers: list[Any], roles: list[Any],
                          run: Run) -> None:  # fmt: skip
        """``byRole`` and ``byModel`` of these turns: each distinct (model, provider, role,
        and session model unless every session has the same) counted in C, then looked at
        once, when all of them are text (the check made on the distinct values, not on
        every turn: a ``str`` or None equals no value of another type, so the count merged
        none); roles apart when only they are not; else models turn by turn. Either way
        each key is first met at the first turn that has it, as turn by turn."""
        session_models: Any
        if len(set(run.session_models)) == 1:  # every session's the same
            common = run.session_models[0]
            session_models = repeat(common)
            columns: tuple[Any, ...] = (models, providers, roles)
        else:
            common = None
            session_models = run.per_turn(run.session_models)
            columns = (models, providers, roles, session_models)
        try:
            combos: Counter[tuple[Any, ...]] | None = Counter(zip(*columns, strict=True))
        except TypeError:  # a value that is not hashable (a list, a dict)
            combos = None
        if combos is not None:
            text = set(map(type, chain.from_iterable(combos))) <= _TEXT
            if text or set(map(type, chain(models, providers))) <= _TEXT:
                if not text:  # roles that are no text (but hashable)
                    self.by_role.update(map(str, roles))
                for combo, n in combos.items():  # first met first
                    if text:
                        self.by_role[str(combo[2])] += n
                    session_model = combo[3] if len(combo) > 3 else common
                    self._add_model(combo[0], combo[1], combo[2], session_model, n)
                return
        self.by_role.update(map(str, roles))
        for combo in zip(models, providers, roles, session_models, strict=False):  # a repeat
            self._add_model(*combo)

    def _add_model(
        self, model: Any, provider: Any, role: Any, session_model: str | None, n: int = 1
    ) -> None:
        key = model_key(model, provider)
        if key is None and role == "assistant":
            key = session_model
        if key is not None:
            self.by_model[key] += n

    def _add_tokens(self, tokens: list[Any]) -> None:
        found = [t for t in tokens if t is not None]
        if set(map(type, found)) != {Tokens}:
            found = [t for t in found if type(t) is Tokens]  # a value that is no object
        prompt = [t.prompt for t in found]
        completion = [t.completion for t in found]
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
    try:
        if set(map(len, values)) != {24}:
            return False
        joined = "".join(values)
    except TypeError:  # a value that is no str: len() or the join refuses it
        return False
    n = len(values)
    if any(joined[at::24] != char * n for at, char in _SHAPE_AT):
        return False
    try:
        data = joined.encode("ascii")
    except UnicodeEncodeError:
        return False
    return data.translate(None, _DIGITS) == _SHAPE * n


class Tokens(msgspec.Struct, gc=False):
    """A turn's ``tokens`` object, as far as stats reads it."""

    prompt: Any = None
    completion: Any = None


class Turn(msgspec.Struct, gc=False):
    """What stats reads of a turn (any other field is not even built). Decoded from JSON,
    ``tokens`` must be an object or null (a turn with other tokens is parsed instead)."""

    role: Any = None
    model: Any = None
    provider: Any = None
    tokens: Tokens | None = None
    cost: Any = None
    error: Any = None
    timestamp: Any = None


def turn_of(turn: dict[str, Any]) -> Turn:
    """The counted fields of a parsed turn (absent: None, as counting takes it)."""
    get = turn.get
    tokens = get("tokens")
    if isinstance(tokens, dict):
        tokens = Tokens(tokens.get("prompt"), tokens.get("completion"))
    return Turn(get("role"), get("model"), get("provider"), tokens, get("cost"), get("error"),
                get("timestamp"))  # fmt: skip


class Run:
    """The turns of consecutive sessions, and what of each session counting needs."""

    __slots__ = ("turns", "sizes", "session_models", "session_providers", "times")

    def __init__(self) -> None:
        self.turns: list[Turn] = []
        self.sizes: list[int] = []
        self.session_models: list[str | None] = []
        self.session_providers: list[Any] = []  # the session's metadata provider
        self.times: list[Any] = []  # createdAt and updatedAt of each session

    def add(self, doc: SessionDoc, turns: list[Turn]) -> None:
        """One session: its document (metadata, times) and its turns."""
        meta = doc.metadata
        self.add_parts(turns, meta.get("model"), meta.get("provider"), doc.created_at,
                       doc.updated_at)  # fmt: skip

    def add_parts(self, turns: Sequence[Turn], model: Any, provider: Any, created_at: Any,
                  updated_at: Any) -> None:  # fmt: skip
        """One session: its turns, its metadata's model and provider, its two times."""
        self.turns += turns
        self.sizes.append(len(turns))
        self.session_models.append(model_key(model, provider))
        self.session_providers.append(provider)
        self.times += (created_at, updated_at)

    def columns(self) -> tuple[list[Any], ...]:
        """Role, model, provider, tokens, cost, error and timestamp of every turn."""
        turns = self.turns
        return (
            [t.role for t in turns],
            [t.model for t in turns],
            [t.provider for t in turns],
            [t.tokens for t in turns],
            [t.cost for t in turns],
            [t.error for t in turns],
            [t.timestamp for t in turns],
        )

    def per_turn(self, values: list[Any]) -> list[Any]:
        """A value of each session repeated for each of its turns."""
        return list(chain.from_iterable(map(repeat, values, self.sizes)))


def compute_stats(
    repo: Repository, warn: Callable[[str], None] | None = None, *, share: bool = False
) -> Stats:
    """Summarise every session of ``repo`` in one streaming pass: the pages of the native
    index, then the TypeScript layout's keys, each page counted on its own
    (:mod:`~neurolink_cli.statspages`) and merged in order. With ``share`` (and a plain
    client), a second process counts about half the pages
    (:mod:`~neurolink_cli.util.forkmap`)."""
    from neurolink_cli.statspages import native_page, upstream_page
    from neurolink_cli.util.forkmap import map_pages

    stats = Stats()
    native = repo.native
    parts = map_pages(
        iter(native.index_walk(page=native.batch_size)),
        partial(native.read_replies, ttl=True),
        partial(native_page, native),
        share=share and native.can_share_pages(),
    )
    for part in parts:
        stats.merge(part, warn)
    upstream = repo.upstream
    if upstream is not None:
        parts = map_pages(
            upstream.key_pages(),
            upstream.read_entries,
            partial(upstream_page, upstream),
            share=share and upstream.can_share_pages(),
        )
        for part in parts:
            stats.merge(part, warn)
    return stats
