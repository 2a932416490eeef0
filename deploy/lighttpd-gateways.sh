#!/bin/sh
# lighttpd-gateways.sh - run by lighttpd.conf's include_shell at start-up: prints the
# list of WebSocket gateway backends that /ws is proxied to, and the FastCGI pool size
# (FCGI_PROCS, default: the number of cores), as lighttpd variables; behind a reverse
# proxy, also the mod_extforward settings that take the client address from it.
#   GATEWAY_HOSTS="h1:p1,h2:p2"  explicit list (containers), else
#   GATEWAYS=N GATEWAY_PORT=P GATEWAY_HOST=H   gateways H:P .. H:P+N-1 (default 2, 9001).
#   TRUSTED_PROXIES="a,b/len"    addresses / CIDR ranges whose X-Forwarded-For is
#                                believed (the container edge); unset: none.
set -eu
out=""
add() { out="${out:+$out, }( \"host\" => \"$1\", \"port\" => $2 )"; }
if [ -n "${GATEWAY_HOSTS:-}" ]; then
  old_ifs=$IFS; IFS=,
  for hp in $GATEWAY_HOSTS; do add "${hp%:*}" "${hp##*:}"; done
  IFS=$old_ifs
else
  n=${GATEWAYS:-2}; port=${GATEWAY_PORT:-9001}; host=${GATEWAY_HOST:-127.0.0.1}
  [ "$n" -ge 1 ] 2>/dev/null || n=1
  i=0
  while [ "$i" -lt "$n" ]; do add "$host" $((port + i)); i=$((i + 1)); done
fi
echo "var.chat_gateways = ( $out )"
procs=${FCGI_PROCS:-$(nproc 2>/dev/null || echo 2)}
[ "$procs" -ge 1 ] 2>/dev/null || procs=2
echo "var.chat_fcgi_procs = $procs"
# Behind the edge (HAProxy), REMOTE_ADDR is the proxy's: rate limits per IP and logs
# need the client's, which only the listed proxies may tell through X-Forwarded-For.
if [ -n "${TRUSTED_PROXIES:-}" ]; then
  fwd=""
  old_ifs=$IFS; IFS=,
  for p in $TRUSTED_PROXIES; do
    case "$p" in
      *[!0-9a-fA-F.:/]*|"") echo "TRUSTED_PROXIES: bad entry '$p'" >&2; exit 1 ;;
    esac
    fwd="${fwd:+$fwd, }\"$p\" => \"trust\""
  done
  IFS=$old_ifs
  echo 'server.modules += ( "mod_extforward" )'
  echo "extforward.forwarder = ( $fwd )"
  echo 'extforward.headers = ( "X-Forwarded-For" )'
fi
