"""test_gateway_write_behind.py - the gateway's leave collector (common/src/write_behind.c,
started by ws-gateway/store_worker.c) against a real stack: a leave over the WebSocket
has its membership deleted behind the answer, and, as behind REST's requests, that delete
(on FerretDB a scan of room_members) waits for a moment when the gateway's writers and
readers run nothing (CHAT_WRITE_BEHIND_QUIET_MS, 250 ms; at most 10 s). Runs in the
pytest process (asyncio for the sockets, pymongo to look at room_members)."""
import asyncio
import time

from bson import ObjectId
from pymongo import MongoClient

from rest_client import Client
from ws_client import connect

LEAVES_WAIT_S = 1.0  # CHAT_WRITE_BEHIND_LEAVES_WAIT_MS: a leave is deleted no sooner
BUSY_S = 3.5         # the sender keeps the gateway's writer busy this long after the leave


def test_a_ws_leaves_delete_waits_for_a_quiet_gateway(make_stack):
    """A member leaves over the WebSocket while another keeps sending (a message 50 ms
    after each ack: the writer never rests 250 ms). The membership must still be in
    room_members 2.5 s after the leave (before, it was deleted ~1 s after it, beside
    the stores), and gone soon after the sending stops."""
    s = make_stack(gateways=1)
    c = Client(s)
    owner, leaver = c.new_user(), c.new_user()
    room = c.new_room(owner)["id"]
    c.join(leaver, room)
    members = MongoClient(s.mongo_uri)[s.mongo_db].room_members
    mine = {"room_id": ObjectId(room), "user_id": ObjectId(leaver["id"])}
    assert members.count_documents(mine) == 1

    async def run():
        sender = await connect(s.gateway_ws_url(0), owner["token"], name="owner")
        assert (await sender.subscribe(room))["type"] == "subscribed"
        ws = await connect(s.gateway_ws_url(0), leaver["token"], name="leaver")
        await ws.send({"type": "leave", "room_id": room})
        f = await ws.recv_until(lambda f: f.get("room_id") == room
                                and f.get("type") in ("left", "error"), 10)
        assert f["type"] == "left", f
        left_at = time.monotonic()
        looked = None
        i = 0
        while time.monotonic() < left_at + BUSY_S:
            assert (await sender.send_message(room, f"busy {i}"))["type"] == "ack"
            i += 1
            if looked is None and time.monotonic() >= left_at + LEAVES_WAIT_S + 1.5:
                looked = members.count_documents(mine)
            await asyncio.sleep(0.05)
        await ws.close()
        await sender.close()
        return looked, time.monotonic()

    looked, stopped_at = asyncio.run(run())
    assert looked == 1, "deleted while the gateway's writer was busy"
    while members.count_documents(mine) and time.monotonic() < stopped_at + 10:
        time.sleep(0.1)
    assert members.count_documents(mine) == 0, "the leave was never finished"
    # the room's other membership is untouched
    assert members.count_documents({"room_id": ObjectId(room)}) == 1
