"""Issue 12 item 1: every session that exists for the whole run is met exactly once.

By ``export-all`` (``Repository.iter_docs``, ``--jobs``), ``stats`` and ``list --limit 0``,
on one Redis and on a 3-primary Cluster, whatever other sessions are written, deleted or
expire between page reads, and whatever the scores are (ties, far past, ahead of the clock).
A session created or updated during the run is met at most once. The walk is driven page by
page (``NativeStore.index_walk`` + ``iter_docs(walk=...)``) and Redis is changed between pages.
"""

from __future__ import annotations

import random
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.redis_server import RedisClusterServers

from neurolink_cli.config import load_settings
from neurolink_cli.models import SessionDoc, make_turn
from neurolink_cli.stats import compute_stats
from neurolink_cli.store.connection import make_client
from neurolink_cli.store.native import NativeStore
from neurolink_cli.store.repository import Repository
from neurolink_cli.store.upstream import UpstreamStore
from neurolink_cli.store.walk import IndexWalk, SeenSet
from neurolink_cli.util.timeutil import ms_to_rfc3339, now_ms

YEAR_MS = 365 * 86_400_000


@pytest.fixture(scope="module")
def cluster() -> Iterator[RedisClusterServers]:
    servers = RedisClusterServers(primaries=3).start()
    yield servers
    servers.cleanup()


@pytest.fixture(params=["single", pytest.param("cluster", marks=pytest.mark.cluster)])
def rclient(request: Any, redis_server: Any) -> Iterator[Any]:
    """A client on the private single Redis, or (marked ``cluster``) on the Cluster."""
    url = redis_server.url if request.param == "single" else request.getfixturevalue("cluster").url
    client = make_client(load_settings({"redis_url": url}, env={}, file_values={}))
    yield client
    client.close()


def put(client: Any, store: NativeStore, sids: list[str], scores: list[int]) -> None:
    """Write sessions with the given index scores (updatedAt = score), pipelined."""
    pipe = client.pipeline(transaction=False)
    for sid, score in zip(sids, scores, strict=True):
        when = ms_to_rfc3339(score)
        turn = f'{{"index":0,"role":"user","content":"{sid}","timestamp":"{when}"}}'
        pipe.rpush(store.turns_key(sid), turn)
        pipe.hset(
            store.meta_key(sid),
            mapping={
                "sessionId": sid,
                "userId": "u",
                "createdAt": when,
                "updatedAt": when,
                "totalTurns": 1,
                "toolsUsed": "[]",
                "nextIndex": 1,
            },
        )
        pipe.zadd(store.index_key, {sid: score})
    pipe.execute()


def drop_keys(client: Any, store: NativeStore, sid: str) -> None:
    """The session's keys go (deleted or expired); its index member stays, as after a TTL."""
    client.delete(store.turns_key(sid))
    client.delete(store.meta_key(sid))


def update(store: NativeStore, sid: str, score: int) -> None:
    """What a writer does: one more turn, stamped ``score`` (ZADD GT moves the member)."""
    store.append_turn(sid, make_turn("assistant", "again", ms_to_rfc3339(score)), user_id="u")


class Stepped:
    """The index walk, with ``between(page_number, rows)`` run after each page read."""

    def __init__(self, walk: IndexWalk, between: Callable[[int, list[Any]], None]) -> None:
        self.walk = walk
        self.between = between

    def __iter__(self) -> Iterator[list[tuple[str, float]]]:
        n = 0
        while not self.walk.done:
            rows = self.walk.next_page()
            self.between(n, rows)
            n += 1
            if rows:
                yield rows


class Consumed:
    """The walk as iterated (its next page read ahead, on a plain client), with
    ``between(page_number, rows)`` run as each page is taken: the changes land after the
    next page's read was sent."""

    def __init__(self, walk: IndexWalk, between: Callable[[int, list[Any]], None]) -> None:
        self.walk = walk
        self.between = between

    def __iter__(self) -> Iterator[list[tuple[str, float]]]:
        for n, rows in enumerate(self.walk):
            self.between(n, rows)
            yield rows


def ids_of(items: Any) -> Counter[str]:
    return Counter(d.session_id for d in items if isinstance(d, SessionDoc))


# -- ties -------------------------------------------------------------------------------------
@pytest.mark.parametrize("jobs", [1, 4])
def test_ties_with_every_other_session_gone(rclient: Any, jobs: int) -> None:
    """1,000 sessions, one score, keys of every other one deleted: 500, each once."""
    prefix = f"t{uuid.uuid4().hex[:8]}"
    store = NativeStore(rclient, prefix, batch_size=50)
    sids = [f"s{i:04d}" for i in range(1000)]
    put(rclient, store, sids, [1_700_000_000_000] * 1000)
    for sid in sids[1::2]:
        drop_keys(rclient, store, sid)
    repo = Repository(store)
    expected = Counter(sids[0::2])
    assert ids_of(repo.iter_docs(jobs=jobs)) == expected
    for sid in sids[1::2][:100]:  # once more, members pruned meanwhile by the first walk
        rclient.zadd(store.index_key, {sid: 1_700_000_000_000})
    assert compute_stats(repo).sessions == 500
    assert Counter(r.session_id for r in repo.list(limit=0)) == expected


def test_ties_through_the_cli(cli: Any, client: Any, prefix: str) -> None:
    store = NativeStore(client, prefix)
    sids = [f"s{i:04d}" for i in range(1000)]
    put(client, store, sids, [1_700_000_000_000] * 1000)
    for sid in sids[1::2]:
        drop_keys(client, store, sid)
    for jobs in ("1", "4"):
        out = cli("memory", "export-all", "--jobs", jobs).stdout
        assert len(out.splitlines()) == 500
        for sid in sids[1::2]:
            client.zadd(store.index_key, {sid: 1_700_000_000_000})


# -- the last session of a page changes between page reads -------------------------------------
@pytest.mark.parametrize("change", ["delete", "expire", "update", "update-in-place"])
@pytest.mark.parametrize("scores", ["distinct", "ties"])
def test_last_of_a_page_changed_between_pages(rclient: Any, change: str, scores: str) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}"
    store = NativeStore(rclient, prefix, batch_size=10)
    sids = [f"s{i:03d}" for i in range(45)]
    base = 1_700_000_000_000
    put(rclient, store, sids, [base + (i if scores == "distinct" else i // 20) for i in range(45)])
    touched: list[str] = []

    def between(n: int, rows: list[tuple[str, float]]) -> None:
        if not rows or n > 2:
            return
        sid, score = rows[-1]
        touched.append(sid)
        if change == "delete":
            drop_keys(rclient, store, sid)
            rclient.zrem(store.index_key, sid)
        elif change == "expire":
            drop_keys(rclient, store, sid)
        elif change == "update":
            update(store, sid, now_ms())
        else:  # a writer whose clock is behind: a new turn, a score barely ahead of the page
            update(store, sid, int(score) + 1)

    walk = store.index_walk(page=10)
    got = ids_of(store.iter_docs(walk=Stepped(walk, between)))  # type: ignore[arg-type]
    assert max(got.values()) == 1
    untouched = set(sids) - set(touched)
    assert untouched <= set(got)
    if change.startswith("update"):  # it exists for the whole run: once, in some state
        assert set(touched) <= set(got)


# -- scores ahead of this machine's clock ---------------------------------------------------------
@pytest.mark.parametrize("jobs", [1, 3])
def test_scores_ahead_of_the_clock_are_exported(rclient: Any, jobs: int) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}"
    store = NativeStore(rclient, prefix, batch_size=4)
    now = now_ms()
    scores = [now - YEAR_MS, now - 1000, now + 60_000, now + YEAR_MS, now + 50 * YEAR_MS]
    sids = [f"s{i}" for i in range(len(scores))] + ["tie-a", "tie-b"]
    put(rclient, store, sids, [*scores, now + YEAR_MS, now + YEAR_MS])
    repo = Repository(store)
    assert ids_of(repo.iter_docs(jobs=jobs)) == Counter(sids)
    assert Counter(r.session_id for r in repo.list(limit=0)) == Counter(sids)
    assert compute_stats(repo).sessions == len(sids)
    assert repo.list(limit=2)[0].session_id == "s4"


# -- the property: any interleaving of writes, deletes and expiries -------------------------------
OPS = st.lists(
    st.tuples(
        st.sampled_from(["create", "update", "delete", "expire", "noop"]),
        st.integers(0, 59),  # which session (index into the ids)
        st.integers(-3, 40),  # score offset
    ),
    max_size=6,
)


def _property(client: Any, scores: list[int], page: int, plan: list[list[Any]], jobs: int,
              ahead: bool = False) -> None:  # fmt: skip
    prefix = f"p{uuid.uuid4().hex[:8]}"
    store = NativeStore(client, prefix, batch_size=page)
    base = 1_700_000_000_000
    sids = [f"s{i:02d}" for i in range(len(scores))]
    put(client, store, sids, [base + s for s in scores])
    score_of = {sid: base + s for sid, s in zip(sids, scores, strict=True)}
    gone: set[str] = set()  # deleted or expired during the run
    created: set[str] = set()

    def between(n: int, _rows: Any) -> None:
        for op, which, offset in plan[n] if n < len(plan) else []:
            if op == "create":
                sid = f"new{which:02d}"
                if sid not in created and sid not in gone:
                    created.add(sid)
                    put(client, store, [sid], [base + offset])
                    score_of[sid] = base + offset
                continue
            pool = sorted(set(score_of) - gone)
            if not pool:
                continue
            sid = pool[which % len(pool)]
            if op == "update":  # a later turn: the writer's ZADD GT only moves forward
                score_of[sid] = max(score_of[sid], base + offset)
                update(store, sid, score_of[sid])
            elif op == "delete":
                gone.add(sid)
                drop_keys(client, store, sid)
                client.zrem(store.index_key, sid)
            elif op == "expire":
                gone.add(sid)
                drop_keys(client, store, sid)

    walk = store.index_walk(page=page)
    pages = Consumed(walk, between) if ahead else Stepped(walk, between)
    got = ids_of(store.iter_docs(walk=pages, jobs=jobs))  # type: ignore[arg-type]
    assert max(got.values(), default=1) == 1, got  # nobody twice
    whole_run = set(sids) - gone
    assert whole_run <= set(got), whole_run - set(got)  # everyone who stayed, once
    assert set(got) <= set(sids) | created


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    scores=st.lists(st.integers(0, 30), min_size=0, max_size=40),
    page=st.integers(1, 7),
    plan=st.lists(OPS, max_size=12),
    jobs=st.sampled_from([1, 3]),
    ahead=st.booleans(),
)
def test_property_every_session_that_stays_is_met_exactly_once(
    client: Any, scores: list[int], page: int, plan: list[list[Any]], jobs: int, ahead: bool
) -> None:
    """With ``ahead``, the walk as iterated: the next page's read is sent before a page is
    handed out, so the changes made while a page is handled come after that read."""
    _property(client, scores, page, plan, jobs, ahead)


def test_iterating_the_walk_reads_ahead_and_gives_the_pages_of_next_page(client: Any) -> None:
    prefix = f"a{uuid.uuid4().hex[:8]}"
    store = NativeStore(client, prefix, batch_size=4)
    sids = [f"s{i:02d}" for i in range(23)]
    put(client, store, sids, [1_700_000_000_000 + i // 3 for i in range(23)])
    stepped = list(Stepped(store.index_walk(page=4), lambda n, rows: None))
    walk = store.index_walk(page=4)
    assert walk.reader is not None  # a plain client: iterating reads ahead
    assert list(walk) == stepped
    assert [sid for rows in stepped for sid, _ in rows] == sids


@pytest.mark.cluster
@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    scores=st.lists(st.integers(0, 30), min_size=0, max_size=30),
    page=st.integers(1, 7),
    plan=st.lists(OPS, max_size=8),
)
def test_property_on_the_cluster(cluster: Any, scores: list[int], page: int, plan: Any) -> None:
    client = make_client(load_settings({"redis_url": cluster.url}, env={}, file_values={}))
    try:
        _property(client, scores, page, plan, 1)
    finally:
        client.close()


# -- random writers during a big export -----------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("jobs", [1, 4])
def test_random_writers_during_a_20k_export(rclient: Any, jobs: int) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}"
    store = NativeStore(rclient, prefix, batch_size=250)
    n = 20_000
    sids = [f"s{i:05d}" for i in range(n)]
    base = now_ms() - n * 1000
    for i in range(0, n, 2000):
        put(rclient, store, sids[i : i + 2000], [base + j * 1000 for j in range(i, i + 2000)])
    deleted: set[str] = set()
    stop = threading.Event()

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        mine = NativeStore(rclient, prefix)
        k = 0
        while not stop.is_set():
            sid = rng.choice(sids)
            roll = rng.random()
            if roll < 0.5:
                update(mine, sid, now_ms())
            elif roll < 0.7:
                put(rclient, mine, [f"w{seed}-{k}"], [rng.choice([now_ms(), base + 5])])
                k += 1
            elif sid not in deleted and roll < 0.8:
                deleted.add(sid)
                drop_keys(rclient, mine, sid)
            else:
                update(mine, sid, base + rng.randrange(n) * 1000)  # a clock behind

    threads = [threading.Thread(target=writer, args=(s,)) for s in range(2)]
    for t in threads:
        t.start()
    try:
        got = ids_of(Repository(store).iter_docs(jobs=jobs))
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert max(got.values()) == 1
    missing = set(sids) - deleted - set(got)
    assert not missing, sorted(missing)[:10]


# -- the TypeScript layout: SCAN may return a key twice --------------------------------------------
def test_upstream_sessions_once_though_scan_repeats_keys(
    client: Any, prefix: str, monkeypatch: Any
) -> None:
    import orjson

    up = UpstreamStore(client, f"{prefix}:conversation:", f"{prefix}:user:sessions:", batch_size=3)
    for i in range(20):
        doc = {"sessionId": f"ts{i}", "userId": "u", "messages": [], "updatedAt": None}
        client.set(f"{prefix}:conversation:u:ts{i}", orjson.dumps(doc))
    real = UpstreamStore._scan

    def twice(self: UpstreamStore, pattern: str) -> Iterator[bytes]:
        keys = list(real(self, pattern))
        yield from keys  # what SCAN may do during a rehash: every key again
        yield from reversed(keys)

    monkeypatch.setattr(UpstreamStore, "_scan", twice)
    assert ids_of(up.iter_docs()) == Counter(f"ts{i}" for i in range(20))
    repo = Repository(NativeStore(client, prefix), up)
    assert compute_stats(repo).sessions == 20
    assert len(repo.list(limit=0)) == 20


def test_seen_set_is_exact_across_merges() -> None:
    seen = SeenSet()
    assert all(seen.add(f"id{i}") for i in range(20_000))
    assert not any(seen.add(f"id{i}") for i in range(0, 20_000, 7))
    assert len(seen) == 20_000


class _SmallSeenSet(SeenSet):
    FLOOR = 3  # merges after a handful of members: every path of the merge taken


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.integers(min_value=-40, max_value=40), max_size=12), max_size=12))
def test_seen_set_is_a_set_across_merges(pages: list[list[int]]) -> None:
    seen, plain = _SmallSeenSet(), set[str]()
    for page in pages:
        items = [f"m{i}" for i in page]
        expected = []
        for item in items:
            expected.append(item not in plain)
            plain.add(item)
        assert seen.add_many(items) == expected  # type: ignore[arg-type]
        assert len(seen) == len(plain)
        assert list(seen._sorted) == sorted(seen._sorted)
    assert all(not seen.add(item) for item in plain)
