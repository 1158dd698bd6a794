"""The Lua scripts of the native layout (CONTRACT §3), run atomically by Redis.

``APPEND_SCRIPT`` (KEYS: turns, metadata of one session; one slot thanks to the hash tag):
ARGV = turn JSON without index, session id, user id, timestamp, provider, model, tools
used (JSON array or ''), maxTurnsPerSession, TTL, writer id, write sequence, and '1' for a
failed turn (CONTRACT §9: counted in ``errorCount``). It allocates
the index from ``nextIndex``, splices ``"index":N`` in front of the turn, RPUSHes it, trims,
updates the metadata, refreshes the TTL of both keys, and returns the index; a repeated
(writer id, sequence) returns the index stored the first time instead of writing again.

``CREATE_SCRIPT`` (KEYS: turns, metadata of one session): writes a whole session only if
neither key exists, so an import never overwrites a session another writer created after
the import checked for it. ARGV = TTL, number of turns N, the N turn JSONs, then metadata
field/value pairs. Returns 1 written, 0 refused (a key exists).

``STAGE_SCRIPT`` and ``FINISH_SCRIPT``: a big session (import) in pages, still one atomic
step for readers. Its turns are pushed to a staging list beside the session's keys (same
hash tag, so the same slot; see :meth:`NativeStore.write_session`), one page per call;
``FINISH_SCRIPT`` then renames the list to the turns key and writes the metadata.
``STAGE_SCRIPT`` (KEYS: the staging list) ARGV = the list's length before this page, the
staging TTL, the page's turn JSONs: pushes only if the length is still the one given (a
retry after a lost reply does not push the page twice) and returns the new length.
``FINISH_SCRIPT`` (KEYS: staging list, turns, metadata) ARGV = '1' to replace or '0' to
create, TTL, number of turns N, metadata field/value pairs: returns 0 when creating and a
key exists (the staging list is dropped), -1 when the staging list does not hold N turns,
else moves it into place, writes the metadata, leaves a short-lived marker under the
staging name (so a retry after a lost reply returns 1 again) and returns 1.

``PRUNE_SCRIPT`` (KEYS: the index): removes a member only if its score is still the one
the caller saw when it found the member's keys gone.
"""

APPEND_SCRIPT = """
local turns, meta = KEYS[1], KEYS[2]
local wfield = 'w:' .. ARGV[10]
local last = redis.call('HGET', meta, wfield)
if last then
  local seq, done = string.match(last, '^(%d+):(%d+)$')
  if seq == ARGV[11] then return tonumber(done) end
end
local idx = redis.call('HINCRBY', meta, 'nextIndex', 1) - 1
redis.call('HSET', meta, wfield, ARGV[11] .. ':' .. idx)
local turn = '{"index":' .. idx .. ',' .. string.sub(ARGV[1], 2)
local n = redis.call('RPUSH', turns, turn)
local maxT = tonumber(ARGV[8])
if maxT > 0 and n > maxT then
  redis.call('LTRIM', turns, -maxT, -1)
  n = maxT
end
redis.call('HSETNX', meta, 'sessionId', ARGV[2])
redis.call('HSETNX', meta, 'createdAt', ARGV[4])
if ARGV[3] ~= '' then redis.call('HSET', meta, 'userId', ARGV[3]) end
redis.call('HSET', meta, 'updatedAt', ARGV[4], 'totalTurns', n)
if ARGV[12] == '1' then redis.call('HINCRBY', meta, 'errorCount', 1) end
if ARGV[5] ~= '' then redis.call('HSET', meta, 'provider', ARGV[5]) end
if ARGV[6] ~= '' then redis.call('HSET', meta, 'model', ARGV[6]) end
if ARGV[7] ~= '' then
  local cur = redis.call('HGET', meta, 'toolsUsed')
  local have = {}
  if cur then
    local ok, decoded = pcall(cjson.decode, cur)
    if ok and type(decoded) == 'table' then have = decoded end
  end
  local seen = {}
  for _, t in ipairs(have) do seen[t] = true end
  for _, t in ipairs(cjson.decode(ARGV[7])) do
    if not seen[t] then table.insert(have, t); seen[t] = true end
  end
  if #have == 0 then
    redis.call('HSET', meta, 'toolsUsed', '[]')
  else
    redis.call('HSET', meta, 'toolsUsed', cjson.encode(have))
  end
else
  redis.call('HSETNX', meta, 'toolsUsed', '[]')
end
local ttl = tonumber(ARGV[9])
if ttl > 0 then
  redis.call('EXPIRE', turns, ttl)
  redis.call('EXPIRE', meta, ttl)
end
return idx
"""

# Remove an index member only if its score is still the one we saw when its keys were gone.
PRUNE_SCRIPT = """
local s = redis.call('ZSCORE', KEYS[1], ARGV[1])
if s and tonumber(s) == tonumber(ARGV[2]) then
  return redis.call('ZREM', KEYS[1], ARGV[1])
end
return 0
"""

CREATE_SCRIPT = """
if redis.call('EXISTS', KEYS[1], KEYS[2]) > 0 then return 0 end
local ttl, n = tonumber(ARGV[1]), tonumber(ARGV[2])
local first, last = 3, 2 + n
for i = first, last, 1000 do  -- unpack() has a limit: push in chunks
  redis.call('RPUSH', KEYS[1], unpack(ARGV, i, math.min(i + 999, last)))
end
for i = last + 1, #ARGV, 1000 do
  redis.call('HSET', KEYS[2], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
if ttl > 0 then
  if n > 0 then redis.call('EXPIRE', KEYS[1], ttl) end
  redis.call('EXPIRE', KEYS[2], ttl)
end
return 1
"""

STAGE_SCRIPT = """
local n = redis.call('LLEN', KEYS[1])
if n == tonumber(ARGV[1]) then
  for i = 3, #ARGV, 1000 do
    n = redis.call('RPUSH', KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV)))
  end
end
redis.call('EXPIRE', KEYS[1], ARGV[2])
return n
"""

FINISH_SCRIPT = """
local stage, turns, meta = KEYS[1], KEYS[2], KEYS[3]
if redis.call('TYPE', stage)['ok'] == 'string' then return 1 end
local ttl, n = tonumber(ARGV[2]), tonumber(ARGV[3])
if redis.call('LLEN', stage) ~= n then return -1 end
if ARGV[1] == '1' then
  redis.call('DEL', turns, meta)
elseif redis.call('EXISTS', turns, meta) > 0 then
  redis.call('DEL', stage)
  return 0
end
if n > 0 then
  redis.call('RENAME', stage, turns)
  if ttl > 0 then redis.call('EXPIRE', turns, ttl) else redis.call('PERSIST', turns) end
end
for i = 4, #ARGV, 1000 do
  redis.call('HSET', meta, unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
if ttl > 0 then redis.call('EXPIRE', meta, ttl) end
redis.call('SET', stage, '1', 'EX', 600)
return 1
"""
