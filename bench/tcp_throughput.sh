#!/usr/bin/env bash
# TCP throughput on loopback: SIZE bytes of zeros (default 4 GiB) through a client into a
# server and on to /dev/null, for sockit (both ends), nc.openbsd -N, ncat, socat (default and
# -b65536), plus iperf3's single-stream figure, in one run. Prints the median MB/s of each
# and the ratio sockit/nc.openbsd (above 1: sockit is faster).
source "$(dirname "$0")/lib.sh"
build_sockit
for t in nc.openbsd ncat socat iperf3; do command -v $t >/dev/null || { echo "$t is not installed"; exit 1; }; done
MIB=${MIB:-4096} ROUNDS=${ROUNDS:-3}
bytes=$((MIB * 1048576))
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

# run_pair NAME "SERVER CMD" "CLIENT CMD": median MB/s over ROUNDS.
run_pair() {
  local name=$1 server=$2 client=$3 times=() r t0 t1
  for ((r = 0; r < ROUNDS; r++)); do
    bash -c "$server" </dev/null >/dev/null 2>&1 &
    local spid=$!
    for _ in $(seq 100); do grep -q ":$(printf '%04X' "$port") 00000000:0000 0A" /proc/net/tcp && break; sleep 0.02; done
    t0=$(date +%s%N)
    dd if=/dev/zero bs=1M count="$MIB" 2>/dev/null | bash -c "$client" >/dev/null 2>&1
    wait $spid
    t1=$(date +%s%N)
    times+=($(( bytes * 1000 / (t1 - t0) )))  # MB/s (bytes per microsecond * 1000 / 1000)
  done
  local med
  med=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  printf '%-22s %6s MB/s\n' "$name" "$med" >&2
  echo "$med"
}

s=$(run_pair "sockit" "$SOCKIT tcp listen $port --bind 127.0.0.1" "$SOCKIT tcp connect 127.0.0.1 $port")
n=$(run_pair "nc.openbsd -N" "nc.openbsd -l 127.0.0.1 $port" "nc.openbsd -N 127.0.0.1 $port")
run_pair "ncat" "ncat -l 127.0.0.1 $port" "ncat --send-only 127.0.0.1 $port" >/dev/null
run_pair "socat" "socat -u TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr STDOUT" "socat -u STDIN TCP:127.0.0.1:$port" >/dev/null
run_pair "socat -b65536" "socat -b65536 -u TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr STDOUT" "socat -b65536 -u STDIN TCP:127.0.0.1:$port" >/dev/null
iperf3 -s -1 -B 127.0.0.1 -p "$port" >/dev/null 2>&1 &
sleep 0.3
ip=$(iperf3 -c 127.0.0.1 -p "$port" -n "${MIB}M" -J 2>/dev/null | python3 -c 'import json,sys; print(int(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/8e6))')
wait
printf '%-22s %6s MB/s (memory to memory, no stdio)\n' "iperf3 single stream" "$ip" >&2
echo "producer: dd if=/dev/zero bs=1M count=$MIB | CLIENT; server writes to /dev/null" >&2
echo "ratio sockit/nc.openbsd = $(ratio "$s" "$n")"
