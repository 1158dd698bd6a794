"""A private redis-server and a fast loader of sessions in the native layout.

The loader writes exactly the bytes :class:`neurolink_cli.store.native.NativeStore` writes
through ``append_turn`` (its Lua script): each turn is the client's ``orjson.dumps`` of the
turn without its index, with ``{"index":N,`` spliced in front; the metadata hash carries
the fields the script sets (including the writer's ``w:<id>`` idempotency field and
``nextIndex``); the index ZSET scores each session by its last turn's timestamp in epoch
ms. It does so with hand-built RESP commands sent over one socket in large pipelined
chunks, so 400,000 turns load in a few seconds instead of minutes of Lua calls.
``tests/store/test_bench_loader.py`` checks that the bytes match what ``append_turn`` stores.
"""

from __future__ import annotations

import functools
import os
import random
import socket
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
# The tests' private redis-server (free port + unix socket, no persistence, own temp dir).
from support.redis_server import (  # noqa: E402,F401
    RedisClusterServers,
    RedisServer,
    redis_server_binary,
)

BASE_MS = 1_767_225_600_000  # 2026-01-01T00:00:00.000Z
_TEXT = (
    "the model answered with a short summary of redis streams and lists while the user "
    "asked about latency budgets pipelines batching replicas failover clusters keys slots "
    "hash tags eviction memory fragmentation persistence snapshots café naïve über 東京 "
)
WORDS = _TEXT.split()


def ms_to_rfc3339(ms: int) -> str:
    """Epoch ms -> ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (the stored timestamp format)."""
    secs, milli = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{milli:03d}Z"


def redis_version() -> str:
    """The version of the redis-server binary the bench starts."""
    out = subprocess.run([redis_server_binary(), "--version"], capture_output=True, text=True)
    for part in out.stdout.split():
        if part.startswith("v="):
            return part[2:]
    return out.stdout.strip()


def resp(*args: bytes) -> bytes:
    """One command in the Redis protocol."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Pipe:
    """Raw pipelined writes over one socket; every reply must be an integer or +OK.

    One chunk stays in flight: a chunk's replies are read after the next chunk is sent, so
    Redis executes one chunk while this process builds the next (the replies are a few
    bytes per command and wait in the socket buffer)."""

    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.create_connection((host, port))
        self.buf: list[bytes] = []
        self.pending = 0
        self.size = 0
        self.in_flight = 0  # commands sent whose replies are not read yet
        self.tail = b""

    def add(self, command: bytes, key: bytes = b"") -> None:
        """Queue ``command`` (``key``, the key it writes, matters only to a cluster)."""
        self.buf.append(command)
        self.pending += 1
        self.size += len(command)
        if self.size > 4 << 20:
            self.flush()

    def flush(self, *, wait: bool = False) -> None:
        previous = self.in_flight
        if self.pending:
            self.sock.sendall(b"".join(self.buf))
            self.in_flight += self.pending
            self.buf, self.pending, self.size = [], 0, 0
        # Read the replies of what was sent before this chunk (all of them when waiting).
        self._read(self.in_flight if wait else previous)

    def _read(self, want: int) -> None:
        got = 0
        while got < want:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise RuntimeError("redis closed the connection while loading")
            lines = (self.tail + chunk).split(b"\r\n")
            self.tail = lines.pop()
            for line in lines:
                if line.startswith(b"-"):
                    raise RuntimeError(f"redis refused a load command: {line.decode()}")
            got += len(lines)
        self.in_flight -= got

    def close(self) -> None:
        self.flush(wait=True)
        self.sock.close()


class ClusterPipe:
    """A :class:`Pipe` per primary of a Redis Cluster; each command goes to the primary
    that owns its key's slot (``CLUSTER SLOTS`` asked once: the bench's cluster is new and
    does not move slots while loading)."""

    def __init__(self, host: str, port: int) -> None:
        from redis.crc import key_slot

        self.key_slot = key_slot
        first = Pipe(host, port)
        first.sock.sendall(resp(b"CLUSTER", b"SLOTS"))
        slots = _read_reply(first.sock.makefile("rb"))
        first.sock.close()
        self.pipes: dict[tuple[str, int], Pipe] = {}
        self.owner: list[Pipe | None] = [None] * 16384
        for lo, hi, primary, *_ in slots:
            node = (primary[0].decode(), int(primary[1]))
            if node not in self.pipes:
                self.pipes[node] = Pipe(*node)
            for slot in range(int(lo), int(hi) + 1):
                self.owner[slot] = self.pipes[node]

    def add(self, command: bytes, key: bytes = b"") -> None:
        pipe = self.owner[self.key_slot(key)]
        if pipe is None:
            raise RuntimeError(f"no primary owns the slot of {key!r}")
        pipe.add(command)

    def close(self) -> None:
        for pipe in self.pipes.values():
            pipe.close()


def _read_reply(f: Any) -> Any:
    """One RESP2 reply from a binary file (enough of the protocol for CLUSTER SLOTS)."""
    line = f.readline()[:-2]
    kind, rest = line[:1], line[1:]
    if kind == b"*":
        return [_read_reply(f) for _ in range(int(rest))]
    if kind == b"$":
        n = int(rest)
        return None if n < 0 else f.read(n + 2)[:-2]
    if kind == b":":
        return int(rest)
    if kind == b"-":
        raise RuntimeError(f"redis refused CLUSTER SLOTS: {rest.decode()}")
    return rest


def turn_bodies(rng: random.Random, count: int, turn_bytes: int, start_ms: int) -> Iterator[bytes]:
    """``count`` turns as ``append_turn`` stores them (index spliced in), ~turn_bytes each."""
    for i in range(count):
        ts = ms_to_rfc3339(start_ms + i * 1000)
        if i % 2 == 0:
            turn: dict[str, object] = {"role": "user", "content": "", "timestamp": ts}
        else:
            turn = {
                "role": "assistant",
                "content": "",
                "timestamp": ts,
                "model": "gpt-4o-mini",
                "provider": "openai",
                "tokens": {"prompt": 40 + i, "completion": 80 + i},
                "latencyMs": 400 + i,
            }
        skeleton = len(orjson.dumps(turn)) + len(b'"index":,') + len(str(i))
        words: list[str] = []
        size = 0
        while size < turn_bytes - skeleton:
            w = rng.choice(WORDS)
            words.append(w)
            size += len(w.encode()) + 1
        text = " ".join(words)
        if i % 7 == 3:
            text = 'He said "quoted"\n' + text[18:]  # escapes in the stored JSON
        turn["content"] = text
        body = orjson.dumps(turn)
        yield b'{"index":%d,' % i + body[1:]


def load(
    host: str,
    port: int,
    prefix: str,
    sessions: int,
    turns: int,
    turn_bytes: int = 300,
    *,
    first: int = 0,
    seed: int = 7,
    big_turns: int = 0,
    cluster: bool = False,
) -> tuple[int, int]:
    """Load sessions ``first .. first+sessions-1`` (and one ``big`` session); (turns, bytes).

    ``cluster``: ``host:port`` is a node of a Redis Cluster; every command goes to the
    primary that owns its key (a session's two keys share the hash tag ``{id}``)."""
    rng = random.Random(seed)
    writer = b"b" * 16
    pipe: Pipe | ClusterPipe = ClusterPipe(host, port) if cluster else Pipe(host, port)
    index = f"{prefix}:sessions".encode()
    total_turns = total_bytes = 0
    # A pool of turn lists reused across sessions keeps loading fast; content varies enough.
    pool = [list(turn_bodies(rng, turns, turn_bytes, BASE_MS)) for _ in range(64)]
    specs: list[tuple[str, list[bytes], int]] = []
    for n in range(first, first + sessions):
        specs.append((f"s-{n:07d}", pool[n % len(pool)], BASE_MS + n * 1000))
    if big_turns:
        specs.append(("big-session", list(turn_bodies(rng, big_turns, turn_bytes, BASE_MS)), 0))
    zadd: list[bytes] = [b"ZADD", index]
    for sid, bodies, start in specs:
        if start:  # shift timestamps so sessions differ in time (same byte length)
            bodies = [_retime(b, i, start) for i, b in enumerate(bodies)]
        else:
            start = BASE_MS
        sid_b = sid.encode()
        tkey = b"%s:session:{%s}:turns" % (prefix.encode(), sid_b)
        mkey = b"%s:session:{%s}:metadata" % (prefix.encode(), sid_b)
        created = ms_to_rfc3339(start).encode()
        last_ms = start + (len(bodies) - 1) * 1000
        updated = ms_to_rfc3339(last_ms).encode()
        pipe.add(resp(b"RPUSH", tkey, *bodies), tkey)
        n = str(len(bodies)).encode()
        pipe.add(
            resp(
                b"HSET",
                mkey,
                b"nextIndex",
                n,
                b"w:" + writer,
                b"%d:%d" % (len(bodies), len(bodies) - 1),
                b"sessionId",
                sid_b,
                b"createdAt",
                created,
                b"userId",
                b"user-%d" % (zlib.crc32(sid_b) % 500),
                b"updatedAt",
                updated,
                b"totalTurns",
                n,
                b"provider",
                b"openai",
                b"model",
                b"gpt-4o-mini",
                b"toolsUsed",
                b"[]",
            ),
            mkey,
        )
        zadd += [str(last_ms).encode(), sid_b]
        if len(zadd) > 2000:
            pipe.add(resp(*zadd), index)
            zadd = [b"ZADD", index]
        total_turns += len(bodies)
        total_bytes += sum(map(len, bodies))
    if len(zadd) > 2:
        pipe.add(resp(*zadd), index)
    pipe.close()
    return total_turns, total_bytes


@functools.lru_cache(maxsize=4096)
def _stamp(ms: int) -> bytes:
    """``ms_to_rfc3339`` as bytes, cached: session n's turn i is at second n + i, so
    consecutive sessions share all but one of their timestamps."""
    return ms_to_rfc3339(ms).encode()


def _retime(body: bytes, i: int, start_ms: int) -> bytes:
    """The same turn with its timestamp moved to ``start_ms + i`` seconds."""
    at = body.index(b'"timestamp":"') + 13
    return body[:at] + _stamp(start_ms + i * 1000) + body[at + 24 :]


def describe_machine() -> dict[str, str]:
    """CPU count and model, for the table's header."""
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"nproc": str(os.cpu_count() or "?"), "cpu": model}


def machine_busy() -> float:
    """The CPU seconds every core of the machine has spent so far on anything but idling or
    waiting for I/O (/proc/stat: user, nice, system, irq, softirq, steal), the kernel's
    own work for a process included (its writeback of files, say); 0.0 where unknown."""
    try:
        with open("/proc/stat", "rb") as f:
            fields = f.readline().split()
    except OSError:
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")
