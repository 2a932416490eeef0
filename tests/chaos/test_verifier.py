"""test_verifier.py - the chaos verifier can fail: check() (tests/chaos/verifier.py) is fed a
clean crafted run, which must count all zeros, then one defect at a time (an acked message
not stored, a message stored twice, a seq gap, a seq stored twice, a client that missed a
message or got one twice or out of order, a phantom delivery, two acks for one id, a
history page or a member list that disagrees with MongoDB, a removed member that kept
receiving, a gateway crash), each of which must raise its own counter and only that one.
Pure data, no servers; runs in `make test-integration`."""
import copy
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from verifier import COUNTERS, REMOVAL_GRACE_S, check, expected_seqs  # noqa: E402

R = "a" * 24          # the one room
OWNER, ALICE, BOB, CARL = ("1" * 24, "2" * 24, "3" * 24, "4" * 24)
N = 12                # stored messages


def msg_id(seq):
    return f"{seq:024x}"


def stored_msg(seq):
    user = ALICE if seq % 2 else BOB
    return {"id": msg_id(seq), "seq": seq, "user_id": user, "content": f"c{seq % 2}-m{seq}",
            "type": "text", "client_msg_id": f"run-c{seq % 2}-m{seq}", "created_at_ms": seq}


def as_json(m):
    return {k: m[k] for k in ("id", "seq", "user_id", "content", "type")}


def stream(seqs, t0=1.0):
    """A client's raw frames: (seq, id, conn, user, content, arrival)."""
    return [(s, msg_id(s), 1, None, None, t0 + s) for s in seqs]


def clean():
    stored = [stored_msg(s) for s in range(1, N + 1)]
    hist = [as_json(m) for m in stored]
    clients = []
    for idx, user in ((1, ALICE), (0, BOB)):
        acks = {m["client_msg_id"]: (m["id"], m["seq"], R, m["content"])
                for m in stored if m["user_id"] == user}
        clients.append({"idx": idx, "user_id": user, "rooms": [R],
                        "received": {R: stream(range(1, N + 1))}, "acks": acks,
                        "ack_conflicts": [], "away": []})
    # Carl churns: left after seq 4 arrived (t=5.5), asked to rejoin at t=20, got the rest
    # by replay after that
    carl = stream(range(1, 5)) + [(s, msg_id(s), 2, None, None, 21.0 + s) for s in range(5, N + 1)]
    clients.append({"idx": 9, "user_id": CARL, "rooms": [R], "received": {R: carl},
                    "acks": {}, "ack_conflicts": [], "away": [(R, 5.5, 20.0)]})
    members = sorted([OWNER, ALICE, BOB, CARL])
    return {
        "rooms": [R], "stored": {R: stored}, "mongo_members": {R: set(members)},
        "rest_history": {R: hist},
        "pages": [{"when": "final", "room": R, "params": {"limit": 5, "offset": 0},
                   "doc": {"messages": hist[-5:], "total": N}},
                  {"when": "after FLUSHALL", "room": R, "params": {"before_seq": 4, "limit": 50},
                   "doc": {"messages": hist[:3], "total": 9}}],
        "rest_members": {R: members}, "expected_members": {R: members},
        "member_probes": [{"when": "after FLUSHALL", "room": R,
                           "members": [OWNER, ALICE, BOB]}],
        "static_members": {R: [OWNER, ALICE, BOB]}, "churners": [CARL],
        "settle_maxes": {R: N}, "crashes": [], "clients": clients,
    }


def counts_of(data):
    counts, _examples, _totals = check(data)
    return counts


def client(data, idx):
    return next(c for c in data["clients"] if c["idx"] == idx)


def test_clean_run_counts_all_zeros():
    counts = counts_of(clean())
    assert set(counts) == {k for k, _ in COUNTERS}
    assert all(v == 0 for v in counts.values()), counts


# Each defect: (counter it must raise, function that spoils a clean run)
def acked_not_stored(d):
    d["stored"][R] = [m for m in d["stored"][R] if m["seq"] != 12]
    d["stored"][R].append(dict(stored_msg(12), id="f" * 24, content="someone else"))
    for c in d["clients"]:  # the stored copy at 12 is another message: nobody got it
        c["received"][R] = [(s, ("f" * 24 if s == 12 else i), *rest)
                            for (s, i, *rest) in c["received"][R]]
    d["rest_history"][R][-1] = as_json(d["stored"][R][-1])
    d["pages"][0]["doc"]["messages"][-1] = as_json(d["stored"][R][-1])


def stored_twice(d):
    dup = dict(stored_msg(3), id="e" * 24, seq=N + 1)
    d["stored"][R].append(dup)
    for c in d["clients"]:
        c["received"][R].append((N + 1, "e" * 24, 1, None, None, 99.0))
    d["rest_history"][R].append(as_json(dup))
    d["settle_maxes"][R] = N + 1
    d["pages"] = []


def seq_gap(d):
    d["stored"][R] = [m for m in d["stored"][R] if m["seq"] != 6]
    for c in d["clients"]:
        c["received"][R] = [f for f in c["received"][R] if f[0] != 6]
    d["rest_history"][R] = [m for m in d["rest_history"][R] if m["seq"] != 6]
    for c in d["clients"]:
        c["acks"] = {k: v for k, v in c["acks"].items() if v[1] != 6}


def seq_duplicate(d):
    d["stored"][R].append(dict(stored_msg(7), id="d" * 24, client_msg_id="other",
                               content="other"))


def missed(d):
    client(d, 0)["received"][R] = [f for f in client(d, 0)["received"][R] if f[0] != 8]


def delivered_twice(d):
    client(d, 1)["received"][R].append((N, msg_id(N), 2, None, None, 50.0))


def out_of_order(d):
    s = client(d, 1)["received"][R]
    s[3], s[4] = s[4], s[3]


def phantom(d):
    client(d, 1)["received"][R].append((N + 5, "c" * 24, 2, None, None, 50.0))


def ack_conflict(d):
    client(d, 1)["ack_conflicts"].append({"client": 1, "client_msg_id": "x",
                                          "first": ["a", 1], "later": ["b", 2]})


def history_hole(d):
    d["rest_history"][R] = [m for m in d["rest_history"][R] if m["seq"] != 5]


def history_page_wrong(d):
    d["pages"][0]["doc"]["messages"][2] = dict(d["pages"][0]["doc"]["messages"][2],
                                               content="edited")


def history_page_short(d):
    # a window that lost its newest message after a flush: total says 9, the page ends at 8
    d["pages"][1]["params"] = {"limit": 50, "offset": 0}
    d["pages"][1]["doc"] = {"messages": d["rest_history"][R][:8], "total": 9}


def history_total_wrong(d):
    d["pages"][0]["doc"]["total"] = N + 3


def members_rest_wrong(d):
    d["rest_members"][R] = [OWNER, ALICE, BOB]          # Carl lost from the Redis set


def members_mongo_wrong(d):
    d["mongo_members"][R] = {OWNER, ALICE, BOB}          # Carl's rejoin never stored
    d["rest_members"][R] = [OWNER, ALICE, BOB]


def members_probe_wrong(d):
    d["member_probes"][0]["members"] = [OWNER, ALICE]   # Bob missing right after a flush


def removed_member_received(d):
    # Carl gets seq 5 long after his leave was answered, before he asked to rejoin
    carl = client(d, 9)["received"][R]
    carl.insert(4, (5, msg_id(5), 1, None, None, 5.5 + REMOVAL_GRACE_S + 1.0))
    carl.remove(next(f for f in carl if f[0] == 5 and f[2] == 2))


def gateway_crash(d):
    d["crashes"].append({"t": 3.0, "gateway": 1, "what": "exited on its own with -11"})


DEFECTS = [
    ("acked_not_stored", acked_not_stored), ("stored_twice", stored_twice),
    ("seq_gaps", seq_gap), ("seq_duplicates", seq_duplicate), ("missed", missed),
    ("delivered_twice", delivered_twice), ("out_of_order", out_of_order),
    ("phantom", phantom), ("ack_conflicts", ack_conflict),
    ("history_mismatch", history_hole), ("history_mismatch", history_page_wrong),
    ("history_mismatch", history_page_short), ("history_mismatch", history_total_wrong),
    ("members_mismatch", members_rest_wrong), ("members_mismatch", members_mongo_wrong),
    ("members_mismatch", members_probe_wrong),
    ("removed_member_received", removed_member_received), ("gateway_crashes", gateway_crash),
]


@pytest.mark.parametrize("counter,spoil", DEFECTS, ids=[f.__name__ for _, f in DEFECTS])
def test_each_defect_raises_its_counter(counter, spoil):
    data = copy.deepcopy(clean())
    spoil(data)
    counts = counts_of(data)
    assert counts[counter] > 0, counts
    others = {k: v for k, v in counts.items() if k != counter and v}
    # a seq gap is also a message nobody could receive; everything else is alone
    assert not others, others


def test_every_counter_has_a_defect():
    assert {k for k, _ in COUNTERS} == {c for c, _ in DEFECTS}


def test_removal_grace_is_allowed():
    """A frame within SPEC §5's 5 s after the leave answered is not a violation."""
    data = clean()
    carl = client(data, 9)["received"][R]
    carl.insert(4, (5, msg_id(5), 1, None, None, 5.5 + REMOVAL_GRACE_S - 1.0))
    carl.remove(next(f for f in carl if f[0] == 5 and f[2] == 2))
    assert all(v == 0 for v in counts_of(data).values())


def test_expected_seqs_follow_the_spec():
    assert expected_seqs({"limit": 50, "offset": 0}, 120) == list(range(71, 121))
    assert expected_seqs({"limit": 50, "offset": 100}, 120) == list(range(1, 21))
    assert expected_seqs({"limit": 50, "offset": 200}, 120) == []
    assert expected_seqs({"before_seq": 31, "limit": 50}, 120) == list(range(1, 31))
    assert expected_seqs({"after_seq": 100, "limit": 200}, 120) == list(range(101, 121))
