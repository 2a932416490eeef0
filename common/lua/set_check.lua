-- set_check.lua - membership test in a rebuildable sorted set (cached_set.h).
-- KEYS[1] zset, KEYS[2] its meta hash; ARGV[1] run id, ARGV[2] member.
-- Reply: -1 = the set is not built (read the database), 0 = absent, 1 = present.
-- A built set whose meta counts members but whose zset is gone (evicted) is not built.
local m = redis.call('HMGET', KEYS[2], 'run', 'n')
if m[1] ~= ARGV[1] then return -1 end
if m[2] and m[2] ~= '0' and redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HDEL', KEYS[2], 'run')
  return -1
end
if redis.call('ZSCORE', KEYS[1], ARGV[2]) then return 1 end
return 0
