-- lock_extend.lua - push back the expiry of a lock taken with SET key token NX PX
-- (redis_lock.h) only while it is still the caller's: a long job (a warm-up reading the
-- collection in passes) keeps its lock short, so a holder that dies frees it soon.
-- KEYS[1] lock; ARGV[1] token; ARGV[2] the new ttl in ms. 1 extended, 0 not the caller's.
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
