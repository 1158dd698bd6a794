"""``memory stats`` counted page by page (turns decoded straight into the counted fields,
pages shared with a second process) says exactly what the one-pass count said.

Held against the count as it was (``support/stats_reference.py``): every number, the
order of ``byModel``/``byRole`` among equal counts, the unreadable sessions and the
warnings, in order; over generated turns of every odd shape (bad JSON, bytes that are not
UTF-8, lone surrogates, tokens that are no object, numbers beyond a float), both layouts,
TTLs, small pages (so that a session falls on any page and on either process) and huge
sessions read in pages. Then the installed binary, two processes, against one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import redis as redis_py
from conftest import NEUROLINK
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import stats_reference
from support.helpers import seed_sessions
from support.redis_server import RedisServer
from test_shared_pages import _mixed

from neurolink_cli.stats import _same_shape, compute_stats
from neurolink_cli.store.native import NativeStore
from neurolink_cli.store.repository import Repository
from neurolink_cli.store.upstream import UpstreamStore
from neurolink_cli.util import forkmap, jsonutil

TIMES = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "2026-11-26T22:45:00.000Z",
            "2026-01-01T00:00:00.001Z",
            "2026-13-01T00:00:00.000Z",
            "2026-11-26T23:45:00+01:00",
            "",
            "yesterday",
            "2027-02-03T04:05:06.007Z",
        ]
    ),  # fmt: skip
    st.integers(0, 2_000_000_000_000),
    st.floats(0, 2e12, allow_nan=False),
    st.booleans(),
)
ANY_SMALL = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(-2, 2, allow_nan=False),
                      st.text(max_size=3), st.just([1]), st.just({"a": 1}))  # fmt: skip
NUMBERS = st.one_of(st.none(), st.integers(0, 1000), st.floats(0, 10, allow_nan=False), st.booleans(),
                    st.just("7"), st.integers(2**64, 2**70))  # fmt: skip
TOKENS = st.one_of(
    st.none(),
    st.fixed_dictionaries({}, optional={"prompt": NUMBERS, "completion": NUMBERS}),
    st.just("not an object"),
    st.just([1, 2]),
)
TURN = st.fixed_dictionaries(
    {},
    optional={
        "role": st.one_of(st.sampled_from(["user", "assistant", "system", "tool"]), ANY_SMALL),
        "content": st.text(max_size=20),
        "model": st.one_of(st.sampled_from(["gpt-4o", "openai/gpt-4o", "m2", ""]), ANY_SMALL),
        "provider": st.one_of(st.sampled_from(["openai", "anthropic"]), ANY_SMALL),
        "tokens": TOKENS,
        "cost": st.one_of(NUMBERS, st.floats(0, 1, allow_nan=False)),
        "error": st.one_of(st.none(), st.just({"message": "boom"}), st.just("x")),
        "timestamp": TIMES,
        "metadata": st.one_of(st.none(), st.fixed_dictionaries(
            {}, optional={"provider": ANY_SMALL, "model": st.sampled_from(["tm", "", None])})),
    },
)  # fmt: skip
BAD_TURNS = [
    b"not json",
    b"[1]",
    b'{"a":"\xff"}',  # not UTF-8, in a field stats does not read
    b'{"role":"\xff"}',
    b'{"s":"\\ud800","role":"user"}',  # a lone surrogate: the full parser reads it
    b'{"index":2}{"index":3}',
    b'{"role":"user","cost":1e400}',  # beyond a float: a RawNumber, not counted
    b'{"role":"assistant","tokens":{"prompt":' + b"9" * 50 + b"}}",
    b'{"role":"user","role":"assistant","model":"dup"}',  # the last of a key repeated
    b'{"r\\u006fle":"assistant","model":"escaped"}',
]
STORED_TURN = st.one_of(
    TURN.map(jsonutil.dumps), TURN.map(jsonutil.dumps), st.sampled_from(BAD_TURNS)
)
SESSION = st.fixed_dictionaries(
    {
        "turns": st.lists(STORED_TURN, max_size=7),
        "model": st.one_of(st.none(), st.sampled_from(["gpt-4o", "claude"])),
        "provider": st.one_of(st.none(), st.sampled_from(["openai", "anthropic"])),
        "createdAt": st.one_of(st.none(), st.sampled_from(["2025-01-01T00:00:00.000Z", "junk"])),
        "ttl": st.sampled_from([None, 3600, 3 * 86400]),
        "odd": st.sampled_from([None, None, None, "string-meta", "no-meta", "list-turns"]),
    }
)
TS_SESSION = st.one_of(
    st.fixed_dictionaries(
        {
            "sessionId": st.sampled_from(["a", "b", "", 5]),
            "userId": st.sampled_from(["u1", "randomUser", None]),
            "createdAt": TIMES,
            "updatedAt": TIMES,
            "messages": st.one_of(st.lists(TURN, max_size=5), st.just([1, {"role": "user"}])),
        },
        optional={"title": st.just("t")},
    ).map(jsonutil.dumps),
    st.lists(TURN, max_size=3).map(jsonutil.dumps),  # a v7.34 bare array
    st.sampled_from(
        [
            b"{nope",
            b'{"sessionId":"x"}',
            b'{"sessionId":"\xff","messages":[]}',
            b'{"sessionId":"s","messages":[],"x":"\xff"}',
            b'{"sessionId":"s\\ud800","messages":[{"role":"user"}]}',
        ]
    ),  # fmt: skip
)


def _load(client: Any, prefix: str, sessions: list[dict[str, Any]], ts: list[bytes]) -> None:
    for n, s in enumerate(sessions):
        sid = f"s{n}"
        mkey, tkey = f"{prefix}:session:{{{sid}}}:metadata", f"{prefix}:session:{{{sid}}}:turns"
        meta = {"sessionId": sid, "updatedAt": f"2026-02-0{n % 9 + 1}T00:00:00.000Z"}
        for field in ("model", "provider", "createdAt"):
            if s[field] is not None:
                meta[field] = s[field]
        if s["odd"] == "string-meta":
            client.set(mkey, b"x")
        elif s["odd"] != "no-meta":
            client.hset(mkey, mapping=meta)
        if s["odd"] == "list-turns":
            client.set(tkey, b"x")
        elif s["turns"]:
            client.rpush(tkey, *s["turns"])
        if s["ttl"]:
            client.expire(mkey, s["ttl"])
        client.zadd(f"{prefix}:sessions", {sid: n})
    for n, value in enumerate(ts):
        client.set(f"{prefix}:conversation:u{n % 3}:k{n}", value, ex=3600 if n % 2 else None)
    if ts:
        client.sadd(f"{prefix}:conversation:u0:a-set", b"x")  # another type under the prefix
        client.sadd(f"{prefix}:user:sessions:u1", b"k1")


def _both(repo: Repository, share: bool) -> None:
    said: list[str] = []
    was: list[str] = []
    new = compute_stats(repo, warn=said.append, share=share)
    old = stats_reference.compute_stats(repo, warn=was.append)
    assert jsonutil.dumps(new.as_dict()) == jsonutil.dumps(old.as_dict())
    assert list(new.by_role) == list(old.by_role) and list(new.by_model) == list(old.by_model)
    assert list(new.errors_by_model) == list(old.errors_by_model)
    assert list(new.errors_by_provider) == list(old.errors_by_provider)
    assert new.cost == old.cost  # before rounding too
    assert new.unreadable == old.unreadable
    assert said == was


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    sessions=st.lists(SESSION, max_size=12),
    ts=st.lists(TS_SESSION, max_size=8),
    page=st.sampled_from([1, 2, 3, 250]),
    first_page=st.sampled_from([3, 100]),
    share=st.booleans(),
)
def test_counts_are_those_of_the_one_pass_count(
    client, sessions, ts, page, first_page, share
) -> None:
    prefix = f"p{uuid.uuid4().hex[:10]}"
    _load(client, prefix, sessions, ts)
    native = NativeStore(client, prefix, batch_size=page, first_page=first_page)
    upstream = UpstreamStore(client, f"{prefix}:conversation:", f"{prefix}:user:sessions:",
                             batch_size=page)  # fmt: skip
    # SCAN's order may change between two calls (the server's table rehashing while the
    # first count reads): both counts get the same pages, so that their orders compare
    pages = list(upstream.key_pages())
    upstream.key_pages = lambda user_id=None, p=pages: iter(p)  # type: ignore[method-assign]
    _both(Repository(native, upstream), share and forkmap.available())


STAMP_LIKE = st.one_of(
    st.sampled_from(["2026-11-26T22:45:00.000Z", "2026-01-01T00:00:00.001Z", "2026-01-01T00:00:00+01:00"]),
    st.text(alphabet="0123456789-T:.Z+ é", min_size=23, max_size=25),
    st.sampled_from([None, 24, 2.5, True, b"2026-11-26T22:45:00.000Z", list("2026-11-26T22:45:00.000Z"),
                     tuple("2026-11-26T22:45:00.000Z"), dict.fromkeys("abcdefghijklmnopqrstuvwx")]),
)  # fmt: skip


@given(st.lists(STAMP_LIKE, min_size=1, max_size=6))
def test_same_shape_is_that_of_the_one_pass_count(values: list[Any]) -> None:
    """Which timestamps are compared as strings: values of any type and length, 24 long
    ones that are no str among them (the type is no longer looked at on its own)."""
    assert _same_shape(values) == stats_reference._same_shape(values)


def test_many_pages_on_both_processes(client, prefix) -> None:
    sessions = []
    for n in range(60):
        turns = [jsonutil.dumps({"role": "user", "timestamp": f"2026-03-01T00:00:{n % 60:02d}.000Z"}),
                 jsonutil.dumps({"role": "assistant", "model": f"m{n % 7}", "provider": "p",
                                 "tokens": {"prompt": n, "completion": 1}, "cost": 0.1 * n,
                                 "error": {"message": "x"} if n % 5 == 0 else None})]  # fmt: skip
        if n % 11 == 3:
            turns.append(BAD_TURNS[n % len(BAD_TURNS)])
        sessions.append({"turns": turns, "model": None, "provider": "prov" if n % 2 else None,
                         "createdAt": None, "ttl": 3600 if n % 4 == 0 else None, "odd": None})  # fmt: skip
    _load(client, prefix, sessions, [])
    native = NativeStore(client, prefix, batch_size=4, first_page=100)
    _both(Repository(native), share=forkmap.available())


@pytest.mark.e2e
@pytest.mark.skipif(not forkmap.available(), reason="needs two cores and fork")
def test_two_processes_say_what_one_says(cli, neurolink_bin, client, store) -> None:
    _mixed(client, store, cli)  # bad turns, wrong types, huge sessions on every page
    for n in range(0, 900, 7):
        client.rpush(store.turns_key(f"s{n:06d}"), jsonutil.dumps(
            {"role": "assistant", "model": f"m{n % 5}", "cost": 0.01 * n,
             "tokens": {"prompt": n, "completion": 2.5}, "error": {"m": 1} if n % 3 else None,
             "timestamp": 1795733160041 + n}))  # fmt: skip
        if n % 2:
            client.expire(store.meta_key(f"s{n:06d}"), 3600)
    for fmt in ("json", "table"):
        args = ("memory", "stats", "--format", fmt)
        shared = neurolink_bin(*args)
        alone = neurolink_bin(*args, env_extra={"NEUROLINK_EXPORT_PROCESSES": "1"})
        assert shared.returncode == alone.returncode == 1, shared.stderr
        assert shared.stdout == alone.stdout
        assert shared.stderr == alone.stderr
        assert shared.stderr.count(b"\n") > 16
    in_process = cli("memory", "stats", "--format", "json", env={"NEUROLINK_EXPORT_PROCESSES": "1"})
    assert in_process.stdout_bytes == neurolink_bin("memory", "stats", "--format", "json").stdout


def _children_when_running(proc: subprocess.Popen[bytes]) -> list[int]:
    """The second process's pid, once it is there (the stats have started on the pages)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(proc.pid)], capture_output=True)
        if out.stdout.split():
            return [int(x) for x in out.stdout.split()]
        time.sleep(0.005)
    raise AssertionError("no second process")


def _gone(pids: list[int]) -> None:
    time.sleep(0.2)
    for pid in pids:  # gone (or a zombie waiting for init)
        status = Path(f"/proc/{pid}/status")
        assert not status.exists() or b"zombie" in status.read_bytes().lower()


@pytest.mark.e2e
@pytest.mark.skipif(not forkmap.available(), reason="needs two cores and fork")
def test_ctrl_c_stops_both_processes(env, client, store, redis_server) -> None:
    seed_sessions(client, store.prefix, 20000, turns=6, size=300)
    proc = subprocess.Popen([NEUROLINK, "memory", "stats", "--format", "json"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    workers = _children_when_running(proc)
    redis_server.pause()  # so that the count is surely still running
    try:
        proc.send_signal(signal.SIGINT)
        time.sleep(0.3)
    finally:
        redis_server.resume()
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert b"Traceback" not in err and out == b""
    _gone(workers)


@pytest.mark.e2e
@pytest.mark.skipif(not forkmap.available(), reason="needs two cores and fork")
def test_redis_killed_mid_count_stops_both_processes(env) -> None:
    server = RedisServer().start()
    try:
        client = redis_py.Redis.from_url(server.url)
        seed_sessions(client, "neurolink", 4000, turns=6, size=300)
        run_env = {**env, "REDIS_URL": server.url, "NEUROLINK_REDIS_TIMEOUT": "1"}
        run_env.pop("NEUROLINK_KEY_PREFIX", None)
        proc = subprocess.Popen([NEUROLINK, "memory", "stats", "--format", "json"],
                                env=run_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
        workers = _children_when_running(proc)
        server.pause()  # mid-count, then gone for good
        os.kill(server.proc.pid, signal.SIGKILL)
        out, err = proc.communicate(timeout=60)
    finally:
        server.cleanup()
    assert proc.returncode == 4, err
    assert b"Traceback" not in err and out == b""
    _gone(workers)
