#!/usr/bin/env bash
# install-deps.sh - installs what `make run` / `make test` need on a fresh Debian 12
# machine and skips whatever is already there: Debian packages (apt), FerretDB v1.24.2
# (built from its Go module, see below), the Python test libraries and the web
# client's npm packages. Idempotent; prints one line per step.
# `postgresql` is FerretDB's default storage under `make run`: deploy/stack.py runs its
# own cluster in var/postgres from /usr/lib/postgresql/*/bin. The package also installs
# and starts Debian's system-wide cluster (main, port 5432); we neither use nor need it.
#   deploy/install-deps.sh [--no-ferretdb] [--no-web] [--test]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
want_ferretdb=1 want_web=1 want_test=0
for arg in "$@"; do
  case "$arg" in
    --no-ferretdb) want_ferretdb=0 ;;
    --no-web) want_web=0 ;;
    --test) want_test=1 ;;
    *) echo "install-deps: unknown option $arg" >&2; exit 2 ;;
  esac
done
step() { printf '==> %s\n' "$*"; }
sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

packages=(build-essential cmake ninja-build pkg-config git curl ca-certificates
  libfcgi-dev lighttpd libwebsockets-dev libuv1-dev libmongoc-dev libbson-dev
  libhiredis-dev libjwt-dev libcrypt-dev libjansson-dev libcmocka-dev libssl-dev redis-server
  postgresql golang-go python3 python3-pip)
# --test: the container/operations checks use real tools: docker-compose (compose file),
# haproxy (`haproxy -c` and the scale-out test), prometheus (`promtool check rules`);
# clang with its compiler-rt (libFuzzer, ASan, UBSan) builds tests/fuzz/ (`make test-fuzz`);
# clang-format checks the C style against .clang-format (tests/static/test_format.py).
[ "$want_test" = 1 ] && packages+=(docker-compose chromium fonts-noto-color-emoji valgrind wrk
  haproxy prometheus clang libclang-rt-14-dev clang-format)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# deploy/k8s is rendered with `kubectl kustomize`: any kubectl will do, Debian's
# kubernetes-client when there is none (its package would clash with another's kubectl).
if [ "$want_test" = 1 ] && ! command -v kubectl >/dev/null 2>&1; then
  dpkg-query -W -f='${Status}' kubernetes-client 2>/dev/null | grep -q 'install ok installed' \
    || missing+=(kubernetes-client)
fi
# A Go toolchain from elsewhere (e.g. /usr/local/go) counts as Go.
if command -v go >/dev/null 2>&1; then
  missing=("${missing[@]/golang-go/}")
fi
missing=($(printf '%s\n' "${missing[@]}" | sed '/^$/d'))
if [ ${#missing[@]} -gt 0 ]; then
  step "apt-get install ${missing[*]}"
  sudo_if_needed apt-get update -q
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
else
  step "Debian packages: all present"
fi

# FerretDB: `go install ...@v1.24.2` builds a binary that panics at start ("Invalid
# build/version/version.txt"): the module zip lacks the generated version file. So we
# download the module, add that file and build it ourselves into .tools/bin.
ferretdb_version=v1.24.2
ferretdb_bin=$root/.tools/bin/ferretdb
if [ "$want_ferretdb" = 1 ]; then
  # Capture, then match: piping into grep -q/head can SIGPIPE the writer under pipefail.
  have_version=$("$ferretdb_bin" --version 2>/dev/null || true)
  if [ -x "$ferretdb_bin" ] && [[ "$have_version" == *"version: $ferretdb_version"* ]]; then
    step "FerretDB $ferretdb_version: present"
  else
    step "building FerretDB $ferretdb_version from the Go module (first time: a few minutes)"
    export PATH=$PATH:/usr/local/go/bin
    src_dir=$(go mod download -json "github.com/FerretDB/FerretDB@$ferretdb_version" \
      | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    cp -r "$src_dir" "$work/src"
    chmod -R u+w "$work/src"
    echo "$ferretdb_version" > "$work/src/build/version/version.txt"
    mkdir -p "$root/.tools/bin"
    (cd "$work/src" && go build -o "$ferretdb_bin" ./cmd/ferretdb)
    have_version=$("$ferretdb_bin" --version)
    echo "${have_version%%$'\n'*}"
  fi
fi

py_modules=()
python3 -c 'import websockets' 2>/dev/null || py_modules+=(websockets)
if [ "$want_test" = 1 ]; then
  python3 -c 'import pytest' 2>/dev/null || py_modules+=(pytest)
  python3 -c 'import requests' 2>/dev/null || py_modules+=(requests)
  python3 -c 'import yaml' 2>/dev/null || py_modules+=(pyyaml)
  python3 -c 'import jsonschema' 2>/dev/null || py_modules+=(jsonschema)
  python3 -c 'import redis' 2>/dev/null || py_modules+=(redis)
  python3 -c 'import pymongo' 2>/dev/null || py_modules+=(pymongo)
  # docs/openapi.yaml against the live server (tests/integration/test_schemathesis.py)
  command -v schemathesis >/dev/null 2>&1 || py_modules+=(schemathesis)
  # make bench: the plot of history latency against messages stored (docs/BENCHMARKS.md)
  python3 -c 'import matplotlib' 2>/dev/null || py_modules+=(matplotlib)
  # Kubernetes' own OpenAPI schemas, shipped in the package: deploy/k8s is checked offline.
  python3 -c 'import kubernetes_validate' 2>/dev/null || py_modules+=(kubernetes-validate)
fi
if [ ${#py_modules[@]} -gt 0 ]; then
  step "pip install ${py_modules[*]}"
  python3 -m pip install -q "${py_modules[@]}" 2>/dev/null \
    || python3 -m pip install -q --break-system-packages "${py_modules[@]}"
else
  step "Python modules: all present"
fi

if [ "$want_web" = 1 ] && [ -f web/package.json ]; then
  if [ ! -d web/node_modules ] || [ web/package-lock.json -nt web/node_modules ]; then
    step "npm install (web client; npm ci refuses vite's optional napi-windows-process-start-time, which the registry lacks)"
    (cd web && npm install --no-audit --no-fund --loglevel=error)
  else
    step "web npm packages: present"
  fi
fi
