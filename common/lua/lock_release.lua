-- lock_release.lua - release a lock taken with SET key token NX PX (redis_lock.h) only
-- while it is still the caller's: a holder whose lock expired, and which another process
-- took since, leaves the new holder's lock alone. KEYS[1] lock; ARGV[1] token.
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
