-- user_doc.lua - a user's document in the read model (user_docs.h): KEYS[1] the
-- document (a hash, or the string "gone" for a deleted user), KEYS[2] its version.
-- ARGV[1] is the operation:
--   'put'  ARGV[2] the version read before the database read ('' = none), ARGV[3..]
--          field/value pairs: replaces the document only if no change came since
--          (returns 1), else leaves it (0)
--   'fill' ARGV[2] the Redis run id, ARGV[3..] pairs: stores a document read by a scan
--          only where there is none of this run and no change is remembered (a change
--          during the scan wins; returns 1 or 0)
--   'set'  ARGV[2..] pairs: replaces the document (a registration)
--   'drop' the database document changed: the cached one goes
--   'seen' ARGV[2] last_seen ms, written into a cached document
--   'gone' ARGV[2] seconds to remember that the user was deleted
--   'nobody' ARGV[2] seconds to remember that a lookup found no such user (no change:
--          the version is left alone, so unknown ids leave no version keys behind)
-- Every change bumps the version (an hour-long key: longer than any read it guards).
-- Each document carries the run id of the Redis that stored it ('run'): one that a
-- restart or a failover carried over may miss a change, and readers ignore it.
-- A missing version starts from the server's time in microseconds, as set_change.lua
-- does: after a flush the counter never returns to a value read before it.
local op = ARGV[1]
local function pairs_from(i)
  local out = {}
  for k = i, #ARGV do out[#out + 1] = ARGV[k] end
  return out
end
local function bump()
  if not redis.call('GET', KEYS[2]) then
    local t = redis.call('TIME')
    redis.call('SET', KEYS[2], t[1] .. string.format('%06d', t[2]))
  end
  redis.call('INCR', KEYS[2])
  redis.call('EXPIRE', KEYS[2], 3600)
end
if op == 'put' then
  if (redis.call('GET', KEYS[2]) or '') ~= ARGV[2] then return 0 end
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], unpack(pairs_from(3)))
  return 1
elseif op == 'fill' then
  local kind = redis.call('TYPE', KEYS[1])['ok']
  if kind == 'string' or redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
  if kind == 'hash' and redis.call('HGET', KEYS[1], 'run') == ARGV[2] then return 0 end
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], unpack(pairs_from(3)))
  return 1
elseif op == 'set' then
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], unpack(pairs_from(2)))
  return 1
elseif op == 'drop' then
  bump()
  redis.call('DEL', KEYS[1])
  return 1
elseif op == 'seen' then
  bump()
  if redis.call('TYPE', KEYS[1])['ok'] == 'hash' then
    redis.call('HSET', KEYS[1], 'last_seen', ARGV[2])
  end
  return 1
elseif op == 'gone' or op == 'nobody' then
  if op == 'gone' then bump() end
  redis.call('SET', KEYS[1], 'gone', 'EX', ARGV[2])
  return 1
end
return redis.error_reply('user_doc: unknown operation')
