-- set_rebuild.lua - store a whole rebuildable set read from the database (cached_set.h).
-- KEYS[1] zset, KEYS[2] its meta hash; ARGV[1] run id, ARGV[2] the version read before
-- the database was ('' = none), ARGV[3..] score, member pairs: the whole set as read.
-- Reply: 1 stored, 2 already built, 0 refused (changed meanwhile: read again).
-- Each build gets its own 'built' stamp (the server's clock in microseconds), so the
-- set's epoch (run, built, ver) moves with every rebuild, even after a flush that also
-- took the version counter (member_cache.h, chat_member_epochs).
local m = redis.call('HMGET', KEYS[2], 'run', 'ver')
if m[1] == ARGV[1] then return 2 end
if (m[2] or '') ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[1])
for i = 3, #ARGV, 1000 do
  local last = i + 999
  if last > #ARGV then last = #ARGV end
  redis.call('ZADD', KEYS[1], unpack(ARGV, i, last))
end
local t = redis.call('TIME')
-- n: how many members it holds, so that readers can tell an empty set from an evicted one
redis.call('HSET', KEYS[2], 'run', ARGV[1], 'built', t[1] .. string.format('%06d', t[2]),
           'n', redis.call('ZCARD', KEYS[1]))
return 1
