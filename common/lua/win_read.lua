-- win_read.lua - answer a history range from a ready window (msg_window.h).
-- KEYS[1] window zset, KEYS[2] window meta hash
-- ARGV[1] run id, ARGV[2] mode ('latest' | 'before' | 'after'), ARGV[3] offset / cursor,
-- ARGV[4] limit. Reply {state, lo, hi, from, to, json...}: state 1 = the range [from, to]
-- is answered (json of every seq in it, ascending), 2 = the window is ready but does not
-- hold the range (read it elsewhere; hi is the room's head), 0 = no window.
local m = redis.call('HMGET', KEYS[2], 'run', 'lo', 'hi')
if m[1] ~= ARGV[1] then return {0, 0, 0, 0, 0} end
local lo, hi = tonumber(m[2]), tonumber(m[3])
local mode, arg, limit = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local from, to
if mode == 'latest' then
  to = hi - arg
  from = to - limit + 1
elseif mode == 'before' then
  to = arg - 1
  if to > hi then to = hi end
  from = to - limit + 1
else
  from = arg + 1
  to = arg + limit
  if to > hi then to = hi end
end
if from < 1 then from = 1 end
if to < from then return {1, lo, hi, from, to} end
if from < lo then return {2, lo, hi, from, to} end
local r = {1, lo, hi, from, to}
local items = redis.call('ZRANGEBYSCORE', KEYS[1], from, to)
if #items ~= to - from + 1 then return {0, lo, hi, from, to} end
for i = 1, #items do r[5 + i] = items[i] end
return r
