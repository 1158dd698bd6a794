"""export-all to a stream through the installed binary, where two processes share the pages.

The output must be the same bytes as one process's (CliRunner has no real file descriptor,
so it runs in one), in every stream format, whatever lands on which process's pages: bad
sessions, keys of the wrong type, huge sessions read in pages, the TypeScript layout after
the native pages, filters; everything is reported once, in order; a closed pipe, Ctrl-C and
a Redis that goes away stop both processes with the usual exit codes.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import NEUROLINK
from support.helpers import add_conversation, seed_sessions
from test_dir_trust import TsSessions

from neurolink_cli.export.shared import worker_available

with open(os.devnull, "wb") as _devnull:
    pytestmark = pytest.mark.skipif(
        not worker_available(_devnull), reason="needs two cores and fork"
    )


def _children_of(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True)
    return [int(x) for x in out.stdout.split()]


@pytest.mark.e2e
def test_same_bytes_as_the_in_process_writer(cli, neurolink_bin, store) -> None:
    for i in range(450):  # more than two batches
        add_conversation(store, f"s{i:04d}", 4, start_s=i, content='row {i}, "q"\n=x')
    binary = neurolink_bin("memory", "export-all", "--format", "csv")
    assert binary.returncode == 0, binary.stderr
    in_process = cli("memory", "export-all", "--format", "csv")  # CliRunner: no real fd
    assert binary.stdout == in_process.stdout_bytes
    assert binary.stdout.count(b"\r\n") > 450 * 4


@pytest.mark.e2e
def test_a_bad_session_is_reported_and_the_rest_exported(neurolink_bin, store, client) -> None:
    add_conversation(store, "good", 2)
    add_conversation(store, "bad", 2, start_s=50)
    client.rpush(store.turns_key("bad"), b"{not json}")
    add_conversation(store, "after", 2, start_s=100)
    proc = neurolink_bin("memory", "export-all", "--format", "csv")
    assert proc.returncode == 1
    assert b"bad" in proc.stderr and b"not a JSON object" in proc.stderr
    ids = {line.split(b",")[0] for line in proc.stdout.splitlines()[1:]}
    assert ids == {b"good", b"after"}


@pytest.mark.e2e
def test_closed_pipe_stops_quietly(env, client, store) -> None:
    seed_sessions(client, store.prefix, 3000, turns=6, size=300)
    cmd = f"'{NEUROLINK}' memory export-all --format csv | head -c 1000 > /dev/null"
    proc = subprocess.run(["bash", "-c", cmd], capture_output=True, env=env, timeout=60)
    assert b"Traceback" not in proc.stderr and b"Error" not in proc.stderr


@pytest.mark.e2e
def test_ctrl_c_stops_both_processes(env, client, store) -> None:
    seed_sessions(client, store.prefix, 20000, turns=6, size=300)
    proc = subprocess.Popen(
        [NEUROLINK, "memory", "export-all", "--format", "csv"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    os.read(proc.stdout.fileno(), 100_000)  # it is running, worker and all
    workers = _children_of(proc.pid)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert b"Traceback" not in err
    time.sleep(0.2)
    for pid in workers:  # gone (or a zombie waiting for init)
        status = Path(f"/proc/{pid}/status")
        assert not status.exists() or b"zombie" in status.read_bytes().lower()


def _mixed(client, store, cli) -> list[str]:
    """~900 sessions over four pages of 250: on both processes' pages a bad turn, a hash of
    the wrong type, a huge session (more turns than one read takes) and another user's."""
    seed_sessions(client, store.prefix, 900, turns=4, size=40)
    ids = [f"s{n:06d}" for n in range(900)]
    bad = [b"{not json}", b'{"index":2}{"index":3}', b'{"a":"\xff"}', b'{"a":1}],"x":[{"b":2}',
           b'{"a":\n1}', b'{"n":340282366920938463463374607431768211455}', b'{"s":"\\ud800"}']  # fmt: skip
    for page in range(4):  # the bad data of issue 13 on both processes' pages
        for j, turn in enumerate(bad):
            client.rpush(store.turns_key(ids[page * 250 + 100 + j]), turn)
    for n in (20, 270):
        client.delete(store.meta_key(ids[n]))
        client.set(store.meta_key(ids[n]), b"a string")
    for n in (30, 280):
        client.rpush(store.turns_key(ids[n]), *[b'{"index":9,"role":"user","content":"x"}'] * 300)
    for n in (40, 290, 540):
        client.hset(store.meta_key(ids[n]), "userId", "u2")
    ts = TsSessions(client, store.prefix, cli)
    for n in range(600):  # the TypeScript layout's batches are shared too
        ts.put(f"ts{n}", "u1" if n % 3 else f"user{n % 4}")
    for n in (5, 400):  # not sessions: reported wherever SCAN puts them
        client.set(f"{ts.c}u1:broken{n}", b"{not json")
    return ids


CASES = [
    (fmt, extra)
    for fmt in ("jsonl", "csv", "chat-jsonl", "json")
    for extra in ([], ["--user-id", "u1"], ["--no-include-metadata"])
    if not (fmt == "chat-jsonl" and extra == ["--no-include-metadata"])  # not its option
]


@pytest.mark.e2e
@pytest.mark.parametrize(("fmt", "extra"), CASES)
def test_two_processes_write_what_one_writes(cli, neurolink_bin, client, store, fmt, extra) -> None:
    _mixed(client, store, cli)
    args = ["memory", "export-all", "--format", fmt, *extra]
    binary = neurolink_bin(*args)
    in_process = cli(*args)
    assert binary.returncode == in_process.exit_code == 1, binary.stderr
    assert binary.stdout == in_process.stdout_bytes
    said = [re.sub(r" in [0-9.]+ s", "", x) for x in binary.stderr.decode().splitlines()]
    assert said == [re.sub(r" in [0-9.]+ s", "", x) for x in in_process.stderr.splitlines()]
    if fmt == "csv":
        assert binary.stdout.count(b"sessionId,") == 1
    else:  # every line valid UTF-8 JSON; the sessions with a bad turn named, not written
        docs = [json.loads(line.decode("utf-8")) for line in binary.stdout.splitlines()]
        assert docs and all(isinstance(d, dict) for d in docs)
        assert binary.stderr.count(b"is not a JSON object") >= 4 * 4


@pytest.mark.e2e
def test_an_empty_store_and_a_single_page(cli, neurolink_bin, client, store) -> None:
    for fmt in ("jsonl", "csv"):
        binary = neurolink_bin("memory", "export-all", "--format", fmt)
        assert (
            binary.returncode == 0
            and binary.stdout == cli("memory", "export-all", "--format", fmt).stdout_bytes
        )
    add_conversation(store, "only", 2)
    binary = neurolink_bin("memory", "export-all")
    assert binary.returncode == 0 and binary.stdout.count(b"\n") == 1


@pytest.mark.e2e
def test_every_page_count_ends(neurolink_bin, client, store) -> None:
    """The walk may end on either process's page, or inside the first one; the worker
    takes two pages in a row (pages 5 and 6 of every 7)."""
    have = 0
    for want in (1, 249, 250, 251, 500, 501, 750, 751, 1000, 1001, 1500, 1501, 1750, 1751, 2251):
        seed_sessions(client, store.prefix, want - have, turns=1, size=10, first=have)
        have = want
        for fmt in ("jsonl", "csv"):
            done = neurolink_bin("memory", "export-all", "--format", fmt, timeout=30)
            assert done.returncode == 0, done.stderr
            assert done.stdout.count(b"\n") == want + (fmt == "csv")


@pytest.mark.e2e
def test_one_process_when_asked(neurolink_bin, client, store) -> None:
    seed_sessions(client, store.prefix, 600, turns=2, size=10)
    shared = neurolink_bin("memory", "export-all")
    alone = neurolink_bin("memory", "export-all", env_extra={"NEUROLINK_EXPORT_PROCESSES": "1"})
    assert shared.returncode == alone.returncode == 0
    assert shared.stdout == alone.stdout and shared.stdout.count(b"\n") == 600


def test_a_walk_of_one_page_forks_no_worker(client, store, tmp_path, monkeypatch) -> None:
    """The worker is forked when the walk gives it its first page: an empty native index
    and one batch of TypeScript-layout sessions fork nothing; a second batch does."""
    import multiprocessing

    from neurolink_cli.export.run import export_all
    from neurolink_cli.export.transform import ExportOptions
    from neurolink_cli.store.repository import Repository
    from neurolink_cli.store.upstream import UpstreamStore

    upstream = UpstreamStore(client, f"{store.prefix}:conversation:", f"{store.prefix}:u:")
    repo = Repository(store, upstream)
    forks: list[str] = []
    get_context = multiprocessing.get_context

    def counted(method: str | None = None) -> object:
        forks.append(str(method))
        return get_context(method)

    monkeypatch.setattr(multiprocessing, "get_context", counted)
    monkeypatch.delenv("NEUROLINK_EXPORT_PROCESSES", raising=False)
    message = {"role": "user", "content": "hi", "timestamp": "2026-11-20T10:00:00.000Z"}
    for n in range(upstream.batch_size + 1):
        doc = {"sessionId": f"t{n}", "userId": "u", "messages": [message]}
        client.set(f"{upstream.prefix}u:t{n}", json.dumps(doc))
        if n == upstream.batch_size - 1:  # exactly one page
            with open(tmp_path / "one.jsonl", "wb") as out:
                ledger = export_all(repo, ExportOptions(format="jsonl"), out)
            assert ledger.exported == upstream.batch_size and forks == []
    with open(tmp_path / "two.jsonl", "wb") as out:
        ledger = export_all(repo, ExportOptions(format="jsonl"), out)
    assert ledger.exported == upstream.batch_size + 1 and forks == ["fork"]
    assert (tmp_path / "two.jsonl").read_bytes().count(b"\n") == upstream.batch_size + 1
