"""verifier.py - the chaos suite's verifier and report: compares every client's raw stream
and every ack with the rooms' histories in MongoDB (read through REST) and counts acked
but missing, duplicated, out of seq order, seq holes, idempotency violations, phantom
deliveries and gateway crashes (docs/RELIABILITY.md). Runs on the driver's main thread
after the traffic has stopped."""
import collections
import json
import re

CONTENT_RE = re.compile(r"^c(\d+)-m(\d+)$")  # the content chat_client.py sends

EXAMPLES = 8            # examples kept per kind of violation


def verify(drv):
    hist = {r: drv.rest.history(r, drv.admin_token) for r in drv.rooms}
    res = collections.OrderedDict()
    ex = collections.defaultdict(list)
    counts = collections.Counter()

    def add(kind, n, example):
        counts[kind] += n
        if len(ex[kind]) < EXAMPLES:
            ex[kind].append(example)

    by_seq, by_id = {}, {}
    for r, msgs in hist.items():
        by_seq[r] = {}
        for m in msgs:
            s = int(m.get("seq", 0))
            if s in by_seq[r]:
                add("seq_holes", 1, {"room": r, "kind": "seq stored twice", "seq": s})
            by_seq[r][s] = m
            by_id[m.get("id")] = (r, s)
        seqs = sorted(by_seq[r])
        top = seqs[-1] if seqs else 0
        missing = sorted(set(range(1, top + 1)) - set(seqs))
        if missing:
            add("seq_holes", len(missing), {"room": r, "kind": "missing seqs",
                                            "seqs": missing[:20], "max": top})
        if seqs and seqs[0] < 1:
            add("seq_holes", 1, {"room": r, "kind": "seq below 1", "seq": seqs[0]})

    # idempotency: one stored copy per (user, client_msg_id)
    keys = collections.defaultdict(list)
    stored_text = 0
    for r, msgs in hist.items():
        for m in msgs:
            cmid = m.get("client_msg_id")
            content = m.get("content") or ""
            if cmid:
                key = (m.get("user_id"), cmid)
            elif m.get("type", "text") == "text" and CONTENT_RE.match(content):
                key = (m.get("user_id"), content)
            else:
                continue
            stored_text += 1
            keys[key].append((r, m.get("seq"), m.get("id")))
    for key, copies in keys.items():
        if len(copies) > 1:
            add("idempotency", len(copies) - 1, {"user": key[0], "key": key[1],
                                                "copies": copies})
    for c in drv.clients:
        for conflict in c.ack_conflicts:
            add("idempotency", 1, dict(conflict, kind="two different acks"))

    # acks against storage
    acked = 0
    for c in drv.clients:
        for cmid, (mid, seq, room, content) in c.acks.items():
            acked += 1
            try:
                seq = int(seq)
            except (TypeError, ValueError):
                add("acked_missing", 1, {"client": c.idx, "client_msg_id": cmid,
                                         "kind": "ack without seq", "ack": [mid, seq]})
                continue
            m = by_seq.get(room, {}).get(seq) if room else None
            if m is None and room is None and mid in by_id:
                m = by_seq[by_id[mid][0]][by_id[mid][1]]
            ok = (m is not None and m.get("id") == mid and m.get("user_id") == c.user_id
                  and (content is None or m.get("content") == content))
            if not ok:
                where = by_id.get(mid)
                add("acked_missing", 1, {
                    "client": c.idx, "client_msg_id": cmid, "kind": "acked, not stored as acked",
                    "ack": {"id": mid, "seq": seq, "room": room},
                    "stored_at_seq": (None if m is None else
                                      {k: m.get(k) for k in ("id", "user_id", "content")}),
                    "id_found_at": where})

    # per-client streams
    delivered = 0
    for c in drv.clients:
        for r in c.rooms:
            stream = c.received[r]
            delivered += len(stream)
            seen_seq, seen_id, top = set(), set(), 0
            for pos, (seq, mid, conn, uid, content, _t) in enumerate(stream):
                if seq in seen_seq or mid in seen_id:
                    add("duplicated", 1, {"client": c.idx, "room": r, "seq": seq, "id": mid,
                                          "conn": conn, "pos": pos,
                                          "prev_max": top})
                elif seq < top:
                    add("out_of_order", 1, {"client": c.idx, "room": r, "seq": seq,
                                            "after": top, "conn": conn, "pos": pos})
                seen_seq.add(seq)
                seen_id.add(mid)
                top = max(top, seq)
                m = by_seq[r].get(seq)
                if m is None or m.get("id") != mid:
                    add("phantom", 1, {"client": c.idx, "room": r, "seq": seq, "id": mid,
                                       "content": content,
                                       "stored": None if m is None else
                                       {k: m.get(k) for k in ("id", "content")}})
            limit = drv.settle_maxes.get(r) or max(by_seq[r], default=0)
            never = [s for s in sorted(by_seq[r]) if s <= limit and s not in seen_seq]
            if never:
                add("acked_missing", len(never), {
                    "client": c.idx, "room": r, "kind": "stored, never delivered",
                    "seqs": never[:20], "count": len(never), "client_max_seen": top,
                    "connections": c.conn_no,
                    "gateways": c.connected_gw_history[-6:]})

    sent = sum(c.sent for c in drv.clients)
    unacked = [(c.idx, cmid) for c in drv.clients for cmid in c.pending]
    unacked_stored = sum(1 for c in drv.clients for cmid, p in c.pending.items()
                         if (c.user_id, cmid) in keys or (c.user_id, p.content) in keys)
    late = {r: len([s for s in by_seq[r] if s > (drv.settle_maxes.get(r) or 10 ** 12)])
            for r in drv.rooms}
    closes = collections.Counter()
    errors = collections.Counter()
    for c in drv.clients:
        closes.update(c.closes)
        errors.update(c.errors)
    res["counts"] = {k: counts[k] for k in
                     ("acked_missing", "duplicated", "out_of_order", "seq_holes",
                      "idempotency", "phantom")}
    res["counts"]["gateway_crashes"] = len(drv.crashes)
    res["examples"] = {k: v for k, v in ex.items()}
    res["crashes"] = drv.crashes
    res["totals"] = {
        "clients": len(drv.clients), "gateways": drv.n_gateways, "rooms": len(drv.rooms),
        "messages_sent": sent, "send_frames": sum(c.sends for c in drv.clients),
        "timeout_resends": sum(c.timeout_resends for c in drv.clients),
        "acked": acked, "stored_client_messages": stored_text,
        "stored_total": sum(len(v) for v in hist.values()),
        "unacked_at_end": len(unacked), "unacked_but_stored": unacked_stored,
        "rejected": sum(len(c.rejected) for c in drv.clients),
        "rejected_codes": dict(collections.Counter(code for c in drv.clients
                                                   for code in c.rejected.values())),
        "duplicate_acks": sum(c.dup_acks for c in drv.clients),
        "unknown_acks": sum(c.unknown_acks for c in drv.clients),
        "deliveries": delivered,
        "foreign_room_frames": sum(len(c.foreign) for c in drv.clients),
        "connections": sum(c.connects for c in drv.clients),
        "connect_failures": sum(c.connect_failures for c in drv.clients),
        "close_codes": {str(k): v for k, v in sorted(closes.items(), key=lambda kv: str(kv[0]))},
        "error_codes": dict(errors),
        "stored_after_settle": late, "settled": drv.settled,
        "faults_applied": len([f for f in drv.faults if not f[2]]),
        "sending_seconds": round(drv.t_send_end - drv.t_send_start, 1),
        "sigterm_drain_close_codes": dict(drv.drain_closes),
        "ack_latency_s": latency_stats([x for c in drv.clients for x in c.ack_latency]),
    }
    res["unacked_examples"] = unacked[:EXAMPLES]
    res["faults"] = drv.faults
    res["slow_client"] = {"closes_after_stall": drv.slow_closes,
                          "rooms": len(drv.clients[0].rooms) if drv.clients else 0}
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
    print(f"clients {t['clients']} · gateways {t['gateways']} · rooms {t['rooms']} · "
          f"duration {duration:.1f}s (sending {t['sending_seconds']}s, {args.rounds} round(s))")
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
    sc = res["slow_client"]
    print(f"slow client c0: closes after its stall {sc['closes_after_stall'] or 'none (kept up)'}")
    print(f"gateway exit codes on the final SIGTERM: {res.get('shutdown_exit_codes')}")
    print(f"gateway log counts: {res.get('gateway_log')}")
    print(f"close codes seen by the clients of a SIGTERMed gateway (SPEC 4.6 wants 1001): "
          f"{t['sigterm_drain_close_codes']}")
    print(f"faults applied: {t['faults_applied']}")
    for ts, desc, recovery in res["faults"]:
        print(f"    t={ts:6.1f}s  {'  ' if recovery else '! '}{desc}")
    print("-" * 72)
    labels = [("acked_missing", "1. acked but missing"), ("duplicated", "2. duplicated"),
              ("out_of_order", "3. out of seq order"), ("seq_holes", "4. seq holes"),
              ("idempotency", "   idempotency violations"),
              ("phantom", "   phantom deliveries"), ("gateway_crashes", "   gateway crashes")]
    for key, label in labels:
        print(f"{label:.<40} {cn[key]}")
    for key, label in labels:
        exs = res["examples"].get(key) or (res["crashes"] if key == "gateway_crashes" else [])
        if cn[key] and exs:
            print(f"first examples of {label.strip()}:")
            for e in exs[:EXAMPLES]:
                print("    " + json.dumps(e, default=str)[:600])
    if t["unacked_at_end"]:
        print(f"unacked client_msg_ids (first): {res['unacked_examples']}")
    failed = any(cn.values())
    print("RESULT:", "FAIL" if failed else "PASS")
    if workdir and failed:
        print(f"logs: {workdir}/logs")
    return failed


