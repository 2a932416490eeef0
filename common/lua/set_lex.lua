-- set_lex.lua - members of a rebuildable set (cached_set.h) in a lexical range.
-- KEYS[1] zset (all scores 0), KEYS[2] its meta hash; ARGV[1] run id, ARGV[2] min,
-- ARGV[3] max (ZRANGEBYLEX syntax), ARGV[4] limit. Reply {1, member...} or {-1} (not
-- built, also when the meta counts members but the zset is gone).
local m = redis.call('HMGET', KEYS[2], 'run', 'n')
if m[1] ~= ARGV[1] then return {-1} end
if m[2] and m[2] ~= '0' and redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HDEL', KEYS[2], 'run')
  return {-1}
end
local r = {1}
local items = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[2], ARGV[3], 'LIMIT', 0, tonumber(ARGV[4]))
for i = 1, #items do r[1 + i] = items[i] end
return r
