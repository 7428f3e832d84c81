#!/usr/bin/env bash
# UDP datagram rate on loopback: N datagrams of 64 bytes (one per line of a file), sent by
# `sockit udp send` and by `socat -b65` (one read, one datagram) into the same receiver, in
# one run. Prints median datagrams/s for each sender, how many arrived, and the ratio
# sockit/socat (above 1: sockit sends faster).
source "$(dirname "$0")/lib.sh"
build_sockit
command -v socat >/dev/null || { echo "socat is not installed"; exit 1; }
N=${N:-200000} ROUNDS=${ROUNDS:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -c "import sys; sys.stdout.write(''.join('%063d\n' % i for i in range($N)))" >"$work/lines"

rate() {  # rate NAME SENDER-CMD (reads $work/lines, sends to 127.0.0.1:PORT)
  local name=$1 cmd=$2 times=() got r t0 t1
  for ((r = 0; r < ROUNDS; r++)); do
    "$SOCKIT" udp listen 0 --bind 127.0.0.1 --timeout 1 2>"$work/err" >"$work/out" &
    local lpid=$!
    for _ in $(seq 100); do grep -q listening "$work/err" && break; sleep 0.02; done
    local port
    port=$(sed -n 's/.*:\([0-9]*\) (udp)/\1/p' "$work/err")
    t0=$(date +%s%N)
    bash -c "${cmd//PORT/$port}" <"$work/lines"
    t1=$(date +%s%N)
    wait $lpid
    got=$(wc -l <"$work/out")
    times+=($(( N * 1000000000 / (t1 - t0) )))
  done
  local med
  med=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  printf '%-16s %8s datagrams/s sent (last round: %s of %s received)\n' "$name" "$med" "$got" "$N" >&2
  echo "$med"
}
s=$(rate "sockit udp send" "$SOCKIT udp send 127.0.0.1 PORT")
o=$(rate "socat -b65" "socat -b65 -u STDIN UDP-SENDTO:127.0.0.1:PORT")
echo "ratio sockit/socat = $(ratio "$s" "$o")"
