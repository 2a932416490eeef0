#!/usr/bin/env python3
"""chaos.py - the chaos suite: many WebSocket clients chat through several gateways, and a
few more keep leaving and rejoining rooms, while gateways, Redis and FerretDB are killed,
paused, flushed (Redis FLUSHALL) and restarted under them; afterwards a verifier compares
what every client received, what was acked and what REST served with what MongoDB holds.

  python3 tests/chaos/chaos.py            short form (60 s of traffic, 50 clients, 3000 msgs)
  python3 tests/chaos/chaos.py --long     long form  (6 rounds x 120 s, 120 clients, 10080 msgs)
  options: --build-dir DIR --clients N --churners N --messages N --seconds S --rounds N
           --gateways G --rooms R --json FILE (machine-readable result) --dump FILE (raw
           streams and connection events, for diagnosis) --keep (keep logs even on
           success) --seed N --no-faults (baseline: same traffic and verifier, no faults)

Counted against MongoDB, read directly (pymongo), each must be 0 (verifier.py, SPEC §4
and §5 in ../shared/SPEC.md; docs/RELIABILITY.md explains the schedule): acked but not
stored; stored twice (one client_msg_id in a room); seq gaps; seq duplicates; a stored
message a member missed; one delivered twice to a client; out of seq order; phantom
deliveries; two different acks for one client_msg_id; REST history pages (full history,
newest, offsets, cursors; during the run right after each flush, and at the end) that
disagree with MongoDB; member lists (REST, MongoDB, what the driver did) that disagree; a
removed member that received the room more than 5 s after its leave was answered; gateway
crashes. Exit status 0 when all are 0, 1 otherwise, 2 when the system could not start.

The clients never dedupe or reorder: every room-message frame is recorded raw, so what is
measured is the server's guarantee. A client resubscribes with after_seq = the highest seq it
has seen in that room, resends every unacked message with the same client_msg_id after a
reconnect, after a retryable error (exponential backoff, or retry_after_ms), and after
RESEND_AFTER seconds without an ack; at most WINDOW messages are in flight per client, so
that a slow store builds a client-side queue instead of a retry storm.

Runs in one process: one asyncio loop holds every client; blocking launcher calls
(tests/harness/stack.py) and REST calls run on worker threads. The parts: chat_client.py
(one client), fault_driver.py (stack, traffic, fault schedule), verifier.py (the counts
and the report), rest_client.py (REST calls); this file is the command line.
"""
import argparse
import asyncio
import json
import random
import shutil
import sys
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

try:
    import websockets  # noqa: F401  (the clients need it; checked before anything starts)
except ImportError:  # pragma: no cover - reported at start
    websockets = None
else:
    from fault_driver import Driver  # noqa: E402
    from verifier import print_report, verify  # noqa: E402


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--long", action="store_true", help="the long form (make chaos)")
    ap.add_argument("--build-dir", default=None, help="build tree (default $CHAT_BUILD_DIR or build)")
    ap.add_argument("--clients", type=int, default=None)
    ap.add_argument("--messages", type=int, default=None, help="messages in total (all clients)")
    ap.add_argument("--seconds", type=float, default=None, help="length of the sending phase")
    ap.add_argument("--rounds", type=int, default=None, help="rounds of the fault schedule")
    ap.add_argument("--gateways", type=int, default=3)
    ap.add_argument("--rooms", type=int, default=3)
    ap.add_argument("--churners", type=int, default=None,
                    help="extra clients that leave and rejoin rooms all run long")
    ap.add_argument("--drain-timeout", type=float, default=None)
    ap.add_argument("--settle-timeout", type=float, default=None)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--json", default=None, help="write the result as JSON to this file")
    ap.add_argument("--keep", action="store_true", help="keep the stack's logs even on success")
    ap.add_argument("--no-faults", action="store_true",
                    help="baseline: run the traffic and the verifier without the fault schedule")
    ap.add_argument("--dump", default=None,
                    help="write every client's raw streams and connection events (JSON) here")
    a = ap.parse_args(argv)
    if a.build_dir:  # the launcher runs the servers from its work dir: make it absolute
        a.build_dir = str(Path(a.build_dir).resolve())
    if a.long:
        a.clients = a.clients or 120
        a.messages = a.messages or 10080
        a.rounds = a.rounds or 6
        a.seconds = a.seconds or 120.0 * a.rounds
        a.churners = 10 if a.churners is None else a.churners
    else:
        a.clients = a.clients or 50
        a.messages = a.messages or 3000
        a.rounds = a.rounds or 1
        a.seconds = a.seconds or 60.0
        a.churners = 6 if a.churners is None else a.churners
    # generous: on FerretDB every append scans the messages collection (docs/RELIABILITY.md)
    a.drain_timeout = a.drain_timeout or (300.0 if a.long else 90.0)
    a.settle_timeout = a.settle_timeout or (180.0 if a.long else 60.0)
    if a.gateways < 3:
        ap.error("--gateways must be at least 3 (the schedule takes two down at once)")
    if a.seconds / a.rounds < 30:
        ap.error("each round of the schedule needs at least 30 seconds")
    return a


def main(argv=None):
    args = parse_args(argv)
    if websockets is None:
        print("chaos.py needs the websockets package: python3 -m pip install websockets",
              file=sys.stderr)
        return 2
    if args.seed is not None:
        random.seed(args.seed)
    drv = Driver(args)
    started = time.monotonic()
    res = None
    try:
        drv.say(f"starting the stack: {args.gateways} gateways, Redis, FerretDB, lighttpd")
        try:
            drv.start_stack()
            drv.setup_users()
        except Exception as e:
            print(f"chaos: could not start the system: {e}", file=sys.stderr)
            traceback.print_exc()
            return 2
        drv.say(f"{len(drv.clients)} users in {len(drv.rooms)} rooms; "
                f"workdir {drv.workdir}")
        asyncio.run(drv.traffic())
        # the gateways go first: their store retries stop, so what MongoDB holds is final
        # and the history reads do not compete with them
        drv.say("stopping the gateways (SIGTERM)")
        shutdown_codes = drv.shutdown_gateways()
        drv.say("verifying against MongoDB (REST history)")
        res = verify(drv)
        if args.dump:
            drv.dump(args.dump)
        res["shutdown_exit_codes"] = shutdown_codes
        res["gateway_log"] = drv.scan_logs()
        res["counts"]["gateway_crashes"] = len(drv.crashes)
    finally:
        if drv.stack is not None:
            drv.stack.stop()
    duration = time.monotonic() - started
    res["duration_seconds"] = round(duration, 1)
    res["form"] = "long" if args.long else "short"
    failed = print_report(res, args, duration, drv.workdir)
    res["workdir"] = str(drv.workdir)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1, default=str)
    if not failed and not args.keep and drv.workdir:
        shutil.rmtree(drv.workdir, ignore_errors=True)
    elif not failed and drv.workdir:
        print(f"logs kept: {drv.workdir}/logs")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
