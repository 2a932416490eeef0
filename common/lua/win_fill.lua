-- win_fill.lua - build a room's window from what the database holds (msg_window.h).
-- KEYS[1] window zset, KEYS[2] window meta hash, KEYS[3] resend index hash
-- ARGV[1] run id, ARGV[2] window size, ARGV[3] top (highest stored seq when read, 0 = empty)
-- ARGV[4..] seq, json, idem triples read from the database (ascending, contiguous,
-- ending at top)
local run, size, top = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local m = redis.call('HMGET', KEYS[2], 'run', 'lo', 'hi', 'head')
if m[1] == run then return {1, tonumber(m[2]), tonumber(m[3])} end
if m[1] then
  redis.call('DEL', KEYS[1], KEYS[3])
  redis.call('HDEL', KEYS[2], 'run', 'lo', 'hi')
end
for i = 4, #ARGV, 3 do
  local s = tonumber(ARGV[i])
  redis.call('ZREMRANGEBYSCORE', KEYS[1], s, s)
  redis.call('ZADD', KEYS[1], s, ARGV[i + 1])
  if ARGV[i + 2] ~= '' then redis.call('HSET', KEYS[3], ARGV[i + 2], s) end
end
local hi = top
while redis.call('ZCOUNT', KEYS[1], hi + 1, hi + 1) > 0 do hi = hi + 1 end
local above = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. hi, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
if #above > 0 then return {0, hi, tonumber(above[2])} end
-- the lower edge: the contiguous run of seqs held that ends at hi (this call's messages,
-- an earlier round of the same rebuild's, writers' appends), at most size long. Not the
-- first seq of this call: a second round passes only the few messages that were
-- missing, and the window would shrink to them.
local lo = hi + 1
while lo > 1 and hi - lo + 1 < size and redis.call('ZCOUNT', KEYS[1], lo - 1, lo - 1) > 0 do
  lo = lo - 1
end
local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. lo)
for i = 1, #gone do
  local ok, msg = pcall(cjson.decode, gone[i])
  if ok and type(msg) == 'table' and msg.client_msg_id and msg.user_id then
    redis.call('HDEL', KEYS[3], msg.user_id .. ':' .. msg.client_msg_id)
  end
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. lo)
local head = tonumber(m[4] or '0')
if hi > head then head = hi end
redis.call('HSET', KEYS[2], 'run', run, 'lo', lo, 'hi', hi, 'head', head)
return {1, lo, hi}
