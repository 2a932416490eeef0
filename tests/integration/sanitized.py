"""sanitized.py - the ASan+UBSan build of the servers for the integration tests that run
them (a gateway's leaks after churn, fuzzed frames, a mass close's last_seen), and what
such a server's log must not say. Runs in the pytest process."""
import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# what a sanitized server prints when it finds something
SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "runtime error:",
                   "UndefinedBehaviorSanitizer")
# leaks reported at exit, exit code 23 for any report, the first UB stops the process
SANITIZER_ENV = {"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:exitcode=23",
                 "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
                 "LSAN_OPTIONS": "exitcode=23"}


def asan_build_dir():
    """CHAT_ASAN_BUILD_DIR (`make test` passes its build-asan), else REPO/build-asan:
    configured (Debug, -DCHAT_SANITIZE=ON) when missing, the two servers brought up to date."""
    build = Path(os.environ.get("CHAT_ASAN_BUILD_DIR", REPO / "build-asan"))
    if not (build / "CMakeCache.txt").exists():
        subprocess.run(["cmake", "-S", str(REPO), "-B", str(build), "-G", "Ninja",
                        "-DCHAT_SANITIZE=ON", "-DCMAKE_BUILD_TYPE=Debug"], check=True,
                       stdout=subprocess.DEVNULL, timeout=300)
    subprocess.run(["cmake", "--build", str(build), "--target", "chat-gateway", "chat-api"],
                   check=True, stdout=subprocess.DEVNULL, timeout=900)
    return build


def sanitizer_lines(text):
    return [ln for ln in text.splitlines() if any(m in ln for m in SANITIZER_MARKS)]
