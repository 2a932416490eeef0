-- set_change.lua - add or remove one member of a rebuildable set (cached_set.h).
-- KEYS[1] zset, KEYS[2] its meta hash; ARGV[1] run id, ARGV[2] 'add' | 'rem',
-- ARGV[3] score, ARGV[4] member. Bumps the version (a rebuild that read the database
-- before this change will not be stored), then applies the change to a built set.
-- A missing version starts from the server's time in microseconds, like the one
-- cached_set.c gives a set before a rebuild: after a flush or a restart the counter
-- never returns to a value read before it (no ABA for SET_REBUILD).
if not redis.call('HGET', KEYS[2], 'ver') then
  local t = redis.call('TIME')
  redis.call('HSET', KEYS[2], 'ver', t[1] .. string.format('%06d', t[2]))
end
local ver = redis.call('HINCRBY', KEYS[2], 'ver', 1)
local run = redis.call('HGET', KEYS[2], 'run')
if run == ARGV[1] then
  local n = redis.call('HGET', KEYS[2], 'n')
  if n and n ~= '0' and redis.call('EXISTS', KEYS[1]) == 0 then
    redis.call('HDEL', KEYS[2], 'run') -- evicted: rebuilt by the next reader
    return ver
  end
  if ARGV[2] == 'add' then redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
  else redis.call('ZREM', KEYS[1], ARGV[4]) end
  redis.call('HSET', KEYS[2], 'n', redis.call('ZCARD', KEYS[1]))
elseif run then
  redis.call('DEL', KEYS[1])
  redis.call('HDEL', KEYS[2], 'run')
end
return ver
