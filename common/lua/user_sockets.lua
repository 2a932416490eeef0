-- user_sockets.lua - a user's open sockets across every gateway (MAX_SOCKETS_PER_USER).
-- KEYS[1] chat:{<user>}:sockets, a hash: gateway id -> "<count> <expiry ms>".
-- ARGV[1] gateway id, ARGV[2] 'open' | 'close' | 'set', ARGV[3] now (ms),
-- ARGV[4] ttl (ms), ARGV[5] max sockets ('open'; 0 = no limit) or the count ('set').
-- An entry not refreshed within ttl (its gateway died) no longer counts and is dropped.
-- Reply: {1 admitted | 0 refused, sockets counted afterwards}.
local now, ttl = tonumber(ARGV[3]), tonumber(ARGV[4])
local all = redis.call('HGETALL', KEYS[1])
local others, mine = 0, 0
for i = 1, #all, 2 do
  local count, expiry = string.match(all[i + 1], '^(%d+) (%d+)$')
  if count == nil or tonumber(expiry) <= now then
    redis.call('HDEL', KEYS[1], all[i])
  elseif all[i] == ARGV[1] then
    mine = tonumber(count)
  else
    others = others + tonumber(count)
  end
end
local admitted = 1
if ARGV[2] == 'open' then
  local max = tonumber(ARGV[5])
  if max > 0 and others + mine + 1 > max then
    admitted = 0
  else
    mine = mine + 1
  end
elseif ARGV[2] == 'close' then
  if mine > 0 then mine = mine - 1 end
else
  mine = tonumber(ARGV[5])
end
if mine > 0 then
  redis.call('HSET', KEYS[1], ARGV[1], mine .. ' ' .. (now + ttl))
else
  redis.call('HDEL', KEYS[1], ARGV[1])
end
redis.call('PEXPIRE', KEYS[1], 2 * ttl)
return {admitted, others + mine}
