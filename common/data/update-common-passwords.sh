#!/usr/bin/env bash
# update-common-passwords.sh - regenerates common-passwords.txt, the one list of common
# passwords that both the server (common/src/password_policy.c) and the web client
# (web/src/lib/passwordPolicy.ts) refuse at registration (NIST SP 800-63B 5.1.1.2).
#
# Source: the npm package @zxcvbn-ts/language-common (MIT), whose passwords.json is a
# frequency-ordered list of leaked passwords. We keep, lower-cased and de-duplicated,
# the 10,000 most frequent ones of 8 to 128 bytes (shorter ones already fail the
# length rule). Run from anywhere; needs npm and python3.
set -euo pipefail
VERSION="${1:-4.1.3}"
HERE="$(cd "$(dirname "$0")" && pwd)"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
(cd "$TMP" && npm pack --silent "@zxcvbn-ts/language-common@$VERSION" >/dev/null && tar xzf ./*.tgz)
python3 - "$TMP/package/src/passwords.json" "$HERE/common-passwords.txt" <<'PY'
import json, sys
src, dst = sys.argv[1], sys.argv[2]
seen, out = set(), []
for p in json.load(open(src, encoding="utf-8")):
    q = p.strip().lower()
    if q in seen or not (8 <= len(q.encode()) <= 128) or "\n" in q:
        continue
    seen.add(q)
    out.append(q)
    if len(out) == 10000:
        break
with open(dst, "w", encoding="utf-8", newline="\n") as f:
    f.write("\n".join(out) + "\n")
print(f"{dst}: {len(out)} passwords")
PY
