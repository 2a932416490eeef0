-- set_check.lua - membership test in a rebuildable sorted set (cached_set.h).
-- KEYS[1] zset, KEYS[2] its meta hash; ARGV[1] run id, ARGV[2] member.
-- Reply: -1 = the set is not built (read the database), 0 = absent, 1 = present.
if redis.call('HGET', KEYS[2], 'run') ~= ARGV[1] then return -1 end
if redis.call('ZSCORE', KEYS[1], ARGV[2]) then return 1 end
return 0
