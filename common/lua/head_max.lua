-- head_max.lua - raise a room's recorded head (the head field of its window meta, a lower
-- bound of its highest stored seq that writers read to pick their next seq) right after
-- an insert, without ever lowering it. KEYS[1] meta hash; ARGV[1] seq.
local s = tonumber(ARGV[1])
local h = tonumber(redis.call('HGET', KEYS[1], 'head') or '0')
if s > h then redis.call('HSET', KEYS[1], 'head', s) end
return 1
