"""Lua scripts of the Redis backend: each runs atomically on the server.

Deadlines in the sorted-set indexes are milliseconds on the Redis server's clock (``TIME``), so the
nodes' clocks never matter.
"""

from __future__ import annotations

# KEYS[1] owner key; ARGV[1] node id, ARGV[2] ttl ms. Returns the owner after the call.
CLAIM = """
local owner = redis.call('GET', KEYS[1])
if not owner then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return ARGV[1]
end
if owner == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return owner
"""

# KEYS[1] owner key; ARGV[1] node id, ARGV[2] ttl ms. Returns 1 if renewed.
RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

# KEYS[1] owner key; ARGV[1] node id. Returns 1 if released.
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

NOW_MS = """
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
"""

# KEYS[1] record key, KEYS[2] index; ARGV[1] member, ARGV[2] record, ARGV[3] ttl ms.
PUT_INDEXED = (
    NOW_MS
    + """
local ttl = tonumber(ARGV[3])
redis.call('SET', KEYS[1], ARGV[2], 'PX', ttl)
redis.call('ZADD', KEYS[2], now + ttl, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('PTTL', KEYS[2]) < ttl then
  redis.call('PEXPIRE', KEYS[2], ttl)
end
return 1
"""
)

# KEYS[1] index. Returns the members whose deadline has not passed.
LIST_INDEXED = (
    NOW_MS
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZRANGE', KEYS[1], 0, -1)
"""
)

# KEYS[1] record key, KEYS[2] index; ARGV[1] member.
DELETE_INDEXED = """
redis.call('ZREM', KEYS[2], ARGV[1])
return redis.call('DEL', KEYS[1])
"""
