#!/usr/bin/env bash
# Bulk lookup, two parts.
#  1. 5,000 names served by a local dnsmasq, `sockit lookup -f --server` against `dig -f`
#     (sequential) in the same run. Checks that both give identical answers, then prints the
#     median wall time of each and the ratio (below 1: sockit is faster).
#  2. NSD_N names (100,000) from a local authoritative server (Debian's nsd, on 127.0.0.1),
#     `sockit lookup -f --server --type A` against dnsperf (the load generator, which only
#     counts answers) with the same questions in flight (CONC, 64), ROUNDS rounds: queries a
#     second, medians (sockit's from its whole run's wall time, start-up and output included;
#     dnsperf's as it reports it). Every answer of sockit's must be right and in input order.
#     Target: at least 1.0x dnsperf.
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

for t in nsd dnsperf; do command -v $t >/dev/null || { echo "part 2 needs $t (apt-get install nsd dnsperf)"; exit 1; }; done
NSD_N=${NSD_N:-100000} CONC=${CONC:-64}
nsd_port=$(free_port)
{
  printf '$ORIGIN bulk.test.\n$TTL 3600\n@ IN SOA ns1 hostmaster 1 3600 900 604800 300\n@ IN NS ns1\nns1 IN A 127.0.0.1\n'
  awk -v n="$NSD_N" 'BEGIN { for (i = 0; i < n; i++) printf "h%d IN A 198.18.%d.%d\n", i, int(i / 256) % 256, i % 256 }'
} >"$work/zone"
cat >"$work/nsd.conf" <<CONF
server:
  ip-address: 127.0.0.1@$nsd_port
  port: $nsd_port
  username: ""
  chroot: ""
  zonesdir: "$work"
  database: ""
  zonelistfile: "$work/zone.list"
  xfrdfile: "$work/xfrd.state"
  pidfile: "$work/nsd.pid"
  logfile: "$work/nsd.log"
  server-count: 1
  hide-version: yes
remote-control:
  control-enable: no
zone:
  name: bulk.test
  zonefile: zone
CONF
nsd -d -c "$work/nsd.conf" &
nsd_pid=$!
trap 'kill $dns_pid $nsd_pid 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do "$SOCKIT" lookup --server 127.0.0.1:$nsd_port --type A h0.bulk.test >/dev/null 2>&1 && break; sleep 0.1; done
awk -v n="$NSD_N" 'BEGIN { for (i = 0; i < n; i++) printf "h%d.bulk.test\n", i }' >"$work/bulk-names"
sed 's/$/ A/' "$work/bulk-names" >"$work/dnsperf-names"
awk -v n="$NSD_N" 'BEGIN { for (i = 0; i < n; i++) printf "h%d.bulk.test.  3600  A  198.18.%d.%d\n", i, int(i / 256) % 256, i % 256 }' >"$work/want"
bulk_run() { "$SOCKIT" lookup --server "127.0.0.1:$nsd_port" --type A --concurrency "$CONC" -f "$work/bulk-names"; }
bulk_run >"$work/got"
cmp -s "$work/got" "$work/want" || { echo "sockit's $NSD_N answers are not all right and in order"; exit 1; }
echo "answers right and in order: $NSD_N names from nsd"
sq=() dq=()
for ((r = 0; r < ROUNDS; r++)); do
  t0=$(date +%s%N)
  bulk_run >/dev/null
  t1=$(date +%s%N)
  sq+=("$(awk -v n="$NSD_N" -v ns=$((t1 - t0)) 'BEGIN { printf "%.0f", n / (ns / 1e9) }')")
  dq+=("$(dnsperf -s 127.0.0.1 -p "$nsd_port" -d "$work/dnsperf-names" -n 1 -q "$CONC" 2>&1 | awk '/Queries per second/ { printf "%.0f", $4 }')")
done
s=$(printf '%s\n' "${sq[@]}" | median)
d=$(printf '%s\n' "${dq[@]}" | median)
echo "sockit lookup -f ($NSD_N names from nsd, --concurrency $CONC)  $s queries/s (rounds: ${sq[*]})"
echo "dnsperf -q $CONC (the same questions)                       $d queries/s (rounds: ${dq[*]})"
echo "ratio sockit/dnsperf = $(ratio "$s" "$d") (target: at least 1.0)"
