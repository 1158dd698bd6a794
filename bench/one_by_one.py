"""The naive baseline: one round trip per session, turns parsed and re-serialized.

For every index member: one pipeline of HGETALL + LRANGE (one round trip), then the
document is built as dicts and written as one JSONL line with orjson. This is what an
exporter without batching does.

    python bench/one_by_one.py URL PREFIX > out.jsonl
"""

import sys

import orjson
import redis


def main() -> None:
    url, prefix = sys.argv[1], sys.argv[2]
    r = redis.Redis.from_url(url)
    out = sys.stdout.buffer
    for sid in r.zrange(f"{prefix}:sessions", 0, -1):
        s = sid.decode()
        pipe = r.pipeline(transaction=False)
        pipe.hgetall(f"{prefix}:session:{{{s}}}:metadata")
        pipe.lrange(f"{prefix}:session:{{{s}}}:turns", 0, -1)
        meta, turns = pipe.execute()
        m = {k.decode(): v.decode() for k, v in meta.items()}
        doc = {
            "sessionId": m.get("sessionId", s),
            "userId": m.get("userId"),
            "createdAt": m.get("createdAt"),
            "updatedAt": m.get("updatedAt"),
            "turns": [orjson.loads(t) for t in turns],
            "metadata": {
                "provider": m.get("provider"),
                "model": m.get("model"),
                "totalTurns": int(m.get("totalTurns", len(turns))),
                "toolsUsed": orjson.loads(m.get("toolsUsed", "[]")),
            },
        }
        out.write(orjson.dumps(doc) + b"\n")
    out.flush()


main()
