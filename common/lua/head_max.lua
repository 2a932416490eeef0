-- head_max.lua - raise a room's recorded head (the head field of its window meta, a lower
-- bound of its highest stored seq that writers read to pick their next seq) right after
-- an insert, without ever lowering it, and tell the writer whether some writer holds the
-- room's turn (append_turns.h: the room is contended, wait for turns before inserting).
-- KEYS[1] meta hash; KEYS[2] the room's turn key (same hash tag); ARGV[1] seq.
-- Returns 2 when the turn is held, else 1.
local s = tonumber(ARGV[1])
local h = tonumber(redis.call('HGET', KEYS[1], 'head') or '0')
if s > h then redis.call('HSET', KEYS[1], 'head', s) end
if KEYS[2] and redis.call('EXISTS', KEYS[2]) == 1 then return 2 end
return 1
