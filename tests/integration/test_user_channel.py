"""test_user_channel.py - each user's live channel on real processes (issue 13, point 1):
a first DM, being added to a private room, joining a room on another device and being
removed reach every socket of that user on every gateway within a second, without the
socket watching the room and without a reload; nobody else hears of it. Runs in the
pytest process."""
import asyncio
import time

from rest_client import Client
from ws_client import connect


def _event(kind, room_id):
    def pred(f):
        if f.get("type") != kind:
            return False
        if kind == "member_removed":
            return f.get("room_id") == room_id
        return f.get("room", {}).get("id") == room_id
    return pred


def test_room_events_reach_every_socket_of_the_user(stack):
    c = Client(stack)
    alice, bob, carol = c.new_user(), c.new_user(), c.new_user()

    async def run():
        bobs = [await connect(stack.gateway_ws_url(0), bob["token"], name="bob@gw0"),
                await connect(stack.gateway_ws_url(1), bob["token"], name="bob@gw1"),
                await connect(stack.ws_url, bob["token"], name="bob@lighttpd")]
        carol_ws = await connect(stack.gateway_ws_url(1), carol["token"], name="carol")
        await asyncio.sleep(0.3)  # the gateways SUBSCRIBE the users' channels

        async def all_bobs_get(pred):
            t0 = time.monotonic()
            frames = [await ws.recv_until(pred, 5) for ws in bobs]
            return frames, time.monotonic() - t0

        # a first DM
        r = c.post("/api/dms", {"user_id": bob["id"]}, alice["token"])
        assert r.status_code == 200, r.text
        dm = r.json()
        frames, took = await all_bobs_get(_event("dm_created", dm["id"]))
        assert took < 1.0, took
        assert frames[0]["room"]["is_dm"] is True
        assert sorted(frames[0]["room"]["members"]) == sorted([alice["id"], bob["id"]])

        # added to a private room, then removed from it
        room = c.new_room(alice, private=True)
        r = c.post(f"/api/rooms/{room['id']}/members", {"user_id": bob["id"]}, alice["token"])
        assert r.status_code in (200, 201), r.text
        frames, took = await all_bobs_get(_event("room_added", room["id"]))
        assert took < 1.0, took
        assert frames[0]["room"]["name"] == room["name"]
        assert bob["id"] in frames[0]["room"]["members"]
        r = c.delete(f"/api/rooms/{room['id']}/members/{bob['id']}", alice["token"])
        assert r.status_code in (200, 204), r.text
        frames, took = await all_bobs_get(_event("member_removed", room["id"]))
        assert took < 1.0, took
        assert frames[0]["user_id"] == bob["id"]

        # joined on one device: the others hear of it
        public = c.new_room(alice)
        c.join(bob, public["id"])
        await all_bobs_get(_event("room_added", public["id"]))

        # nobody else is told
        others = [f for f in await carol_ws.drain(0.5)
                  if f.get("type") in ("room_added", "dm_created", "member_removed")]
        assert others == []

        # a gateway that lost all of the user's sockets and gets one back hears again
        await bobs[1].close()
        await asyncio.sleep(0.3)
        bobs[1] = await connect(stack.gateway_ws_url(1), bob["token"], name="bob@gw1 again")
        await asyncio.sleep(0.3)
        room2 = c.new_room(alice, private=True)
        r = c.post(f"/api/rooms/{room2['id']}/members", {"user_id": bob["id"]}, alice["token"])
        assert r.status_code in (200, 201), r.text
        await all_bobs_get(_event("room_added", room2["id"]))
        for ws in bobs + [carol_ws]:
            await ws.close()

    asyncio.run(run())
