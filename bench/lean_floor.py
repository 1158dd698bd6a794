"""The lean floors of ``memory stats`` and ``memory list`` (issue 14): the least work either
must do, done as cheaply as this machine allows, on both cores.

    python bench/lean_floor.py URL PREFIX native|ts stats|list [PROCESSES [KEYS]] [--utf8] [--count]
    python bench/lean_floor.py URL PREFIX ts keys KEYS     # the keys to the file KEYS

No CLI, no click, no redis-py: a raw socket, hiredis and msgspec, so that the start-up is a
few imports. The keys are dealt between PROCESSES (default 2) forked processes, a page (250
sessions, or 500 keys of the TypeScript layout) at a time, each on its own connection:

- ``native stats``: HGETALL + LRANGE of every session (what ``stats`` reads), each turn
  decoded by msgspec into the seven fields ``stats`` counts (the rest skipped in C), nothing
  counted (with ``--count``, the least counting: :func:`count`);
- ``native list``: HMGET of the eight row fields + LLEN + TTL of every session, nothing built;
- ``ts stats``: SCAN (in one process, before the deal; with ``KEYS``, no SCAN at all: the
  keys come from a file written beforehand, so the floor leaves out a SCAN the command
  must make), then MGET + the session objects decoded into their messages' seven fields;
- ``ts list``: the same, with only each message's ``metadata`` decoded (a list row counts
  the messages and shows the model the last of them names).

Against an empty database it measures its own start-up, which the bench subtracts when it
adds the CLI's start-up (``memory stats`` on an empty database) to a floor. No output: a
floor, not an exporter. msgspec checks the JSON of what it skips, not its UTF-8: with
``--utf8`` the bytes read are also checked to be UTF-8 (each session's turns joined, or each
TypeScript value, decoded strictly when not ASCII: the cheapest check found, a page joined
at once costs more), which ``stats`` and the TypeScript ``list`` must do, since they name a
session whose bytes are not UTF-8 as unreadable, as every other command does.
"""

from __future__ import annotations

import os
import socket
import sys
from collections import Counter
from typing import Any
from urllib.parse import urlparse

import hiredis
import msgspec

CHECK = "--utf8" in sys.argv
COUNT = "--count" in sys.argv


def utf8(data: bytes) -> None:
    """The strict UTF-8 check of the commands (UnicodeDecodeError when it fails)."""
    if not data.isascii():
        data.decode()


class Tokens(msgspec.Struct):
    prompt: Any = None
    completion: Any = None


class Turn(msgspec.Struct):
    role: Any = None
    model: Any = None
    provider: Any = None
    tokens: Tokens | None = None
    cost: Any = None
    error: Any = None
    timestamp: Any = None


class Message(Turn):
    metadata: Any = None


class Session(msgspec.Struct):
    sessionId: Any = None  # noqa: N815 - the stored field names
    messages: list[Message] = []
    createdAt: Any = None  # noqa: N815
    updatedAt: Any = None  # noqa: N815


class Metadata(msgspec.Struct):
    metadata: Any = None


class Row(msgspec.Struct):
    sessionId: Any = None  # noqa: N815
    messages: list[Metadata] = []
    createdAt: Any = None  # noqa: N815
    updatedAt: Any = None  # noqa: N815
    title: Any = None


ROW_FIELDS = ("sessionId", "userId", "createdAt", "updatedAt", "totalTurns", "model", "title",
              "errorCount")  # fmt: skip


class Conn:
    def __init__(self, url: str) -> None:
        u = urlparse(url)
        self.sock = socket.create_connection((u.hostname or "127.0.0.1", u.port or 6379))
        self.reader = hiredis.Reader()
        db = (u.path or "/0").strip("/") or "0"
        if db != "0":
            self.call([("SELECT", db)])

    def call(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        self.sock.sendall(b"".join(map(hiredis.pack_command, commands)))
        out: list[Any] = []
        gets, feed, recv = self.reader.gets, self.reader.feed, self.sock.recv
        while len(out) < len(commands):
            reply = gets()
            if reply is False:
                feed(recv(1 << 20))
            else:
                out.append(reply)
        return out


def count(turns: list[Turn]) -> None:
    """The least counting ``stats`` must do over a page's turns (``--count``): each field
    it counts taken once from every turn, and tallied in C-level passes (no per-session
    work, no check of a value's type, no merge: less than any correct ``stats`` does)."""
    roles = [t.role for t in turns]
    models = [t.model for t in turns]
    providers = [t.provider for t in turns]
    TALLY.update(zip(roles, models, providers, strict=True))
    tokens = [t.tokens for t in turns]
    found = [t for t in tokens if t is not None]
    TALLY["prompt"] += sum(filter(None, [t.prompt for t in found]))
    TALLY["completion"] += sum(filter(None, [t.completion for t in found]))
    for values in ([t.cost for t in turns], [t.error for t in turns]):
        TALLY[len(values)] += values.count(None)
    stamps = list(filter(None, [t.timestamp for t in turns]))
    if stamps:
        TALLY[min(stamps)] += 1
        TALLY[max(stamps)] += 1


TALLY: Counter[Any] = Counter()


def native(conn: Conn, prefix: str, what: str, part: int, parts: int) -> None:
    index, batch = f"{prefix}:sessions", 250
    size = conn.call([("ZCARD", index)])[0]
    decode = msgspec.json.Decoder(Turn).decode
    for page, start in enumerate(range(0, size, batch)):
        if page % parts != part:
            continue
        ids = conn.call([("ZRANGE", index, start, start + batch - 1)])[0]
        commands: list[tuple[Any, ...]] = []
        for sid in ids:
            base = f"{prefix}:session:{{{sid.decode()}}}:"
            if what == "stats":
                commands += [("HGETALL", base + "metadata"), ("LRANGE", base + "turns", 0, -1)]
            else:
                commands += [("HMGET", base + "metadata", *ROW_FIELDS), ("LLEN", base + "turns"),
                             ("TTL", base + "metadata")]  # fmt: skip
        replies = conn.call(commands)
        if what == "stats":
            decoded: list[Turn] = []
            for turns in replies[1::2]:
                decoded += map(decode, turns)
                if CHECK:
                    utf8(b"".join(turns))
            if COUNT:
                count(decoded)


def typescript(conn: Conn, keys: list[bytes], what: str, part: int, parts: int) -> None:
    decode = msgspec.json.Decoder(Session if what == "stats" else Row).decode
    for page, at in enumerate(range(0, len(keys), 500)):
        if page % parts == part:
            values = conn.call([("MGET", *keys[at : at + 500])])[0]
            sessions: list[Any] = list(map(decode, filter(None, values)))
            if CHECK:
                for value in filter(None, values):
                    utf8(value)
            if COUNT and what == "stats":
                count([m for s in sessions for m in s.messages])


def scan(url: str, prefix: str) -> list[bytes]:
    """Every key under ``prefix``, by SCAN in this process."""
    conn, cursor, keys = Conn(url), b"0", []
    while True:
        cursor, found = conn.call([("SCAN", cursor, "MATCH", prefix + "*", "COUNT", 1000)])[0]
        keys += found
        if cursor == b"0":
            break
    conn.sock.close()
    return keys


def keys_file(path: str) -> list[bytes]:
    """The keys a ``keys`` run wrote (one per line: the keys of the bench have no line break)."""
    with open(path, "rb") as fh:
        return fh.read().split(b"\n")


def main() -> None:
    args = [a for a in sys.argv[1:] if a not in ("--utf8", "--count")]
    url, prefix, layout, what = args[:4]
    parts = int(args[4]) if len(args) > 4 and what != "keys" else 2
    keys: list[bytes] = []
    if layout == "ts" and what == "keys":  # the keys to a file, for --keys (not timed)
        with open(args[4], "wb") as fh:
            fh.write(b"\n".join(scan(url, prefix)))
        return
    if layout == "ts":
        keys = keys_file(args[5]) if len(args) > 5 else scan(url, prefix)
    children = []
    for part in range(1, parts):
        pid = os.fork()
        if pid == 0:
            work(url, prefix, layout, what, keys, part, parts)
            os._exit(0)
        children.append(pid)
    work(url, prefix, layout, what, keys, 0, parts)
    for pid in children:
        _, status = os.waitpid(pid, 0)
        if status:
            raise SystemExit(f"lean_floor: a process failed ({status})")


def work(url: str, prefix: str, layout: str, what: str, keys: list[bytes], part: int,
         parts: int) -> None:  # fmt: skip
    conn = Conn(url)
    if layout == "ts":
        typescript(conn, keys, what, part, parts)
    else:
        native(conn, prefix, what, part, parts)


if __name__ == "__main__":
    main()
