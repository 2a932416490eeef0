-- win_append.lua - add stored messages to a room's history window (msg_window.h) and
-- PUBLISH them.
-- KEYS[1] window zset, KEYS[2] window meta hash, KEYS[3] resend index hash
-- ARGV[1] redis run id, ARGV[2] window size, ARGV[3] channel ('' = do not publish; a
-- leading '!' = SPUBLISH, the sharded pub/sub of a Redis Cluster, REDIS_CLUSTER=1),
-- ARGV[4..] seq, json, idem triples (ascending seq; idem "<user>:<client_msg_id>" or '')
local run, size = ARGV[1], tonumber(ARGV[2])
local pub, channel = 'PUBLISH', ARGV[3]
if string.sub(channel, 1, 1) == '!' then pub, channel = 'SPUBLISH', string.sub(channel, 2) end
local m = redis.call('HMGET', KEYS[2], 'run', 'lo', 'hi', 'head')
if m[1] and m[1] ~= run then
  redis.call('DEL', KEYS[1], KEYS[3])
  redis.call('HDEL', KEYS[2], 'run', 'lo', 'hi')
  m[1] = false
end
-- drops the resend index entries of window entries about to go
local function forget(items)
  for i = 1, #items do
    local ok, msg = pcall(cjson.decode, items[i])
    if ok and type(msg) == 'table' and msg.client_msg_id and msg.user_id then
      redis.call('HDEL', KEYS[3], msg.user_id .. ':' .. msg.client_msg_id)
    end
  end
end
local head = tonumber(m[4] or '0')
for i = 4, #ARGV, 3 do
  local s = tonumber(ARGV[i])
  redis.call('ZREMRANGEBYSCORE', KEYS[1], s, s)
  redis.call('ZADD', KEYS[1], s, ARGV[i + 1])
  if ARGV[i + 2] ~= '' then redis.call('HSET', KEYS[3], ARGV[i + 2], s) end
  if s > head then head = s end
  if channel ~= '' then redis.call(pub, channel, ARGV[i + 1]) end
end
if not m[1] then
  local n = redis.call('ZCARD', KEYS[1])
  if n > size then
    forget(redis.call('ZRANGE', KEYS[1], 0, n - size - 1))
    redis.call('ZREMRANGEBYRANK', KEYS[1], 0, n - size - 1)
  end
  redis.call('HSET', KEYS[2], 'head', head)
  return {0, -1, head}
end
local lo, hi = tonumber(m[2]), tonumber(m[3])
while redis.call('ZCOUNT', KEYS[1], hi + 1, hi + 1) > 0 do hi = hi + 1 end
if hi - lo + 1 > size then
  lo = hi - size + 1
  forget(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. lo))
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. lo)
end
redis.call('HSET', KEYS[2], 'lo', lo, 'hi', hi, 'head', head)
return {1, hi, head}
