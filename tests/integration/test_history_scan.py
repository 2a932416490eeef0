"""test_history_scan.py - REST history of a room whose window must be rebuilt from a
large `messages` collection (issue 9): on FerretDB that read is a scan that outlasts
MONGO_TIMEOUT_MS at a million messages, so REST's history pool gives reads of `messages`
their own socket timeout (HISTORY_SCAN_TIMEOUT_MS). Here the collection is made large
enough, and MONGO_TIMEOUT_MS small enough, that the scan outlasts MONGO_TIMEOUT_MS on
this machine; before the change every such request answered 503. Runs in the pytest
process against a real stack (FerretDB/SQLite, Redis, lighttpd)."""
import datetime as dt
import time

import pytest
import redis

from rest_client import Client

pymongo = pytest.importorskip("pymongo")
from bson import ObjectId, Int64  # noqa: E402  (pymongo's bson)

FILLER = 20000  # messages of another room: the scan decodes them all on FerretDB


def _seed(s, room_id, user, n_room):
    """n_room messages in room_id (seqs after its head) and FILLER in another room,
    shaped like bench/seed.py's (the project's real schema)."""
    db = pymongo.MongoClient(s.mongo_uri)[s.mongo_db]
    rid = ObjectId(room_id)
    head = db.room_heads.find_one({"_id": rid})
    start = int(head["seq"]) if head else 0
    other = ObjectId()
    now = dt.datetime.now(dt.timezone.utc)
    docs = []
    for i in range(FILLER):
        oid = ObjectId()
        docs.append({"_id": oid, "room_id": other, "seq": Int64(i + 1),
                     "user_id": ObjectId(user["id"]), "username": user["username"],
                     "content": f"filler {i} " + "x" * 80, "type": "text",
                     "created_at": now, "idem_key": str(oid)})
    for i in range(n_room):
        oid = ObjectId()
        docs.append({"_id": oid, "room_id": rid, "seq": Int64(start + i + 1),
                     "user_id": ObjectId(user["id"]), "username": user["username"],
                     "content": f"seeded {i}", "type": "text",
                     "created_at": now, "idem_key": str(oid)})
    for k in range(0, len(docs), 1000):
        db.messages.insert_many(docs[k:k + 1000], ordered=False)
    db.room_heads.update_one({"_id": rid}, {"$max": {"seq": Int64(start + n_room)}}, upsert=True)
    return start + n_room


def test_a_window_rebuild_may_outlast_mongo_timeout(make_stack):
    s = make_stack(gateways=0, env={"MONGO_TIMEOUT_MS": "400"})
    c = Client(s)
    owner = c.new_user()
    room = c.new_room(owner)["id"]
    head = _seed(s, room, owner, 600)
    db = pymongo.MongoClient(s.mongo_uri)[s.mongo_db]
    t0 = time.monotonic()
    list(db.messages.find({"room_id": ObjectId(room)}).sort("seq", -1).limit(500))
    scan_s = time.monotonic() - t0
    redis.Redis.from_url(s.redis_url).flushall()
    t0 = time.monotonic()
    r = c.get(f"/api/rooms/{room}/messages?limit=50", owner["token"])
    took = time.monotonic() - t0
    print(f"scan {scan_s:.3f} s, first history {took:.3f} s, status {r.status_code}")
    # the premise: here the read outlasts MONGO_TIMEOUT_MS (else grow FILLER)
    assert scan_s > 0.4, scan_s
    assert r.status_code == 200, r.text
    page = r.json()
    assert page["total"] == head
    assert [m["seq"] for m in page["messages"]] == list(range(head - 49, head + 1))
    # a page older than the window (HISTORY_WINDOW 500) is read from MongoDB: a scan too
    r = c.get(f"/api/rooms/{room}/messages?before_seq=21&limit=20", owner["token"])
    assert r.status_code == 200, r.text
    assert [m["seq"] for m in r.json()["messages"]] == list(range(1, 21))
