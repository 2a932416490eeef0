-- win_idem.lua - a resend found through the room's window (msg_window.h): the stored
-- message whose user and client_msg_id are ARGV[2] and ARGV[3], while it is among the
-- window's messages. KEYS[1] window zset, KEYS[2] resend index hash; ARGV[1] the index
-- key "<user>:<client_msg_id>". Reply: the message JSON, or nil.
local s = redis.call('HGET', KEYS[2], ARGV[1])
if not s then return nil end
local items = redis.call('ZRANGEBYSCORE', KEYS[1], s, s)
if #items ~= 1 then return nil end
local ok, msg = pcall(cjson.decode, items[1])
if not ok or type(msg) ~= 'table' or msg.user_id ~= ARGV[2] or msg.client_msg_id ~= ARGV[3] then
  return nil
end
return items[1]
