"""``memory list`` of the TypeScript layout read by two processes gives exactly the rows, the
unreadable keys and the order of one process (:func:`neurolink_cli.util.forkmap.map_pages`)."""

from __future__ import annotations

import os
from typing import Any

import orjson
import pytest
from test_upstream import Upstream, session

from neurolink_cli.models import SessionSummary
from neurolink_cli.store import upstreamlist
from neurolink_cli.util import forkmap


def shown(rows: Any) -> list[Any]:
    """Rows to compare; a TTL as whether there is one (it ticks between two listings)."""
    return [
        {**r.as_dict(), "ttl": r.ttl is not None} if isinstance(r, SessionSummary) else repr(r)
        for r in rows
    ]


@pytest.fixture
def up(client: Any, prefix: str) -> Upstream:
    up = Upstream(client, prefix)  # three keys a page: many pages, the worker's and ours
    up.load_samples()
    for i in range(40):
        user = "lee" if i % 3 else "kim"
        up.put(f"{user}:s{i}", session(f"s{i}", user, []), user=user)
    up.client.set(up.c + "junk", "not json")
    up.client.set(up.c + "broken", b'{"sessionId":"x","messages":[1]}')
    up.client.rpush(up.c + "a-list", b"x")
    return up


def test_two_processes_give_the_rows_of_one(up: Upstream, monkeypatch: Any) -> None:
    assert forkmap.available() and up.store.can_share_pages()
    # SCAN's order may change between two calls (the server's table rehashing as other
    # tests write): both listings get the same pages, so that their order is comparable
    key_pages = up.store.key_pages
    for filters in ({}, {"user_id": "lee"}, {"since_ms": 0, "until_ms": 2_000_000_000_000}):
        pages = list(key_pages(filters.get("user_id")))  # type: ignore[arg-type]
        monkeypatch.setattr(up.store, "key_pages", lambda user_id=None, p=pages: iter(p))
        alone = shown(up.store.summaries(**filters))
        shared = shown(up.store.summaries(share=True, **filters))
        assert shared == alone and len(alone) > 20


def test_keyed_pages_sort_to_the_rows_of_one_process(up: Upstream, monkeypatch: Any) -> None:
    """``keyed_summaries`` (what ``memory list`` merges): every row once, keyed by its last
    update, each page newest first with equal times in SCAN order; the unreadable ones
    apart, in their order. Two processes or one, and the rows of :meth:`summaries`."""
    key_pages = up.store.key_pages
    for filters in ({}, {"user_id": "lee"}, {"since_ms": 0, "until_ms": 2_000_000_000_000}):
        pages = list(key_pages(filters.get("user_id")))  # type: ignore[arg-type]
        monkeypatch.setattr(up.store, "key_pages", lambda user_id=None, p=pages: iter(p))
        rows = list(up.store.summaries(**filters))
        good = [r for r in rows if isinstance(r, SessionSummary)]
        for share in (False, True):
            keyed, bad = [], []
            for page_keyed, page_bad in upstreamlist.keyed_summaries(
                up.store, share=share, **filters
            ):
                keys = [k for k, _ in page_keyed]
                assert keys == sorted(keys, reverse=True)
                assert all(k == r.updated_ms for k, r in page_keyed)
                keyed += page_keyed
                bad += page_bad
            keyed.sort(key=lambda pair: pair[0], reverse=True)
            good_sorted = sorted(good, key=lambda r: r.updated_ms, reverse=True)
            assert shown(r for _, r in keyed) == shown(good_sorted)
            assert shown(bad) == shown(r for r in rows if not isinstance(r, SessionSummary))


def test_one_page_never_forks(client: Any, prefix: str, monkeypatch: Any) -> None:
    up = Upstream(client, prefix)
    up.put("lee:s1", session("s1", "lee", []), user="lee")

    def no_worker(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a worker for one page")

    monkeypatch.setattr(forkmap, "fork", no_worker)
    assert len(list(up.store.summaries(share=True))) == 1


def test_the_workers_error_is_raised_here(up: Upstream, monkeypatch: Any) -> None:
    here = os.getpid()
    rows_of = upstreamlist.page_rows

    def broken(*args: Any) -> Any:
        if os.getpid() != here:  # in the worker only
            raise ValueError("worker says no")
        return rows_of(*args)

    monkeypatch.setattr(upstreamlist, "page_rows", broken)
    with pytest.raises(ValueError, match="worker says no"):
        list(up.store.summaries(share=True))


def test_one_process_when_asked(up: Upstream, monkeypatch: Any) -> None:
    monkeypatch.setenv("NEUROLINK_EXPORT_PROCESSES", "1")
    assert not forkmap.available()

    def no_worker(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a worker with NEUROLINK_EXPORT_PROCESSES=1")

    monkeypatch.setattr(forkmap, "fork", no_worker)
    assert len(list(up.store.summaries(share=True))) > 20


@pytest.mark.e2e
def test_the_cli_lists_as_one_process(neurolink_bin: Any, client: Any, prefix: str) -> None:
    up = Upstream(client, prefix)
    pipe = client.pipeline(transaction=False)
    for i in range(1100):  # five pages of 250 keys
        pipe.set(f"{up.c}u{i % 7}:s{i}", orjson.dumps(session(f"s{i}", f"u{i % 7}", [])))
    pipe.execute()
    up.client.set(up.c + "junk", "not json")
    env = {"REDIS_KEY_PREFIX": up.c}
    for args in (["--format", "jsonl"], ["--format", "table"], ["--user-id", "u3"]):
        shared = neurolink_bin("memory", "list", "--limit", "0", *args, env_extra=env)
        alone = neurolink_bin(
            "memory", "list", "--limit", "0", *args,
            env_extra={**env, "NEUROLINK_EXPORT_PROCESSES": "1"},
        )  # fmt: skip
        assert shared.returncode == alone.returncode == 0, shared.stderr
        # rows of one time in SCAN order, which may change between two calls
        assert sorted(shared.stdout.splitlines()) == sorted(alone.stdout.splitlines())
        assert shared.stderr == alone.stderr
        assert b"junk" in shared.stderr or "--user-id" in args
