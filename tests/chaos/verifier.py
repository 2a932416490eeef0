"""verifier.py - the chaos suite's verifier and report. MongoDB, read directly with pymongo,
is the durable truth; against it the verifier checks every ack, every client's raw stream,
the history pages and member lists the REST API served (from the Redis read model, during
the run right after each Redis flush and at the end) and what the churning clients were
allowed to receive after they left a room (docs/RELIABILITY.md lists every counter; each
must be 0).

Two halves: collect(drv) gathers plain data (MongoDB documents, REST pages, client
streams) once the gateways have stopped; check(data) is pure and computes the counters,
so tests/chaos/test_verifier.py can feed it crafted bad data and see each counter fire.
Runs on the driver's main thread after the traffic has stopped."""
import collections
import json
import re

CONTENT_RE = re.compile(r"^c(\d+)-m(\d+)$")  # the content chat_client.py sends

EXAMPLES = 8            # examples kept per kind of violation
REMOVAL_GRACE_S = 5.0   # SPEC §5: a removed member's sockets stop receiving within 5 s

# Every counter; each must be 0 (the order is the report's).
COUNTERS = [
    ("acked_not_stored", "acked but not stored (as acked)"),
    ("stored_twice", "stored twice (client_msg_id in a room)"),
    ("seq_gaps", "seq gaps per room"),
    ("seq_duplicates", "seq duplicates per room"),
    ("missed", "missed by a member"),
    ("delivered_twice", "delivered twice to a client"),
    ("out_of_order", "out of seq order"),
    ("phantom", "phantom deliveries (not stored)"),
    ("ack_conflicts", "two different acks for one id"),
    ("history_mismatch", "history pages vs MongoDB"),
    ("members_mismatch", "members vs MongoDB"),
    ("removed_member_received", "received after removal"),
    ("gateway_crashes", "gateway crashes"),
]


# ------------------------------------------------------------------ collect (I/O)

def read_mongo(uri, db_name, rooms):
    """{room: [message dict]}, {room: set(user ids)} straight from MongoDB."""
    import pymongo  # deploy/install-deps.sh --test installs it
    client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=20000, socketTimeoutMS=120000)
    try:
        db = client[db_name]
        msgs = {r: [] for r in rooms}
        for d in db.messages.find({}):
            r = str(d.get("room_id"))
            if r not in msgs:
                continue
            created = d.get("created_at")
            msgs[r].append({
                "id": str(d.get("_id")), "seq": d.get("seq"), "user_id": str(d.get("user_id")),
                "content": d.get("content"), "type": d.get("type", "text"),
                "client_msg_id": d.get("client_msg_id"),
                "created_at_ms": int(created.timestamp() * 1000) if created else None})
        members = {r: set() for r in rooms}
        # a leave is durable in member_leaves before its room_members document goes
        # (member_leaves_repo.h): a membership that began at or before it is over
        left = {(str(d.get("room_id")), str(d.get("user_id"))): d.get("at")
                for d in db.member_leaves.find({})}
        for d in db.room_members.find({}):
            r = str(d.get("room_id"))
            u = str(d.get("user_id"))
            at = left.get((r, u))
            if at is not None and d.get("joined_at") is not None and d["joined_at"] <= at:
                continue
            if r in members:
                members[r].add(u)
        return msgs, members
    finally:
        client.close()


def final_page_params(top):
    """The history pages compared with MongoDB at the end: newest, offsets, both cursors,
    and an after_seq range that crosses the window's lower edge (HISTORY_WINDOW 500)."""
    out = [{"limit": 50, "offset": 0}, {"limit": 50, "offset": 37}, {"limit": 200, "offset": 450}]
    if top > 60:
        out.append({"before_seq": top - 60, "limit": 50})
    if top > 30:
        out.append({"before_seq": 31, "limit": 50})
    out.append({"after_seq": max(0, top - 700), "limit": 200})
    return out


def collect(drv):
    """Everything check() needs, as plain data."""
    stored, mongo_members = read_mongo(drv.stack.mongo_uri, drv.stack.mongo_db, drv.rooms)
    data = {"rooms": list(drv.rooms), "stored": stored, "mongo_members": mongo_members}
    data["rest_history"] = {r: drv.rest.history(r, drv.admin_token) for r in drv.rooms}
    pages = list(drv.probes)
    for r in drv.rooms:
        top = max((m["seq"] for m in stored[r]), default=0)
        for params in final_page_params(top):
            pages.append(drv.probe_page("final", r, params))
    data["pages"] = pages
    data["rest_members"] = {r: sorted(drv.rest.members(r, drv.admin_token)) for r in drv.rooms}
    data["member_probes"] = list(drv.member_probes)
    data["expected_members"] = {r: sorted(drv.expected_members(r)) for r in drv.rooms}
    data["static_members"] = {r: sorted(drv.static_members(r)) for r in drv.rooms}
    data["churners"] = sorted(c.user_id for c in drv.clients if c.churn)
    data["settle_maxes"] = dict(drv.settle_maxes)
    data["crashes"] = list(drv.crashes)
    data["clients"] = [{
        "idx": c.idx, "user_id": c.user_id, "rooms": list(c.rooms),
        "received": {r: list(v) for r, v in c.received.items()},
        "acks": dict(c.acks), "ack_conflicts": list(c.ack_conflicts),
        "away": list(c.away_log)} for c in drv.clients]
    return data


# ------------------------------------------------------------------ check (pure)

def expected_seqs(params, total):
    """The seqs a history page must hold when the room's head is `total` (SPEC §2:
    offset counts back from the newest; cursors exclusive)."""
    limit = int(params.get("limit", 50))
    if "before_seq" in params:
        n = int(params["before_seq"])
        hi = min(n - 1, total)
        return list(range(max(1, hi - limit + 1), hi + 1))
    if "after_seq" in params:
        n = int(params["after_seq"])
        return list(range(n + 1, min(total, n + limit) + 1))
    off = int(params.get("offset", 0))
    hi = total - off
    return list(range(max(1, hi - limit + 1), hi + 1))


def check(data):
    """The counters (all must be 0), examples of each, and totals that need the truth."""
    counts = collections.Counter({k: 0 for k, _ in COUNTERS})
    ex = collections.defaultdict(list)

    def add(kind, n, example):
        counts[kind] += n
        if len(ex[kind]) < EXAMPLES:
            ex[kind].append(example)

    rooms = data["rooms"]
    # -- the truth: MongoDB's messages per room, by seq
    by_seq, by_id, tops = {}, {}, {}
    for r in rooms:
        by_seq[r] = {}
        seen = collections.Counter(m["seq"] for m in data["stored"].get(r, []))
        for s, n in seen.items():
            if n > 1:
                add("seq_duplicates", n - 1, {"room": r, "seq": s, "copies": n})
        for m in data["stored"].get(r, []):
            by_seq[r].setdefault(m["seq"], m)
            by_id[m["id"]] = (r, m["seq"])
        seqs = sorted(by_seq[r])
        top = seqs[-1] if seqs else 0
        tops[r] = top
        missing = sorted(set(range(1, top + 1)) - set(seqs))
        if missing:
            add("seq_gaps", len(missing), {"room": r, "seqs": missing[:20], "max": top})
        if seqs and seqs[0] < 1:
            add("seq_gaps", 1, {"room": r, "kind": "seq below 1", "seq": seqs[0]})

    # -- stored twice: one copy per (room, user, client_msg_id) (SPEC §4.3)
    keys = collections.defaultdict(list)
    stored_client = 0
    for r in rooms:
        for m in data["stored"].get(r, []):
            if m.get("client_msg_id"):
                key = (r, m["user_id"], m["client_msg_id"])
            elif m.get("type", "text") == "text" and CONTENT_RE.match(m.get("content") or ""):
                key = (r, m["user_id"], m["content"])
            else:
                continue
            stored_client += 1
            keys[key].append((m["seq"], m["id"]))
    for key, copies in keys.items():
        if len(copies) > 1:
            add("stored_twice", len(copies) - 1, {"room": key[0], "user": key[1],
                                                  "key": key[2], "copies": copies})

    # -- acks against MongoDB
    acked = 0
    for c in data["clients"]:
        for conflict in c["ack_conflicts"]:
            add("ack_conflicts", 1, conflict)
        for cmid, (mid, seq, room, content) in c["acks"].items():
            acked += 1
            try:
                seq = int(seq)
            except (TypeError, ValueError):
                add("acked_not_stored", 1, {"client": c["idx"], "client_msg_id": cmid,
                                            "kind": "ack without seq"})
                continue
            m = by_seq.get(room, {}).get(seq) if room else None
            if m is None and room is None and mid in by_id:
                m = by_seq[by_id[mid][0]][by_id[mid][1]]
            ok = (m is not None and m["id"] == mid and m["user_id"] == c["user_id"]
                  and (content is None or m.get("content") == content))
            if not ok:
                add("acked_not_stored", 1, {
                    "client": c["idx"], "client_msg_id": cmid,
                    "ack": {"id": mid, "seq": seq, "room": room},
                    "stored_at_seq": None if m is None else
                    {k: m.get(k) for k in ("id", "user_id", "content")},
                    "id_found_at": by_id.get(mid)})

    # -- every client's raw streams
    delivered = 0
    for c in data["clients"]:
        for r in c["rooms"]:
            stream = c["received"].get(r, [])
            delivered += len(stream)
            seen_seq, seen_id, top = set(), set(), 0
            for pos, (seq, mid, conn, _uid, content, _t) in enumerate(stream):
                if seq in seen_seq or mid in seen_id:
                    add("delivered_twice", 1, {"client": c["idx"], "room": r, "seq": seq,
                                               "id": mid, "conn": conn, "pos": pos})
                elif seq < top:
                    add("out_of_order", 1, {"client": c["idx"], "room": r, "seq": seq,
                                            "after": top, "conn": conn, "pos": pos})
                seen_seq.add(seq)
                seen_id.add(mid)
                top = max(top, seq)
                m = by_seq.get(r, {}).get(seq)
                if m is None or m["id"] != mid:
                    add("phantom", 1, {"client": c["idx"], "room": r, "seq": seq, "id": mid,
                                       "content": content,
                                       "stored": None if m is None else
                                       {k: m.get(k) for k in ("id", "content")}})
            limit = data["settle_maxes"].get(r) or tops.get(r, 0)
            never = [s for s in sorted(by_seq.get(r, {})) if s <= limit and s not in seen_seq]
            if never:
                add("missed", len(never), {"client": c["idx"], "room": r, "seqs": never[:20],
                                           "count": len(never), "client_max_seen": top})
        # a removed member: nothing of the room more than REMOVAL_GRACE_S after the leave
        # answered, until it asked to join again
        for room, t_left, t_back in c["away"]:
            late = [(seq, round(t, 2)) for (seq, _mid, _conn, _u, _c, t)
                    in c["received"].get(room, []) if t_left + REMOVAL_GRACE_S < t < t_back]
            if late:
                add("removed_member_received", len(late), {
                    "client": c["idx"], "room": room, "left_at": round(t_left, 2),
                    "rejoined_at": round(t_back, 2), "frames": late[:10]})

    # -- history pages served by REST (the read model) against MongoDB
    def same(page_msg, r):
        m = by_seq.get(r, {}).get(page_msg.get("seq"))
        return (m is not None and m["id"] == page_msg.get("id")
                and m["user_id"] == page_msg.get("user_id")
                and m.get("content") == page_msg.get("content"))

    for r in rooms:
        hist = data["rest_history"].get(r, [])
        got = [m.get("seq") for m in hist]
        if got != sorted(by_seq[r]) or not all(same(m, r) for m in hist):
            bad = [m.get("seq") for m in hist if not same(m, r)]
            add("history_mismatch", 1, {"room": r, "what": "full history (after_seq paging)",
                                        "rest_count": len(got), "mongo_max": tops[r],
                                        "differing_seqs": bad[:10]})
    pages_checked = 0
    for p in data["pages"]:
        r, doc = p["room"], p.get("doc")
        if doc is None:  # the probe got no answer (counted in totals, not a disagreement)
            continue
        pages_checked += 1
        msgs = doc.get("messages") or []
        total = doc.get("total")
        seqs = [m.get("seq") for m in msgs]
        problems = []
        if not isinstance(total, int) or total > tops.get(r, 0):
            problems.append(f"total {total} vs stored max {tops.get(r, 0)}")
        else:
            if p["when"] == "final" and total != tops.get(r, 0):
                problems.append(f"total {total} != stored max {tops.get(r, 0)}")
            want = expected_seqs(p["params"], total)
            if seqs != want:
                problems.append(f"seqs {seqs[:3]}..{seqs[-3:]} ({len(seqs)}) want "
                                f"{want[:3]}..{want[-3:]} ({len(want)})")
        wrong = [m.get("seq") for m in msgs if not same(m, r)]
        if wrong:
            problems.append(f"not as stored: seqs {wrong[:10]}")
        if problems:
            add("history_mismatch", 1, {"room": r, "when": p["when"], "params": p["params"],
                                        "problems": problems})

    # -- members: REST (Redis sets) vs MongoDB vs what the driver did
    for r in rooms:
        mongo = set(data["mongo_members"].get(r, ()))
        rest = set(data["rest_members"].get(r, ()))
        want = set(data["expected_members"].get(r, ()))
        if rest != mongo or mongo != want:
            add("members_mismatch", 1, {
                "room": r, "when": "final",
                "rest_not_mongo": sorted(rest - mongo)[:5], "mongo_not_rest": sorted(mongo - rest)[:5],
                "mongo_not_expected": sorted(mongo - want)[:5],
                "expected_not_mongo": sorted(want - mongo)[:5]})
    churners = set(data.get("churners", ()))
    for p in data["member_probes"]:
        if p.get("members") is None:
            continue
        r = p["room"]
        listed = set(p["members"])
        static = set(data["static_members"].get(r, ()))
        # during the run only the churners' own membership is in motion
        if not static <= listed or not listed <= static | churners:
            add("members_mismatch", 1, {"room": r, "when": p["when"],
                                        "static_not_listed": sorted(static - listed)[:5],
                                        "unknown_listed": sorted(listed - static - churners)[:5]})

    counts["gateway_crashes"] = len(data.get("crashes", ()))
    totals = {"acked": acked, "stored_client_messages": stored_client,
              "stored_total": sum(len(v) for v in data["stored"].values()),
              "deliveries": delivered, "pages_checked": pages_checked,
              "member_probes": len(data["member_probes"]),
              "removals": sum(len(c["away"]) for c in data["clients"]),
              "stored_max_seq": tops}
    return dict(counts), {k: v for k, v in ex.items()}, totals


# ------------------------------------------------------------------ the whole result

def verify(drv):
    data = collect(drv)
    counts, examples, truth = check(data)
    res = collections.OrderedDict()
    res["counts"] = counts
    res["examples"] = examples
    res["crashes"] = drv.crashes
    clients = drv.clients
    keys = {(m["user_id"], m.get("client_msg_id")) for v in data["stored"].values() for m in v}
    unacked = [(c.idx, cmid) for c in clients for cmid in c.pending]
    unacked_stored = sum(1 for c in clients for cmid in c.pending if (c.user_id, cmid) in keys)
    closes, errors = collections.Counter(), collections.Counter()
    for c in clients:
        closes.update(c.closes)
        errors.update(c.errors)
    kinds = collections.Counter(f[3] for f in drv.faults if not f[2])
    res["totals"] = dict(truth, **{
        "clients": len([c for c in clients if not c.churn]),
        "churners": len([c for c in clients if c.churn]),
        "gateways": drv.n_gateways, "rooms": len(drv.rooms),
        "messages_sent": sum(c.sent for c in clients),
        "send_frames": sum(c.sends for c in clients),
        "timeout_resends": sum(c.timeout_resends for c in clients),
        "unacked_at_end": len(unacked), "unacked_but_stored": unacked_stored,
        "rejected": sum(len(c.rejected) for c in clients),
        "rejected_codes": dict(collections.Counter(code for c in clients
                                                   for code in c.rejected.values())),
        "duplicate_acks": sum(c.dup_acks for c in clients),
        "unknown_acks": sum(c.unknown_acks for c in clients),
        "foreign_room_frames": sum(len(c.foreign) for c in clients),
        "connections": sum(c.connects for c in clients),
        "connect_failures": sum(c.connect_failures for c in clients),
        "close_codes": {str(k): v for k, v in sorted(closes.items(), key=lambda kv: str(kv[0]))},
        "error_codes": dict(errors),
        "stored_after_settle": {r: len([m for m in data["stored"][r]
                                        if m["seq"] > (drv.settle_maxes.get(r) or 10 ** 12)])
                                for r in drv.rooms},
        "settled": drv.settled,
        "faults_applied": sum(kinds.values()), "faults_by_kind": dict(kinds),
        "probe_failures": sum(1 for p in drv.probes if p.get("doc") is None)
        + sum(1 for p in drv.member_probes if p.get("members") is None),
        "sending_seconds": round(drv.t_send_end - drv.t_send_start, 1),
        "sigterm_drain_close_codes": dict(drv.drain_closes),
        "ack_latency_s": latency_stats([x for c in clients for x in c.ack_latency]),
    })
    res["unacked_examples"] = unacked[:EXAMPLES]
    res["faults"] = drv.faults
    res["slow_client"] = {"closes_after_stall": drv.slow_closes,
                          "rooms": len(clients[0].rooms) if clients else 0}
    return res


def latency_stats(xs):
    if not xs:
        return {}
    xs = sorted(xs)
    pick = lambda q: round(xs[min(len(xs) - 1, int(q * len(xs)))], 3)  # noqa: E731
    return {"p50": pick(0.50), "p90": pick(0.90), "p99": pick(0.99), "max": round(xs[-1], 3)}


def print_report(res, args, duration, workdir):
    t, cn = res["totals"], res["counts"]
    print()
    print(f"==================== chaos report ({'long' if args.long else 'short'} form) "
          f"====================")
    print(f"clients {t['clients']} (+{t['churners']} churning) · gateways {t['gateways']} · "
          f"rooms {t['rooms']} · duration {duration:.1f}s (sending {t['sending_seconds']}s, "
          f"{args.rounds} round(s))")
    print(f"messages: sent {t['messages_sent']} · acked {t['acked']} · stored "
          f"{t['stored_client_messages']} (all stored incl. system {t['stored_total']}) · "
          f"frames sent {t['send_frames']} (timeout resends {t['timeout_resends']})")
    print(f"          unacked at end {t['unacked_at_end']} (not losses; of them stored anyway "
          f"{t['unacked_but_stored']}) · rejected {t['rejected']} {t['rejected_codes'] or ''} · "
          f"duplicate acks {t['duplicate_acks']}")
    print(f"ack latency (creation to first ack, s): {t['ack_latency_s']}")
    print(f"deliveries {t['deliveries']} · connections {t['connections']} "
          f"(failed attempts {t['connect_failures']}) · close codes {t['close_codes']}")
    print(f"error frames {t['error_codes'] or '{}'} · settled {t['settled']} · "
          f"stored after settle {t['stored_after_settle']} · foreign-room frames "
          f"{t['foreign_room_frames']}")
    print(f"membership churn: {t['removals']} leave/rejoin cycles · history pages compared "
          f"with MongoDB {t['pages_checked']} · member-list probes {t['member_probes']} "
          f"(probes without an answer {t['probe_failures']})")
    sc = res["slow_client"]
    print(f"slow client c0: closes after its stall {sc['closes_after_stall'] or 'none (kept up)'}")
    print(f"gateway exit codes on the final SIGTERM: {res.get('shutdown_exit_codes')}")
    print(f"gateway log counts: {res.get('gateway_log')}")
    print(f"close codes seen by the clients of a SIGTERMed gateway (SPEC 4.6 wants 1001): "
          f"{t['sigterm_drain_close_codes']}")
    print(f"faults applied: {t['faults_applied']} {t['faults_by_kind']}")
    for ts, desc, recovery, _kind in res["faults"]:
        print(f"    t={ts:6.1f}s  {'  ' if recovery else '! '}{desc}")
    print("-" * 72)
    for key, label in COUNTERS:
        print(f"{label:.<48} {cn.get(key, 0)}")
    for key, label in COUNTERS:
        exs = res["examples"].get(key) or (res["crashes"] if key == "gateway_crashes" else [])
        if cn.get(key) and exs:
            print(f"first examples of {label}:")
            for e in exs[:EXAMPLES]:
                print("    " + json.dumps(e, default=str)[:600])
    if t["unacked_at_end"]:
        print(f"unacked client_msg_ids (first): {res['unacked_examples']}")
    failed = any(cn.values())
    print("RESULT:", "FAIL" if failed else "PASS")
    if workdir and failed:
        print(f"logs: {workdir}/logs")
    return failed
