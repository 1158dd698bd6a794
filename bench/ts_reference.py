"""The TypeScript layout's reference exporter (issue 14): plain redis-py + hiredis + orjson.

SCAN the conversation prefix, then MGET 500 keys per round trip, ``orjson.loads`` +
``orjson.dumps`` per session, one JSON line each on stdout. No document mapping, no TTL, no
checks: the bar ``export-all`` of that layout must meet. Run as a whole process.

    python bench/ts_reference.py URL [PREFIX] > out.jsonl
    python bench/ts_reference.py URL PREFIX --parse-only   # the floor of list and stats
    python bench/ts_reference.py URL PREFIX --fetch-only   # the reads alone

``--parse-only`` reads and parses every session and writes nothing: what any command that
must look inside every session (``list`` counts messages, ``stats`` reads them) cannot go
below in one process. ``--fetch-only`` reads every session and does nothing with it: the
time of the reads alone (SCAN + MGET) on one connection.
"""

import sys

import orjson
import redis


def main() -> None:
    url = sys.argv[1]
    prefix = sys.argv[2] if len(sys.argv) > 2 else "neurolink:conversation:"
    parse_only = "--parse-only" in sys.argv
    fetch_only = "--fetch-only" in sys.argv
    r = redis.Redis.from_url(url)
    out = sys.stdout.buffer
    batch: list[bytes] = []
    n = 0

    def flush() -> None:
        for value in r.mget(batch):
            if value is None or fetch_only:
                continue
            if parse_only:
                orjson.loads(value)
            else:
                out.write(orjson.dumps(orjson.loads(value)) + b"\n")

    for key in r.scan_iter(match=prefix + "*", count=1000):
        batch.append(key)
        n += 1
        if len(batch) >= 500:
            flush()
            batch = []
    if batch:
        flush()
    out.flush()
    sys.stderr.write(f"{n}\n")


main()
