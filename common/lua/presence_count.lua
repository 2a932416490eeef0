-- presence_count.lua - how many gateways still hold each user online, for a member list
-- in one round trip (rest-fcgi/member_lookup.c). KEYS: chat:presence:<user_id> sorted
-- sets (gateway id scored by expiry, ms); ARGV[1] the lower bound, "(<now ms>" (an entry
-- expiring now is gone). Returns one ZCOUNT per key, in order.
local r = {}
for i, k in ipairs(KEYS) do r[i] = redis.call('ZCOUNT', k, ARGV[1], '+inf') end
return r
