#!/usr/bin/env python3
"""report.py - turns bench/bench.py's results.json into the Markdown tables of
docs/BENCHMARKS.md (printed) and the PNG plot of history latency against messages
stored (--plot). A report helper, run by bench/run.sh after the measurements.
  python3 bench/report.py OUT/results.json [--plot docs/bench-history-scale.png]"""
import argparse
import json
import sys


def ok(cond):
    return "met" if cond else "**missed**"


def fmt(v, nd=1):
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:,.{nd}f}"
    return f"{v:,}"


def history_table(res):
    out = ["| stored messages | page | req/s | p50 ms | p99 ms | non-2xx | load before | target (p99 ≤ 20 ms at ≥ 2,000 req/s) |",
           "|---:|---|---:|---:|---:|---:|---:|---|"]
    for row in res.get("history", []):
        for page in ("newest", "offset", "before_seq"):
            r = row[page]
            out.append(f"| {row['stored']:,} | {page} | {r['rps']:,.0f} | {fmt(r['p50_ms'])} | "
                       f"{fmt(r['p99_ms'])} | {r['non2xx']} | {r['load_before']} | "
                       f"{ok(r['p99_ms'] is not None and r['p99_ms'] <= 20 and r['rps'] >= 2000)} |")
    out.append("")
    out.append("| stored messages | room | first (cold) REST read | the window query in pymongo | built through a gateway | REST read after |")
    out.append("|---:|---|---|---:|---:|---|")
    for row in res.get("history", []):
        for label, key, ms in (("5,000 members", "cold", "cold_first_read_ms"),
                               ("10 members", "cold_small", "cold_first_read_small_ms")):
            c = row.get(key, {"first_status": 200, "first_ms": row[ms]})
            if c["first_status"] == 200:
                out.append(f"| {row['stored']:,} | {label} | 200 in {c['first_ms']} ms | – | – | – |")
            else:
                out.append(f"| {row['stored']:,} | {label} | **{c['first_status']}** after {c['first_ms']} ms | "
                           f"{c.get('mongo_window_query_ms')} ms | {c.get('gateway_build_ms')} ms "
                           f"({c.get('gateway_subscribe')}) | {c.get('after_status')} in {c.get('after_ms')} ms |")
    if any(row.get("by_connections") for row in res.get("history", [])):
        out.append("")
        out.append("Newest page by wrk connections (a closed loop: fewer connections, less queueing):")
        out.append("")
        out.append("| stored messages | connections | req/s | p50 ms | p99 ms | non-2xx | load before | target (p99 ≤ 20 ms at ≥ 2,000 req/s) |")
        out.append("|---:|---:|---:|---:|---:|---:|---:|---|")
        for row in res.get("history", []):
            for r in row.get("by_connections", []):
                out.append(f"| {row['stored']:,} | {r['connections']} | {r['rps']:,.0f} | "
                           f"{fmt(r['p50_ms'])} | {fmt(r['p99_ms'])} | {r['non2xx']} | "
                           f"{r['load_before']} | "
                           f"{ok(r['p99_ms'] is not None and r['p99_ms'] <= 20 and r['rps'] >= 2000)} |")
    rows = res.get("history", [])
    if len(rows) >= 2:
        base = rows[0]["newest"]
        out.append("")
        for row in rows[1:]:
            r = row["newest"]
            f50 = r["p50_ms"] / base["p50_ms"] if base["p50_ms"] else float("nan")
            f99 = r["p99_ms"] / base["p99_ms"] if base["p99_ms"] else float("nan")
            out.append(f"- newest page at {row['stored']:,} vs {rows[0]['stored']:,} stored: "
                       f"p50 ×{f50:.2f}, p99 ×{f99:.2f} (target ≤ 1.5×: "
                       f"{ok(f50 <= 1.5 and f99 <= 1.5)})")
    return "\n".join(out)


def mixed_table(res):
    m = res.get("mixed")
    if not m:
        return ""
    w = m["history_under_load"]
    out = [f"History load meanwhile: {w['rps']:,.0f} req/s, p99 {w['p99_ms']} ms "
           f"(load before {m['load_before']}).", "",
           "| call (one at a time, keep-alive) | samples | p50 ms | p99 ms | max ms | errors | first (cold) call ms | target p99 ≤ 50 ms |",
           "|---|---:|---:|---:|---:|---:|---:|---|"]
    for k, v in m["calls"].items():
        out.append(f"| `{k}` | {v['n']} | {v['p50_ms']} | {v['p99_ms']} | {v['max_ms']} | "
                   f"{v['errors']} | {m['cold_first_call_ms'].get(k, '–')} | {ok(v['p99_ms'] <= 50)} |")
    return "\n".join(out)


def membership_table(res):
    m = res.get("membership")
    if not m:
        return ""
    out = [f"Load before: {m['load_before']}.", "",
           "| room | operation | samples | p50 ms | p99 ms | max ms | target p99 ≤ 20 ms |",
           "|---|---|---:|---:|---:|---:|---|"]
    for room in ("10_members", "5000_members"):
        if room not in m:
            continue
        for op in ("join", "leave", "subscribe"):
            v = m[room][op]
            out.append(f"| {room.replace('_', ' ')} | {op} | {v['n']} | {v['p50_ms']} | "
                       f"{v['p99_ms']} | {v['max_ms']} | {ok(v['p99_ms'] <= 20)} |")
    return "\n".join(out)


def sub_table(res):
    runs = res.get("sub5000")
    if not runs:
        return ""
    if isinstance(runs, dict):
        runs = [runs]
    out = ["| run | load before | subscribed | of | seconds (wsload's connect phase) | wsload wall s | target ≤ 10 s |",
           "|---|---:|---:|---:|---:|---:|---|"]
    for r in runs:
        rep = r["report"] if isinstance(r["report"], dict) else {}
        ready = int(rep.get("ready", 0))
        done = ready >= 5000
        secs = r.get("all_ready_s") or r["connect_and_subscribe_s"]
        out.append(f"| {r.get('label', 'cold')} | {r['load_before']} | {ready:,} | 5,000 | "
                   f"{secs if done else f'> {secs} (stopped)'} | {r.get('wall_s', '–')} | "
                   f"{ok(done and secs <= 10)} |")
    return "\n".join(out)


def lat(v):
    """wsload's histogram ends at 2 s: 2,000 means 2 s or more."""
    if v is not None and v >= 2000:
        return "≥ 2,000"
    return fmt(v)


def writes_table(res):
    w = res.get("writes")
    if not w:
        return ""
    first = res.get("writes_first_attempt")
    if first:
        chat = dict(first, rows=[r for r in first["rows"] if r["system"].startswith("chat")],
                    prewarm=None)
        return ("Second attempt (windows built first), with rawfan and Centrifugo from the "
                "first attempt's same load:\n\n" + writes_table({"writes": w}) +
                "\n\nFirst attempt (windows built while the sockets subscribed):\n\n" +
                writes_table({"writes": chat}))
    out = ["| system | offered msg/s | load before | sent/s | acked/s | ack p50 ms | ack p99 ms | deliveries/s | delivery p50 ms | delivery p99 ms | errors | sockets subscribed (of 1,000 / 10) |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    if w.get("prewarm"):
        p = w["prewarm"]
        out.insert(0, f"Windows of the {p['rooms']} rooms built first (one subscribe with after_seq "
                      f"per room, in parallel): {p['subscribed']} in {p['seconds']} s.\n")
    for r in w["rows"] + w.get("busy_room", []):
        if "error" in r:
            out.append(f"| {r['system']} | could not run: {r['error'][-200:].strip()!r} |||||||||")
            continue
        out.append(f"| {r['system']} | {fmt(r['rate'], 0)} | {r['load_before']} | {fmt(r['sent_per_s'], 0)} | "
                   f"{fmt(r['acks_per_s'], 0)} | {lat(r['ack_p50_ms'])} | {lat(r['ack_p99_ms'])} | "
                   f"{fmt(r['deliveries_per_s'], 0)} | {lat(r['delivery_p50_ms'])} | "
                   f"{lat(r['delivery_p99_ms'])} | {fmt(r['errors'], 0)} | {fmt(r.get('ready'), 0)} |")
    return "\n".join(out)


def lookups_table(res):
    lk = res.get("lookups", {})
    if not lk:
        return ""
    backends = list(lk)
    ops = list(lk[backends[0]]["ops"])
    head = "| operation (pymongo, the repository's filter) | " + " | ".join(
        f"{b}: p50 / p99 ms" for b in backends) + " | target p99 ≤ 10 ms |"
    out = [head, "|---|" + "---:|" * len(backends) + "---|"]
    for op in ops:
        cells, good = [], True
        for b in backends:
            v = lk[b]["ops"].get(op)
            cells.append(f"{v['p50_ms']} / {v['p99_ms']}" if v else "–")
            good = good and v is not None and v["p99_ms"] <= 10
        out.append(f"| {op} | " + " | ".join(cells) + f" | {ok(good)} |")
    out.append("")
    out.append("Load before: " + ", ".join(f"{b} {lk[b]['load_before']}" for b in backends) + ".")
    for b in backends:
        if "rest" in lk[b]:
            out += ["", f"Through REST on {b} (every id once, cold; then 200 random calls, warm):", "",
                    "| call | p50 ms | p99 ms | p99 of the cold first pass |", "|---|---:|---:|---:|"]
            for k, v in lk[b]["rest"].items():
                cold = v.get("first_pass_p99_ms", v.get("first_100_p99_ms"))
                out.append(f"| `{k}` | {v['p50_ms']} | {v['p99_ms']} | {cold} |")
    return "\n".join(out)


def redis_table(res):
    r = res.get("redis")
    if not r:
        return ""
    return "\n".join([
        "| measure | value |", "|---|---:|",
        f"| rooms warmed (one history request each) | {r['rooms']} |",
        f"| INFO used_memory before / after | {r['used_memory_before']:,} / {r['used_memory_after']:,} B (Δ {r['delta']:,} B) |",
        f"| window messages cached / MEMORY USAGE of the windows | {r['window_messages']:,} / {r['window_bytes']:,} B |",
        f"| **bytes per cached message** (window zset) | **{r['bytes_per_message']}** |",
        f"| memberships cached / MEMORY USAGE of the member sets | {r['memberships']:,} / {r['members_bytes']:,} B |",
        f"| **bytes per membership** (member zset) | **{r['bytes_per_membership']}** |",
        f"| Δ used_memory per cached item (messages + memberships + metas, caches) | {r['delta_per_item']} |"])


def ceiling_table(res):
    c = res.get("ceiling")
    if not c:
        return ""
    return "\n".join(["| batch (insert_many, ordered) + one `$max` head update | documents/s |",
                      "|---|---:|"] +
                     [f"| {k.split('_')[1]} | {v:,} |" for k, v in c.items() if k.startswith("batch_")] +
                     ["", f"Load before: {c['load_before']}."])


def plot(res, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = res.get("history", [])
    xs = [r["stored"] for r in rows]
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for page, style in (("newest", "o-"), ("offset", "s--"), ("before_seq", "^:")):
        ax.plot(xs, [r[page]["p50_ms"] for r in rows], style, label=f"{page} p50")
        ax.plot(xs, [r[page]["p99_ms"] for r in rows], style, alpha=0.5, label=f"{page} p99")
    for r in rows:
        ax.annotate(f"load {r['newest']['load_before']:.0f}", (r["stored"], 2), fontsize=7,
                    ha="center")
    ax.set_xscale("log")
    ax.set_xlabel("messages stored (1,000 rooms)")
    ax.set_ylabel("latency through lighttpd, ms (wrk -t2 -c50)")
    ax.set_title("GET /api/rooms/{id}/messages?limit=50 (inside the Redis window)\n"
                 "2 shared vCPUs; 1-min load average before each run at the bottom", fontsize=9)
    ax.axhline(20, color="red", lw=0.8, label="target p99 20 ms")
    ax.set_ylim(bottom=0)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("results")
    ap.add_argument("--plot", default=None)
    args = ap.parse_args()
    res = json.load(open(args.results))
    for title, fn in (("History", history_table), ("Mixed", mixed_table),
                      ("Membership", membership_table), ("5,000 subscribes", sub_table),
                      ("Durable writes", writes_table), ("DB ceiling", ceiling_table),
                      ("Redis memory", redis_table), ("Lookups", lookups_table)):
        body = fn(res)
        if body:
            print(f"### {title}\n\n{body}\n")
    if args.plot and res.get("history"):
        plot(res, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
