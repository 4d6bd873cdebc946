"""The two Lua scripts that bracket one message in Redis (one trip in, one trip out), and /forget's.

Registered with redis-py's `register_script`: sent as EVALSHA, and after a NOSCRIPT (a restarted or
flushed server) loaded again and retried by the client. A key name given as '' means "skip this step".
"""

from __future__ import annotations

# KEYS: 1 lock, 2 memory, 3 dedupe ('' = none), 4 rate ('' = not counted), 5 peek ('' = none)
# ARGV: 1 lock token, 2 lock timeout ms, 3 dedupe ttl s, 4 rate window ttl s
# Returns {'duplicate'} | {'busy'} | {'admitted', rate count, peeked value or nil, memory list}.
ADMIT = """
-- A redelivered event is dropped before it can wait for the lock (only the first try sends a dedupe key:
-- a retry after 'busy' must not find its own mark and call itself a duplicate).
if KEYS[3] ~= '' and not redis.call('SET', KEYS[3], 1, 'NX', 'EX', ARGV[3]) then
  return {'duplicate'}
end
-- One message of a conversation at a time, across processes; the timeout frees a crashed process's lock.
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {'busy'}
end
-- Counted only once admitted, so waiting for the lock never counts a message twice.
local count = 0
if KEYS[4] ~= '' then
  count = redis.call('INCR', KEYS[4])
  redis.call('EXPIRE', KEYS[4], ARGV[4])
end
-- One more key the caller wants under the same lock (the engine: the conversation's handoff pointer).
local peeked = false
if KEYS[5] ~= '' then
  peeked = redis.call('GET', KEYS[5])
end
-- The memory, read under the lock, so no other message of the conversation changes it until release.
return {'admitted', count, peeked, redis.call('LRANGE', KEYS[2], 0, -1)}
"""

# KEYS: 1 lock, 2 memory, 3 the user's conversations (for /forget)
# ARGV: 1 lock token, 2 turns kept (negative: from the end), 3 memory ttl s, 4 conversation id, 5.. turns (JSON)
# Returns 1 if the lock was still ours and is released, 0 if it had expired (and maybe been taken since).
RELEASE = """
-- The message's turns are written before the next message of the conversation can read them.
if #ARGV > 4 then
  redis.call('RPUSH', KEYS[2], unpack(ARGV, 5))
  redis.call('LTRIM', KEYS[2], ARGV[2], -1)
  redis.call('EXPIRE', KEYS[2], ARGV[3])
  redis.call('SADD', KEYS[3], ARGV[4])
  redis.call('EXPIRE', KEYS[3], ARGV[3])
end
-- Only the holder's token deletes the lock: after a timeout it may belong to another process.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
"""

# KEYS: 1 memory
# ARGV: 1 user id
# Returns how many turns were removed.
FORGET = """
-- One script, so a message of another group member appending meanwhile is neither lost nor half-seen.
-- Each turn names its user (the bot's: the user it answered). A turn stored before turns named one
-- cannot be told apart: it goes too, as the whole memory did before.
local removed = 0
for _, raw in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  local ok, turn = pcall(cjson.decode, raw)
  local user = ok and type(turn) == 'table' and turn['user'] or ''
  if type(user) ~= 'string' or user == '' or user == ARGV[1] then
    -- Equal JSON is the same user's: every copy goes (a repeated one counts 0 the second time).
    removed = removed + redis.call('LREM', KEYS[1], 0, raw)
  end
end
return removed
"""
