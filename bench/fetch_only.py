"""The fetch-only ceiling: read every session the way an export must, and write nothing.

Walks the index in pages of ``batch`` members and reads each page's sessions in one
pipelined round trip (HGETALL + LRANGE per session), with the same client (redis-py with
hiredis) neurolink uses. Run as a whole process, like the ``neurolink`` binary, so the
interpreter start and ``import redis`` are in both times.

    python bench/fetch_only.py URL PREFIX [BATCH] [parse]

With ``parse``, every turn is also parsed (``orjson.loads``): the floor of ``memory stats``,
which must look inside every turn, where ``export-all`` splices them unparsed.
"""

import sys

import orjson
import redis


def main() -> None:
    url, prefix = sys.argv[1], sys.argv[2]
    batch = int(sys.argv[3]) if len(sys.argv) > 3 else 250
    parse = sys.argv[4:5] == ["parse"]
    r = redis.Redis.from_url(url)
    index = f"{prefix}:sessions"
    start = 0
    turns = 0
    while True:
        ids = r.zrange(index, start, start + batch - 1)
        if not ids:
            break
        start += len(ids)
        pipe = r.pipeline(transaction=False)
        for sid in ids:
            s = sid.decode()
            pipe.hgetall(f"{prefix}:session:{{{s}}}:metadata")
            pipe.lrange(f"{prefix}:session:{{{s}}}:turns", 0, -1)
        replies = pipe.execute()
        turns += sum(len(x) for x in replies[1::2])
        if parse:
            for raw_turns in replies[1::2]:
                list(map(orjson.loads, raw_turns))
    sys.stderr.write(f"{turns}\n")


main()
