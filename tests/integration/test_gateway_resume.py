"""test_gateway_resume.py - resume after a long absence (SPEC §4.4): a reader that was on
gateway 1 misses thousands of messages, reconnects to gateway 0 with after_seq, and must
receive every missed message, then live ones, each exactly once and in seq order. And a
resume the room's recent frames (WS_ROOM_CACHE) cover is served from them, without a
query, while an older one still gets everything (from MongoDB, then from memory)."""
import asyncio

from ws_client import connect, create_room, is_room_message, register

MISSED = 2500


async def send_batch(client, room, prefix, n, batch=100):
    """Pipelines n messages in batches, resending (same client_msg_id) those refused with a
    retryable error, as a client must; returns the acks' seqs in send order."""
    seqs = []
    for start in range(0, n, batch):
        pending = [f"{prefix}-{i}" for i in range(start, min(n, start + batch))]
        acked = {}
        for _attempt in range(20):
            for cid in pending:
                await client.send({"type": "message", "room_id": room, "content": cid,
                                   "client_msg_id": cid})
            replies = await client.collect(lambda f: f.get("type") in ("ack", "error"),
                                           len(pending), 90)
            for f in replies:
                if f["type"] == "ack":
                    acked[f["client_msg_id"]] = f["seq"]
                else:
                    assert f.get("retryable"), f
            pending = [c for c in pending if c not in acked]
            if not pending:
                break
            await asyncio.sleep(0.5)
        assert not pending, f"never acked: {pending[:5]}"
        seqs += [acked[f"{prefix}-{i}"] for i in range(start, min(n, start + batch))]
    return seqs


def test_resume_on_other_gateway_after_thousands_missed(stack):
    owner = register(stack.http_url)
    reader = register(stack.http_url)
    room = create_room(stack.http_url, owner["token"])

    async def run():
        sender = await connect(stack.gateway_ws_url(0), owner["token"])
        assert (await sender.subscribe(room))["type"] == "subscribed"
        r = await connect(stack.gateway_ws_url(1), reader["token"])
        joined = await r.join(room)
        last_seen = joined["last_seq"]
        await r.close()

        missed = await send_batch(sender, room, "missed", MISSED)
        assert len(set(missed)) == MISSED

        back = await connect(stack.gateway_ws_url(0), reader["token"], room_id=room,
                             after_seq=last_seen)
        live = asyncio.create_task(send_batch(sender, room, "live", 50, batch=10))
        live_seqs = await live
        final = live_seqs[-1]
        await back.recv_until(lambda f: is_room_message(f) and f["seq"] == final, 90)
        await back.drain(0.5)
        seqs = [f["seq"] for f in back.frames if is_room_message(f)]
        assert len(seqs) == final - last_seen, (len(seqs), final - last_seen)
        assert seqs == list(range(last_seen + 1, final + 1))
        contents = [f["content"] for f in back.frames if is_room_message(f) and
                    f["type"] == "text"]
        assert contents[:3] == ["missed-0", "missed-1", "missed-2"]
        assert contents[-1] == "live-49"
        await back.close()
        await sender.close()

    asyncio.run(run())


def test_recent_resume_is_served_from_memory(make_stack):
    s = make_stack(gateways=1, env={"WS_ROOM_CACHE": "16", "LOG_LEVEL": "debug"})
    owner = register(s.http_url)
    reader = register(s.http_url)
    room = create_room(s.http_url, owner["token"])
    marker = "replayed from the room's recent frames"

    async def run():
        sender = await connect(s.gateway_ws_url(0), owner["token"])
        assert (await sender.subscribe(room))["type"] == "subscribed"
        r = await connect(s.gateway_ws_url(0), reader["token"])
        assert (await r.join(room))["type"] == "subscribed"
        await r.close()
        seqs = await send_batch(sender, room, "m", 40, batch=20)
        assert marker not in s.log_text("gateway0")

        # within the last 16: from memory, every message once, in order, then live
        recent = await connect(s.gateway_ws_url(0), reader["token"], room_id=room,
                               after_seq=seqs[-10])
        got = await recent.collect(is_room_message, 9, 15)
        assert [f["seq"] for f in got] == seqs[-9:]
        assert s.log_has("gateway0", marker)
        live = await send_batch(sender, room, "live", 1)
        f = await recent.recv_until(is_room_message, 15)
        assert f["seq"] == live[0]
        await recent.drain(0.3)
        assert [x["seq"] for x in recent.frames if is_room_message(x)] == seqs[-9:] + live

        # older than the cache: MongoDB pages first, still exactly once and in order
        old = await connect(s.gateway_ws_url(0), reader["token"], room_id=room,
                            after_seq=seqs[2])
        want = seqs[3:] + live
        got = await old.collect(is_room_message, len(want), 20)
        assert [x["seq"] for x in got] == want
        await old.drain(0.3)
        assert [x["seq"] for x in old.frames if is_room_message(x)] == want
        for c in (sender, recent, old):
            await c.close()

    asyncio.run(run())
