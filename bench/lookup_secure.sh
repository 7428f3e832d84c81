#!/usr/bin/env bash
# Bulk lookups over DNS over TLS and DNS over HTTPS: N names (20,000) from a local unbound
# (Debian's, on 127.0.0.1 only, the names its own static zone: it asks no one), `sockit lookup
# -f --server tls://... | https://...` against dnsperf -m dot | doh with the same questions in
# flight (CONC, 64) on one connection (-c 1) and on four (-c 4), ROUNDS rounds: queries a
# second, medians (sockit's from its whole run's wall time, start-up and output included;
# dnsperf's as it reports it). Every answer of sockit's must be right and in input order.
# Target: at least 0.8x dnsperf.
source "$(dirname "$0")/lib.sh"
build_sockit
for t in unbound dnsperf openssl; do command -v $t >/dev/null || { echo "$t is not installed"; exit 1; }; done
N=${N:-20000} CONC=${CONC:-64} ROUNDS=${ROUNDS:-3}
work=$(mktemp -d)
ub_pid=
trap '[ -n "$ub_pid" ] && kill $ub_pid 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
dot=$(free_port) doh=$(free_port)
{
  printf 'server:\n  interface: 127.0.0.1@%s\n  interface: 127.0.0.1@%s\n  tls-port: %s\n  https-port: %s\n' "$dot" "$doh" "$dot" "$doh"
  printf '  http-endpoint: "/dns-query"\n  tls-service-key: "%s"\n  tls-service-pem: "%s"\n' "$work/key.pem" "$work/cert.pem"
  printf '  do-daemonize: no\n  username: ""\n  chroot: ""\n  directory: "%s"\n  pidfile: ""\n' "$work"
  printf '  use-syslog: no\n  logfile: "%s/unbound.log"\n  do-ip6: no\n  module-config: "iterator"\n' "$work"
  printf '  num-threads: 1\n  incoming-num-tcp: 64\n  http-max-streams: 200\n  local-zone: "bulk.test." static\n'
  awk -v n="$N" 'BEGIN { for (i = 0; i < n; i++) printf "  local-data: \"h%d.bulk.test. 3600 IN A 198.18.%d.%d\"\n", i, int(i / 256) % 256, i % 256 }'
  printf 'remote-control:\n  control-enable: no\n'
} >"$work/unbound.conf"
t_start=$(date +%s%N)
unbound -d -c "$work/unbound.conf" &
ub_pid=$!
for _ in $(seq 100); do "$SOCKIT" lookup --server "tls://127.0.0.1:$dot" --insecure --type A h0.bulk.test >/dev/null 2>&1 && break; sleep 0.1; done

echo "unbound ready in $(( ($(date +%s%N) - t_start) / 1000000 )) ms"
awk -v n="$N" 'BEGIN { for (i = 0; i < n; i++) printf "h%d.bulk.test\n", i }' >"$work/names"
sed 's/$/ A/' "$work/names" >"$work/dnsperf-names"
awk -v n="$N" 'BEGIN { for (i = 0; i < n; i++) printf "h%d.bulk.test.  3600  A  198.18.%d.%d\n", i, int(i / 256) % 256, i % 256 }' >"$work/want"

for mode in dot doh; do
  case $mode in
    dot) server="tls://127.0.0.1:$dot" port=$dot ;;
    doh) server="https://127.0.0.1:$doh/dns-query" port=$doh ;;
  esac
  bulk_run() { "$SOCKIT" lookup --server "$server" --insecure --type A --concurrency "$CONC" -f "$work/names"; }
  bulk_run >"$work/got"
  cmp -s "$work/got" "$work/want" || { echo "sockit's $N answers over $mode are not all right and in order"; exit 1; }
  sq=() d1=() d4=()
  for ((r = 0; r < ROUNDS; r++)); do
    t0=$(date +%s%N)
    bulk_run >/dev/null
    t1=$(date +%s%N)
    sq+=($((N * 1000000000 / (t1 - t0))))
    for c in 1 4; do
      q=$(dnsperf -s 127.0.0.1 -p "$port" -m "$mode" -d "$work/dnsperf-names" -n 1 -q "$CONC" -c "$c" 2>&1 | awk '/Queries per second/ { printf "%.0f", $4 }')
      if ((c == 1)); then d1+=("${q:-0}"); else d4+=("${q:-0}"); fi
    done
  done
  s=$(printf '%s\n' "${sq[@]}" | median) p1=$(printf '%s\n' "${d1[@]}" | median) p4=$(printf '%s\n' "${d4[@]}" | median)
  echo "$mode: sockit lookup -f ($N names, one connection)  $s queries/s (rounds: ${sq[*]})"
  echo "$mode: dnsperf -m $mode -q $CONC -c 1                $p1 queries/s (rounds: ${d1[*]})"
  echo "$mode: dnsperf -m $mode -q $CONC -c 4                $p4 queries/s (rounds: ${d4[*]})"
  echo "$mode: ratio sockit/dnsperf -c 1 = $(ratio "$s" "$p1"), -c 4 = $(ratio "$s" "$p4") (target: at least 0.8)"
done
