#!/usr/bin/env bash
# Bulk lookup: 5,000 names served by a local dnsmasq, `sockit lookup -f --server` against
# `dig -f` (sequential) in the same run. Checks that both give identical answers, then prints
# the median wall time of each and the ratio (below 1: sockit is faster).
source "$(dirname "$0")/lib.sh"
build_sockit
for t in dnsmasq dig; do command -v $t >/dev/null || { echo "$t is not installed"; exit 1; }; done
N=${N:-5000} ROUNDS=${ROUNDS:-5}
work=$(mktemp -d)
trap 'kill $dns_pid 2>/dev/null; rm -rf "$work"' EXIT

for ((i = 0; i < N; i++)); do echo "198.18.$((i / 256)).$((i % 256)) host$i.test"; done >"$work/hosts"
for ((i = 0; i < N; i++)); do echo "host$i.test"; done >"$work/names"
sed 's/$/ A/' "$work/names" >"$work/dig-names"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
dnsmasq -k -C /dev/null --no-resolv --no-hosts --addn-hosts="$work/hosts" --port="$port" \
  --listen-address=127.0.0.1 --bind-interfaces -u root --pid-file= --log-facility=/dev/null \
  --auth-zone=test --auth-server=ns1.test,127.0.0.1 &
dns_pid=$!
for _ in $(seq 50); do "$SOCKIT" lookup --server 127.0.0.1:$port --type A host0.test >/dev/null 2>&1 && break; sleep 0.1; done

sockit_run() { "$SOCKIT" lookup --server "127.0.0.1:$port" --type A -f "$work/names"; }
dig_run() { dig @127.0.0.1 -p "$port" +noall +answer +tries=1 +time=2 -f "$work/dig-names"; }

# Same answers: name and address, in any order.
sockit_run | awk '{print $1, $4}' | sort >"$work/s.txt"
dig_run | awk '{print $1, $5}' | sort >"$work/d.txt"
lines=$(wc -l <"$work/s.txt")
if ! cmp -s "$work/s.txt" "$work/d.txt" || [ "$lines" -ne "$N" ]; then
  echo "answers differ (sockit $lines lines, dig $(wc -l <"$work/d.txt"))"; exit 1
fi
echo "answers identical: $lines names"

s=$(median_us "$ROUNDS" 1 sockit_run)
d=$(median_us "$ROUNDS" 1 dig_run)
echo "sockit lookup -f ($N names, --concurrency 64)  $((s / 1000)) ms"
echo "dig -f ($N names, sequential)                  $((d / 1000)) ms"
echo "ratio sockit/dig = $(ratio "$s" "$d")"
