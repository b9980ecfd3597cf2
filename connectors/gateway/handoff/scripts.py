"""Lua scripts that make each handoff state change atomic (one round trip, no races).

Two agents claiming one conversation, a user leaving the queue while an agent claims it, or an
agent closing while the user leaves: Redis runs each script alone, so exactly one wins.
"""

from __future__ import annotations

from typing import Final

TTL_S: Final = 30 * 24 * 3600

# KEYS: conv, queue; ARGV: sender, now, reason, channel, ttl
ENQUEUE: Final = """
local st = redis.call('HGET', KEYS[1], 'status')
if st == 'queued' or st == 'agent' then return {0, st} end
redis.call('HSET', KEYS[1], 'status', 'queued', 'queued_at', ARGV[2], 'reason', ARGV[3], 'channel', ARGV[4])
redis.call('HDEL', KEYS[1], 'agent', 'claimed_at', 'closed_at')
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
return {1, 'queued'}
"""

# KEYS: conv, queue, held(agent); ARGV: sender, agent, limit, now, takeover ("1": not queued is ok)
CLAIM: Final = """
local st = redis.call('HGET', KEYS[1], 'status')
if st == 'agent' then return {0, 'taken', redis.call('HGET', KEYS[1], 'agent') or ''} end
if st ~= 'queued' and not (ARGV[5] == '1' and st ~= 'message') then return {0, 'not_queued', ''} end
if redis.call('SCARD', KEYS[3]) >= tonumber(ARGV[3]) then return {0, 'limit', ''} end
if st ~= 'queued' then redis.call('HSET', KEYS[1], 'queued_at', ARGV[4], 'reason', 'agent') end
redis.call('HSET', KEYS[1], 'status', 'agent', 'agent', ARGV[2], 'claimed_at', ARGV[4])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[1])
return {1, 'ok', ARGV[2]}
"""

# KEYS: conv, held(from), held(to); ARGV: sender, from, to, limit of `to`
TRANSFER: Final = """
if redis.call('HGET', KEYS[1], 'status') ~= 'agent' or redis.call('HGET', KEYS[1], 'agent') ~= ARGV[2] then
  return {0, 'not_holder'}
end
if redis.call('SCARD', KEYS[3]) >= tonumber(ARGV[4]) then return {0, 'limit'} end
redis.call('HSET', KEYS[1], 'agent', ARGV[3])
redis.call('SMOVE', KEYS[2], KEYS[3], ARGV[1])
return {1, 'ok'}
"""

# KEYS: conv; ARGV: sender, agent ("" = whoever holds it), now
# The holder's set is derived from the stored agent (single Redis; not cluster-safe by design).
CLOSE: Final = """
local st = redis.call('HGET', KEYS[1], 'status')
local holder = redis.call('HGET', KEYS[1], 'agent') or ''
if st ~= 'agent' or (ARGV[2] ~= '' and holder ~= ARGV[2]) then return {0, st or '', holder} end
redis.call('HSET', KEYS[1], 'status', 'rating', 'closed_at', ARGV[3])
redis.call('SREM', 'xs:ho:agent:' .. holder .. ':held', ARGV[1])
return {1, redis.call('HGET', KEYS[1], 'claimed_at') or '', holder}
"""

# KEYS: conv, queue; ARGV: sender — only a queued or 留言 conversation can be left this way
LEAVE: Final = """
local st = redis.call('HGET', KEYS[1], 'status')
if st ~= 'queued' and st ~= 'message' then return st or '' end
redis.call('HSET', KEYS[1], 'status', '')
redis.call('HDEL', KEYS[1], 'pending_text')
redis.call('ZREM', KEYS[2], ARGV[1])
return 'left'
"""

# KEYS: conv; ARGV: expected status ('' = none), new status, ttl, then field/value pairs to set.
# Every other change of a conversation's status: only from the status the caller saw, so a
# rating, comment or 留言 step can never overwrite an agent's claim that happened meanwhile.
# Returns {1, new} or {0, the status found}.
MOVE: Final = """
local st = redis.call('HGET', KEYS[1], 'status') or ''
if st ~= ARGV[1] then return {0, st} end
redis.call('HSET', KEYS[1], 'status', ARGV[2], unpack(ARGV, 4))
redis.call('EXPIRE', KEYS[1], ARGV[3])
return {1, ARGV[2]}
"""
