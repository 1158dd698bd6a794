"""Walking the native index exactly once: keyset pages over (score, member), never offsets.

The index ``P:sessions`` is a ZSET ordered by (score, member). :class:`IndexWalk` reads it
in pages with :data:`PAGE_SCRIPT`, which returns the members strictly after a cursor
``(score, member)`` in that order. The cursor is a position, not a member nor an offset:
deleting, expiring or re-scoring the cursor's own member, or any other member, between two
page reads neither skips nor repeats anyone, whatever the scores (ties, far past, ahead of
this machine's clock: there is no upper bound at "now"). The walk ends when a page comes
back short, so members added ahead of the cursor during the walk are met too.

A session updated during the walk moves forward (the writer's ``ZADD GT``): if the walk had
already met it, it would meet it a second time. :class:`SeenSet` remembers every member
yielded so far as an 8-byte digest (a sorted ``array`` plus a small set of recent ones,
merged now and then: ~8-9 bytes per session, 0.9 MB per 100,000), and a member met again
is not yielded again. So a session that exists for the whole walk is yielded exactly once,
and one created or updated during it at most once (in the state read when it was met).
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections import deque
from collections.abc import Iterator
from typing import Any

from neurolink_cli.store.keyspace import RedisClient, register_script

# KEYS[1] index. ARGV: cursor score ('' = start at the lower bound), cursor member, page
# size, lower bound (inclusive, '-inf' or a number), upper bound ('+inf' or a number),
# '1' when the upper bound is exclusive. Returns {done, member, score, member, score, ...};
# done = 1 when no member after this page is within the bounds. Members are compared as
# bytes (the ZSET's own order), never with Lua's locale-dependent string '<'.
PAGE_SCRIPT = """
local key, count = KEYS[1], tonumber(ARGV[3])
local function after(a, b)
  local n = math.min(#a, #b)
  for i = 1, n do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x > y end
  end
  return #a > #b
end
local start
if ARGV[1] == '' then
  if ARGV[4] == '-inf' then start = 0 else start = redis.call('ZCOUNT', key, '-inf', '(' .. ARGV[4]) end
else
  local s, m = ARGV[1], ARGV[2]
  local cur = redis.call('ZSCORE', key, m)
  if cur and tonumber(cur) == tonumber(s) then
    start = redis.call('ZRANK', key, m) + 1
  else
    local a = redis.call('ZCOUNT', key, '-inf', '(' .. s)
    local b = a + redis.call('ZCOUNT', key, s, s)
    while a < b do
      local mid = math.floor((a + b) / 2)
      if after(redis.call('ZRANGE', key, mid, mid)[1], m) then b = mid else a = mid + 1 end
    end
    start = a
  end
end
local rows = redis.call('ZRANGE', key, start, start + count - 1, 'WITHSCORES')
local hi, excl = ARGV[5], ARGV[6] == '1'
local out = {0}
for i = 1, #rows, 2 do
  if hi ~= '+inf' then
    local sc, h = tonumber(rows[i + 1]), tonumber(hi)
    if sc > h or (excl and sc == h) then out[1] = 1; return out end
  end
  out[#out + 1] = rows[i]
  out[#out + 1] = rows[i + 1]
end
if #rows < 2 * count then out[1] = 1 end
return out
"""


class SeenSet:
    """Digests of the members already met: exact membership in ~8-9 bytes per member.

    ``hash()`` is stable within this process, all the walk needs; a 64-bit collision
    (which would hide one session) is as unlikely as with a cryptographic digest.
    """

    FLOOR = 4096  # recent digests kept in a set before the first merge

    def __init__(self) -> None:
        self._sorted = array("q")
        self._recent: set[int] = set()

    def __len__(self) -> int:
        return len(self._sorted) + len(self._recent)

    def add(self, item: bytes | str) -> bool:
        """Remember ``item``; True if it was not met before."""
        digest = hash(item)
        if digest in self._recent:
            return False
        arr = self._sorted
        i = bisect_left(arr, digest)
        if i < len(arr) and arr[i] == digest:
            return False
        self._recent.add(digest)
        self._settle()
        return True

    def add_many(self, items: list[bytes]) -> list[bool]:
        """:meth:`add` of each item in turn (one call for a page of them)."""
        recent, arr = self._recent, self._sorted
        size, fresh = len(arr), []
        for digest in map(hash, items):
            if digest in recent:
                fresh.append(False)
                continue
            i = bisect_left(arr, digest)
            if i < size and arr[i] == digest:
                fresh.append(False)
                continue
            recent.add(digest)
            fresh.append(True)
        self._settle()
        return fresh

    def _settle(self) -> None:
        if len(self._recent) > max(self.FLOOR, len(self._sorted) >> 3):
            self._sorted = _merged(self._sorted, sorted(self._recent))
            self._recent = set()


def _merged(arr: array[int], new: list[int]) -> array[int]:
    """Sorted ``arr`` with the sorted ``new`` merged in: a step per new digest (a C-level
    bisection, then the run of ``arr`` before it copied as a slice), not one per digest
    of both (heapq.merge: 1M members met cost ~2 µs each, now ~1.5)."""
    out, lo = array("q"), 0
    for digest in new:
        at = bisect_left(arr, digest, lo)
        out += arr[lo:at]
        out.append(digest)
        lo = at
    out += arr[lo:]
    return out


class IndexWalk:
    """The members of one index ZSET, oldest update first, each at most once, in pages."""

    def __init__(
        self,
        client: RedisClient,
        index_key: str,
        *,
        page: int = 500,
        since_ms: int | None = None,
        until_ms: int | None = None,
        script: Any = None,
        reader: Any = None,
    ) -> None:
        self.client = client
        self.reader = reader  # a BatchReader: iterating reads the next page ahead
        self.index_key = index_key
        self.page = page
        self.lo = "-inf" if since_ms is None else str(since_ms)
        self.hi = "+inf" if until_ms is None else str(until_ms)
        self.seen = SeenSet()
        self._script = script if script is not None else register_script(client, PAGE_SCRIPT)
        self._cursor: tuple[bytes, bytes] | None = None  # (score as Redis wrote it, member)
        self.done = False

    def next_page(self) -> list[tuple[str, float]]:
        """The next page of members not met before (possibly empty while not ``done``)."""
        if self.done:
            return []
        return self.take(self._script(keys=[self.index_key], args=self._args()))

    def command(self) -> tuple[Any, ...]:
        """The next page's read as one raw command (``EVAL``), for a caller that pipelines
        it with other commands; its reply goes to :meth:`take`."""
        return ("EVAL", PAGE_SCRIPT, 1, self.index_key, *self._args())

    def _args(self) -> list[Any]:
        score, member = self._cursor if self._cursor is not None else (b"", b"")
        return [score, member, self.page, self.lo, self.hi, "1"]

    def take(self, reply: Any) -> list[tuple[str, float]]:
        """The members of a page's reply not met before; the cursor moves past the page."""
        if isinstance(reply, Exception):
            raise reply
        self.done = bool(int(reply[0])) or len(reply) == 1
        members, scores = reply[1::2], reply[2::2]
        if not all(type(x) is bytes for x in reply[1:]):  # a client that decodes replies
            members = [m if isinstance(m, bytes) else str(m).encode() for m in members]
            scores = [s if isinstance(s, bytes) else str(s).encode() for s in scores]
        if members:
            self._cursor = (scores[-1], members[-1])
        return [
            (m.decode("utf-8", "replace"), float(sc))
            for m, sc, new in zip(members, scores, self.seen.add_many(members), strict=True)
            if new
        ]

    def __iter__(self) -> Iterator[list[tuple[str, float]]]:
        """The pages (none empty). With a ``reader``, the next page's read is sent as soon
        as this page is in (:meth:`~neurolink_cli.store.batchread.BatchReader.chain`, on a
        connection of its own): the walk's round trip, which waits behind whatever else
        the server is serving (another process's batches), is not waited for page by page
        by the process that hands the pages out."""
        if self.reader is None:
            while not self.done:
                rows = self.next_page()
                if rows:
                    yield rows
            return
        pages: deque[list[tuple[str, float]]] = deque()

        def follow(_tag: None, replies: list[Any]) -> tuple[None, list[Any]] | None:
            pages.append(self.take(replies[0]))
            return None if self.done else (None, [self.command()])

        for _ in self.reader.chain((None, [self.command()]), follow):
            rows = pages.popleft()
            if rows:
                yield rows
