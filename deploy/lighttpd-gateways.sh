#!/bin/sh
# lighttpd-gateways.sh - run by lighttpd.conf's include_shell at start-up: prints the
# list of WebSocket gateway backends that /ws is proxied to, and the FastCGI pool size
# (FCGI_PROCS, default: the number of cores), as lighttpd variables.
#   GATEWAY_HOSTS="h1:p1,h2:p2"  explicit list (containers), else
#   GATEWAYS=N GATEWAY_PORT=P GATEWAY_HOST=H   gateways H:P .. H:P+N-1 (default 2, 9001).
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
