"""The two Lua scripts that bracket one message in Redis (the trip in and the trip out), and /forget's.

Registered with redis-py's `register_script`: sent as EVALSHA, and after a NOSCRIPT (a restarted or
flushed server) loaded again and retried by the client.
"""

from __future__ import annotations

# Every key of a script is in the conversation's Redis Cluster slot (bot/store/redis_keys.py's `same_slot`).
# What spans conversations — the user's rate count, the list of the user's conversations, the handoff pointer —
# is read and written beside the scripts (bot/store/memory.py), while the conversation is held.

# KEYS: 1 lock, 2 memory, 3 dedupe (absent: none)
# ARGV: 1 lock token, 2 lock timeout ms, 3 dedupe ttl s
# Returns {'duplicate'} | {'busy'} | {'admitted', memory list}.
ADMIT = """
-- A redelivered event is dropped before it can wait for the lock (only the first try sends a dedupe key:
-- a retry after 'busy' must not find its own mark and call itself a duplicate).
if #KEYS > 2 and not redis.call('SET', KEYS[3], 1, 'NX', 'EX', ARGV[3]) then
  return {'duplicate'}
end
-- One message of a conversation at a time, across processes; the timeout frees a crashed process's lock.
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {'busy'}
end
-- The memory, read under the lock, so no other message of the conversation changes it until release.
return {'admitted', redis.call('LRANGE', KEYS[2], 0, -1)}
"""

# KEYS: 1 lock, 2 memory
# ARGV: 1 lock token, 2 turns kept (negative: from the end), 3 memory ttl s, 4.. turns (JSON)
# Returns 1 if the lock was still ours and is released, 0 if it had expired (and maybe been taken since).
RELEASE = """
-- The message's turns are written before the next message of the conversation can read them.
if #ARGV > 3 then
  redis.call('RPUSH', KEYS[2], unpack(ARGV, 4))
  redis.call('LTRIM', KEYS[2], ARGV[2], -1)
  redis.call('EXPIRE', KEYS[2], ARGV[3])
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

# KEYS: 1 lock; ARGV: 1 lock token, 2 lock timeout ms. Returns 1 if still the holder's (and renewed), else 0.
RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

# The journal's intake (bot/store/journal.py).
# KEYS: 1 seen mark, 2 the conversation's pending set
# ARGV: 1 seen ttl s, 2 pending ttl s, 3 the taking process, 4 the event's order, 5 the event
# Returns 1 if taken; for an event seen before, -1 if this process took it, else 0.
TAKE = """
local seen = redis.call('GET', KEYS[1])
if seen then
  if seen == ARGV[3] then
    return -1
  end
  return 0
end
-- The mark names its taker: an adopter answers only what the dead process itself had taken.
redis.call('SET', KEYS[1], ARGV[3], 'EX', ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[5])
redis.call('EXPIRE', KEYS[2], ARGV[2])
return 1
"""
