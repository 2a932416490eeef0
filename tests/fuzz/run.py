#!/usr/bin/env python3
"""run.py - runs the libFuzzer harnesses of tests/fuzz/ (built with -DCHAT_FUZZ=ON).

  tests/fuzz/run.py --build-dir build-fuzz --seconds 360     # `make fuzz`: explore
  tests/fuzz/run.py --build-dir build-fuzz --runs 3000       # `make test-fuzz`: regress

Each harness starts from its checked-in corpus (tests/fuzz/corpus/<target>/, read only)
plus a work corpus in <build-dir>/fuzz-corpus/<target>/ where new inputs go, with the
dictionary tests/fuzz/<target>.dict when there is one. Crashes land in
<build-dir>/fuzz-artifacts/. Prints one line per harness (executions, seconds, result)
and a total; exits 1 when any harness found a crash, a leak or a sanitizer report.
"""
import argparse
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TARGETS = ["ws_frame", "rest_request", "jwt", "validate"]


def run_one(build_dir, target, seconds, runs, max_len, verbose):
    exe = os.path.join(build_dir, "tests", "fuzz", "fuzz_" + target)
    if not os.access(exe, os.X_OK):
        return {"target": target, "ok": False, "execs": 0, "secs": 0.0,
                "why": "not built: " + exe}
    work = os.path.join(build_dir, "fuzz-corpus", target)
    artifacts = os.path.join(build_dir, "fuzz-artifacts")
    os.makedirs(work, exist_ok=True)
    os.makedirs(artifacts, exist_ok=True)
    cmd = [exe, "-print_final_stats=1", "-max_len=%d" % max_len,
           "-artifact_prefix=%s/%s-" % (artifacts, target), "-timeout=10",
           "-rss_limit_mb=2048"]
    if runs is not None:
        cmd.append("-runs=%d" % runs)
    else:
        cmd.append("-max_total_time=%d" % seconds)
    dictionary = os.path.join(HERE, target + ".dict")
    if os.path.exists(dictionary):
        cmd.append("-dict=" + dictionary)
    cmd += [work, os.path.join(HERE, "corpus", target)]
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    start = time.monotonic()
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, errors="replace")
    secs = time.monotonic() - start
    out = proc.stdout
    m = re.search(r"stat::number_of_executed_units:\s*(\d+)", out)
    execs = int(m.group(1)) if m else 0
    bad = re.search(r"(ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)[^\n]*"
                    r"|runtime error:[^\n]*|check failed:[^\n]*)", out)
    ok = proc.returncode == 0 and bad is None
    if verbose or not ok:
        sys.stdout.write(out[-6000:])
    return {"target": target, "ok": ok, "execs": execs, "secs": secs,
            "why": "" if ok else (bad.group(0) if bad else "exit %d" % proc.returncode)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--seconds", type=int, default=360,
                    help="time per harness when exploring (default 360, as make fuzz)")
    ap.add_argument("--runs", type=int, default=None,
                    help="regression mode: this many executions per harness")
    ap.add_argument("--max-len", type=int, default=8192)
    ap.add_argument("--target", action="append", choices=TARGETS)
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    results = []
    for target in args.target or TARGETS:
        r = run_one(os.path.abspath(args.build_dir), target, args.seconds, args.runs,
                    args.max_len, args.verbose)
        results.append(r)
        rate = r["execs"] / r["secs"] if r["secs"] > 0 else 0
        print("fuzz_%-13s %10d executions %7.1f s %8.0f exec/s  %s" %
              (target, r["execs"], r["secs"], rate, "ok" if r["ok"] else "FAILED: " + r["why"]),
              flush=True)
    total = sum(r["execs"] for r in results)
    secs = sum(r["secs"] for r in results)
    failed = [r["target"] for r in results if not r["ok"]]
    print("total: %d executions in %.1f s, %s" %
          (total, secs, "0 crashes" if not failed else "FAILED: " + " ".join(failed)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
