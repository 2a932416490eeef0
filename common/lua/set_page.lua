-- set_page.lua - a page of a rebuildable set with its size (cached_set.h).
-- KEYS[1] zset, KEYS[2] its meta hash; ARGV[1] run id, ARGV[2] offset, ARGV[3] limit,
-- ARGV[4] '1' for highest score first. Reply {state, total, member, score, ...}:
-- state -1 = not built (also a set whose meta counts members but whose zset is gone).
local m = redis.call('HMGET', KEYS[2], 'run', 'n')
if m[1] ~= ARGV[1] then return {-1, 0} end
local total = redis.call('ZCARD', KEYS[1])
if total == 0 and m[2] and m[2] ~= '0' then
  redis.call('HDEL', KEYS[2], 'run')
  return {-1, 0}
end
local first, last = tonumber(ARGV[2]), tonumber(ARGV[2]) + tonumber(ARGV[3]) - 1
local items
if ARGV[4] == '1' then items = redis.call('ZREVRANGE', KEYS[1], first, last, 'WITHSCORES')
else items = redis.call('ZRANGE', KEYS[1], first, last, 'WITHSCORES') end
local r = {1, total}
for i = 1, #items do r[2 + i] = items[i] end
return r
