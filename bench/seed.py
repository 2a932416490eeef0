#!/usr/bin/env python3
"""seed.py - loads a benchmark data set into MongoDB/FerretDB in the project's real schema
(common/src/users_repo.c, rooms_repo.c, room_members_repo.c, message_append.c and the
indexes of db.c): USERS users, ROOMS public rooms of 10 to 5,000 members and MESSAGES
messages, with room_heads consistent with the messages (seqs 1..n per room, no hole), so
the servers accept it and build their Redis read model from it on first use. Nothing is
written to Redis: start the servers (or FLUSHALL) after seeding.

Layout (deterministic for a given --seed):
  room 0  "bench-big"    5,000 members, HOT messages (the history benchmark room)
  room 1  "bench-small"  10 members,    HOT messages
  room i  (2 <= i < ROOMS) max(10, 5000 // i) members; the rest of the messages spread
          evenly over these rooms. About 37,000 memberships in all.
Every user's password is PASSWORD; one bcrypt hash (cost --cost, default 12 like the
servers) is computed once and reused. Messages go in with unordered insert_many batches.

--scale 10k|100k|1m (or a number) sets MESSAGES. --grow adds messages to an existing data
set up to the new scale (rooms 2.. only; the two bench rooms keep their HOT messages), so
one data set can be measured at 10k, 100k and 1M stored messages. Writes a JSON summary
(ids, usernames, room sizes) to --out for bench/bench.py.

  python3 bench/seed.py --mongo-uri mongodb://127.0.0.1:27117/ --scale 100k --out seed.json
Single-threaded; needs pymongo. Runs outside the servers."""
import argparse
import datetime as dt
import json
import random
import sys
import time
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt  # bcrypt through libxcrypt, like the servers (removed in Python 3.13)

from bson import Int64, ObjectId
from pymongo import ASCENDING, DESCENDING, MongoClient

PASSWORD = "copper-kettle-91"
HOT = 1000
BATCH = 1000
SCALES = {"10k": 10_000, "100k": 100_000, "1m": 1_000_000}
# (collection, name, keys, unique): exactly db.c's db__indexes, so the servers'
# createIndexes at start are no-ops.
INDEXES = [
    ("users", "username_lc_1", [("username_lc", ASCENDING)], True),
    ("users", "email_lc_1", [("email_lc", ASCENDING)], True),
    ("messages", "room_id_1_seq_1", [("room_id", ASCENDING), ("seq", ASCENDING)], True),
    ("messages", "idem_key_1", [("idem_key", ASCENDING)], True),
    ("room_members", "room_id_1_user_id_1", [("room_id", ASCENDING), ("user_id", ASCENDING)], True),
    ("room_members", "user_id_1", [("user_id", ASCENDING)], False),
    ("member_leaves", "room_id_1_user_id_1", [("room_id", ASCENDING), ("user_id", ASCENDING)], True),
    ("rooms", "is_private_1_created_at_-1", [("is_private", ASCENDING), ("created_at", DESCENDING)], False),
]
WORDS = ("the quick brown fox jumps over a lazy dog while copper kettles sing on the "
         "stove and the chat server stores every word in order").split()


def parse_scale(s):
    s = s.lower()
    return SCALES.get(s) or int(s.replace("_", ""))


def room_size(i):
    return 5000 if i == 0 else 10 if i == 1 else max(10, 5000 // i)


def bcrypt_hash(cost):
    h = crypt.crypt(PASSWORD, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1 << cost))
    if not h or not h.startswith("$2b$"):
        sys.exit("seed.py: this Python's crypt module has no bcrypt ($2b$)")
    return h


def plan_counts(total, rooms):
    """Messages per room: HOT in rooms 0 and 1 (less when total is tiny), the rest even."""
    hot = min(HOT, total // 4)
    rest = total - 2 * hot
    per, extra = divmod(rest, rooms - 2)
    return [hot, hot] + [per + (1 if i < extra else 0) for i in range(rooms - 2)]


def insert_batches(coll, docs_iter, label, total):
    t0 = time.time()
    batch, done = [], 0
    for d in docs_iter:
        batch.append(d)
        if len(batch) >= BATCH:
            coll.insert_many(batch, ordered=False)
            done += len(batch)
            batch = []
            if done % 50_000 == 0:
                rate = done / max(time.time() - t0, 1e-6)
                print(f"  {label}: {done:,}/{total:,} ({rate:,.0f}/s)", flush=True)
    if batch:
        coll.insert_many(batch, ordered=False)
        done += len(batch)
    return done, time.time() - t0


def message_docs(rooms, members, plan, start_seqs, base_ms, rng):
    """Documents shaped like message_append.c's append__build (no client_msg_id:
    idem_key is the message's own id), round-robin over rooms so every batch spans many."""
    seqs = list(start_seqs)
    remaining = [plan[i] - start_seqs[i] for i in range(len(rooms))]
    active = [i for i in range(len(rooms)) if remaining[i] > 0]
    n = 0
    while active:
        nxt = []
        for i in active:
            seqs[i] += 1
            remaining[i] -= 1
            uid, uname = members[i][seqs[i] % len(members[i])]
            oid = ObjectId()
            words = " ".join(rng.choice(WORDS) for _ in range(8))
            n += 1
            yield {"_id": oid, "room_id": rooms[i]["_id"], "seq": Int64(seqs[i]),
                   "user_id": uid, "username": uname,
                   "content": f"message {seqs[i]} of {rooms[i]['name']}: {words}",
                   "type": "text",
                   "created_at": dt.datetime.fromtimestamp((base_ms + n) / 1000, dt.timezone.utc),
                   "idem_key": str(oid)}
            if remaining[i] > 0:
                nxt.append(i)
        active = nxt


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--mongo-uri", required=True)
    ap.add_argument("--db", default="chat")
    ap.add_argument("--scale", default="1m", help="10k, 100k, 1m or a number of messages")
    ap.add_argument("--users", type=int, default=10_000)
    ap.add_argument("--rooms", type=int, default=1_000)
    ap.add_argument("--cost", type=int, default=12, help="bcrypt cost of the shared hash")
    ap.add_argument("--grow", action="store_true", help="add messages up to --scale")
    ap.add_argument("--seed", type=int, default=9)
    ap.add_argument("--out", default=None, help="write the JSON summary here")
    args = ap.parse_args()
    total = parse_scale(args.scale)
    rng = random.Random(args.seed)
    client = MongoClient(args.mongo_uri, serverSelectionTimeoutMS=10000)
    db = client[args.db]
    t_all = time.time()

    if args.grow:
        rooms = list(db.rooms.find({"name": {"$regex": "^bench-"}}).sort("created_at", 1))
        rooms.sort(key=lambda r: r["created_at"])
        heads = {h["_id"]: int(h["seq"]) for h in db.room_heads.find({})}
        users = {u["_id"]: u["username"] for u in db.users.find({}, {"username": 1})}
        mem = {}
        for m in db.room_members.find({}, {"room_id": 1, "user_id": 1}):
            mem.setdefault(m["room_id"], []).append((m["user_id"], users[m["user_id"]]))
        members = [mem[r["_id"]] for r in rooms]
        start = [heads.get(r["_id"], 0) for r in rooms]
        plan = plan_counts(total, len(rooms))
        plan = [max(p, s) for p, s in zip(plan, start)]
        plan[0], plan[1] = start[0], start[1]
        user_docs = None
    else:
        for name in ("users", "rooms", "room_members", "member_leaves", "messages", "room_heads",
                     "dm_pairs", "last_seen_log"):
            db.drop_collection(name)
        for coll, name, keys, unique in INDEXES:
            db[coll].create_index(keys, name=name, unique=unique)
        pw = bcrypt_hash(args.cost)
        base = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=30)
        user_docs = []
        for i in range(args.users):
            name = f"user{i:05d}"
            user_docs.append({"_id": ObjectId(), "username": name, "username_lc": name,
                              "email": f"{name}@bench.example", "email_lc": f"{name}@bench.example",
                              "password_hash": pw, "created_at": base})
        n, secs = insert_batches(db.users, iter(user_docs), "users", args.users)
        print(f"users: {n:,} in {secs:.1f} s", flush=True)
        rooms, members, member_docs = [], [], []
        for i in range(args.rooms):
            size = min(room_size(i), args.users)
            picked = rng.sample(range(args.users), size)
            creator = user_docs[picked[0]]
            created = base + dt.timedelta(seconds=i)
            name = "bench-big" if i == 0 else "bench-small" if i == 1 else f"bench-{i:04d}"
            rooms.append({"_id": ObjectId(), "name": name, "description": f"benchmark room {i}",
                          "creator_id": creator["_id"], "is_private": False, "is_dm": False,
                          "created_at": created})
            mlist = []
            for k, ui in enumerate(picked):
                u = user_docs[ui]
                mlist.append((u["_id"], u["username"]))
                member_docs.append({"_id": ObjectId(), "room_id": rooms[-1]["_id"],
                                    "user_id": u["_id"], "role": "owner" if k == 0 else "member",
                                    "joined_at": created + dt.timedelta(milliseconds=k)})
            members.append(mlist)
        n, secs = insert_batches(db.rooms, iter(rooms), "rooms", len(rooms))
        print(f"rooms: {n:,} in {secs:.1f} s", flush=True)
        n, secs = insert_batches(db.room_members, iter(member_docs), "memberships", len(member_docs))
        print(f"memberships: {n:,} in {secs:.1f} s", flush=True)
        plan = plan_counts(total, len(rooms))
        start = [0] * len(rooms)

    base_ms = int(time.time() * 1000) - 10 * 86400 * 1000
    adding = sum(plan) - sum(start)
    n, secs = insert_batches(db.messages, message_docs(rooms, members, plan, start, base_ms, rng),
                             "messages", adding)
    print(f"messages: {n:,} in {secs:.1f} s ({n / max(secs, 1e-6):,.0f}/s)", flush=True)
    if args.grow:
        for r, p, s in zip(rooms, plan, start):
            if p > s:
                db.room_heads.update_one({"_id": r["_id"]}, {"$max": {"seq": Int64(p)}},
                                         upsert=True)
    else:
        db.room_heads.insert_many([{"_id": r["_id"], "seq": Int64(p)}
                                   for r, p in zip(rooms, plan) if p > 0], ordered=False)
    stored = sum(plan)
    print(f"seeded: {stored:,} messages in {len(rooms)} rooms, total {time.time() - t_all:.1f} s",
          flush=True)
    if args.out:
        if user_docs is None:
            users_out = [{"id": str(k), "username": v}
                         for k, v in sorted(users.items(), key=lambda kv: kv[1])]
        else:
            users_out = [{"id": str(u["_id"]), "username": u["username"]} for u in user_docs]
        summary = {
            "messages": stored, "seed_seconds": round(time.time() - t_all, 1),
            "password": PASSWORD,
            "users": users_out,
            "rooms": [{"id": str(r["_id"]), "name": r["name"], "messages": p,
                       "members": [str(m[0]) for m in mm]}
                      for r, p, mm in zip(rooms, plan, members)],
        }
        with open(args.out, "w") as f:
            json.dump(summary, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
